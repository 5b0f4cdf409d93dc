"""Data parallelism: 8 fake CPU devices, and two processes, against one device."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name('parallel_worker.py')


def _env(devices: int, **extra: str) -> dict[str, str]:
  env = {k: v for k, v in os.environ.items() if not k.startswith('JAX_')}
  env['XLA_FLAGS'] = f'--xla_force_host_platform_device_count={devices}'
  env['JAX_PLATFORMS'] = 'cpu'
  return env | extra


def _run(out: Path, mode: str, devices: int, **extra: str) -> subprocess.Popen:
  return subprocess.Popen(
    [sys.executable, str(WORKER), str(out), mode], env=_env(devices, **extra), stderr=subprocess.PIPE, text=True
  )


def _finish(*processes: subprocess.Popen) -> None:
  for p in processes:
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err[-3000:]


def _assert_same(a: Path, b: Path) -> None:
  with np.load(a) as x, np.load(b) as y:
    assert x.files == y.files and len(x.files) > 10
    for name in x.files:
      np.testing.assert_allclose(x[name], y[name], rtol=2e-4, atol=2e-5, err_msg=name)


@pytest.mark.slow  # CI: jaxgan-train's runs on 8 devices and on two processes below
def test_eight_devices_equal_one(tmp_path):
  """Batch split over 8 devices, parameters replicated, batch norm over the global batch: the same training,
  every leaf."""
  single, sharded = tmp_path / 'single.npz', tmp_path / 'sharded.npz'
  _finish(_run(single, 'single', 1), _run(sharded, 'sharded', 8))
  _assert_same(single, sharded)


def _cluster() -> dict[str, str]:
  """The environment of a two-process cluster on a free local port (add JAX_PROCESS_ID)."""
  with socket.socket() as s:
    s.bind(('localhost', 0))
    port = s.getsockname()[1]
  return {'JAX_COORDINATOR_ADDRESS': f'localhost:{port}', 'JAX_NUM_PROCESSES': '2'}


@pytest.mark.slow
def test_two_processes_equal_one(tmp_path):
  """Two processes of two devices each, each reading its half of every batch."""
  single, sharded = tmp_path / 'single.npz', tmp_path / 'sharded.npz'
  cluster = _cluster()
  workers = [_run(sharded, 'sharded', 2, **cluster, JAX_PROCESS_ID=str(i)) for i in range(2)]
  _finish(_run(single, 'single', 1), *workers)
  _assert_same(single, sharded)


def _train_cli(workdir: Path, devices: int, *args: str, scored: bool = False, **extra: str) -> subprocess.Popen:
  """jaxgan-train on digits; scored, with the config's scores (the classifier's), else none (they cost more
  than the 60 steps)."""
  command = 'import sys; from jaxgan.cli import train_main; sys.exit(train_main(sys.argv[1:]))'
  argv = ['--config', 'digits', '--steps', '60', '--workdir', str(workdir), '--set', 'train.log_every=20', *args]
  if not scored:
    argv += ['--set', 'eval.metrics=()']
  return subprocess.Popen(
    [sys.executable, '-c', command, *argv], env=_env(devices, **extra), stderr=subprocess.PIPE, text=True
  )


def _summary(workdir: Path) -> dict:
  return json.loads((workdir / 'summary.json').read_text())


@pytest.fixture(scope='module')
def one_device(tmp_path_factory) -> dict:
  """The summary of the CLI run on one device that the sharded runs must match."""
  workdir = tmp_path_factory.mktemp('one_device')
  _finish(_train_cli(workdir, 1))
  return _summary(workdir)


def test_jaxgan_train_uses_every_device(tmp_path, one_device):
  """jaxgan-train on 8 devices trains as on one; a batch that does not split is one line, nothing written."""
  _finish(_train_cli(tmp_path / '8', 8))  # alone: two runs side by side crowd 2 cores
  one, eight = one_device, _summary(tmp_path / '8')
  np.testing.assert_allclose(eight['d_loss'], one['d_loss'], rtol=1e-3)
  np.testing.assert_allclose(eight['g_loss'], one['g_loss'], rtol=1e-3)
  bad = _train_cli(tmp_path / 'bad', 8, '--set', 'train.batch_size=60')
  _, err = bad.communicate(timeout=300)
  assert bad.returncode != 0
  assert err.strip().splitlines() == [
    'jaxgan-train: error: train.batch_size: batch of 60 does not split over 8 devices; make it a multiple of 8'
  ]
  assert not (tmp_path / 'bad').exists()  # the run made it, and removed it


def test_streamed_data_on_eight_devices(tmp_path, one_device):
  """The stream's batches, put on the 8 devices' mesh by its prefetch thread, train as one device does on the
  device-resident data."""
  _finish(_train_cli(tmp_path / '8', 8, '--set', 'data.pipeline=stream', '--set', 'data.workers=0'))
  eight = _summary(tmp_path / '8')
  for key in ('d_loss', 'g_loss'):
    np.testing.assert_allclose(eight[key], one_device[key], rtol=1e-3, err_msg=key)
  assert 'data streamed by no Grain worker' in json.loads((tmp_path / '8' / 'run.json').read_text())['data_pipeline']


def test_jaxgan_train_on_two_processes(tmp_path, one_device):
  """jaxgan-train as two processes of two devices each, one shared workdir: trains as one device does, scores
  its samples on both, and the run's files are written once."""
  cluster = _cluster()
  two = [_train_cli(tmp_path / '2x2', 2, scored=True, **cluster, JAX_PROCESS_ID=str(i)) for i in range(2)]
  _finish(*two)
  one, both = one_device, _summary(tmp_path / '2x2')
  for key in ('d_loss', 'g_loss', 'd_real', 'd_fake'):
    np.testing.assert_allclose(both[key], one[key], rtol=1e-3, err_msg=key)
  logged = [json.loads(line)['step'] for line in (tmp_path / '2x2' / 'metrics.jsonl').read_text().splitlines()]
  assert logged == [20, 40, 60]
  assert (tmp_path / '2x2' / 'samples.png').exists()
  assert both['classes_covered'] >= 1 and np.isfinite(both['fid'])  # scored once, by the two processes together

"""Data parallelism: 8 fake CPU devices, and two processes, against one device."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

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


def test_eight_devices_equal_one(tmp_path):
  """Batch split over 8 devices, parameters replicated, batch norm over the global batch: the same training."""
  single, sharded = tmp_path / 'single.npz', tmp_path / 'sharded.npz'
  _finish(_run(single, 'single', 1), _run(sharded, 'sharded', 8))
  _assert_same(single, sharded)


def test_two_processes_equal_one(tmp_path):
  """Two processes of two devices each, each reading its half of every batch."""
  with socket.socket() as s:
    s.bind(('localhost', 0))
    port = s.getsockname()[1]
  single, sharded = tmp_path / 'single.npz', tmp_path / 'sharded.npz'
  cluster = {'JAX_COORDINATOR_ADDRESS': f'localhost:{port}', 'JAX_NUM_PROCESSES': '2'}
  workers = [_run(sharded, 'sharded', 2, **cluster, JAX_PROCESS_ID=str(i)) for i in range(2)]
  _finish(_run(single, 'single', 1), *workers)
  _assert_same(single, sharded)


def _train_cli(workdir: Path, devices: int, *args: str) -> subprocess.CompletedProcess:
  command = 'import sys; from jaxgan.cli import train_main; sys.exit(train_main(sys.argv[1:]))'
  argv = ['--config', 'digits', '--steps', '60', '--workdir', str(workdir), *args]
  return subprocess.run([sys.executable, '-c', command, *argv], env=_env(devices), capture_output=True, text=True)


def test_jaxgan_train_uses_every_device(tmp_path):
  """jaxgan-train on 8 devices trains as on one; a batch that does not split is one line, nothing written."""
  for devices in (1, 8):
    done = _train_cli(tmp_path / str(devices), devices, '--set', 'train.log_every=20')
    assert done.returncode == 0, done.stderr[-2000:]
  one, eight = (json.loads((tmp_path / str(n) / 'summary.json').read_text()) for n in (1, 8))
  np.testing.assert_allclose(eight['d_loss'], one['d_loss'], rtol=1e-3)
  np.testing.assert_allclose(eight['g_loss'], one['g_loss'], rtol=1e-3)
  bad = _train_cli(tmp_path / 'bad', 8, '--set', 'train.batch_size=60')
  assert bad.returncode != 0
  assert bad.stderr.strip().splitlines() == [
    'jaxgan-train: error: train.batch_size: batch of 60 does not split over 8 devices; make it a multiple of 8'
  ]
  assert not any((tmp_path / 'bad').iterdir())

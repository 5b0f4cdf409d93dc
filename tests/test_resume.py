"""Checkpoints: exact resume (after a stop, SIGTERM or SIGKILL), mismatches, corruption, NaN, a full disk."""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jaxgan import cli, train
from jaxgan import config as config_lib
from jaxgan.run.runs import load as load_run

TINY = [
  'train.steps=400',
  'train.log_every=50',
  'train.checkpoint_every=100',
  'train.sample_every=200',
  'model.g_width=8',
  'model.d_width=8',
  'eval.metrics=()',  # scores: tests/test_evaluation.py
]
TINY_ARGS = ['--config', 'digits', *[a for s in TINY for a in ('--set', s)]]


def tiny_config(*extra):
  config = config_lib.load('digits')
  for assignment in [*TINY, *extra]:
    config = config_lib.override(config, assignment)
  return config


def leaves(workdir):
  _, state = load_run(workdir)
  return [np.asarray(x) for x in jax.tree.leaves(state.replace(key=jax.random.key_data(state.key)))]


def assert_bitwise_equal(a, b):
  for x, y in zip(leaves(a), leaves(b), strict=True):
    np.testing.assert_array_equal(x, y)


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('uninterrupted')
  summary = train(tiny_config(), workdir, progress=False)
  assert summary['steps'] == 400
  return workdir


def test_stop_and_resume_is_bitwise_exact(uninterrupted, tmp_path):
  stopped = train(tiny_config('train.max_seconds=0.001'), tmp_path, progress=False)
  assert (stopped['stopped'], stopped['step']) == ('max time (0.001 s)', 1)  # after the step in flight
  assert train(tiny_config(), tmp_path, progress=False)['steps'] == 400
  assert_bitwise_equal(uninterrupted, tmp_path)
  steps = [row['step'] for row in map(json.loads, (tmp_path / 'metrics.jsonl').read_text().splitlines())]
  assert steps == [1, *range(50, 401, 50)]  # one run's worth of lines, and the stop
  assert (tmp_path / 'samples.gif').exists() and (tmp_path / 'losses.png').exists()


def start(workdir):
  return subprocess.Popen(
    [sys.executable, '-m', 'jaxgan.cli', *TINY_ARGS, '--workdir', str(workdir)],
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )


def wait_for_checkpoint(workdir, step, process, timeout=120):
  deadline = time.time() + timeout
  while not (workdir / 'checkpoints' / str(step) / 'commit_success.txt').exists():
    assert process.poll() is None, process.communicate()
    assert time.time() < deadline
    time.sleep(0.05)


def test_sigkill_then_resume_matches(uninterrupted, tmp_path):
  process = start(tmp_path)
  wait_for_checkpoint(tmp_path, 100, process)
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert not (tmp_path / 'summary.json').exists()
  assert cli.train_main([*TINY_ARGS, '--workdir', str(tmp_path)]) == 0
  assert_bitwise_equal(uninterrupted, tmp_path)


def test_sigterm_checkpoints_and_exits_cleanly(uninterrupted, tmp_path):
  process = start(tmp_path)
  deadline = time.time() + 120
  while not (tmp_path / 'metrics.jsonl').exists() or not (tmp_path / 'metrics.jsonl').read_text():
    assert process.poll() is None and time.time() < deadline
    time.sleep(0.05)
  process.send_signal(signal.SIGTERM)
  out, err = process.communicate(timeout=120)
  assert process.returncode == cli.EXIT_STOPPED, err
  assert 'stopped at step' in out and 'SIGTERM' in out
  assert cli.train_main([*TINY_ARGS, '--workdir', str(tmp_path)]) == 0
  assert_bitwise_equal(uninterrupted, tmp_path)


def test_other_config_is_refused_and_nothing_is_touched(uninterrupted, capsys):
  before = sorted(p.name for p in (uninterrupted / 'checkpoints').iterdir())
  config_text = (uninterrupted / 'config.json').read_text()
  assert cli.train_main([*TINY_ARGS, '--set', 'model.g_width=16', '--workdir', str(uninterrupted)]) == 1
  err = capsys.readouterr().err
  assert (
    err.count('\n') == 1 and 'config does not match the checkpoint' in err and 'model.g_width: 8 there, 16 now' in err
  )
  assert sorted(p.name for p in (uninterrupted / 'checkpoints').iterdir()) == before
  assert (uninterrupted / 'config.json').read_text() == config_text


def test_corrupt_latest_checkpoint_falls_back(tmp_path, capsys):
  train(tiny_config('train.steps=200'), tmp_path, progress=False)
  for f in (tmp_path / 'checkpoints' / '200').rglob('*'):
    if f.is_file() and 'ocdbt' in str(f):
      f.write_bytes(b'garbage')
  config, state = load_run(tmp_path)  # reading only: the corrupt checkpoint stays
  assert int(state.step) == 100 and (tmp_path / 'checkpoints' / '200').is_dir()
  assert 'checkpoint 200 is unreadable' in capsys.readouterr().err
  assert train(tiny_config('train.steps=200'), tmp_path, progress=False)['step'] == 200  # trains 100 to 200 again
  assert 'moved to corrupt-checkpoint-200, using the one before' in capsys.readouterr().err
  assert (tmp_path / 'corrupt-checkpoint-200').is_dir()


def test_nan_stops_without_checkpointing_it(tmp_path, capsys):
  code = cli.train_main(
    [*TINY_ARGS, '--set', 'optim.d_lr=1e30', '--set', 'optim.g_lr=1e30', '--workdir', str(tmp_path)]
  )
  assert code == 1
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'at step' in err and 'no checkpoint was kept' in err
  assert not (tmp_path / 'checkpoints').exists()


def test_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
  import orbax.checkpoint as ocp

  def full(self, *args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

  monkeypatch.setattr(ocp.CheckpointManager, 'save', full)
  assert cli.train_main([*TINY_ARGS, '--workdir', str(tmp_path)]) == 1
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'cannot write checkpoint 100' in err and 'No space left on device' in err
  assert not (tmp_path / 'config.json').exists()  # no checkpoint was written: no run is left


def test_jaxgan_sample(uninterrupted, tmp_path, capsys, monkeypatch):
  import jaxgan.data

  monkeypatch.setattr(jaxgan.data, 'make_source', None)  # sampling must not need the training data
  assert cli.sample_main(['--workdir', str(uninterrupted), '--num', '10', '--out', str(tmp_path / 's.npz')]) == 0
  with np.load(tmp_path / 's.npz') as f:
    assert f['images'].shape == (10, 8, 8, 1) and f['images'].dtype == np.uint8
  assert cli.sample_main(['--workdir', str(uninterrupted), '--grid', str(tmp_path / 'g.png'), '--seed', '3']) == 0
  assert (tmp_path / 'g.png').read_bytes()[:4] == b'\x89PNG'
  assert cli.sample_main(['--workdir', str(tmp_path / 'nothing'), '--out', str(tmp_path / 'x.npz')]) == 1
  assert 'holds no run' in capsys.readouterr().err


def test_jaxgan_sample_on_a_1d_run(tmp_path, capsys):
  args = [
    '--config',
    'gaussian1d',
    '--steps',
    '100',
    '--set',
    'eval.panel_fractions=[]',
    '--workdir',
    str(tmp_path / 'run'),
  ]
  assert cli.train_main(args) == 0
  assert cli.sample_main(['--workdir', str(tmp_path / 'run'), '--num', '7', '--out', str(tmp_path / 's.npz')]) == 0
  with np.load(tmp_path / 's.npz') as f:
    assert f['samples'].shape == (7, 1) and f['samples'].dtype == np.float32
  assert cli.sample_main(['--workdir', str(tmp_path / 'run'), '--grid', str(tmp_path / 'g.png')]) == 1
  assert '--grid needs an image run' in capsys.readouterr().err


def test_run_without_checkpoint_is_not_overwritten(tmp_path, capsys):
  (tmp_path / 'metrics.jsonl').write_text('{"step": 10}\n')
  assert cli.train_main([*TINY_ARGS, '--workdir', str(tmp_path)]) == 1
  assert 'holds metrics.jsonl but no jaxgan run (no config.json); use another --workdir' in capsys.readouterr().err
  assert (tmp_path / 'metrics.jsonl').read_text() == '{"step": 10}\n'


def test_finished_run_is_reported_not_recomputed(uninterrupted, capsys):
  before = (uninterrupted / 'summary.json').read_text()
  summary = train(tiny_config(), uninterrupted, progress=False)
  assert 'already finished 400 steps' in capsys.readouterr().err
  assert summary == json.loads(before) and (uninterrupted / 'summary.json').read_text() == before


def test_resumed_1d_run_keeps_its_panels_and_curves(tmp_path):
  """Stopped after its first panel and resumed, the 1-D run reports and draws what an uninterrupted one does."""
  light = ['train.steps=300', 'eval.dstar_steps=50', 'eval.num_samples=5000', 'eval.panel_fractions=[0,0.5,1]']

  def run(workdir, *extra):
    config = config_lib.load('gaussian1d')
    for assignment in [*light, *extra]:
      config = config_lib.override(config, assignment)
    return train(config, workdir, progress=False)

  whole = run(tmp_path / 'whole')
  # The panel at step 0 is drawn before the stop at step 100, and only then.
  stopped = run(tmp_path / 'parts', 'train.max_seconds=0.001')
  assert (stopped['stopped'], stopped['step']) == ('max time (0.001 s)', 100)  # the first dispatch of 100 steps
  resumed = run(tmp_path / 'parts')
  assert resumed.pop('wall_seconds') > 0 and whole.pop('wall_seconds') > 0
  assert resumed == whole  # the worst-panel figures include the panel drawn before the stop
  with np.load(tmp_path / 'whole' / 'panels.npz') as a, np.load(tmp_path / 'parts' / 'panels.npz') as b:
    assert sorted(a.files) == sorted(b.files) and [int(a[f'{i}/step']) for i in range(3)] == [0, 150, 300]
    for name in a.files:
      np.testing.assert_array_equal(a[name], b[name])

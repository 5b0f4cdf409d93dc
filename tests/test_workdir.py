"""The workdir: one live run at a time, failed starts that leave nothing, explicit extension, read-only sampling."""

import fcntl
import json
import os
import shutil
import signal

import jax
import numpy as np
import pytest

import jaxgan
from jaxgan import cli
from jaxgan import config as config_lib
from jaxgan.game.state import create_state
from jaxgan.run.checkpoint import Checkpointer
from test_stopping import long_run, wait_until_training

TINY = ['--config', 'digits', *('--set', 'model.g_width=8', '--set', 'model.d_width=8', '--set', 'train.log_every=10')]
TINY += ['--set', 'eval.metrics=()']  # scores: tests/test_evaluation.py


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
  """A finished 40-step run (cosine learning rate), checkpoints at 20 and 40."""
  workdir = tmp_path_factory.mktemp('finished')
  args = [*TINY, '--steps', '40', '--set', 'train.checkpoint_every=20', '--workdir', str(workdir)]
  assert cli.train_main(args) == 0
  return workdir


def contents(workdir):
  """Every file of the run but the lock (which names the last process that asked for the workdir)."""
  return {
    p.relative_to(workdir): p.read_bytes() if p.is_file() else 'folder'
    for p in sorted(workdir.rglob('*'))
    if p.name != '.lock'
  }


def test_a_second_run_on_a_live_workdir_is_refused_and_a_killed_one_does_not_block(tmp_path, capsys):
  process = long_run(tmp_path)
  try:
    wait_until_training(tmp_path, process)
    assert cli.train_main([*TINY, '--steps', '20', '--workdir', str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and f'is in use by a live run (jaxgan pid {process.pid} on ' in err
    assert 'wait for it to end or use another --workdir' in err
  finally:
    process.send_signal(signal.SIGKILL)
    process.wait()
  # The killed run's lock went with it; it never saved a trained step, so a new run replaces it.
  assert cli.train_main([*TINY, '--steps', '20', '--workdir', str(tmp_path)]) == 0
  out = capsys.readouterr().err
  assert 'held a run that never saved a trained step; starting it afresh' in out
  assert json.loads((tmp_path / 'summary.json').read_text())['steps'] == 20


def test_a_run_failing_at_its_first_step_leaves_nothing_and_the_advice_works(tmp_path, capsys):
  np.savez(tmp_path / 'two.npz', images=np.zeros((2, 8, 8), np.uint8))
  workdir = tmp_path / 'runs' / 'mine' / 'run'
  args = [*TINY, '--data', str(tmp_path / 'two.npz'), '--steps', '4', '--workdir', str(workdir)]
  assert cli.train_main(args) == 1
  err = capsys.readouterr().err
  assert 'batch of 64 is larger than the dataset (2 images); lower train.batch_size' in err
  assert not (tmp_path / 'runs').exists()  # nor the folders made to hold it
  assert cli.train_main([*args, '--set', 'train.batch_size=2']) == 0  # as the message advised


def test_nan_at_the_first_step_leaves_nothing_in_an_existing_folder(tmp_path, capsys):
  (tmp_path / 'notes.txt').write_text('mine')
  args = [*TINY, '--steps', '20', '--workdir', str(tmp_path)]
  assert cli.train_main([*args, '--set', 'optim.d_lr=1e30', '--set', 'optim.g_lr=1e30']) == 1
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'at step' in err and 'no checkpoint was kept' in err
  assert sorted(p.name for p in tmp_path.iterdir()) == ['notes.txt']  # the user's file stays, and only it
  assert cli.train_main(args) == 0  # with sane learning rates, no "config does not match"


def test_out_of_memory_says_so_and_leaves_nothing(tmp_path, capsys, monkeypatch):
  from jaxgan.run import stepping

  def exhausted(state, batch, pool=None):
    raise jax.errors.JaxRuntimeError('RESOURCE_EXHAUSTED: Out of memory while trying to allocate 17.18GiB.')

  monkeypatch.setattr(stepping, 'train_step', exhausted)
  assert cli.train_main([*TINY, '--steps', '4', '--workdir', str(tmp_path / 'run')]) == 1
  err = capsys.readouterr().err
  assert err.count('\n') == 1
  assert 'out of memory at train.batch_size=64 (RESOURCE_EXHAUSTED: Out of memory' in err
  assert 'lower it, e.g. --set train.batch_size=32' in err
  assert not (tmp_path / 'run').exists()


def test_a_never_trained_run_of_an_older_jaxgan_is_replaced(finished, tmp_path, capsys):
  """config.json, metrics and a checkpoint 0 only (what a failed start used to leave): another config starts afresh."""
  for name in ['config.json', 'run.json', 'metrics.jsonl']:
    shutil.copy(finished / name, tmp_path / name)
  config = config_lib.from_dict(config_lib.Config, json.loads((finished / 'config.json').read_text()))
  Checkpointer(tmp_path / 'checkpoints').save(create_state(config, jax.random.key(0), (8, 8, 1)))
  assert sorted(p.name for p in (tmp_path / 'checkpoints').iterdir()) == ['0']
  assert cli.train_main([*TINY, '--steps', '10', '--set', 'train.batch_size=32', '--workdir', str(tmp_path)]) == 0
  assert 'held a run that never saved a trained step; starting it afresh' in capsys.readouterr().err
  assert [json.loads(line)['step'] for line in (tmp_path / 'metrics.jsonl').read_text().splitlines()] == [10]


def test_a_finished_run_whose_checkpoints_were_deleted_is_kept(finished, tmp_path, capsys):
  workdir = tmp_path / 'run'
  shutil.copytree(finished, workdir)
  shutil.rmtree(workdir / 'checkpoints')
  before = contents(workdir)
  assert cli.train_main([*TINY, '--steps', '40', '--workdir', str(workdir)]) == 1
  assert 'holds a run but no readable checkpoint to resume' in capsys.readouterr().err
  assert contents(workdir) == before


def test_files_of_something_else_are_never_removed(tmp_path, capsys):
  """A folder with its own samples/ and summary.json but no jaxgan run is refused, not trained into or cleaned."""
  (tmp_path / 'samples').mkdir()
  (tmp_path / 'samples' / 'mine.png').write_bytes(b'mine')
  (tmp_path / 'summary.json').write_text('{"mine": 1}')
  before = contents(tmp_path)
  assert cli.train_main([*TINY, '--steps', '4', '--workdir', str(tmp_path)]) == 1
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'holds samples, summary.json but no jaxgan run (no config.json)' in err
  assert contents(tmp_path) == before
  assert sorted(p.name for p in tmp_path.iterdir()) == ['samples', 'summary.json']  # not even a lock left


def test_a_stopped_runs_summary_does_not_outlive_it(finished, tmp_path, capsys):
  """A run stopped, resumed to its end and killed before its summary: the next run finishes it, not 'stopped'."""
  workdir = tmp_path / 'run'
  shutil.copytree(finished, workdir)
  summary = json.loads((workdir / 'summary.json').read_text())
  (workdir / 'summary.json').write_text(json.dumps({**summary, 'stopped': 'SIGINT', 'step': 20}))
  assert cli.train_main([*TINY, '--steps', '40', '--workdir', str(workdir)]) == 0  # checkpoint 40 is the end
  summary = json.loads((workdir / 'summary.json').read_text())
  assert 'stopped' not in summary and summary['step'] == 40


def test_extending_a_decaying_schedule_is_explicit(finished, tmp_path, capsys):
  workdir = tmp_path / 'run'
  shutil.copytree(finished, workdir)
  before = contents(workdir)
  args = [*TINY, '--set', 'train.checkpoint_every=20', '--workdir', str(workdir)]
  assert cli.train_main([*args, '--steps', '80']) == 1
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'was planned for 40 steps with a cosine learning-rate schedule' in err
  assert "--steps 80 would re-plan it (G's learning rate at step 40: 0 -> 0.0002): add --extend" in err
  assert cli.train_main([*args, '--steps', '20']) == 1  # fewer steps than trained
  assert 'has trained 40 steps, more than train.steps=20' in capsys.readouterr().err
  assert contents(workdir) == before  # refused: nothing changed, config.json included

  assert cli.train_main([*args, '--steps', '80', '--extend']) == 0
  out = capsys.readouterr().err
  assert f'extending {workdir} from 40 to 80 steps: the schedules now span 80' in out
  rows = [json.loads(line) for line in (workdir / 'metrics.jsonl').read_text().splitlines()]
  rates = {row['step']: row['optim/g_lr'] for row in rows}
  assert rates[10] == pytest.approx(4e-4 * (1 + np.cos(np.pi * 9 / 40)) / 2)  # the first plan
  assert rates[50] == pytest.approx(4e-4 * (1 + np.cos(np.pi * 49 / 80)) / 2)  # the extended one
  assert json.loads((workdir / 'config.json').read_text())['train']['steps'] == 80


def test_sampling_changes_nothing(finished, tmp_path, capsys):
  workdir = tmp_path / 'run'
  shutil.copytree(finished, workdir)
  for f in (workdir / 'checkpoints' / '40').rglob('*'):
    if f.is_file() and 'ocdbt' in str(f):
      f.write_bytes(b'garbage')
  before = contents(workdir)
  assert cli.sample_main(['--workdir', str(workdir), '--out', str(tmp_path / 's.npz')]) == 0
  assert 'checkpoint 40 is unreadable (' in capsys.readouterr().err
  assert contents(workdir) == before  # the corrupt checkpoint is left where it is


def test_truncated_sampling_from_the_command_line(finished, tmp_path):
  out = tmp_path / 's.npz'
  assert cli.sample_main(['--workdir', str(finished), '--num', '8', '--truncation', '0.5', '--out', str(out)]) == 0
  with np.load(out) as saved:
    np.testing.assert_array_equal(saved['images'], jaxgan.sample(finished, 8, truncation=0.5))


def test_sampling_a_run_without_a_trained_step_is_refused(finished, tmp_path, capsys):
  for name in ['config.json', 'run.json']:
    (tmp_path / name).write_text((finished / name).read_text())
  assert cli.sample_main(['--workdir', str(tmp_path), '--out', str(tmp_path / 's.npz')]) == 1
  assert 'has no trained checkpoint yet' in capsys.readouterr().err
  assert not (tmp_path / 's.npz').exists()


def test_the_lock_names_its_holder(tmp_path):
  from jaxgan.run import workdir as workdir_lib

  with workdir_lib.lock(tmp_path):
    holder = (tmp_path / '.lock').read_text()
    assert holder.startswith(f'jaxgan pid {os.getpid()} on ')
    with pytest.raises(workdir_lib.RunError, match='is in use by a live run'):
      with workdir_lib.lock(tmp_path):
        pass
  with open(tmp_path / '.lock') as f:  # released
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)

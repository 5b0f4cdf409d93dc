"""Stopping a run: a signal or --max-time acts after the step in flight, a second signal at once, exit codes."""

import json
import re
import signal
import subprocess
import sys
import threading
import time

from jaxgan import cli, train
from jaxgan import config as config_lib
from jaxgan.run.runs import load as load_run

# A long run of a tiny digits DCGAN that logs and checkpoints rarely: only a
# stop that acts after the step in flight ends it within seconds.
LONG = [
  'eval.metrics=()',  # scores: tests/test_evaluation.py
  'train.steps=100000',
  'train.log_every=100000',
  'train.checkpoint_every=100000',
  'train.sample_every=100000',
  'model.g_width=8',
  'model.d_width=8',
]


def long_run(workdir, *extra_args):
  sets = [a for s in LONG for a in ('--set', s)]
  return subprocess.Popen(  # -X faulthandler: a SIGABRT prints every thread's stack (the second-Ctrl-C test)
    [sys.executable, '-X', 'faulthandler', '-m', 'jaxgan.cli', '--config', 'digits', *sets]
    + ['--workdir', str(workdir), *extra_args],
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )


def wait_for(path, process, timeout=120):
  deadline = time.time() + timeout
  while not path.exists():
    assert process.poll() is None, process.communicate()
    assert time.time() < deadline, f'{path} did not appear'
    time.sleep(0.05)


def wait_until_training(workdir, process):
  wait_for(workdir / 'samples' / 'step_0000000.png', process)  # drawn just before the first step
  time.sleep(3)  # compiled, and some steps done


def test_ctrl_c_stops_after_the_step_in_flight_with_everything_written(tmp_path):
  process = long_run(tmp_path)
  wait_until_training(tmp_path, process)
  process.send_signal(signal.SIGINT)
  sent = time.time()
  out, err = process.communicate(timeout=60)
  assert time.time() - sent < 30  # seconds, not the 100,000 steps to the next log step
  assert process.returncode == cli.EXIT_STOPPED == 75
  assert 'jaxgan: SIGINT: stopping after the step in flight, with a checkpoint; SIGINT again stops at once' in err
  summary = json.loads((tmp_path / 'summary.json').read_text())
  step = summary['step']
  assert summary['stopped'] == 'SIGINT' and 0 < step < 100000 and summary['steps'] == 100000
  assert f'stopped at step {step} of 100000 (SIGINT)' in out and 'run the same command to resume' in out
  _, state = load_run(tmp_path)
  assert int(state.step) == step  # the checkpoint is at the stop
  for picture in ['samples.png', 'samples.gif', 'losses.png', f'samples/step_{step:07d}.png']:
    assert (tmp_path / picture).stat().st_size > 0, picture
  assert json.loads((tmp_path / 'metrics.jsonl').read_text().splitlines()[-1])['step'] == step


def test_second_ctrl_c_stops_at_once_and_keeps_the_last_checkpoint(tmp_path):
  process = long_run(tmp_path, '--set', 'train.checkpoint_every=20')
  wait_for(tmp_path / 'checkpoints' / '40' / 'commit_success.txt', process)
  err = []
  reader = threading.Thread(target=lambda: err.extend(iter(lambda: process.stderr.read(1), '')))
  reader.start()
  process.send_signal(signal.SIGINT)
  deadline = time.time() + 60
  while 'SIGINT again stops at once' not in ''.join(err):  # the first was heard (signals do not queue)
    assert time.time() < deadline and process.poll() is None
    time.sleep(0.01)
  process.send_signal(signal.SIGINT)
  try:
    process.wait(timeout=60)
  except subprocess.TimeoutExpired:
    process.send_signal(signal.SIGABRT)
    reader.join()
    raise AssertionError('not stopped 60 s after the second SIGINT; where it was:\n' + ''.join(err)[-6000:]) from None
  reader.join()
  err = ''.join(err)
  assert process.returncode == cli.EXIT_INTERRUPTED == 130, err
  kept = re.fullmatch(
    r'jaxgan-train: stopped at once; checkpoint (\d+) is kept: run the same command to resume',
    err.strip().splitlines()[-1],
  )
  assert kept and 'Traceback' not in err, err
  _, state = load_run(
    tmp_path
  )  # the last checkpoint reads (the stop's own, when the second signal came during its save)
  assert int(state.step) == int(kept[1]) >= 40


def test_ctrl_c_while_jax_loads_is_one_line(tmp_path):
  # What the jaxgan-train script does, with a mark once Python itself has started (before it, no program can help).
  main = 'import sys; from jaxgan.cli import train_main; print("ready", flush=True); sys.exit(train_main(sys.argv[1:]))'
  process = subprocess.Popen(
    [sys.executable, '-c', main, '--workdir', str(tmp_path / 'run')],
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )
  assert process.stdout.readline() == 'ready\n'
  time.sleep(0.2)  # importing numpy and JAX takes a second or more
  process.send_signal(signal.SIGINT)
  _, err = process.communicate(timeout=60)
  assert process.returncode == 130
  assert len(err.strip().splitlines()) == 1 and err.startswith('jaxgan-train: '), err
  assert not (tmp_path / 'run').exists()


def test_max_time_overshoots_by_at_most_a_step(tmp_path):
  config = config_lib.load('digits')
  # A constant schedule: a decaying one would have its steps fitted to the time (test_evaluation).
  for assignment in [*LONG, 'optim.schedule=constant', 'train.max_seconds=4']:
    config = config_lib.override(config, assignment)
  summary = train(config, tmp_path, progress=False)
  assert summary['stopped'] == 'max time (4 s)' and 0 < summary['step'] < 100000
  assert summary['wall_seconds'] < 4 + 20  # steps of milliseconds; the 100,000 steps would take minutes
  assert int(load_run(tmp_path)[1].step) == summary['step']


def test_step_by_step_stops_after_the_step_in_flight():
  """should_stop is asked after each dispatch: true after the 3rd, the state has taken exactly 3 steps."""
  from jaxgan.data import make_source
  from jaxgan.run.stepping import step_by_step
  from test_step import TOY, toy_state

  asked = []
  batches = make_source(TOY.data, 0).batches(0, 10, TOY.train.batch_size * TOY.game.d_steps)
  state, metrics = step_by_step(toy_state(), batches, should_stop=lambda: asked.append(1) or len(asked) == 3)
  assert int(state.step) == 3 and len(metrics['d_loss']) == 3 and len(asked) == 3

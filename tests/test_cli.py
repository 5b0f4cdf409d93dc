"""jaxgan-train end to end: a real (short) run, and every kind of bad input."""

import json
import os
import subprocess
import sys

import pytest

from jaxgan import cli
from jaxgan.game import theory

# A short 1-D run with a light theory check: seconds, not the full experiment.
FAST = ['--config', 'gaussian1d', '--steps', '300', '--set', 'eval.dstar_steps=300', '--set', 'eval.num_samples=100000']


def test_short_run_writes_everything(tmp_path, capsys):
  workdir = tmp_path / 'run'
  assert cli.train_main([*FAST, '--workdir', str(workdir), '--seed', '3']) == 0
  config = json.loads((workdir / 'config.json').read_text())
  assert config['train']['steps'] == 300 and config['train']['seed'] == 3
  lines = [json.loads(line) for line in (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert [m['step'] for m in lines] == [6, 30, 90, 100, 200, 300]  # log_every 100 and the panels
  for key in ['train/d_loss', 'train/g_loss', 'train/d_real', 'train/d_fake', 'train/value', 'eval/js_divergence']:
    assert key in lines[-1]
  summary = json.loads((workdir / 'summary.json').read_text())
  assert summary['steps'] == 300 and summary['minus_log4'] == pytest.approx(theory.MINUS_LOG4)
  assert 0 <= summary['js_divergence'] < lines[0]['eval/js_divergence'] / 2  # it is learning
  # The theorem check really ran: the converged D is close to D*.
  assert summary['mean_abs_d_minus_dstar'] < 0.05 and summary['dstar_converged']
  for png in ['panels.png', 'curves.png']:
    assert (workdir / png).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  assert 'wrote' in capsys.readouterr().out


def run_cli(*args, env=None):
  env = {**os.environ, **(env or {})}
  return subprocess.run(
    [sys.executable, '-m', 'jaxgan.cli', *args], capture_output=True, text=True, timeout=120, env=env
  )


def test_help_lists_options():
  result = run_cli('--help')
  assert result.returncode == 0
  for option in ['--config', '--workdir', '--steps', '--seed', '--set', 'default digits']:
    assert option in result.stdout


@pytest.mark.parametrize(
  'args,message',
  [
    (['--config', 'nosuch'], "unknown config 'nosuch'"),
    (['--set', 'optim.nope=1'], "unknown config key 'optim.nope'"),
    (['--set', 'train.batch_size=big'], "train.batch_size expects int, got 'big'"),
    (['--steps', '0'], 'train.steps must be positive'),
    (['--steps', '-5'], 'train.steps must be positive'),
    (['--steps', 'ten'], "argument --steps: invalid int value: 'ten'"),
    (['--bogus'], 'unrecognized arguments: --bogus'),
  ],
)
def test_bad_input_is_one_line_and_nonzero(args, message, tmp_path, capsys):
  workdir = tmp_path / 'run'
  with pytest.raises(SystemExit) if args[0] in ('--bogus',) or args[1:] == ['ten'] else _no_raise():
    code = cli.train_main([*args, '--workdir', str(workdir)])
    assert code == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and message in err and 'Traceback' not in err
  assert not workdir.exists()  # nothing was written


class _no_raise:
  def __enter__(self):
    return self

  def __exit__(self, *exc):
    return False


def test_unwritable_workdir(tmp_path, capsys):
  blocker = tmp_path / 'file'
  blocker.write_text('keep me')
  assert cli.train_main([*FAST, '--workdir', str(blocker / 'run')]) == 1
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'is not usable' in err
  assert blocker.read_text() == 'keep me'


def test_subprocess_error_has_no_traceback(tmp_path):
  result = run_cli('--set', 'model.prior=cauchy', '--workdir', str(tmp_path / 'w'))
  assert result.returncode == 2
  assert result.stderr.strip().splitlines() == [
    "jaxgan-train: error: model.prior must be one of uniform, normal, got 'cauchy'"
  ]


@pytest.mark.slow
def test_gaussian1d_meets_its_targets(tmp_path):
  """The full default experiment (about 30 s on 2 cores): the issue's targets."""
  assert cli.train_main(['--config', 'gaussian1d', '--workdir', str(tmp_path / 'run')]) == 0
  s = json.loads((tmp_path / 'run' / 'summary.json').read_text())
  assert s['js_divergence'] < 0.01
  assert abs(s['value'] - s['minus_log4']) < 0.02
  assert s['mean_abs_d_minus_half'] < 0.05
  assert s['mean_abs_d_minus_dstar'] < 0.03
  assert s['dstar_converged']
  assert s['wall_seconds'] < 60


def test_read_only_workdir(tmp_path, capsys, monkeypatch):
  """A read-only workdir (simulated: root ignores permission bits) is one line, nothing written."""
  import errno
  import os
  import pathlib

  original = pathlib.Path.write_text

  def read_only(self, *args, **kwargs):
    if self.parent == tmp_path / 'run':
      raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
    return original(self, *args, **kwargs)

  monkeypatch.setattr(pathlib.Path, 'write_text', read_only)
  assert cli.train_main([*FAST, '--workdir', str(tmp_path / 'run')]) == 1
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'is not usable: Permission denied' in err
  assert list((tmp_path / 'run').iterdir()) == []


def test_scan_over_xla_convolutions_on_cpu_is_flagged(tmp_path, capsys):
  """XLA's CPU convolution gradients are many times slower inside lax.scan: said in one line, the run goes on."""
  base = ['--config', 'digits', '--steps', '2', '--set', 'train.log_every=1', '--set', 'train.sample_every=2']
  assert cli.train_main([*base, '--workdir', str(tmp_path / 'scan'), '--set', 'train.scan=True']) == 0
  assert 'jaxgan: train.scan with model.conv_impl=lax: ' in capsys.readouterr().err
  assert json.loads((tmp_path / 'scan' / 'summary.json').read_text())['steps'] == 2
  assert cli.train_main([*base, '--workdir', str(tmp_path / 'loop')]) == 0  # the recipe itself: one dispatch a step
  assert 'train.scan' not in capsys.readouterr().err


def test_version_and_help_without_none_defaults():
  from importlib.metadata import version

  result = run_cli('--version')
  assert result.returncode == 0 and result.stdout.strip() == f'jaxgan-train {version("jaxgan")}'
  help_text = run_cli('--help').stdout
  assert '(default: None)' not in help_text and '--extend' in help_text and '75 stopped' in help_text


def test_an_unusable_default_compilation_cache_is_one_warning_line(tmp_path, monkeypatch, capsys):
  """$JAXGAN_COMPILATION_CACHE unset and ~/.cache a file: the run goes on without a cache (here it stops at its
  bad config), after one warning line."""
  (tmp_path / '.cache').write_text('not a folder')
  monkeypatch.delenv('JAXGAN_COMPILATION_CACHE')
  monkeypatch.setenv('HOME', str(tmp_path))
  assert cli.train_main([*FAST, '--workdir', str(tmp_path / 'run'), '--set', 'model.prior=cauchy']) == 2
  warning, error = capsys.readouterr().err.splitlines()
  assert warning == (
    f'jaxgan-train: warning: the compilation cache {tmp_path}/.cache/jaxgan/xla is not a writable folder '
    '(Not a directory); compiling without it (JAXGAN_COMPILATION_CACHE=off: none)'
  )
  assert error.startswith('jaxgan-train: error: model.prior')

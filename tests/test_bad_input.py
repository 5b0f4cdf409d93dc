"""Every command row of docs/bad-input.md, run as written: its exit status and its one line."""

import fcntl
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxgan import cli

DOC = Path(__file__).parent.parent / 'docs' / 'bad-input.md'


def rows():
  """(command, exit status, message) of each table row whose command is a jaxgan command."""
  found = []
  for line in DOC.read_text().splitlines():
    cells = [cell.strip() for cell in line.strip().strip('|').split(' | ')]
    if len(cells) == 4 and cells[1].startswith('`jaxgan-'):
      found.append((cells[1].strip('`'), int(cells[2]), cells[3].strip('`')))
  return found


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
  """The folder docs/bad-input.md describes."""
  root = tmp_path_factory.mktemp('bad-input')
  np.savez(root / 'two.npz', images=np.zeros((2, 8, 8), np.uint8))
  np.savez(root / 'one.npz', images=np.zeros((1, 8, 8), np.uint8))
  np.savez(root / 'wide.npz', images=np.zeros((2, 8, 16), np.uint8))
  (root / 'blocker').write_text('a file')
  (root / 'notzip.npz').write_text('text')
  (root / 'raises.py').write_text('def get_config():\n  raise ValueError("boom")\n')
  (root / 'mine' / 'samples').mkdir(parents=True)
  (root / 'mine' / 'summary.json').write_text('{}')
  runs = root / 'runs'
  assert cli.train_main(['--steps', '20', '--workdir', str(runs / 'done')]) == 0
  (runs / 'untrained').mkdir()
  for name in ['config.json', 'run.json']:
    shutil.copy(runs / 'done' / name, runs / 'untrained' / name)
  shutil.copytree(runs / 'done', runs / 'norunjson')
  (runs / 'norunjson' / 'run.json').unlink()
  (runs / 'corrupt').mkdir()
  (runs / 'corrupt' / 'config.json').write_text('{"model": {')
  (runs / 'busy').mkdir()
  with open(runs / 'busy' / '.lock', 'w') as lock:  # a live run holds it
    fcntl.flock(lock, fcntl.LOCK_EX)
    lock.write('jaxgan pid 4242 on elsewhere, since 2026-12-01 00:00:00\n')
    lock.flush()
    yield root


def test_the_table_has_the_rows_the_tests_run():
  assert len(rows()) >= 30


def snapshot(root):
  """Every file and folder (the locks aside: a refused run may have asked for its workdir)."""
  return {p: p.read_bytes() if p.is_file() else 'folder' for p in sorted(root.rglob('*')) if p.name != '.lock'}


@pytest.mark.parametrize('command,status,message', rows(), ids=[r[0] for r in rows()])
def test_row(command, status, message, folder, capsys, monkeypatch):
  monkeypatch.chdir(folder)
  program, *args = shlex.split(command)
  while '=' in program:  # NAME=VALUE before the command: its environment
    monkeypatch.setenv(*program.split('=', 1))
    program, *args = args
  main = {
    'jaxgan-train': cli.train_main,
    'jaxgan-sample': cli.sample_main,
    'jaxgan-eval': cli.eval_main,
    'jaxgan-convert-inception': cli.convert_inception_main,
  }[program]
  before = snapshot(folder)
  try:
    code = main(args)
  except SystemExit as e:  # argparse's own errors
    code = e.code
  err = capsys.readouterr().err.replace(f'{folder}/', '')
  err = '\n'.join(line.rsplit('\r', 1)[-1] for line in err.split('\n'))  # as a terminal shows it: no wiped bar
  assert code == status
  pattern = '.*'.join(map(re.escape, message.split('…')))
  assert re.fullmatch(pattern + '\n', err), err
  assert snapshot(folder) == before  # nothing written, nothing changed (runs/two, runs/nan: not left behind)


def test_a_row_as_a_user_sees_it(folder):
  """In a process of its own, stderr is the one line the table gives: no library warnings, no traceback."""
  command = 'import sys; from jaxgan.cli import sample_main; sys.exit(sample_main(sys.argv[1:]))'
  args = ['--workdir', 'runs/untrained', '--out', 's.npz']
  result = subprocess.run([sys.executable, '-c', command, *args], cwd=folder, capture_output=True, text=True)
  assert result.returncode == 1 and result.stderr.count('\n') == 1, result.stderr
  assert result.stderr.startswith('jaxgan-sample: error: ') and 'has no trained checkpoint yet' in result.stderr

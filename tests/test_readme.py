"""The README's code blocks, run as written: ```bash and ```python blocks in order, in one folder.

The ```sh blocks are the set-up and development commands: CI runs the test command itself (.ci/run).
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).parent.parent
README = (ROOT / 'README.md').read_text()


def blocks(*languages):
  return [(m[1], m[2]) for m in re.finditer(r'^```(\w+)\n(.*?)^```$', README, re.M | re.S) if m[1] in languages]


def test_ci_runs_the_readme_test_command():
  set_up = blocks('sh')[0][1].splitlines()
  test_command = set_up[1].split('#')[0].strip()
  assert test_command.endswith('python3 -m pytest -q')
  assert (ROOT / '.ci' / 'run').read_text().strip().splitlines()[-1] == test_command


def test_readme_blocks_run_in_order(tmp_path):
  rng = np.random.default_rng(0)
  np.savez(tmp_path / 'images.npz', images=rng.integers(0, 256, (256, 20, 20, 3), np.uint8))  # the user's images
  ran = []
  for language, code in blocks('bash', 'python'):
    command = ['bash', '-euo', 'pipefail', '-c', code] if language == 'bash' else [sys.executable, '-c', code]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f'README block failed:\n{code}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}'
    ran.append(language)
  assert ran == ['bash', 'python', 'python', 'bash', 'bash', 'bash', 'bash']
  assert (tmp_path / 'runs' / 'scored' / 'eval.json').exists() and (tmp_path / 'runs' / 'scored' / 'best.json').exists()
  assert (tmp_path / 'runs' / 'sweep-api' / 'results.csv').exists() and (tmp_path / 'member0.npz').exists()
  assert (tmp_path / 'runs' / 'grid25' / 'panels.png').exists()
  assert (tmp_path / 'runs' / 'ring8-hinge' / 'modes.png').exists()
  assert (tmp_path / 'runs' / 'digits-augment' / 'summary.json').exists()
  assert (tmp_path / 'samples.npz').exists() and (tmp_path / 'samples.png').exists()
  assert (tmp_path / 'runs' / 'from-file' / 'summary.json').exists()
  assert (tmp_path / 'runs' / 'api' / 'summary.json').exists()

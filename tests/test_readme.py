"""The README's code blocks, run as written: each ```bash and ```python block, its commands in order.

The ```sh blocks are the set-up and development commands: CI runs the test command itself (.ci/run).
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / 'README.md').read_text()


def blocks(*languages):
  return [(m[1], m[2]) for m in re.finditer(r'^```(\w+)\n(.*?)^```$', README, re.M | re.S) if m[1] in languages]


def test_ci_runs_the_readme_test_command():
  set_up = blocks('sh')[0][1].splitlines()
  test_command = set_up[1].split('#')[0].strip()
  assert test_command.endswith('python3 -m pytest -q')
  assert (ROOT / '.ci' / 'run').read_text().strip().splitlines()[-1] == test_command


BLOCKS = blocks('bash', 'python')
# What each block leaves in its folder, in the README's order.
LEFT = [
  ['runs/minimax/panels.png'],
  ['samples.npz', 'samples.png'],
  ['runs/from-file/summary.json'],
  ['runs/api/summary.json'],
  ['runs/sweep-api/results.csv'],
  ['member0.npz'],
  ['runs/ring8-hinge/modes.png', 'runs/digits-augment/summary.json'],
  ['runs/digits-conditional/summary.json', 'sevens.png', 'walks.gif'],
  ['runs/grid25/panels.png'],
  ['runs/scored/eval.json', 'runs/scored/best.json'],
]


def test_readme_has_these_blocks():
  languages = ['bash', 'bash', 'bash', 'python', 'python', 'bash', 'bash', 'bash', 'bash', 'bash']
  assert [language for language, _ in BLOCKS] == languages


@pytest.mark.parametrize('index', range(len(LEFT)))
def test_readme_block_runs(index, tmp_path):
  """Block `index` as written, in a folder of its own (the blocks share nothing; pytest-xdist's workers split
  them): its commands in order, then what they leave."""
  rng = np.random.default_rng(0)
  np.savez(tmp_path / 'images.npz', images=rng.integers(0, 256, (256, 20, 20, 3), np.uint8))  # the user's images
  language, code = BLOCKS[index]
  command = ['bash', '-euo', 'pipefail', '-c', code] if language == 'bash' else [sys.executable, '-c', code]
  result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, f'README block failed:\n{code}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}'
  for path in LEFT[index]:
    assert (tmp_path / path).exists(), path

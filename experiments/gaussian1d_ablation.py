"""What makes the 1-D game settle: the gaussian1d config with parts taken away, trained as sweeps.

    python experiments/gaussian1d_ablation.py [--seeds 0 1 2] [--workdir runs/ablation]

The optimiser's settings that the ablation varies (Adam's beta1 0.9 or 0.5; a
constant learning rate, or a cosine decay to 1% of it; no generator EMA, or
0.99) leave the compiled program as it is, so their product over the seeds is
one population, trained by `jaxgan.sweep` as one program: once with one D
update per round and once with three (gaussian1d's own), as d_steps changes
the program. The variants that change the program (the minimax objective,
simultaneous updates, a normal prior, a 1-D latent) are one sweep of the seeds
each. A constant rate is the cosine schedule with final_lr_fraction 1.

Prints one row per variant: the range over the seeds of the final figures of
each member's summary. The results measured on a 2-core CPU are in the
docstring of jaxgan/configs/gaussian1d.py.
"""

import argparse
from pathlib import Path

import numpy as np

import jaxgan

COLUMNS = ['js_divergence', 'value', 'mean_abs_d_minus_half', 'mean_abs_d_minus_dstar']
PROGRAMS = {  # the program-changing variants of gaussian1d: one sweep of the seeds each
  'gaussian1d, minimax objective': {'game__objective': 'minimax'},
  'gaussian1d, simultaneous updates': {'game__update_order': 'simultaneous'},
  'gaussian1d, normal prior': {'model__prior': 'normal'},
  'gaussian1d, 1-D uniform latent': {'model__latent_dim': 1},
}


def _label(member: dict, d_steps: int) -> str:
  decay = 'constant lr' if member['optim.final_lr_fraction'] == 1 else 'cosine decay'
  ema = f'EMA {member["game.ema_decay"]}' if member['game.ema_decay'] else 'no EMA'
  return f'beta1 {member["optim.b1"]}, {decay}, {ema}, {d_steps} D step{"s" if d_steps > 1 else ""}'


def _rows(summary: dict, label) -> dict[str, list[dict]]:
  """The members' summaries, grouped by `label(member)` (the seeds of one variant together)."""
  groups: dict[str, list[dict]] = {}
  for member in summary['members']:
    groups.setdefault(label(member), []).append(member)
  return groups


def _print(groups: dict[str, list[dict]]) -> None:
  for name, members in groups.items():
    cells = []
    for column in COLUMNS:
      values = np.array([m.get(column, np.nan) for m in members])
      cells.append(f'{values.min():.3g} to {values.max():.3g}' if len(values) > 1 else f'{values[0]:.4g}')
    seeds = ','.join(str(m['train.seed']) for m in members)
    print(f'| {name} | {seeds} | ' + ' | '.join(cells) + ' |', flush=True)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
  parser.add_argument('--workdir', default='runs/gaussian1d-ablation', help='one sweep per folder under it')
  parser.add_argument('--steps', type=int, help="train.steps (default gaussian1d's)")
  args = parser.parse_args()
  root = Path(args.workdir)
  steps = {'train__steps': args.steps} if args.steps else {}
  optimiser = jaxgan.product(
    optim__b1=[0.9, 0.5],
    optim__final_lr_fraction=[1.0, 0.01],
    game__ema_decay=[0.0, 0.99],
    train__seed=args.seeds,
  )
  print(f'| variant | seeds | {" | ".join(COLUMNS)} |')
  print('|---' * (len(COLUMNS) + 2) + '|')
  for d_steps in (1, 3):
    config = jaxgan.get_config('gaussian1d', optim__schedule='cosine', game__d_steps=d_steps, **steps)
    summary = jaxgan.sweep(config, optimiser, root / f'optimiser-d{d_steps}')
    _print(_rows(summary, lambda member, d_steps=d_steps: _label(member, d_steps)))
  for name, changes in PROGRAMS.items():
    config = jaxgan.get_config('gaussian1d', **changes, **steps)
    summary = jaxgan.sweep(config, jaxgan.product(train__seed=args.seeds), root / name.split(', ')[1].replace(' ', '-'))
    _print(_rows(summary, lambda member, name=name: name))


if __name__ == '__main__':
  main()

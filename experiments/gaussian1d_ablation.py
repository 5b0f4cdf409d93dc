"""What makes the 1-D game settle: the gaussian1d config with parts taken away.

    python experiments/gaussian1d_ablation.py [--seeds 0 1 2]

Runs `jaxgan.train` on each variant below (the same code path as
`jaxgan-train --config gaussian1d --set ...`) and prints the final figures of
summary.json, one row per variant and seed. The results measured on a 2-core
CPU are in the docstring of jaxgan/configs/gaussian1d.py.
"""

import argparse
import tempfile

from jaxgan import config as config_lib
from jaxgan import train

NAIVE = ['optim.b1=0.9', 'optim.schedule=constant', 'game.ema_decay=0', 'game.d_steps=1']
VARIANTS = {
  'naive: Adam defaults, constant lr, no EMA, 1 D step': NAIVE,
  'naive + generator EMA 0.99': [*NAIVE, 'game.ema_decay=0.99'],
  'naive + beta1 0.5': [*NAIVE, 'optim.b1=0.5'],
  '+ beta1 0.5, cosine lr decay': ['game.ema_decay=0', 'game.d_steps=1'],
  '+ beta1 0.5, cosine lr decay, EMA': ['game.d_steps=1'],
  '+ beta1 0.5, cosine lr decay, EMA, 3 D steps (= gaussian1d)': [],
  'gaussian1d, minimax objective': ['game.objective=minimax'],
  'gaussian1d, simultaneous updates': ['game.update_order=simultaneous'],
  'gaussian1d, normal prior': ['model.prior=normal'],
  'gaussian1d, 1-D uniform latent': ['model.latent_dim=1'],
}
COLUMNS = ['js_divergence', 'value', 'mean_abs_d_minus_half', 'mean_abs_d_minus_dstar', 'wall_seconds']


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--seeds', type=int, nargs='+', default=[0])
  args = parser.parse_args()
  print(f'| variant | seed | {" | ".join(COLUMNS)} |')
  print('|---' * (len(COLUMNS) + 2) + '|')
  for name, overrides in VARIANTS.items():
    for seed in args.seeds:
      config = config_lib.load('gaussian1d')
      for assignment in [*overrides, f'train.seed={seed}']:
        config = config_lib.override(config, assignment)
      with tempfile.TemporaryDirectory() as workdir:
        summary = train(config, workdir)
      print(f'| {name} | {seed} | ' + ' | '.join(f'{summary[c]:.4g}' for c in COLUMNS) + ' |', flush=True)


if __name__ == '__main__':
  main()

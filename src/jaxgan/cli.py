"""Command-line entry points. Argument parsing and error reporting only."""

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence

from jaxgan import config as config_lib
from jaxgan.config import ConfigError
from jaxgan.train import RunError, train

DEFAULT_CONFIG = 'gaussian1d'


class _Parser(argparse.ArgumentParser):
  def error(self, message: str) -> None:  # one line, not usage + line
    self.exit(2, f'{self.prog}: error: {message}\n')


def _train_parser() -> argparse.ArgumentParser:
  parser = _Parser(
    formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    prog='jaxgan-train',
    description='Train a GAN. Writes config.json, metrics.jsonl, summary.json and plots into the workdir.',
  )
  parser.add_argument(
    '--config',
    default=DEFAULT_CONFIG,
    help=f'built-in config ({", ".join(config_lib.builtin_names())}) or a .py file with get_config(); '
    f'default {DEFAULT_CONFIG}',
  )
  parser.add_argument('--workdir', help='run directory, created if needed; default runs/CONFIG-TIME')
  parser.add_argument('--steps', type=int, help='training steps (train.steps)')
  parser.add_argument('--seed', type=int, help='random seed (train.seed)')
  parser.add_argument(
    '--set',
    dest='overrides',
    action='append',
    default=[],
    metavar='SECTION.KEY=VALUE',
    help='override a config value, e.g. --set optim.g_lr=2e-4 (repeatable); sections: '
    + ', '.join(f.name for f in dataclasses.fields(config_lib.Config)),
  )
  return parser


def _resolve_config(args: argparse.Namespace) -> config_lib.Config:
  config = config_lib.load(args.config)
  assignments = list(args.overrides)
  if args.steps is not None:
    assignments.append(f'train.steps={args.steps}')
  if args.seed is not None:
    assignments.append(f'train.seed={args.seed}')
  for assignment in assignments:
    config = config_lib.override(config, assignment)
  return config_lib.validate(config)


def train_main(argv: Sequence[str] | None = None) -> int:
  """`jaxgan-train`: parse, train, report one line per failure."""
  parser = _train_parser()
  args = parser.parse_args(argv)
  try:
    config = _resolve_config(args)
    name = args.config.rsplit('/', 1)[-1].removesuffix('.py')
    workdir = args.workdir or f'runs/{name}-{time.strftime("%Y%m%d-%H%M%S")}'
    summary = train(config, workdir)
  except (ConfigError, RunError) as e:
    print(f'jaxgan-train: error: {e}', file=sys.stderr)
    return 2 if isinstance(e, ConfigError) else 1
  except KeyboardInterrupt:
    print('jaxgan-train: interrupted', file=sys.stderr)
    return 130
  print(f'wrote {workdir}: ' + ', '.join(f'{k} {v:.4g}' for k, v in summary.items() if isinstance(v, float)))
  return 0


if __name__ == '__main__':
  sys.exit(train_main())

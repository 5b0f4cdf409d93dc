"""Command-line entry points. Argument parsing and error reporting only."""

import argparse
import dataclasses
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

from jaxgan import config as config_lib
from jaxgan import parallel
from jaxgan.checkpoint import CheckpointError
from jaxgan.config import ConfigError
from jaxgan.data import DataError
from jaxgan.train import RunError, train

DEFAULT_CONFIG = 'digits'


def _enable_compilation_cache() -> None:
  """Keeps compiled steps between runs in $JAXGAN_COMPILATION_CACHE (default
  ~/.cache/jaxgan/xla; 'off' for none), so a repeated or resumed run skips most compiling."""
  cache = os.environ.get('JAXGAN_COMPILATION_CACHE', str(Path.home() / '.cache' / 'jaxgan' / 'xla'))
  if cache != 'off':
    jax.config.update('jax_compilation_cache_dir', cache)
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.5)


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
  parser.add_argument(
    '--data', help='data source, overriding the config: normal, digits, FILE.npz, DIR or tfds:NAME[:SPLIT]'
  )
  parser.add_argument(
    '--workdir', help='run directory, created if needed; a checkpoint in it is resumed; default runs/CONFIG'
  )
  parser.add_argument('--steps', type=int, help='training steps (train.steps)')
  parser.add_argument('--seed', type=int, help='random seed (train.seed)')
  parser.add_argument(
    '--max-time', type=_duration, help='stop with a checkpoint after this long, e.g. 90s, 5m, 1h30m (train.max_seconds)'
  )
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
  if args.max_time is not None:
    assignments.append(f'train.max_seconds={args.max_time}')
  if args.data is not None:
    assignments.append(f'data.source={args.data}')
  for assignment in assignments:
    config = config_lib.override(config, assignment)
  return config_lib.validate(config)


def train_main(argv: Sequence[str] | None = None) -> int:
  """`jaxgan-train`: parse, train, report one line per failure."""
  parser = _train_parser()
  args = parser.parse_args(argv)
  _enable_compilation_cache()
  parallel.initialize_from_environment()  # several hosts, when the environment says so
  try:
    config = _resolve_config(args)
    name = args.config.rsplit('/', 1)[-1].removesuffix('.py')
    workdir = args.workdir or f'runs/{name}'
    summary = train(config, workdir)
  except (ConfigError, RunError) as e:
    print(f'jaxgan-train: error: {e}', file=sys.stderr)
    return 2 if isinstance(e, ConfigError) else 1
  except KeyboardInterrupt:
    print('jaxgan-train: interrupted', file=sys.stderr)
    return 130
  if 'stopped' in summary:
    print(f'stopped at step {summary["step"]} ({summary["stopped"]}); checkpoint saved: run the same command to resume')
  else:
    print(f'wrote {workdir}: ' + ', '.join(f'{k} {v:.4g}' for k, v in summary.items() if isinstance(v, float)))
  return 0


def _duration(text: str) -> float:
  """Seconds in '90', '90s', '5m', '1h30m' or '2:00:00'."""
  try:
    if ':' in text:
      seconds = 0.0
      for part in text.split(':'):
        seconds = seconds * 60 + float(part)
    else:
      matches = re.fullmatch(r'(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?', text.strip())
      if not matches or not any(matches.groups()):
        raise ValueError
      h, m, s = (float(g or 0) for g in matches.groups())
      seconds = 3600 * h + 60 * m + s
  except ValueError:
    raise argparse.ArgumentTypeError(f'invalid duration {text!r}: use e.g. 90s, 5m, 1h30m or 2:00:00') from None
  if seconds <= 0:
    raise argparse.ArgumentTypeError(f'duration must be positive, got {text!r}')
  return seconds


def sample_main(argv: Sequence[str] | None = None) -> int:
  """`jaxgan-sample`: samples of a run's EMA generator, as .npz or a PNG grid."""
  parser = _Parser(prog='jaxgan-sample', description="Sample a trained run's EMA generator (latest checkpoint).")
  parser.add_argument('--workdir', required=True, help='the run directory of jaxgan-train')
  parser.add_argument('--num', type=int, default=64, help='number of samples; default 64')
  parser.add_argument('--seed', type=int, default=0, help='latent seed; default 0')
  out = parser.add_mutually_exclusive_group(required=True)
  out.add_argument('--out', help='write FILE.npz: images uint8 [N, H, W, C], or samples float32 [N, D]')
  out.add_argument('--grid', help='write a PNG grid of the samples (image runs)')
  args = parser.parse_args(argv)
  if args.num <= 0:
    parser.error(f'--num must be positive, got {args.num}')
  from jaxgan import images
  from jaxgan.sample import sample

  target = Path(args.out or args.grid).expanduser()
  if args.out and target.suffix != '.npz':
    parser.error(f'--out must name a .npz file, got {args.out}')
  try:
    samples, is_image = sample(args.workdir, args.num, args.seed)
    if args.grid and not is_image:
      raise RunError('--grid needs an image run; use --out FILE.npz for low-dimensional samples')
    target.parent.mkdir(parents=True, exist_ok=True)
    if args.grid:
      grid = images.grid(samples)
      images.save_png(target, grid, images.upscale_for(samples.shape[1]))
    else:
      np.savez_compressed(target, **{'images' if is_image else 'samples': samples})
  except (ConfigError, RunError, CheckpointError, DataError) as e:
    print(f'jaxgan-sample: error: {e}', file=sys.stderr)
    return 1
  except OSError as e:
    print(f'jaxgan-sample: error: cannot write {target}: {e.strerror or e}', file=sys.stderr)
    return 1
  print(f'wrote {target}: {len(samples)} samples')
  return 0


if __name__ == '__main__':
  sys.exit(train_main())

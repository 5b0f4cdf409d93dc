"""Command-line entry points. Argument parsing and error reporting only.

Exit status of jaxgan-train: 0 finished; 1 the run failed (one line says why);
2 bad input; 75 stopped by a signal or --max-time with a checkpoint, resumable
by running the same command (EX_TEMPFAIL: "try again"); 130 stopped at once by
a second Ctrl-C, resumable from the last checkpoint.

Only the standard library is imported at module level, so that a Ctrl-C while
JAX loads is reported like any other (see _guarded).
"""

import argparse
import importlib
import math
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
  import numpy as np

  from jaxgan.config import Config

DEFAULT_CONFIG = 'digits'
EXIT_FAILED, EXIT_BAD_INPUT, EXIT_STOPPED, EXIT_INTERRUPTED = 1, 2, 75, 130


def _enable_compilation_cache() -> None:
  """Keeps compiled programs between runs in $JAXGAN_COMPILATION_CACHE (default ~/.cache/jaxgan/xla; 'off'
  for none), so a repeated or resumed run, or a second sweep of the same shapes, skips most compiling: every
  program (a run compiles some ninety, most small, each read back in a quarter of its compile time), unless
  JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS says otherwise. A folder that cannot be written is a ConfigError
  when $JAXGAN_COMPILATION_CACHE names it, and a warning line (the run compiles without a cache) by default."""
  import tempfile

  import jax

  from jaxgan.config import ConfigError

  given = os.environ.get('JAXGAN_COMPILATION_CACHE')
  if given == 'off':
    return
  cache = Path(given or Path.home() / '.cache' / 'jaxgan' / 'xla').expanduser()
  try:
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=cache):
      pass
  except OSError as e:
    problem = f'the compilation cache {cache} is not a writable folder ({e.strerror or e})'
    if given:
      raise ConfigError(f'$JAXGAN_COMPILATION_CACHE: {problem}; give a writable folder, or off for none') from None
    print(
      f'jaxgan-train: warning: {problem}; compiling without it (JAXGAN_COMPILATION_CACHE=off: none)', file=sys.stderr
    )
    return
  jax.config.update('jax_compilation_cache_dir', str(cache))
  if 'JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS' not in os.environ:  # jax reads it itself
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)


class _Parser(argparse.ArgumentParser):
  def error(self, message: str) -> None:  # one line, not usage + line
    self.exit(EXIT_BAD_INPUT, f'{self.prog}: error: {message}\n')


def _version() -> str:
  from importlib.metadata import PackageNotFoundError, version

  try:
    return version('jaxgan')
  except PackageNotFoundError:  # run from a source tree
    return 'unknown (not installed)'


def _train_parser() -> argparse.ArgumentParser:
  from jaxgan import config as config_lib
  from jaxgan.run import population

  parser = _Parser(
    prog='jaxgan-train',
    description='Train a GAN, or resume the run in --workdir. Writes config.json, metrics.jsonl, checkpoints, '
    'summary.json and pictures into the workdir. Exit status: 0 finished, 1 failed, 2 bad input, '
    '75 stopped with a checkpoint (run the same command to resume), 130 stopped at once.',
  )
  parser.add_argument('--version', action='version', version=f'%(prog)s {_version()}')
  parser.add_argument(
    '--config',
    default=DEFAULT_CONFIG,
    help=f'built-in config ({", ".join(config_lib.builtin_names())}) or a .py file with get_config(); '
    f'default {DEFAULT_CONFIG}',
  )
  parser.add_argument(
    '--data',
    help="data source: normal, ring8, grid25, digits, FILE.npz, DIR or tfds:NAME[:SPLIT]; default the config's",
  )
  parser.add_argument(
    '--workdir', help='run directory, created if needed; a checkpoint in it is resumed; default runs/CONFIG'
  )
  parser.add_argument('--steps', type=int, help="training steps (train.steps); default the config's")
  parser.add_argument(
    '--extend',
    action='store_true',
    help='let --steps re-plan a resumed run whose learning rate decays (the schedule then spans the new count)',
  )
  parser.add_argument('--seed', type=int, help="random seed (train.seed); default the config's")
  parser.add_argument(
    '--max-time',
    type=_duration,
    help='stop after the step in flight once this long has passed, with a checkpoint (exit 75), '
    'e.g. 90s, 5m, 1h30m (train.max_seconds); a decaying learning rate first has its steps fitted to the time, '
    'so that the schedule ends in it; default no limit',
  )
  parser.add_argument(
    '--sweep',
    dest='sweeps',
    action='append',
    default=[],
    metavar='SECTION.KEY=V1,V2,...',
    help='train a population in one compiled program: one member per combination of the lists (their product), '
    'e.g. --sweep train.seed=0,1,2,3 --sweep optim.g_lr=1e-3,3e-4 (8 members); keys that can vary: '
    + ', '.join(population.SWEEPABLE),
  )
  parser.add_argument(
    '--set',
    dest='overrides',
    action='append',
    default=[],
    metavar='SECTION.KEY=VALUE',
    help='override a config value, e.g. --set optim.g_lr=2e-4 (repeatable); sections: '
    + ', '.join(config_lib.Config.__dataclass_fields__),
  )
  return parser


def _resolve_config(args: argparse.Namespace) -> 'Config':
  from jaxgan import config as config_lib

  config = config_lib.load(args.config)
  for assignment in _assignments(args):
    config = config_lib.override(config, assignment)
  return config_lib.validate(config)


def _assignments(args: argparse.Namespace) -> list[str]:
  """The config assignments of jaxgan-train's command line: --set's, then --steps', --seed's, --max-time's, --data's."""
  options = {
    'train.steps': args.steps,
    'train.seed': args.seed,
    'train.max_seconds': args.max_time,
    'data.source': args.data,
  }
  return [*args.overrides, *(f'{key}={value}' for key, value in options.items() if value is not None)]


def _sweep_members(args: argparse.Namespace) -> list[dict[str, str]]:
  """The members of --sweep, refused where the command line also fixes one of their keys."""
  from jaxgan.config import ConfigError
  from jaxgan.run import population

  members = population.parse_sweeps(args.sweeps)
  fixed = {assignment.partition('=')[0].strip() for assignment in _assignments(args)}
  if both := sorted(fixed & set(members[0])):
    raise ConfigError(f'{both[0]} is swept by --sweep and fixed by --set (or --seed, --steps) too; give it in one')
  return members


def _guarded(
  prog: str, main: Callable[[Sequence[str] | None], int], libraries: Sequence[str]
) -> Callable[[Sequence[str] | None], int]:
  """main, with a Ctrl-C at any point reported in one line.

  The libraries load first with SIGINT held back: a KeyboardInterrupt inside a
  C extension's initialisation breaks the import (or crashes the process), so
  a Ctrl-C there takes effect once they have loaded.
  """

  def run(argv: Sequence[str] | None = None) -> int:
    interrupted = []
    try:
      previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    except ValueError:  # not the main thread: the caller's signals are its own
      previous = None
    try:
      for library in libraries:
        importlib.import_module(library)
    finally:
      if previous is not None:
        signal.signal(signal.SIGINT, previous)
    try:
      if interrupted:
        raise KeyboardInterrupt('interrupted while starting; nothing was written')
      return main(argv)
    except KeyboardInterrupt as e:
      print(f'{prog}: {str(e) or "interrupted"}', file=sys.stderr)
      return EXIT_INTERRUPTED

  run.__doc__ = main.__doc__
  return run


def _train(argv: Sequence[str] | None = None) -> int:
  """`jaxgan-train`: parse, train, report one line per failure."""
  parser = _train_parser()
  args = parser.parse_args(argv)
  from jaxgan.config import ConfigError
  from jaxgan.data import parallel
  from jaxgan.run import population
  from jaxgan.run.loop import RunError, sweep, train

  parallel.initialize_from_environment()  # several hosts, when the environment says so
  try:
    _enable_compilation_cache()
    config = _resolve_config(args)
    name = args.config.rsplit('/', 1)[-1].removesuffix('.py')
    workdir = args.workdir or f'runs/{name}' + ('-sweep' if args.sweeps else '')
    if args.sweeps:
      summary = sweep(config, _sweep_members(args), workdir, extend=args.extend)
    else:
      summary = train(config, workdir, extend=args.extend)
  except (ConfigError, RunError) as e:
    print(f'jaxgan-train: error: {e}', file=sys.stderr)
    return EXIT_BAD_INPUT if isinstance(e, ConfigError) else EXIT_FAILED
  if 'results' in summary:
    print(population.format_table(summary['results']))
  if 'stopped' in summary:
    print(
      f'stopped at step {summary["step"]} of {summary["steps"]} ({summary["stopped"]}); checkpoint, summary and '
      f'pictures written to {workdir}: run the same command to resume'
    )
    return EXIT_STOPPED
  if 'results' in summary:
    print(f'wrote {workdir}: {len(summary["results"])} members ranked in {workdir}/{population.RESULTS_FILE}')
  else:
    headline = {k: v for k, v in summary.items() if isinstance(v, float) and not re.search(r'_\d+$', k)}
    print(f'wrote {workdir}: ' + ', '.join(f'{k} {v:.4g}' for k, v in headline.items()))  # per-class: summary.json
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


def _sample_arguments(argv: Sequence[str] | None) -> tuple[argparse.Namespace, str, Path]:
  """jaxgan-sample's arguments, checked against each other, with the output option given and its path."""
  parser = _Parser(prog='jaxgan-sample', description="Sample a trained run's EMA generator (latest checkpoint).")
  parser.add_argument('--version', action='version', version=f'%(prog)s {_version()}')
  parser.add_argument('--workdir', required=True, help='the run directory of jaxgan-train')
  parser.add_argument('--num', type=int, default=64, help='number of samples; default 64')
  parser.add_argument('--seed', type=int, default=0, help='latent seed; default 0')
  parser.add_argument('--member', type=int, help='the member of a sweep to sample (its rank is in results.csv)')
  parser.add_argument('--best', action='store_true', help='sample the best checkpoint (runs with eval.metrics)')
  parser.add_argument(
    '--truncation', type=float, help='truncation trick: latents truncated to [-T, T] (BigGAN); default none'
  )
  parser.add_argument(
    '--psi',
    type=float,
    default=1.0,
    help="a stylegan2 run: w pulled toward its mean, w_avg + psi (w - w_avg) (StyleGAN's truncation); default 1",
  )
  parser.add_argument(
    '--class',
    dest='classes',
    type=int,
    nargs='+',
    metavar='C',
    help='a class-conditional run: --num samples of each class C given (a grid: one row a class); '
    'default: the classes in turn',
  )
  parser.add_argument(
    '--interpolate',
    type=int,
    default=0,
    metavar='STEPS',
    help='walk each of the --num samples from one latent to another in STEPS steps (a grid: one row a walk)',
  )
  out = parser.add_mutually_exclusive_group(required=True)
  out.add_argument('--out', help='write FILE.npz: images uint8 [N, H, W, C], or samples float32 [N, D]')
  out.add_argument('--grid', help='write FILE.png, a grid of the samples (image runs)')
  out.add_argument('--gif', help='with --interpolate: write FILE.gif, the --num samples walking, a frame a step')
  args = parser.parse_args(argv)
  if args.num <= 0:
    parser.error(f'--num must be positive, got {args.num}')
  from jaxgan.config import MAX_SEED

  if not 0 <= args.seed <= MAX_SEED:
    parser.error(f'--seed must be in [0, {MAX_SEED}], got {args.seed}')
  if args.interpolate < 0 or args.interpolate == 1:
    parser.error(f'--interpolate must be a number of steps, 2 or more, got {args.interpolate}')
  if args.gif and not args.interpolate:
    parser.error('--gif draws an interpolation: give --interpolate STEPS, e.g. --interpolate 16')
  if args.truncation is not None and not args.truncation > 0:
    parser.error(f'--truncation must be a positive threshold, e.g. 0.5, got {args.truncation}')
  if not math.isfinite(args.psi):
    parser.error(f'--psi must be a number, e.g. 0.7, got {args.psi}')
  option, suffix = next((o, x) for o, x in (('out', '.npz'), ('grid', '.png'), ('gif', '.gif')) if getattr(args, o))
  target = Path(getattr(args, option)).expanduser()
  if target.suffix.lower() != suffix:
    parser.error(f'--{option} must name a {suffix} file, got {target}')
  return args, option, target


def _write_samples(target: Path, samples: 'np.ndarray', args: argparse.Namespace, labels: list[int] | None) -> None:
  """Writes samples as the option given asks: a GIF of the walks, a PNG grid, or an .npz (with the labels asked)."""
  import numpy as np

  from jaxgan.run import images

  target.parent.mkdir(parents=True, exist_ok=True)
  scale = images.upscale_for(samples.shape[-2])
  if args.gif:  # frame j: every walk at its step j
    images.save_gif(target, [images.grid(samples[:, j]) for j in range(args.interpolate)], scale)
  elif args.grid and args.interpolate:
    images.save_png(target, images.grid(samples.reshape(-1, *samples.shape[2:]), args.interpolate), scale)
  elif args.grid:
    images.save_png(target, images.grid(samples, args.num if args.classes and len(args.classes) > 1 else None), scale)
  else:
    given = {'labels': np.asarray(labels, np.int32)} if labels else {}
    name = 'images' if samples.dtype == np.uint8 else 'samples'
    np.savez_compressed(target, **{name: samples}, **given)


def _sample(argv: Sequence[str] | None = None) -> int:
  """`jaxgan-sample`: samples of a run's EMA generator, as .npz or a PNG grid; changes nothing in the run."""
  args, option, target = _sample_arguments(argv)
  import numpy as np

  from jaxgan.config import ConfigError
  from jaxgan.data.sources import DataError
  from jaxgan.run.checkpoint import CheckpointError
  from jaxgan.run.runs import sample
  from jaxgan.run.workdir import RunError

  labels = np.repeat(args.classes, args.num).tolist() if args.classes else None
  num = len(labels) if labels else args.num
  try:
    try:
      samples = sample(
        args.workdir,
        num,
        seed=args.seed,
        member=args.member,
        best=args.best,
        truncation=args.truncation,
        psi=args.psi,
        labels=labels,
        interpolate=args.interpolate,
      )
    except ValueError as e:  # --class not a class of the run, or --psi for a generator without styles
      psi = str(e).startswith('psi')
      if isinstance(e, (ConfigError, DataError)) or (labels is None and not psi):
        raise
      raise RunError(str(e) if psi else f'--class {" ".join(map(str, args.classes))}: {e}') from None
    if (args.grid or args.gif) and samples.dtype != np.uint8:  # images uint8 [N(, STEPS), H, W, C]
      raise RunError(f'--{option} needs an image run; use --out FILE.npz for low-dimensional samples')
  except (ConfigError, RunError, CheckpointError, DataError) as e:
    print(f'jaxgan-sample: error: {e}', file=sys.stderr)
    return EXIT_FAILED
  try:
    _write_samples(target, samples, args, labels)
  except OSError as e:
    print(f'jaxgan-sample: error: cannot write {target}: {e.strerror or e}', file=sys.stderr)
    return EXIT_FAILED
  print(f'wrote {target}: {len(samples)} samples')
  return 0


def _eval_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
  """jaxgan-eval's arguments, checked against each other."""
  from jaxgan.config import SCORE_RESULTS

  parser = _Parser(
    prog='jaxgan-eval',
    description="Score a run's EMA generator (FID, KID, precision/recall, density/coverage, IS, classes) against "
    'its data, writing WORKDIR/eval.json with the protocol of every score; or score --fake images against --real.',
  )
  parser.add_argument('--version', action='version', version=f'%(prog)s {_version()}')
  which = parser.add_mutually_exclusive_group(required=True)
  which.add_argument('--workdir', help='the run directory of jaxgan-train to score')
  which.add_argument('--real', help='reference images: FILE.npz (uint8 images), a folder, digits or tfds:NAME')
  parser.add_argument('--fake', help='with --real: the images to score, FILE.npz or a folder')
  parser.add_argument('--step', type=int, help='score the checkpoint of this step; default the latest')
  parser.add_argument('--best', action='store_true', help='score the best checkpoint (runs with eval.metrics)')
  parser.add_argument('--member', type=int, help='the member of a sweep to score')
  parser.add_argument(
    '--metrics',
    help=f"comma-separated, of {','.join(SCORE_RESULTS)}; default the run's eval.metrics, or all that apply",
  )
  parser.add_argument('--reference', help="the reference's data source; default the run's data.source")
  parser.add_argument('--extractor', choices=('auto', 'inception', 'classifier'), help='default auto')
  parser.add_argument('--num-fake', type=int, help='generated images scored; default eval.num_fake (10000)')
  parser.add_argument('--num-real', type=int, help='reference images; default eval.num_real (10000)')
  parser.add_argument('--out', help='with --real: also write the result to this .json file (else it is printed)')
  args = parser.parse_args(argv)
  if args.real and not args.fake:
    parser.error('--real needs --fake, the images to score')
  if args.fake and not args.real:
    parser.error('--fake needs --real, the reference images (or score a run with --workdir)')
  if args.workdir is None and (args.step is not None or args.best or args.member is not None or args.reference):
    parser.error('--step, --best, --member and --reference go with --workdir')
  if args.workdir and args.out:
    parser.error("--out goes with --real; a run's scores are written into its eval.json")
  if args.step is not None and args.best:
    parser.error('give --step or --best, not both')
  for name in ('num_fake', 'num_real'):
    if getattr(args, name) is not None and getattr(args, name) < 2:
      parser.error(f'--{name.replace("_", "-")} must be 2 or more, got {getattr(args, name)}')
  return args


def _eval(argv: Sequence[str] | None = None) -> int:
  """`jaxgan-eval`: scores of a run's generator (into its eval.json) or of one image set against another."""
  args = _eval_arguments(argv)
  settings = {
    key: value
    for key, value in [
      ('metrics', tuple(m.strip() for m in args.metrics.split(',') if m.strip()) if args.metrics else None),
      ('extractor', args.extractor),
      ('reference', args.reference),
      ('num_fake', args.num_fake),
      ('num_real', args.num_real),
    ]
    if value is not None
  }
  import json
  import warnings

  from jaxgan import evaluation
  from jaxgan.config import ConfigError
  from jaxgan.run.evaluate import EVAL_FILE, evaluate_run
  from jaxgan.run.workdir import RunError

  formatwarning = warnings.formatwarning  # restored: main() may run inside a user's process
  warnings.formatwarning = lambda message, *_: f'jaxgan-eval: warning: {message}\n'
  try:
    if args.workdir:
      result = evaluate_run(args.workdir, step=args.step, best=args.best, member=args.member, **settings)
      where = Path(args.workdir) / EVAL_FILE
    else:
      where = Path(args.out).expanduser() if args.out else None
      if where:
        evaluation.read_results(where)  # refused before the work if it is not an eval.json
        where.parent.mkdir(parents=True, exist_ok=True)
      result = evaluation.evaluate_images(args.real, args.fake, **settings)
      if where:
        evaluation.record(where, result)
  except (ConfigError, RunError, evaluation.EvalError) as e:
    print(f'jaxgan-eval: error: {e}', file=sys.stderr)
    return EXIT_BAD_INPUT if isinstance(e, ConfigError) else EXIT_FAILED
  finally:
    warnings.formatwarning = formatwarning
  protocol = result['protocol']
  figures = ', '.join(f'{k} {v:.4g}' for k, v in result.items() if isinstance(v, float))
  print(f'{figures} ({protocol["extractor"]}; {protocol["num_fake"]} generated, {protocol["num_real"]} reference)')
  print(f'wrote {where}' if where else json.dumps(result, indent=2))
  return 0


def _convert_inception(argv: Sequence[str] | None = None) -> int:
  """`jaxgan-convert-inception`: pytorch-fid's Inception weights to jaxgan's file, once (needs torch)."""
  from jaxgan.evaluation import inception

  parser = _Parser(
    prog='jaxgan-convert-inception',
    description=f"Convert pytorch-fid's FID Inception weights ({inception.FID_WEIGHTS_FILE}, from "
    f"{inception.FID_WEIGHTS_URL}) into the file jaxgan's FID reads; torch is needed for this step only.",
  )
  parser.add_argument('weights', help=f'the .pth file, {inception.FID_WEIGHTS_FILE}')
  parser.add_argument(
    '--out', help='where to write; default $JAXGAN_INCEPTION_WEIGHTS, or fid_inception_v3.npz in $JAXGAN_CACHE'
  )
  parser.add_argument(
    '--any-weights', action='store_true', help="convert a file whose hash is not pytorch-fid's (scores then differ)"
  )
  args = parser.parse_args(argv)
  out = Path(args.out or inception.default_weights_path()).expanduser()
  if out.exists():
    parser.exit(EXIT_FAILED, f'jaxgan-convert-inception: error: {out} exists; remove it to convert again\n')
  try:
    import torch  # noqa: F401
  except ImportError:
    parser.exit(EXIT_FAILED, 'jaxgan-convert-inception: error: needs torch: pip install torch (for this step only)\n')
  try:
    inception.convert(Path(args.weights).expanduser(), out, verify=not args.any_weights)
    converted = inception.load(out)
  except (inception.InceptionWeightsError, OSError) as e:
    print(f'jaxgan-convert-inception: error: {e}', file=sys.stderr)
    return EXIT_FAILED
  print(f'wrote {out} (sha256 {converted.weights_sha256}; from {args.weights}, sha256 {converted.source_sha256})')
  return 0


# What every run loads (the rest, such as tensorflow-datasets, only as its data asks; tensorboardX as training
# starts, jaxgan.run.writer).
_LIBRARIES = ('numpy', 'jax', 'flax', 'optax', 'orbax.checkpoint', 'PIL.Image', 'tqdm')
train_main = _guarded('jaxgan-train', _train, (*_LIBRARIES, 'jaxgan.run.loop'))
sample_main = _guarded('jaxgan-sample', _sample, (*_LIBRARIES, 'jaxgan.run.runs'))
eval_main = _guarded('jaxgan-eval', _eval, (*_LIBRARIES, 'jaxgan.run.evaluate'))
convert_inception_main = _guarded('jaxgan-convert-inception', _convert_inception, ('numpy',))

if __name__ == '__main__':
  sys.exit(train_main())

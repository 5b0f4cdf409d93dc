"""A trained run read back: its config and latest state (`jaxgan.load`), its generator's samples (`jaxgan.sample`)."""

import json
import operator
import os
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.config import MAX_SEED, Config
from jaxgan.game.state import GANState, create_population, create_state, generate, step_of
from jaxgan.game.state import member as member_of
from jaxgan.run import population
from jaxgan.run import workdir as workdir_lib
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.workdir import RunError

_generate = jax.jit(generate, static_argnames='ema')


def load(
  workdir: str | os.PathLike, *, member: int | None = None, best: bool = False, step: int | None = None
) -> tuple[Config, GANState]:
  """The config and the latest good checkpoint's state of the run in `workdir`; changes nothing there.

  Args:
    workdir: the run directory of `jaxgan.train`, `jaxgan.sweep` or jaxgan-train.
    member: for a sweep, the member to read; None reads the whole population.
    best: read the best checkpoint by eval.best_metric (kept by runs with eval.metrics; best.json says which).
    step: read the checkpoint of this step, not the latest.

  Returns:
    (config, state): the config saved with the run, and the state of its latest good checkpoint. For a
    sweep: the config the members share and the population (every leaf [M, ...]), or with `member` that
    member's config and state.

  Raises:
    RunError: no run in workdir, no trained checkpoint yet, or a member that is not there, in one line.
    ConfigError: the saved config.json is not a readable config.
  """
  path = Path(workdir).expanduser().absolute()
  config = workdir_lib.read_config(path)
  if config is None:
    raise RunError(f'{path} holds no run (no config.json); give the --workdir of a jaxgan-train run')
  try:
    shape = tuple(json.loads((path / 'run.json').read_text())['sample_shape'])  # no need to read the data
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise RunError(
      f'{path}/run.json is missing or unreadable ({type(e).__name__}); it holds the shape of one sample, '
      'e.g. {"sample_shape": [8, 8, 1]}'
    ) from e
  members = population.read_members(path)
  if members is None and member is not None:
    raise RunError(f'{path} holds a single run, not a sweep; leave out the member (--member)')
  if members is not None and member is not None and not 0 <= member < len(members):
    raise RunError(f'{path} holds a sweep of {len(members)} members; give a member in 0..{len(members) - 1}')
  configs = population.member_configs(config, members) if members is not None else [config]
  if best and members is not None and member is None:
    raise RunError(f'{path} holds a sweep: each member has its best checkpoint; give the member (--member)')
  # The checkpoint's structure, shapes and dtypes only: nothing initialised, nothing compiled.
  if members is None or best:
    template = jax.eval_shape(lambda: create_state(configs[member or 0], jax.random.key(config.train.seed), shape))
  else:
    template = jax.eval_shape(
      lambda: create_population(configs, jnp.stack([jax.random.key(c.train.seed) for c in configs]), shape)
    )
  home = population.member_dir(path, member) if best and members is not None else path
  folder = home / ('best' if best else 'checkpoints')
  if best and not folder.is_dir():
    raise RunError(f'{home} has no best checkpoint; runs with eval.metrics keep one (--set eval.metrics=fid,...)')
  checkpoints = Checkpointer(folder, read_only=True)
  if step is not None and step not in checkpoints.steps():
    kept = ', '.join(map(str, checkpoints.steps())) or 'none'
    raise RunError(f'{folder} has no checkpoint of step {step}; kept: {kept}')
  state, notes = checkpoints.restore_latest(template, step=step)
  for note in notes:
    print(f'jaxgan: {note}', file=sys.stderr)
  if state is None or step_of(state) == 0:
    live = workdir_lib.holder(path)
    how = f'the live run training it ({live}) saves one' if live else 'train it first: one is saved'
    raise RunError(
      f'{path} has no trained checkpoint yet; {how} every train.checkpoint_every steps, at the end and when stopped'
    )
  if member is not None:
    return configs[member], state if best else member_of(state, member)
  return config, state


def sample(
  run: str | os.PathLike | GANState,
  num: int,
  *,
  seed: int = 0,
  ema: bool = True,
  member: int | None = None,
  best: bool = False,
) -> np.ndarray:
  """num samples of a run's generator: the same run, num and seed give the same samples.

  Args:
    run: a run's workdir (its latest checkpoint is read; nothing there changes), or a GANState.
    num: how many samples, a positive integer.
    seed: the latents' seed, an integer in [0, jaxgan.config.MAX_SEED].
    ema: sample the generator's exponential moving average (as training evaluates it) or, if False, G itself.
    member: the member of a sweep (a workdir or a population state) to sample; needed there, refused elsewhere.
    best: sample a workdir's best checkpoint by eval.best_metric, not its latest.

  Returns:
    uint8 images [num, H, W, C] for image runs, float32 [num, D] for low-dimensional data.

  Raises:
    ValueError: num or seed is not an integer in range, in one line.
    TypeError: run is neither a path nor a GANState.
    RunError, ConfigError: as `load` raises them, when run is a workdir (and a sweep's without a member).
  """
  num = _integer('num', num, 1, None, 'a positive integer')
  seed = _integer('seed', seed, 0, MAX_SEED, f'an integer in [0, {MAX_SEED}]')
  if isinstance(run, (str, os.PathLike)):
    _, state = load(run, member=member, best=best)
  elif isinstance(run, GANState):
    state = run
    if state.step.ndim and member is None:
      raise ValueError(f'run is a population of {len(state.step)} members; give the member to sample, member=i')
    if not state.step.ndim and member is not None:
      raise ValueError('run is a single GAN, not a population; leave out member')
    if member is not None:
      if not 0 <= member < len(state.step):
        raise ValueError(f'member must be in 0..{len(state.step) - 1}, got {member}')
      state = member_of(state, member)
  else:
    hint = '; pass the state of config, state = jaxgan.load(workdir)' if isinstance(run, tuple) else ''
    raise TypeError(f'run must be a workdir or a GANState, got {type(run).__name__}{hint}')
  if state.step.ndim:
    raise RunError(f'{run} holds a sweep of {len(state.step)} members; give the member to sample (--member)')
  out = np.asarray(_generate(state, state.sample_latent(jax.random.key(seed), num), ema=bool(ema)))
  if out.ndim != 4:  # not [N, H, W, C] images
    return out.reshape(num, -1).astype(np.float32)
  from jaxgan.run.images import to_uint8

  return to_uint8(out)


def _integer(name: str, value: object, low: int, high: int | None, expected: str) -> int:
  """value as an int in [low, high], or ValueError saying what `name` must be."""
  try:
    number = operator.index(value) if not isinstance(value, bool) else None
  except TypeError:
    number = None
  if number is None or number < low or (high is not None and number > high):
    raise ValueError(f'{name} must be {expected}, got {value!r:.40}')
  return number

"""A trained run read back: its config and latest state (`jaxgan.load`), its generator's samples (`jaxgan.sample`)."""

import json
import math
import operator
import os
import sys
from collections.abc import Sequence
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

_generate = jax.jit(generate, static_argnames=('ema', 'psi'))  # (state, z, labels)


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
  truncation: float | None = None,
  psi: float = 1.0,
  labels: int | Sequence[int] | None = None,
  interpolate: int = 0,
) -> np.ndarray:
  """num samples of a run's generator: the same run, num, seed and labels give the same samples.

  Args:
    run: a run's workdir (its latest checkpoint is read; nothing there changes), or a GANState.
    num: how many samples, a positive integer.
    seed: the latents' seed, an integer in [0, jaxgan.config.MAX_SEED].
    ema: sample the generator's exponential moving average (as training evaluates it) or, if False, G itself.
    member: the member of a sweep (a workdir or a population state) to sample; needed there, refused elsewhere.
    best: sample a workdir's best checkpoint by eval.best_metric, not its latest.
    truncation: the truncation trick's threshold t > 0: latents drawn from the prior truncated to [-t, t]
      (BigGAN's; lower t, less variety and more typical samples); None samples the prior itself.
    psi: a style-based generator's (stylegan2) w pulled toward its running mean, w_avg + psi (w - w_avg)
      (StyleGAN's truncation trick: 0.7 is typical, 1 none).
    labels: a class-conditional run's classes to draw: one class for all num samples, or one per sample
      (num of them); None draws the classes in turn (sample i of class i mod K), as its scores do.
    interpolate: walk each of the num samples in this many steps from one latent to another (spherically
      for a normal prior, in a line for a uniform one), its class kept: [num, interpolate, ...]; 0: no walk.

  Returns:
    uint8 images [num, H, W, C] for image runs, float32 [num, D] for low-dimensional data; with
    interpolate, [num, interpolate, ...].

  Raises:
    ValueError: num or seed is not an integer in range, truncation not positive, psi not a number or given to a
      generator that is not style-based, or labels that are not classes of the run (or given to an
      unconditional one), in one line.
    TypeError: run is neither a path nor a GANState.
    RunError, ConfigError: as `load` raises them, when run is a workdir (and a sweep's without a member).
  """
  num = _integer('num', num, 1, None, 'a positive integer')
  seed = _integer('seed', seed, 0, MAX_SEED, f'an integer in [0, {MAX_SEED}]')
  steps = _integer('interpolate', interpolate, 0, None, 'a number of steps, 2 or more (or 0 for none)')
  if steps == 1:
    raise ValueError('interpolate must be a number of steps, 2 or more (or 0 for none), got 1')
  _check_truncation(truncation, psi)
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
  classes = _classes(state, labels, num)
  if steps:
    ends = state.sample_latent(jax.random.key(seed), 2 * num, truncation=truncation).reshape(2, num, 1, -1)
    z = _walk(ends[0], ends[1], jnp.linspace(0, 1, steps)[:, None], spherical=state.prior == 'normal')
    z, classes = z.reshape(num * steps, -1), None if classes is None else jnp.repeat(classes, steps)
  else:
    z = state.sample_latent(jax.random.key(seed), num, truncation=truncation)
  out = np.asarray(_generate(state, z, classes, ema=bool(ema), psi=float(psi)))
  shape = (num, steps) if steps else (num,)
  if out.ndim != 4:  # not [N, H, W, C] images
    return out.reshape(*shape, -1).astype(np.float32)
  from jaxgan.run.images import to_uint8

  return to_uint8(out).reshape(*shape, *out.shape[1:])


def _check_truncation(truncation: float | None, psi: float) -> None:
  """Raises ValueError unless truncation is a positive threshold or None, and psi a number."""
  positive = isinstance(truncation, (int, float)) and not isinstance(truncation, bool) and truncation > 0
  if truncation is not None and not positive:
    raise ValueError(f'truncation must be a positive threshold (e.g. 0.5), or None for none, got {truncation!r:.40}')
  if isinstance(psi, bool) or not isinstance(psi, (int, float)) or not math.isfinite(psi):
    raise ValueError(f'psi must be a number, e.g. 0.7 (1: no truncation), got {psi!r:.40}')


def _walk(start: jax.Array, end: jax.Array, t: jax.Array, *, spherical: bool) -> jax.Array:
  """Points at fractions t [T, 1] of the way from start to end [N, 1, D]: [N, T, D]; spherical: along the
  great circle between their directions, the norm interpolated linearly (a normal latent keeps a typical
  norm on the way), else along the line."""
  if not spherical:
    return start + t * (end - start)
  norms = jnp.linalg.norm(start, axis=-1, keepdims=True), jnp.linalg.norm(end, axis=-1, keepdims=True)
  a, b = start / norms[0], end / norms[1]
  angle = jnp.arccos(jnp.clip(jnp.sum(a * b, -1, keepdims=True), -1, 1))
  sine = jnp.maximum(jnp.sin(angle), 1e-6)
  direction = (jnp.sin((1 - t) * angle) * a + jnp.sin(t * angle) * b) / sine
  return direction * (norms[0] + t * (norms[1] - norms[0]))


def _classes(state: GANState, labels: int | Sequence[int] | None, num: int) -> jax.Array | None:
  """The classes [num] to draw of a conditional state (labels checked), None for an unconditional one."""
  classes = state.num_classes
  if not classes:
    if labels is not None:
      raise ValueError('this run is not class-conditional (model.conditioning=none); leave out labels (--class)')
    return None
  if labels is None:
    return jnp.arange(num, dtype=jnp.int32) % classes
  try:
    values = [operator.index(labels)] * num if np.ndim(labels) == 0 else [operator.index(c) for c in labels]
  except TypeError:
    values = None
  if values is None or len(values) != num or isinstance(labels, bool) or not all(0 <= c < classes for c in values):
    raise ValueError(f'labels must be a class in 0..{classes - 1} or {num} of them (one a sample), got {labels!r:.60}')
  return jnp.asarray(values, jnp.int32)


def _integer(name: str, value: object, low: int, high: int | None, expected: str) -> int:
  """value as an int in [low, high], or ValueError saying what `name` must be."""
  try:
    number = operator.index(value) if not isinstance(value, bool) else None
  except TypeError:
    number = None
  if number is None or number < low or (high is not None and number > high):
    raise ValueError(f'{name} must be {expected}, got {value!r:.40}')
  return number

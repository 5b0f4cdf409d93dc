"""The train state: one immutable pytree holding the whole game.

The hyperparameters that may differ between the members of a population
(HYPERPARAMETERS: learning rates and their decay, Adam's betas, label
smoothing, the penalty weight, the EMA decay) are arrays in the state, not
constants of the compiled step: a population is the same state with a leading
member axis on every leaf (jaxgan.sweep), and one run is a population of one.
"""

import dataclasses
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxgan.config import Config, ConfigError, GameConfig, Prior, check_type, value_of
from jaxgan.game import augment
from jaxgan.game.priors import sample_latent
from jaxgan.models import make_models

Variables = Any  # a pytree of arrays


class Player(struct.PyTreeNode):
  """One network with its parameters, batch-norm statistics and optimizer.

  Parameters, statistics and optimizer state are float32; with a bfloat16
  `compute_dtype` the network runs on bfloat16 copies of its parameters and
  inputs and returns float32 outputs (gradients flow back through the casts).
  """

  params: Variables
  batch_stats: Variables  # {} for a network without batch norm
  opt_state: optax.OptState
  module: nn.Module = struct.field(pytree_node=False)
  tx: optax.GradientTransformation = struct.field(pytree_node=False)
  compute_dtype: str = struct.field(pytree_node=False, default='float32')

  def apply(
    self,
    params: Variables,
    batch_stats: Variables,
    x: jax.Array,
    labels: jax.Array | None = None,
    *,
    train: bool,
    rng: jax.Array | None = None,
    **options: Any,
  ) -> tuple[Any, Variables]:
    """Runs the network (on labels [B] too, for a conditional one); returns its output and the updated batch
    statistics.

    In train mode batch norm uses (and updates) batch statistics; otherwise it
    uses the running averages and returns them unchanged. rng feeds the 'noise'
    stream of networks that draw in training (StyleGAN2's noise inputs); options
    go to the module's call (StyleGAN2's psi, or method=).
    """
    if self.compute_dtype != 'float32':
      params, x = jax.tree.map(lambda a: a.astype(self.compute_dtype), (params, x))
    variables = {'params': params, 'batch_stats': batch_stats} if batch_stats else {'params': params}
    inputs = (x,) if labels is None else (x, labels)
    options = {**options, 'rngs': {'noise': rng}} if rng is not None else options
    if not batch_stats or not train:
      out = self.module.apply(variables, *inputs, train=train, **options)
    else:
      out, updates = self.module.apply(variables, *inputs, train=True, mutable=['batch_stats'], **options)
      batch_stats = updates['batch_stats']
    return jax.tree.map(lambda a: a.astype(jnp.float32), out), batch_stats

  def apply_gradients(self, grads: Variables, batch_stats: Variables, scheduled: dict[str, jax.Array]) -> 'Player':
    """One optimizer update of the parameters with this update's `scheduled` hyperparameters (the learning rate;
    Adam's b2 when it follows a schedule), and new batch statistics. The state keeps the learning rate and its
    own b2, where b2's schedule starts."""
    stored = self.opt_state.hyperparams
    opt_state = self.opt_state._replace(hyperparams={**stored, **scheduled})
    updates, opt_state = self.tx.update(grads, opt_state, self.params)
    opt_state = opt_state._replace(hyperparams={**stored, 'learning_rate': scheduled['learning_rate']})
    params = optax.apply_updates(self.params, updates)
    return self.replace(params=params, batch_stats=batch_stats, opt_state=opt_state)


# Config keys whose values the state holds as arrays. Adam's betas (SGD's momentum) are in the players'
# optimizer states (optax.inject_hyperparams), the others in GANState.hparams, under the key's last part.
HYPERPARAMETERS = (
  'optim.g_lr',
  'optim.d_lr',
  'optim.b1',
  'optim.b2',
  'optim.final_lr_fraction',
  'game.label_smoothing',
  'game.penalty_weight',
  'game.ema_decay',
)
_IN_OPTIMIZER = {'optim.b1', 'optim.b2'}


class GANState(struct.PyTreeNode):
  """Step, randomness, both players, the generator EMA and the hyperparameters.

  A population of M members has the same structure, every leaf with a leading
  axis [M] (jaxgan.sweep); `game` and the other static fields are shared.
  """

  step: jax.Array  # int32 []
  key: jax.Array  # typed PRNG key []; step t draws from fold_in(key, t)
  generator: Player
  discriminator: Player
  ema_params: Variables  # exponential moving average of generator.params
  # float32 []: g_lr and d_lr (peak rates), final_lr_fraction, label_smoothing, penalty_weight, ema_decay
  hparams: dict[str, jax.Array]
  # float32 []: what the game steers by (`trackers`); {} without ADA, LeCam and path-length regularisation
  trackers: dict[str, jax.Array]
  game: GameConfig = struct.field(pytree_node=False)  # the program: its HYPERPARAMETERS are None (see hparams)
  schedule: Literal['constant', 'cosine', 'linear'] = struct.field(pytree_node=False)  # of both learning rates
  steps: int = struct.field(pytree_node=False)  # train.steps: G updates over which the schedules run
  prior: Prior = struct.field(pytree_node=False)
  latent_dim: int = struct.field(pytree_node=False)
  sample_shape: tuple[int, ...] = struct.field(pytree_node=False)  # one real sample: (1,) or (H, W, C)
  num_classes: int = struct.field(pytree_node=False, default=0)  # of a class-conditional game; 0: unconditional
  b2_final: float = struct.field(pytree_node=False, default=0.0)  # optim.b2_final: where b2's schedule ends; 0: none

  def sample_latent(self, key: jax.Array, num: int, *, truncation: float | None = None) -> jax.Array:
    """Draws z [num, latent_dim] from the prior (truncated, with a threshold: jaxgan.game.priors)."""
    return sample_latent(key, self.prior, (num, self.latent_dim), truncation=truncation)

  def sample_labels(self, key: jax.Array, num: int) -> jax.Array | None:
    """Draws classes [num] uniformly, for a conditional game's generator; None for an unconditional one."""
    return jax.random.randint(key, (num,), 0, self.num_classes) if self.num_classes else None


def trackers(game: GameConfig) -> dict[str, jax.Array]:
  """The running statistics the game steers by, at step 0: ADA's p (ada_p), with the sum of sign D(x) over the
  real images seen since p's last adjustment and their count (ada_signs, ada_seen); LeCam's EMAs of D's mean
  outputs on real and generated batches (lecam_real, lecam_fake); StyleGAN2's running mean of G's path lengths
  (path_length_mean)."""
  values = {}
  if game.ada_target or game.ada_p:
    values.update(ada_p=0.0 if game.ada_p_rampup else game.ada_p, ada_signs=0.0, ada_seen=0.0)
  if game.lecam_weight:
    values.update(lecam_real=0.0, lecam_fake=0.0)
  if game.path_length_weight:
    values.update(path_length_mean=0.0)
  return {name: jnp.asarray(value, jnp.float32) for name, value in values.items()}


def learning_rate(
  schedule: Literal['constant', 'cosine', 'linear'],
  peak: jax.typing.ArrayLike,
  final_fraction: jax.typing.ArrayLike,
  updates: int,
  count: jax.typing.ArrayLike,
) -> jax.Array:
  """A player's learning rate at its update `count`: `peak`, decaying to final_fraction * peak over `updates`."""
  if schedule == 'cosine':
    return optax.cosine_decay_schedule(peak, updates, alpha=final_fraction)(count)
  if schedule == 'linear':
    return optax.linear_schedule(peak, peak * final_fraction, updates)(count)
  return jnp.asarray(peak, jnp.float32)


def cosine_ramp(
  start: jax.typing.ArrayLike, end: jax.typing.ArrayLike, count: jax.typing.ArrayLike, steps: int
) -> jax.Array:
  """`start` at count 0 to `end` at count `steps` (and after) along a half cosine: R3GAN's schedule of its
  hyperparameters (its cosine_decay_with_warmup, without warmup)."""
  progress = jnp.clip(jnp.asarray(count, jnp.float32) / steps, 0.0, 1.0)
  return start + (end - start) * jnp.sin(0.5 * jnp.pi * progress) ** 2  # 1 - (1 + cos(pi p)) / 2, exact near 0


def penalty_weight(
  weight: jax.typing.ArrayLike, final_fraction: float, step: jax.typing.ArrayLike, steps: int
) -> jax.Array:
  """The penalty weight in round `step`: `weight`, or on its cosine to final_fraction x weight over `steps`."""
  weight = jnp.asarray(weight, jnp.float32)
  return weight if final_fraction == 1 else weight * cosine_ramp(1.0, final_fraction, step, steps)


def ema_decay(
  decay: jax.typing.ArrayLike, rampup: Literal['none', 'linear', 'cosine'], step: jax.typing.ArrayLike, steps: int
) -> jax.Array:
  """The generator EMA's decay in round `step`: `decay`, or with its half-life h (0.5 = decay^h, in rounds) ramped
  up from 0, to at most 0.05 x step ('linear', StyleGAN2-ADA) or by a cosine over `steps` ('cosine', R3GAN); a
  half-life of 0 is a decay of 0 (the EMA set to G)."""
  decay = jnp.asarray(decay, jnp.float32)
  if rampup == 'none':
    return decay
  half_life = jnp.log(0.5) / jnp.log(decay)  # decay 0: a half-life of 0
  if rampup == 'linear':
    half_life = jnp.minimum(half_life, 0.05 * jnp.asarray(step, jnp.float32))
  else:
    half_life = cosine_ramp(0.0, half_life, step, steps)
  return jnp.where(half_life > 0, 0.5 ** (1.0 / jnp.maximum(half_life, 1e-30)), 0.0)


def schedules(config: Config, step: int) -> dict[str, float]:
  """The scheduled hyperparameters of round `step` (counted from 0): the rates of G's and D's updates, and those
  of b2 (at G's update), penalty_weight and ema_decay that follow a ramp."""
  steps, d_steps, optim, game = config.train.steps, config.game.d_steps, config.optim, config.game
  rate = functools.partial(learning_rate, optim.schedule, final_fraction=optim.final_lr_fraction)
  values = {
    'g_lr': rate(optim.g_lr, updates=steps, count=step),
    'd_lr': rate(optim.d_lr, updates=steps * d_steps, count=step * d_steps),
  }
  if optim.b2_final:
    values['b2'] = cosine_ramp(optim.b2, optim.b2_final, step, steps)
  if game.penalty_final_fraction != 1 and game.penalty != 'none':
    values['penalty_weight'] = penalty_weight(game.penalty_weight, game.penalty_final_fraction, step, steps)
  if game.ema_rampup != 'none':
    values['ema_decay'] = ema_decay(game.ema_decay, game.ema_rampup, step, steps)
  return {name: float(value) for name, value in values.items()}


@functools.cache
def optimizer(name: Literal['adam', 'sgd']) -> optax.GradientTransformation:
  """A player's optimizer: its learning rate and betas (SGD: momentum) are arrays in its state, set by create_state
  (and the rate by each update), so that one optimizer serves every member of a population."""
  if name == 'sgd':
    return optax.inject_hyperparams(optax.sgd)(learning_rate=0.0, momentum=0.0)
  return optax.inject_hyperparams(optax.adam)(learning_rate=0.0, b1=0.0, b2=0.0)


def hyperparameters(config: Config) -> dict[str, float]:
  """The values of config's HYPERPARAMETERS, by key."""
  return {key: value_of(config, key) for key in HYPERPARAMETERS}


def program(config: Config) -> Config:
  """config without its HYPERPARAMETERS and train.seed (None): what the members of one population share."""
  sections = {}
  for key in (*HYPERPARAMETERS, 'train.seed'):
    section, name = key.split('.')
    sections.setdefault(section, {})[name] = None
  return dataclasses.replace(
    config, **{section: dataclasses.replace(getattr(config, section), **names) for section, names in sections.items()}
  )


def _init_player(
  module: nn.Module,
  tx: optax.GradientTransformation,
  key: jax.Array,
  x: jax.Array,
  labels: jax.Array | None,
  compute_dtype: str,
  optimizer_hparams: dict[str, jax.Array],
) -> Player:
  variables = module.init(key, *((x,) if labels is None else (x, labels)), train=False)
  params = variables['params']
  opt_state = tx.init(params)
  hyperparams = {**opt_state.hyperparams, **jax.tree.map(jnp.copy, optimizer_hparams)}  # own buffers: donated
  opt_state = opt_state._replace(hyperparams=hyperparams)
  return Player(params, variables.get('batch_stats', {}), opt_state, module, tx, compute_dtype)


def create_state(
  config: Config,
  key: jax.Array,
  sample_shape: tuple[int, ...],
  networks: tuple[nn.Module, nn.Module] | None = None,
) -> GANState:
  """Initialises both players and their optimizers from `key`.

  Args:
    config: the run's config.
    key: a typed PRNG key; the state keeps a child of it for the steps.
    sample_shape: shape of one real sample, (1,) for 1-D data or (H, W, C).
    networks: your own (generator, discriminator) Flax modules, with the
      interface of jaxgan.models, in place of config.model's architecture.

  Returns:
    The state at step 0, with the EMA equal to the generator.

  Raises:
    ConfigError: config is not a jaxgan.Config, or sample_shape does not fit its model.
  """
  config = check_type(config)
  return _initialise(config, tuple(sample_shape), networks)(key, hyperparameters(config))


def create_population(
  configs: Sequence[Config],
  keys: jax.Array,
  sample_shape: tuple[int, ...],
  networks: tuple[nn.Module, nn.Module] | None = None,
) -> GANState:
  """The states of a population's members, stacked on a leading member axis [M], built in one vmapped call.

  Args:
    configs: one config per member, equal but for their HYPERPARAMETERS (and train.seed).
    keys: typed PRNG keys [M], one per member.
    sample_shape, networks: as for create_state.

  Raises:
    ConfigError: configs that differ in more than their HYPERPARAMETERS, or as create_state.
  """
  configs = [check_type(c) for c in configs]
  shared = program(configs[0])
  for i, c in enumerate(configs):
    if program(c) != shared:
      raise ConfigError(
        f'member {i} differs from member 0 in more than its hyperparameters ({", ".join(HYPERPARAMETERS)})'
      )
  values = {key: jnp.asarray([hyperparameters(c)[key] for c in configs], jnp.float32) for key in HYPERPARAMETERS}
  return jax.vmap(_initialise(configs[0], tuple(sample_shape), networks))(keys, values)


def _initialise(
  config: Config, sample_shape: tuple[int, ...], networks: tuple[nn.Module, nn.Module] | None
) -> Callable[[jax.Array, dict[str, jax.typing.ArrayLike]], GANState]:
  """The function from (key, HYPERPARAMETERS values) to the state at step 0; config gives everything else."""
  try:
    generator, discriminator = networks or make_models(config.model, sample_shape)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  game = config.game
  for on, what, off in [
    (game.augment, 'game.augment (DiffAugment)', 'game.augment=()'),
    (game.ada_target or game.ada_p, 'ADA (game.ada_target, game.ada_p)', 'both to 0'),
    (game.consistency_weight, 'game.consistency_weight (bCR)', 'it to 0'),
  ]:
    if on and len(sample_shape) != 3:
      raise ConfigError(f'{what} needs images, not samples of shape {sample_shape}; set {off}')
  classes = config.model.num_classes if config.model.conditioning != 'none' else 0
  if config.model.conditioning != 'none' and not classes:
    raise ConfigError(
      f'model.conditioning={config.model.conditioning} needs model.num_classes, the number of classes of the '
      "labels (jaxgan.train sets it from the data's labels)"
    )
  labels = jnp.zeros((1,), jnp.int32) if classes else None
  tx = optimizer(config.optim.optimizer)
  dtype = config.model.compute_dtype
  pack = config.game.pack

  def initialise(key: jax.Array, values: dict[str, jax.typing.ArrayLike]) -> GANState:
    values = {k: jnp.asarray(v, jnp.float32) for k, v in values.items()}
    betas = (
      {'momentum': values['optim.b1']}
      if config.optim.optimizer == 'sgd'
      else {'b1': values['optim.b1'], 'b2': values['optim.b2']}
    )
    g_key, d_key, step_key = jax.random.split(key, 3)
    g = _init_player(generator, tx, g_key, jnp.zeros((1, config.model.latent_dim)), labels, dtype, betas)
    d_input = augment.pack(jnp.zeros((pack, *sample_shape)), pack)
    d = _init_player(discriminator, tx, d_key, d_input, labels, dtype, betas)
    return GANState(
      step=jnp.zeros((), jnp.int32),
      key=step_key,
      generator=g,
      discriminator=d,
      ema_params=jax.tree.map(jnp.copy, g.params),  # own buffers: the state is donated
      hparams={k.split('.')[1]: v for k, v in values.items() if k not in _IN_OPTIMIZER},
      trackers=trackers(config.game),
      game=program(config).game,
      schedule=config.optim.schedule,
      steps=config.train.steps,
      prior=config.model.prior,
      latent_dim=config.model.latent_dim,
      sample_shape=sample_shape,
      num_classes=classes,
      b2_final=config.optim.b2_final,
    )

  return initialise


def member(population: GANState, i: int) -> GANState:
  """Member i of a population (every leaf [M, ...]), a state of one GAN."""
  return jax.tree.map(lambda leaf: leaf[i], population)


def each_member(one: Callable[..., Any], population: GANState, *per_member: Any, at_once: int | None = None) -> Any:
  """one(state, *args) of each member of a population (leaves [M, ...]), vmapped, `at_once` members at a time
  (all by default) so that memory need not grow with M; every leaf of the result [M, ...]."""
  members = population.step.shape[0]
  return jax.lax.map(lambda args: one(*args), (population, *per_member), batch_size=min(members, at_once or members))


def step_of(state: GANState) -> int:
  """The rounds trained: of one GAN, or of a population (its members train in step)."""
  return int(state.step.reshape(-1)[0])


def check_labels(state: GANState, labels: jax.Array | None) -> None:
  """Raises ValueError unless labels are given exactly where the game is conditional."""
  if state.num_classes and labels is None:
    raise ValueError(f'this GAN is class-conditional ({state.num_classes} classes): give the labels [B] too')
  if not state.num_classes and labels is not None:
    raise ValueError('this GAN is not class-conditional (model.conditioning=none): leave out the labels')


def generate(
  state: GANState, z: jax.Array, labels: jax.Array | None = None, *, ema: bool = True, psi: float = 1.0
) -> jax.Array:
  """Samples G(z) (G(z, labels) for a conditional game) in inference mode, from the EMA generator by default;
  psi < 1 pulls a style-based generator's w toward its mean (StyleGAN's truncation trick)."""
  check_labels(state, labels)
  g = state.generator
  params = state.ema_params if ema else g.params
  if psi == 1:
    return g.apply(params, g.batch_stats, z, labels, train=False)[0]
  if 'psi' not in inspect.signature(type(g.module).__call__).parameters:
    raise ValueError(
      f'psi (w-space truncation) needs a style-based generator (model.architecture=stylegan2), not '
      f"{type(g.module).__name__}; truncate its latents instead (truncation, BigGAN's trick)"
    )
  return g.apply(params, g.batch_stats, z, labels, train=False, psi=psi)[0]


def discriminate(state: GANState, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
  """D's logits [B] for samples x (and labels, for a conditional game), in inference mode; with game.pack = m,
  D judges m copies of each sample."""
  check_labels(state, labels)
  d = state.discriminator
  m = state.game.pack
  out = d.apply(d.params, d.batch_stats, augment.pack(jnp.repeat(x, m, axis=0), m), labels, train=False)[0]
  return out[0] if isinstance(out, tuple) else out

"""The train state: one immutable pytree holding the whole game."""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxgan import models
from jaxgan.config import Config, ConfigError, GameConfig, ModelConfig, OptimConfig, check_type
from jaxgan.priors import Prior, sample_latent

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
    self, params: Variables, batch_stats: Variables, x: jax.Array, *, train: bool
  ) -> tuple[jax.Array, Variables]:
    """Runs the network; returns its output and the updated batch statistics.

    In train mode batch norm uses (and updates) batch statistics; otherwise it
    uses the running averages and returns them unchanged.
    """
    if self.compute_dtype != 'float32':
      params, x = jax.tree.map(lambda a: a.astype(self.compute_dtype), (params, x))
    variables = {'params': params, 'batch_stats': batch_stats} if batch_stats else {'params': params}
    if not batch_stats or not train:
      out = self.module.apply(variables, x, train=train)
    else:
      out, updates = self.module.apply(variables, x, train=True, mutable=['batch_stats'])
      batch_stats = updates['batch_stats']
    return out.astype(jnp.float32), batch_stats

  def apply_gradients(self, grads: Variables, batch_stats: Variables) -> 'Player':
    """One optimizer update of the parameters, and new batch statistics."""
    updates, opt_state = self.tx.update(grads, self.opt_state, self.params)
    params = optax.apply_updates(self.params, updates)
    return self.replace(params=params, batch_stats=batch_stats, opt_state=opt_state)


class GANState(struct.PyTreeNode):
  """Step, randomness, both players and the generator EMA."""

  step: jax.Array  # int32 []
  key: jax.Array  # typed PRNG key []; step t draws from fold_in(key, t)
  generator: Player
  discriminator: Player
  ema_params: Variables  # exponential moving average of generator.params
  game: GameConfig = struct.field(pytree_node=False)
  prior: Prior = struct.field(pytree_node=False)
  latent_dim: int = struct.field(pytree_node=False)
  sample_shape: tuple[int, ...] = struct.field(pytree_node=False)  # one real sample: (1,) or (H, W, C)

  def sample_latent(self, key: jax.Array, num: int) -> jax.Array:
    """Draws z [num, latent_dim] from the prior."""
    return sample_latent(key, self.prior, (num, self.latent_dim))


def make_models(model: ModelConfig, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
  """The (generator, discriminator) pair for samples of `sample_shape`."""
  if model.architecture == 'mlp':
    return (
      models.MLPGenerator(sample_shape, model.g_hidden, model.activation),
      models.MLPDiscriminator(model.d_hidden, model.activation, model.spectral_norm),
    )
  if len(sample_shape) != 3 or sample_shape[0] != sample_shape[1] or sample_shape[0] < 4:
    raise ValueError(
      f'model.architecture=dcgan needs square images (H, H, C) of side 4 or more, got sample shape {sample_shape}; '
      'set data.resolution, or use model.architecture=mlp'
    )
  side, channels = sample_shape[1:]
  return (
    models.DCGANGenerator(side, channels, model.g_width, model.extra_layers, model.conv_impl),
    models.DCGANDiscriminator(side, model.d_width, model.extra_layers, model.conv_impl, model.spectral_norm),
  )


def learning_rate_schedule(optim: OptimConfig, lr: float, updates: int) -> optax.Schedule:
  """One player's learning rate after n updates, decaying over `updates` updates."""
  if optim.schedule == 'cosine':
    return optax.cosine_decay_schedule(lr, updates, alpha=optim.final_lr_fraction)
  if optim.schedule == 'linear':
    return optax.linear_schedule(lr, lr * optim.final_lr_fraction, updates)
  return optax.constant_schedule(lr)


def learning_rates(config: Config, step: int) -> dict[str, float]:
  """The rates of G's and D's updates in round `step` (counted from 0)."""
  steps, d_steps, optim = config.train.steps, config.game.d_steps, config.optim
  return {
    'g_lr': float(learning_rate_schedule(optim, optim.g_lr, steps)(step)),
    'd_lr': float(learning_rate_schedule(optim, optim.d_lr, steps * d_steps)(step * d_steps)),
  }


def make_optimizer(optim: OptimConfig, lr: float, updates: int) -> optax.GradientTransformation:
  """The optimizer of one player, its schedule spanning `updates` updates."""
  # A constant rate stays a float: optax then keeps no step count (the optimizer state of earlier runs).
  schedule = lr if optim.schedule == 'constant' else learning_rate_schedule(optim, lr, updates)
  if optim.optimizer == 'sgd':
    return optax.sgd(schedule, momentum=optim.b1)
  return optax.adam(schedule, b1=optim.b1, b2=optim.b2)


def _init_player(
  module: nn.Module, tx: optax.GradientTransformation, key: jax.Array, x: jax.Array, compute_dtype: str
) -> Player:
  variables = module.init(key, x, train=False)
  params = variables['params']
  return Player(params, variables.get('batch_stats', {}), tx.init(params), module, tx, compute_dtype)


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
  sample_shape = tuple(sample_shape)
  g_key, d_key, step_key = jax.random.split(key, 3)
  try:
    generator, discriminator = networks or make_models(config.model, sample_shape)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  steps, d_steps = config.train.steps, config.game.d_steps
  g_tx = make_optimizer(config.optim, config.optim.g_lr, steps)
  d_tx = make_optimizer(config.optim, config.optim.d_lr, steps * d_steps)
  z = jnp.zeros((1, config.model.latent_dim))
  dtype = config.model.compute_dtype
  g = _init_player(generator, g_tx, g_key, z, dtype)
  if config.game.augment and len(sample_shape) != 3:
    raise ConfigError(
      f'game.augment (DiffAugment) needs images, not samples of shape {sample_shape}; set game.augment=()'
    )
  pack = config.game.pack
  d = _init_player(discriminator, d_tx, d_key, jnp.zeros((1, *sample_shape[:-1], sample_shape[-1] * pack)), dtype)
  return GANState(
    step=jnp.zeros((), jnp.int32),
    key=step_key,
    generator=g,
    discriminator=d,
    ema_params=jax.tree.map(jnp.copy, g.params),  # own buffers: the state is donated
    game=config.game,
    prior=config.model.prior,
    latent_dim=config.model.latent_dim,
    sample_shape=sample_shape,
  )


def generate(state: GANState, z: jax.Array, *, ema: bool = True) -> jax.Array:
  """Samples G(z) in inference mode, from the EMA generator by default."""
  g = state.generator
  params = state.ema_params if ema else g.params
  return g.apply(params, g.batch_stats, z, train=False)[0]


def discriminate(state: GANState, x: jax.Array) -> jax.Array:
  """D's logits [B] for samples x, in inference mode; with game.pack = m, D judges m copies of each sample."""
  d = state.discriminator
  return d.apply(d.params, d.batch_stats, jnp.concatenate([x] * state.game.pack, axis=-1), train=False)[0]

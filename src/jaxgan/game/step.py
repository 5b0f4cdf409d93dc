"""The min-max train step: one round of the game, compiled once.

A round is `game.d_steps` discriminator updates and one generator update:

  * alternating (the original GAN's Algorithm 1): G's gradient is taken against
    the discriminator these D updates produced;
  * simultaneous: G's gradient is taken against the discriminator as it was at
    the start of the round, as if both players moved at once.

G's update draws fresh latents (Algorithm 1), or with `game.reuse_fake` takes
the fake batch of the round's last D update and the generator pass that made
it, as pytorch/examples' DCGAN and the TensorFlow tutorial do: one generator
forward pass fewer per round.

What D sees of a batch, real or generated alike: DiffAugment (game.augment),
instance noise, then packs of game.pack samples (PacGAN). D's loss is the
objective's (jaxgan.game.losses) plus a gradient penalty (jaxgan.game.penalties) every
game.penalty_every rounds; with game.weight_clip, D's parameters are clipped
after each update.

Randomness: round t draws from fold_in(state.key, t), so a resumed run draws
exactly what an uninterrupted one does.

Real batches come as samples, or as uint8 images that the step maps to
[-1, 1], or as indices into a pool of samples or images held on the device
(jaxgan.data.pipeline's device-resident data): the step gathers its own batch, and
the host sends only the indices.
"""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from jaxgan.config import GameConfig
from jaxgan.game.augment import diff_augment, instance_noise, pack
from jaxgan.game.losses import WITH_LABELS, GANObjective, get_objective, value_function
from jaxgan.game.penalties import Discriminator, get_penalty
from jaxgan.game.state import GANState, Player, Variables, learning_rate

Metrics = dict[str, jax.Array]


def _step_keys(state: GANState) -> tuple[jax.Array, jax.Array, jax.Array]:
  """(discriminator key, generator key, D-input key) of this round."""
  round_key = jax.random.fold_in(state.key, state.step)
  d_key, g_key = jax.random.split(round_key)
  return d_key, g_key, jax.random.fold_in(round_key, 1)


def _objective(state: GANState) -> GANObjective:
  objective = state.game.objective
  return get_objective(objective, label_smoothing=state.hparams['label_smoothing'] if objective in WITH_LABELS else 0)


def _discriminator_input(game: GameConfig, samples: jax.Array, key: jax.Array) -> jax.Array:
  """What D sees of samples [B, ...]: DiffAugment, instance noise, then packs of game.pack, [B / pack, ...]."""
  augment_key, noise_key = jax.random.split(key)
  if game.augment:
    samples = diff_augment(augment_key, samples, game.augment)
  if game.instance_noise:
    samples = instance_noise(noise_key, samples, game.instance_noise)
  return pack(samples, game.pack)


def _penalty(
  state: GANState, discriminator: Discriminator, real: jax.Array, fake: jax.Array, key: jax.Array, due: jax.Array
) -> jax.Array:
  """The gradient-penalty term of this round's D loss: weighted, and in rounds where it is `due`, every
  penalty_every rounds (weighted by it)."""
  game = state.game
  if game.penalty == 'none':
    return jnp.zeros(())

  def term() -> jax.Array:
    values = get_penalty(game.penalty)(discriminator, real, fake, key)
    return state.hparams['penalty_weight'] * game.penalty_every * values.mean()

  if game.penalty_every == 1:
    return term()
  return jax.lax.cond(due, term, lambda: jnp.zeros(()))


def _generator_pass(state: GANState, key: jax.Array, batch_size: int) -> tuple[jax.Array, Callable, Variables]:
  """G(z) on fresh latents, a map from d(loss)/d(fake) to G's gradients, and G's new batch stats."""
  g = state.generator
  z = state.sample_latent(key, batch_size)
  fake, pullback, stats = jax.vjp(lambda params: g.apply(params, g.batch_stats, z, train=True), g.params, has_aux=True)
  return fake, pullback, stats


def _learning_rate(state: GANState, player: str, update: jax.Array) -> jax.Array:
  """The learning rate of `player` ('g' or 'd') at its update number `update` (D makes d_steps a round)."""
  updates = state.steps * (state.game.d_steps if player == 'd' else 1)
  hparams = state.hparams
  return learning_rate(state.schedule, hparams[f'{player}_lr'], hparams['final_lr_fraction'], updates, update)


def _discriminator_update(
  state: GANState, real: jax.Array, fake: jax.Array, key: jax.Array, update: jax.Array, penalty_due: jax.Array
) -> tuple[Player, Metrics]:
  """D's update number `update` on real [B, ...] and fake [B, ...] samples, with its penalty if due."""
  d, game = state.discriminator, state.game
  real_key, fake_key, penalty_key = jax.random.split(key, 3)
  real = _discriminator_input(game, real, real_key)
  fake = _discriminator_input(game, jax.lax.stop_gradient(fake), fake_key)

  def loss_fn(params: Variables) -> tuple[jax.Array, tuple[Variables, Metrics]]:
    # Real and fake pass separately, so each has its own batch statistics.
    real_logits, stats = d.apply(params, d.batch_stats, real, train=True)
    fake_logits, stats = d.apply(params, stats, fake, train=True)
    loss = _objective(state).discriminator_loss(real_logits, fake_logits).mean()
    penalty = _penalty(state, lambda x: d.apply(params, stats, x, train=True)[0], real, fake, penalty_key, penalty_due)
    metrics = {
      'd_loss': loss,
      'd_penalty': penalty,  # the term added to D's loss (0 in rounds without it)
      'd_real': jax.nn.sigmoid(real_logits).mean(),  # mean D(x)
      'd_fake': jax.nn.sigmoid(fake_logits).mean(),  # mean D(G(z))
      'value': value_function(real_logits, fake_logits).mean(),  # V(D, G) before the update
    }
    return loss + penalty, (stats, metrics)

  (_, (stats, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d.params)
  if game.penalty == 'none':
    del metrics['d_penalty']
  d = d.apply_gradients(grads, stats, _learning_rate(state, 'd', update))
  if game.weight_clip:
    d = d.replace(params=jax.tree.map(lambda p: jnp.clip(p, -game.weight_clip, game.weight_clip), d.params))
  return d, {**metrics, 'grad_norm_d': optax.tree.norm(grads)}


def _generator_gradients(
  state: GANState, real: jax.Array, fake: jax.Array, pullback: Callable, key: jax.Array
) -> tuple[Variables, Metrics]:
  """G's loss gradient against state.discriminator, through G's pass that made `fake`.

  The relativistic objectives compare with D's outputs on `real`; for the
  others that pass is unused, and XLA drops it.
  """
  d, game = state.discriminator, state.game
  real_key, fake_key = jax.random.split(key)
  # D sees the batches as in its own update; its statistics stay as they are.
  real_logits, _ = d.apply(d.params, d.batch_stats, _discriminator_input(game, real, real_key), train=True)

  def loss_fn(fake: jax.Array) -> jax.Array:
    fake_logits, _ = d.apply(d.params, d.batch_stats, _discriminator_input(game, fake, fake_key), train=True)
    return _objective(state).generator_loss(real_logits, fake_logits).mean()

  loss, fake_grads = jax.value_and_grad(loss_fn)(fake)
  (grads,) = pullback(fake_grads)
  return grads, {'g_loss': loss, 'grad_norm_g': optax.tree.norm(grads)}


def real_samples(batch: jax.Array, pool: jax.Array | None = None) -> jax.Array:
  """The real samples a round trains on: `batch`, or pool[batch] where batch holds indices into a pool; uint8
  images mapped to [-1, 1] in float32."""
  samples = batch if pool is None else pool[batch]
  return samples.astype(jnp.float32) / 127.5 - 1.0 if samples.dtype == jnp.uint8 else samples


def _round(state: GANState, batch: jax.Array, step: jax.Array | None = None) -> tuple[GANState, Metrics]:
  """One round of the game on real samples `batch`: train_step, uncompiled.

  step: the round's number, state.step by default; a population's members share it, and given unbatched under
  vmap it keeps a lazy penalty's lax.cond a branch (with a batched predicate, both sides would run every round).
  """
  d_key, g_key, input_key = _step_keys(state)
  d_steps = state.game.d_steps
  penalty_due = (state.step if step is None else step) % state.game.penalty_every == 0
  if batch.shape[1:] != state.sample_shape:
    raise ValueError(
      f'batch of samples of shape {batch.shape[1:]} does not fit the state, made for samples of shape '
      f'{state.sample_shape}: give real_batch [d_steps * B, *sample_shape] or create the state with this sample_shape'
    )
  if batch.shape[0] % d_steps:
    raise ValueError(f'batch of {batch.shape[0]} does not split into {d_steps} discriminator updates')
  reals = batch.reshape(d_steps, batch.shape[0] // d_steps, *batch.shape[1:])
  batch_size = reals.shape[1]
  *d_input_keys, g_input_key = jax.random.split(input_key, d_steps + 1)
  # G's pass for its own update: fresh latents, or the last D update's (reuse_fake).
  d_passes = [_generator_pass(state, key, batch_size) for key in jax.random.split(d_key, d_steps)]
  fake, pullback, g_stats = d_passes[-1] if state.game.reuse_fake else _generator_pass(state, g_key, batch_size)

  if state.game.update_order == 'simultaneous':
    g_grads, g_metrics = _generator_gradients(state, reals[-1], fake, pullback, g_input_key)

  # A Python loop, unrolled at trace time (d_steps is small): inside lax.scan,
  # XLA's CPU backend ran the convolutions several times slower.
  d_metrics = []
  for i, (real, (d_fake, _, _), key) in enumerate(zip(reals, d_passes, d_input_keys, strict=True)):
    disc, metrics = _discriminator_update(state, real, d_fake, key, state.step * d_steps + i, penalty_due)
    state = state.replace(discriminator=disc)
    d_metrics.append(metrics)

  if state.game.update_order == 'alternating':
    g_grads, g_metrics = _generator_gradients(state, reals[-1], fake, pullback, g_input_key)
  generator = state.generator.apply_gradients(g_grads, g_stats, _learning_rate(state, 'g', state.step))
  ema = optax.incremental_update(generator.params, state.ema_params, 1.0 - state.hparams['ema_decay'])
  state = state.replace(step=state.step + 1, generator=generator, ema_params=ema)
  return state, {**jax.tree.map(lambda *m: jnp.mean(jnp.stack(m)), *d_metrics), **g_metrics}


def _population_round(state: GANState, batch: jax.Array) -> tuple[GANState, Metrics]:
  """One round of every member of a population (state [M, ...]): _round, vmapped over the member axis.

  batch is shared by all members, [d_steps * B, *sample_shape], or each member's own, [M, d_steps * B, ...].
  """
  own_batches = batch.ndim == len(state.sample_shape) + 2
  step = state.step[0]  # the members train in step
  return jax.vmap(_round, in_axes=(0, 0 if own_batches else None, None))(state, batch, step)


def _any_round(state: GANState, batch: jax.Array) -> tuple[GANState, Metrics]:
  """_round for one GAN, _population_round for a population (its step has a member axis)."""
  return (_population_round if state.step.ndim else _round)(state, batch)


@functools.partial(jax.jit, donate_argnums=0)
def _round_jit(state: GANState, batch: jax.Array, pool: jax.Array | None) -> tuple[GANState, Metrics]:
  return _any_round(state, real_samples(batch, pool))


@functools.partial(jax.jit, donate_argnums=0)
def _rounds_jit(state: GANState, batches: jax.Array, pool: jax.Array | None) -> tuple[GANState, Metrics]:
  return jax.lax.scan(lambda state, batch: _any_round(state, real_samples(batch, pool)), state, batches)


def _check_not_donated(state: GANState) -> None:
  if not isinstance(state.step, jax.core.Tracer) and state.step.is_deleted():
    raise ValueError(
      'this GANState was donated to an earlier train_step and its arrays are gone; '
      'go on with the state that call returned: state, metrics = train_step(state, batch)'
    )


def train_step(state: GANState, batch: jax.Array, pool: jax.Array | None = None) -> tuple[GANState, Metrics]:
  """One round of the game, compiled once; `state` is donated (use the one returned).

  Args:
    state: the game before the round; or a population (jaxgan.game.state.create_population), every leaf with a
      leading member axis [M], whose members then play their rounds side by side (vmapped).
    batch: real samples [d_steps * B, *sample_shape], B per discriminator update (uint8 images are mapped to
      [-1, 1]); for a population, shared by all members, or [M, d_steps * B, *sample_shape], each member's own.
      With `pool`, integer indices into it of that shape without the sample axes.
    pool: samples or uint8 images [N, *sample_shape] on the device that `batch` indexes, or None.

  Returns:
    The state after the round and its scalar metrics: d_loss, g_loss, d_real
    (mean D(x)), d_fake (mean D(G(z))), value (V(D, G)) and gradient norms; the
    discriminator's are means over its d_steps updates. A population's are [M].
  """
  _check_not_donated(state)
  return _round_jit(state, batch, pool)


def train_steps(state: GANState, batches: jax.Array, pool: jax.Array | None = None) -> tuple[GANState, Metrics]:
  """len(batches) rounds in one dispatch (`lax.scan`), batches as train_step's batch with a leading step axis;
  `state` is donated; metrics stacked, [K] ([K, M])."""
  _check_not_donated(state)
  return _rounds_jit(state, batches, pool)

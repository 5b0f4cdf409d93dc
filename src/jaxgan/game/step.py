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

What D sees of a batch, real or generated alike: ADA's augmentation at the
state's p (jaxgan.game.ada), DiffAugment (game.augment), instance noise, then
packs of game.pack samples (PacGAN). D's loss is the objective's
(jaxgan.game.losses), plus a gradient penalty (jaxgan.game.penalties) every
game.penalty_every rounds, plus LeCam's and bCR's terms
(jaxgan.game.regularisers); with game.weight_clip, D's parameters are clipped
after each update. G's loss adds StyleGAN2's path-length term every
game.path_length_every rounds. What the game steers by (ADA's p and its
counts, LeCam's EMAs, the path lengths' mean) is in state.trackers, updated by
each D update (the mean by G's), p every game.ada_interval rounds.

Randomness: round t draws from fold_in(state.key, t), so a resumed run draws
exactly what an uninterrupted one does.

Real batches come as samples, or as uint8 images that the step maps to
[-1, 1], or as indices into a pool of samples or images held on the device
(jaxgan.data.pipeline's device-resident data): the step gathers its own batch, and
the host sends only the indices.

A class-conditional game (model.conditioning) takes (samples, labels) batches
(or a pool of (images, labels)); D judges each real sample with its own label,
each fake with the class G drew it of (uniform), and with acgan both players add
the class cross-entropy of D's auxiliary head (game.class_loss_weight): D's on
real and fake, G's on its own samples (Odena et al., 2017).
"""

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgan.data.sources import to_unit_range
from jaxgan.game.ada import ada_augment, adjust_p
from jaxgan.game.augment import diff_augment, instance_noise, pack
from jaxgan.game.losses import WITH_LABELS, GANObjective, get_objective, value_function
from jaxgan.game.penalties import get_penalty
from jaxgan.game.regularisers import consistency_term, lecam_anchors, lecam_term, path_length_term
from jaxgan.game.state import GANState, Variables, cosine_ramp, ema_decay, learning_rate, penalty_weight

Metrics = dict[str, jax.Array]
Batch = jax.Array | tuple[jax.Array, jax.Array]  # samples, uint8 images or indices; with labels [..., B] beside


def _step_keys(state: GANState) -> tuple[jax.Array, jax.Array, jax.Array]:
  """(discriminator key, generator key, D-input key) of this round."""
  round_key = jax.random.fold_in(state.key, state.step)
  d_key, g_key = jax.random.split(round_key)
  return d_key, g_key, jax.random.fold_in(round_key, 1)


def _objective(state: GANState) -> GANObjective:
  objective = state.game.objective
  return get_objective(objective, label_smoothing=state.hparams['label_smoothing'] if objective in WITH_LABELS else 0)


def _discriminator_input(state: GANState, samples: jax.Array, key: jax.Array) -> jax.Array:
  """What D sees of samples [B, ...]: ADA, DiffAugment, instance noise, then packs of game.pack, [B / pack, ...]."""
  game = state.game
  augment_key, noise_key = jax.random.split(key)
  if 'ada_p' in state.trackers:
    samples = ada_augment(jax.random.fold_in(key, 2), samples, state.trackers['ada_p'])
  if game.augment:
    samples = diff_augment(augment_key, samples, game.augment)
  if game.instance_noise:
    samples = instance_noise(noise_key, samples, game.instance_noise)
  return pack(samples, game.pack)


class _Judged(NamedTuple):
  """A batch as D judged it in its update: what D saw, their labels (None: unconditional) and D's logits [B]."""

  inputs: jax.Array
  labels: jax.Array | None
  logits: jax.Array


def _penalty(
  state: GANState, judge: Callable, real: _Judged, fake: _Judged, key: jax.Array, due: jax.Array
) -> jax.Array:
  """The gradient-penalty term of this round's D loss: weighted, and in rounds where it is `due`, every
  penalty_every rounds (weighted by it). judge(inputs, labels) is D's logits; R2 judges the generated inputs with
  their classes, the others the real ones (or points between, as WGAN-GP's) with theirs; r1_r2 is R1's and R2's."""
  game = state.game
  if game.penalty == 'none':
    return jnp.zeros(())

  def part(name: str) -> jax.Array:
    labels = fake.labels if name == 'r2' else real.labels
    return get_penalty(name)(lambda x: judge(x, labels), real.inputs, fake.inputs, key).mean()

  def term() -> jax.Array:
    values = sum(part(name) for name in (('r1', 'r2') if game.penalty == 'r1_r2' else (game.penalty,)))
    weight = penalty_weight(state.hparams['penalty_weight'], game.penalty_final_fraction, state.step, state.steps)
    return weight * game.penalty_every * values

  if game.penalty_every == 1:
    return term()
  return jax.lax.cond(due, term, lambda: jnp.zeros(()))


class _Fake(NamedTuple):
  """A generator pass: G(z) [B, ...], the classes it drew them of [B] (None: unconditional), the map from
  d(loss)/d(samples) to G's gradients, and G's new batch statistics."""

  samples: jax.Array
  labels: jax.Array | None
  pullback: Callable
  stats: Variables


def _generator_pass(state: GANState, key: jax.Array, batch_size: int) -> _Fake:
  """G on fresh latents (and uniformly drawn classes, for a conditional game)."""
  g = state.generator
  z = state.sample_latent(key, batch_size)
  labels = state.sample_labels(jax.random.fold_in(key, 1), batch_size)
  noise = jax.random.fold_in(key, 2)  # StyleGAN2's noise inputs and style mixing
  fake, pullback, stats = jax.vjp(
    lambda params: g.apply(params, g.batch_stats, z, labels, train=True, rng=noise), g.params, has_aux=True
  )
  return _Fake(fake, labels, pullback, stats)


def _judged(out: jax.Array | tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array | None]:
  """D's output as (logits [B], class logits [B, K] or None): acgan's discriminators return both."""
  return out if isinstance(out, tuple) else (out, None)


def _class_loss(class_logits: jax.Array, labels: jax.Array) -> jax.Array:
  """ACGAN's class cross-entropy of D's auxiliary head, the batch's mean."""
  return optax.softmax_cross_entropy_with_integer_labels(class_logits, labels).mean()


def _output_regularisers(
  state: GANState, judge: Callable, real: _Judged, fake: _Judged, key: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array], Metrics]:
  """LeCam's and bCR's weighted terms of D's loss, the trackers after this update (ADA's counts of sign D(x),
  LeCam's EMAs) and the terms' metrics; judge(inputs, labels) is D's logits."""
  game, trackers = state.game, dict(state.trackers)
  term, metrics = jnp.zeros(()), {}
  if game.ada_target:
    trackers['ada_signs'] += jnp.sum(jnp.sign(jax.lax.stop_gradient(real.logits)))
    trackers['ada_seen'] += real.logits.size
  if game.lecam_weight:
    anchors = lecam_anchors(
      (trackers['lecam_real'], trackers['lecam_fake']), real.logits, fake.logits, game.lecam_decay
    )
    trackers['lecam_real'], trackers['lecam_fake'] = anchors
    metrics['d_lecam'] = lecam_term(real.logits, fake.logits, anchors)
    term += game.lecam_weight * metrics['d_lecam']
  if game.consistency_weight:
    metrics['d_consistency'] = sum(
      consistency_term(lambda x, labels=batch.labels: judge(x, labels), batch.inputs, batch.logits, batch_key)
      for batch, batch_key in zip((real, fake), jax.random.split(key), strict=True)
    )
    term += game.consistency_weight * metrics['d_consistency']
  return term, trackers, metrics


def _steered(state: GANState) -> tuple[dict[str, jax.Array], Metrics]:
  """The trackers after a round, with ADA's metrics: with game.ada_target, every game.ada_interval rounds p
  adjusted (jaxgan.game.ada.adjust_p) and its counts started again; ada_p is p after the round, ada_r the mean
  sign D(x) since the last adjustment (the paper's r_t)."""
  game, trackers = state.game, state.trackers
  if 'ada_p' not in trackers:
    return trackers, {}
  if game.ada_p_rampup:
    p = cosine_ramp(0.0, game.ada_p, state.step + 1, state.steps)
    return {**trackers, 'ada_p': p}, {'ada_p': p}
  if not game.ada_target:
    return trackers, {'ada_p': trackers['ada_p']}
  signs, seen = trackers['ada_signs'], trackers['ada_seen']
  due = (state.step + 1) % game.ada_interval == 0
  p = jnp.where(due, adjust_p(trackers['ada_p'], signs, seen, game.ada_target, game.ada_kimg), trackers['ada_p'])
  counts = {name: jnp.where(due, 0.0, trackers[name]) for name in ('ada_signs', 'ada_seen')}
  return {**trackers, **counts, 'ada_p': p}, {'ada_p': p, 'ada_r': signs / jnp.maximum(seen, 1.0)}


def _scheduled(state: GANState, player: str, update: jax.Array) -> dict[str, jax.Array]:
  """The optimizer hyperparameters of `player` ('g' or 'd') at its update number `update` (D makes d_steps a
  round): its learning rate, and Adam's b2 on its way to optim.b2_final."""
  updates = state.steps * (state.game.d_steps if player == 'd' else 1)
  hparams = state.hparams
  rate = learning_rate(state.schedule, hparams[f'{player}_lr'], hparams['final_lr_fraction'], updates, update)
  if not state.b2_final:
    return {'learning_rate': rate}
  b2 = getattr(state, {'g': 'generator', 'd': 'discriminator'}[player]).opt_state.hyperparams['b2']
  return {'learning_rate': rate, 'b2': cosine_ramp(b2, state.b2_final, update, updates)}


def _discriminator_update(
  state: GANState,
  real: jax.Array,
  real_labels: jax.Array | None,
  fake: _Fake,
  key: jax.Array,
  update: jax.Array,
  penalty_due: jax.Array,
) -> tuple[GANState, Metrics]:
  """D's update number `update` on real [B, ...] samples (and labels) and a generator pass's, with its penalty
  if due; the state with the new D and trackers."""
  d, game = state.discriminator, state.game
  real_key, fake_key, penalty_key = jax.random.split(key, 3)
  real = _discriminator_input(state, real, real_key)
  fake_labels, fake = fake.labels, _discriminator_input(state, jax.lax.stop_gradient(fake.samples), fake_key)

  def loss_fn(params: Variables) -> tuple[jax.Array, tuple[Variables, Metrics]]:
    # Real and fake pass separately, so each has its own batch statistics.
    real_out, stats = d.apply(params, d.batch_stats, real, real_labels, train=True)
    fake_out, stats = d.apply(params, stats, fake, fake_labels, train=True)
    (real_logits, real_classes), (fake_logits, fake_classes) = _judged(real_out), _judged(fake_out)
    loss = _objective(state).discriminator_loss(real_logits, fake_logits).mean()

    def judge(x: jax.Array, labels: jax.Array | None) -> jax.Array:
      return _judged(d.apply(params, stats, x, labels, train=True)[0])[0]

    judged = _Judged(real, real_labels, real_logits), _Judged(fake, fake_labels, fake_logits)
    penalty = _penalty(state, judge, *judged, penalty_key, penalty_due)
    regularisers, trackers, regulariser_metrics = _output_regularisers(
      state, judge, *judged, jax.random.fold_in(penalty_key, 1)
    )
    metrics = {
      'd_loss': loss,
      'd_penalty': penalty,  # the term added to D's loss (0 in rounds without it)
      'd_real': jax.nn.sigmoid(real_logits).mean(),  # mean D(x)
      'd_fake': jax.nn.sigmoid(fake_logits).mean(),  # mean D(G(z))
      'value': value_function(real_logits, fake_logits).mean(),  # V(D, G) before the update
      **regulariser_metrics,
    }
    if real_classes is not None:
      class_loss = _class_loss(real_classes, real_labels) + _class_loss(fake_classes, fake_labels)
      loss = loss + game.class_loss_weight * class_loss
      metrics['d_class_loss'] = class_loss
      metrics['d_class_accuracy'] = jnp.mean(jnp.argmax(real_classes, -1) == real_labels)  # on real samples
    return loss + penalty + regularisers, (stats, metrics, trackers)

  (_, (stats, metrics, trackers)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d.params)
  if game.penalty == 'none':
    del metrics['d_penalty']
  d = d.apply_gradients(grads, stats, _scheduled(state, 'd', update))
  if game.weight_clip:
    d = d.replace(params=jax.tree.map(lambda p: jnp.clip(p, -game.weight_clip, game.weight_clip), d.params))
  return state.replace(discriminator=d, trackers=trackers), {**metrics, 'grad_norm_d': optax.tree.norm(grads)}


def _generator_gradients(
  state: GANState, real: jax.Array, real_labels: jax.Array | None, fake: _Fake, key: jax.Array
) -> tuple[Variables, Metrics]:
  """G's loss gradient against state.discriminator, through the generator pass `fake`.

  The relativistic objectives compare with D's outputs on `real`; for the
  others that pass is unused, and XLA drops it.
  """
  d, game = state.discriminator, state.game
  real_key, fake_key = jax.random.split(key)
  # D sees the batches as in its own update; its statistics stay as they are.
  real_input = _discriminator_input(state, real, real_key)
  real_logits, _ = _judged(d.apply(d.params, d.batch_stats, real_input, real_labels, train=True)[0])

  def loss_fn(samples: jax.Array) -> jax.Array:
    fake_input = _discriminator_input(state, samples, fake_key)
    fake_logits, fake_classes = _judged(d.apply(d.params, d.batch_stats, fake_input, fake.labels, train=True)[0])
    loss = _objective(state).generator_loss(real_logits, fake_logits).mean()
    return loss if fake_classes is None else loss + game.class_loss_weight * _class_loss(fake_classes, fake.labels)

  loss, fake_grads = jax.value_and_grad(loss_fn)(fake.samples)
  (grads,) = fake.pullback(fake_grads)
  return grads, {'g_loss': loss, 'grad_norm_g': optax.tree.norm(grads)}


def _path_length(
  state: GANState, key: jax.Array, batch_size: int, due: jax.Array
) -> tuple[Variables, dict[str, jax.Array], Metrics]:
  """G's gradient of StyleGAN2's path-length term on half a batch of fresh latents (as the release), weighted
  and times game.path_length_every, in rounds where it is `due` (zeros in others); the trackers with the
  lengths' running mean after it, and the term's metric."""
  g, game = state.generator, state.game
  num = max(batch_size // 2, 1)
  z_key, noise_key, y_key = jax.random.split(key, 3)
  z = state.sample_latent(z_key, num)
  labels = state.sample_labels(jax.random.fold_in(z_key, 1), num)
  running_mean = state.trackers['path_length_mean']

  def term(params: Variables) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    def synthesize(ws: jax.Array) -> jax.Array:
      return g.apply(params, g.batch_stats, ws, train=True, rng=noise_key, method='synthesize')[0]

    ws = g.apply(params, g.batch_stats, z, labels, train=True, rng=noise_key, method='styles')[0]
    penalty, updated = path_length_term(synthesize, ws, running_mean, y_key)
    return game.path_length_weight * game.path_length_every * penalty, (penalty, updated)

  def regularised() -> tuple[Variables, jax.Array, jax.Array]:
    grads, (penalty, updated) = jax.grad(term, has_aux=True)(g.params)
    return grads, penalty, updated

  def skipped() -> tuple[Variables, jax.Array, jax.Array]:
    return jax.tree.map(jnp.zeros_like, g.params), jnp.zeros(()), running_mean

  grads, penalty, updated = regularised() if game.path_length_every == 1 else jax.lax.cond(due, regularised, skipped)
  return grads, {**state.trackers, 'path_length_mean': updated}, {'g_path_length': penalty}


def real_samples(batch: Batch, pool: Batch | None = None) -> tuple[jax.Array, jax.Array | None]:
  """The real samples a round trains on and their labels (None without): `batch`, or pool[batch] where batch
  holds indices into a pool; uint8 images mapped to [-1, 1] in float32."""
  if pool is None:
    samples, labels = batch if isinstance(batch, tuple) else (batch, None)
  else:
    samples, labels = jax.tree.map(lambda part: part[batch], pool if isinstance(pool, tuple) else (pool, None))
  return to_unit_range(samples), labels


def _round(
  state: GANState, batch: tuple[jax.Array, jax.Array | None], step: jax.Array | None = None
) -> tuple[GANState, Metrics]:
  """One round of the game on real samples and labels `batch` (real_samples'): train_step, uncompiled.

  step: the round's number, state.step by default; a population's members share it, and given unbatched under
  vmap it keeps a lazy penalty's lax.cond a branch (with a batched predicate, both sides would run every round).
  """
  d_key, g_key, input_key = _step_keys(state)
  d_steps = state.game.d_steps
  step = state.step if step is None else step
  penalty_due = step % state.game.penalty_every == 0
  batch, labels = batch
  if (labels is None) != (not state.num_classes):
    raise ValueError(
      f'this GAN is class-conditional ({state.num_classes} classes): give (samples, labels) batches'
      if labels is None
      else 'this GAN is not class-conditional (model.conditioning=none): give samples, not (samples, labels)'
    )
  if batch.shape[1:] != state.sample_shape:
    raise ValueError(
      f'batch of samples of shape {batch.shape[1:]} does not fit the state, made for samples of shape '
      f'{state.sample_shape}: give real_batch [d_steps * B, *sample_shape] or create the state with this sample_shape'
    )
  if batch.shape[0] % d_steps:
    raise ValueError(f'batch of {batch.shape[0]} does not split into {d_steps} discriminator updates')
  reals = batch.reshape(d_steps, batch.shape[0] // d_steps, *batch.shape[1:])
  real_labels = [None] * d_steps if labels is None else labels.reshape(d_steps, -1)
  batch_size = reals.shape[1]
  *d_input_keys, g_input_key = jax.random.split(input_key, d_steps + 1)
  # G's pass for its own update: fresh latents, or the last D update's (reuse_fake).
  d_passes = [_generator_pass(state, key, batch_size) for key in jax.random.split(d_key, d_steps)]
  fake = d_passes[-1] if state.game.reuse_fake else _generator_pass(state, g_key, batch_size)

  if state.game.update_order == 'simultaneous':
    g_grads, g_metrics = _generator_gradients(state, reals[-1], real_labels[-1], fake, g_input_key)

  # A Python loop, unrolled at trace time (d_steps is small): inside lax.scan,
  # XLA's CPU backend ran the convolutions several times slower.
  d_metrics = []
  for i, (real, real_label, d_fake, key) in enumerate(zip(reals, real_labels, d_passes, d_input_keys, strict=True)):
    state, metrics = _discriminator_update(state, real, real_label, d_fake, key, state.step * d_steps + i, penalty_due)
    d_metrics.append(metrics)

  if state.game.update_order == 'alternating':
    g_grads, g_metrics = _generator_gradients(state, reals[-1], real_labels[-1], fake, g_input_key)
  if state.game.path_length_weight:
    due = step % state.game.path_length_every == 0
    pl_grads, trackers, pl_metrics = _path_length(state, jax.random.fold_in(g_key, 3), batch_size, due)
    g_grads, g_metrics = jax.tree.map(jnp.add, g_grads, pl_grads), {**g_metrics, **pl_metrics}
    state = state.replace(trackers=trackers)
  generator = state.generator.apply_gradients(g_grads, fake.stats, _scheduled(state, 'g', state.step))
  decay = ema_decay(state.hparams['ema_decay'], state.game.ema_rampup, state.step, state.steps)
  ema = optax.incremental_update(generator.params, state.ema_params, 1.0 - decay)
  trackers, ada_metrics = _steered(state)
  state = state.replace(step=state.step + 1, generator=generator, ema_params=ema, trackers=trackers)
  return state, {**jax.tree.map(lambda *m: jnp.mean(jnp.stack(m)), *d_metrics), **g_metrics, **ada_metrics}


def _population_round(state: GANState, batch: tuple[jax.Array, jax.Array | None]) -> tuple[GANState, Metrics]:
  """One round of every member of a population (state [M, ...]): _round, vmapped over the member axis.

  batch is shared by all members, [d_steps * B, *sample_shape], or each member's own, [M, d_steps * B, ...].
  """
  own_batches = batch[0].ndim == len(state.sample_shape) + 2
  step = state.step[0]  # the members train in step
  return jax.vmap(_round, in_axes=(0, 0 if own_batches else None, None))(state, batch, step)


def _any_round(state: GANState, batch: tuple[jax.Array, jax.Array | None]) -> tuple[GANState, Metrics]:
  """_round for one GAN, _population_round for a population (its step has a member axis)."""
  return (_population_round if state.step.ndim else _round)(state, batch)


@functools.partial(jax.jit, donate_argnums=0)
def _round_jit(state: GANState, batch: Batch, pool: Batch | None) -> tuple[GANState, Metrics]:
  return _any_round(state, real_samples(batch, pool))


@functools.partial(jax.jit, donate_argnums=0)
def _rounds_jit(state: GANState, batches: Batch, pool: Batch | None) -> tuple[GANState, Metrics]:
  return jax.lax.scan(lambda state, batch: _any_round(state, real_samples(batch, pool)), state, batches)


def _check_not_donated(state: GANState) -> None:
  if not isinstance(state.step, jax.core.Tracer) and state.step.is_deleted():
    raise ValueError(
      'this GANState was donated to an earlier train_step and its arrays are gone; '
      'go on with the state that call returned: state, metrics = train_step(state, batch)'
    )


def train_step(state: GANState, batch: Batch, pool: Batch | None = None) -> tuple[GANState, Metrics]:
  """One round of the game, compiled once; `state` is donated (use the one returned).

  Args:
    state: the game before the round; or a population (jaxgan.game.state.create_population), every leaf with a
      leading member axis [M], whose members then play their rounds side by side (vmapped).
    batch: real samples [d_steps * B, *sample_shape], B per discriminator update (uint8 images are mapped to
      [-1, 1]); for a population, shared by all members, or [M, d_steps * B, *sample_shape], each member's own.
      With `pool`, integer indices into it of that shape without the sample axes. A class-conditional
      game takes (samples, labels), labels int32 of the batch's shape without the sample axes.
    pool: samples or uint8 images [N, *sample_shape] on the device that `batch` indexes (a conditional game's:
      (images, labels [N])), or None.

  Returns:
    The state after the round and its scalar metrics: d_loss, g_loss, d_real
    (mean D(x)), d_fake (mean D(G(z))), value (V(D, G)) and gradient norms (with a
    penalty d_penalty, the term added to D's loss; acgan: d_class_loss and
    d_class_accuracy, on real samples; with LeCam and bCR d_lecam and d_consistency;
    with path-length regularisation g_path_length; with ADA ada_p, p after the
    round, and with its target ada_r, the mean sign of D(x) since its last
    adjustment); the discriminator's are means over its d_steps updates. A
    population's are [M].
  """
  _check_not_donated(state)
  return _round_jit(state, batch, pool)


def train_steps(state: GANState, batches: Batch, pool: Batch | None = None) -> tuple[GANState, Metrics]:
  """K rounds in one dispatch (`lax.scan`), batches as train_step's batch with a leading step axis of K;
  `state` is donated; metrics stacked, [K] ([K, M])."""
  _check_not_donated(state)
  return _rounds_jit(state, batches, pool)

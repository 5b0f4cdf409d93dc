import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.config import Config, DataConfig, ModelConfig, OptimConfig, TrainConfig
from jaxgan.data import make_source
from jaxgan.game import step as step_lib
from jaxgan.game.state import create_state, generate
from jaxgan.run.stepping import step_by_step

TOY = Config(
  model=ModelConfig(latent_dim=2, prior='normal', g_hidden=(16,), d_hidden=(32, 32)),
  data=DataConfig(mean=1.0, std=0.5),
  optim=OptimConfig(g_lr=5e-3, d_lr=5e-3, schedule='cosine'),
  train=TrainConfig(steps=1000, batch_size=64),
)


def toy_state(config=TOY, seed=0):
  return create_state(config, jax.random.key(seed), (1,))


def with_game(**changes):
  return dataclasses.replace(TOY, game=dataclasses.replace(TOY.game, **changes))


def batch(config=TOY, step=0):
  source = make_source(config.data, 0)
  return jnp.asarray(source.batches(step, 1, config.train.batch_size * config.game.d_steps)[0])


def copy(state):
  return jax.tree.map(jnp.copy, state)  # the step donates its input


def test_step_compiles_once():
  state = toy_state()
  before = step_lib._round_jit._cache_size()
  for i in range(5):
    state, metrics = step_lib.train_step(state, batch(step=i))
  assert step_lib._round_jit._cache_size() - before <= 1
  assert int(state.step) == 5
  assert set(metrics) >= {'d_loss', 'g_loss', 'd_real', 'd_fake', 'value', 'grad_norm_d', 'grad_norm_g'}


def test_metrics_are_consistent():
  _, m = step_lib.train_step(toy_state(), batch())
  np.testing.assert_allclose(m['value'], -m['d_loss'], rtol=1e-6)  # V = -BCE of D
  assert 0 < m['d_real'] < 1 and 0 < m['d_fake'] < 1


@pytest.mark.parametrize('reuse_fake', [False, True])
@pytest.mark.parametrize('order', ['alternating', 'simultaneous'])
def test_which_discriminator_and_latents_the_generator_gradient_sees(order, reuse_fake):
  # SGD, so that G's update is proportional to its gradient (Adam's first step is its sign).
  config = dataclasses.replace(
    with_game(update_order=order, d_steps=2, reuse_fake=reuse_fake), optim=OptimConfig('sgd', 0.1, 0.1, b1=0.0)
  )
  state = toy_state(config)
  real = batch(config)
  new_state, _ = step_lib.train_step(copy(state), real)
  d_key, g_key, _ = step_lib._step_keys(state)
  # Fresh latents for G, or those of the last D update.
  z = state.sample_latent(jax.random.split(d_key, 2)[-1] if reuse_fake else g_key, 64)

  def generator_after(discriminator):
    # Written out directly: the gradient of G's loss through D(G(z)).
    def loss(params):
      fake = state.generator.module.apply({'params': params}, z)
      logits = discriminator.module.apply({'params': discriminator.params}, fake)
      return -jax.nn.log_sigmoid(logits).mean()  # non-saturating

    grads = jax.grad(loss)(state.generator.params)
    return jax.tree.map(lambda p, g: p - 0.1 * g, state.generator.params, grads)

  old_d, new_d = state.discriminator, new_state.discriminator
  assert not np.allclose(old_d.params['Dense_0']['kernel'], new_d.params['Dense_0']['kernel'])
  seen, unseen = (new_d, old_d) if order == 'alternating' else (old_d, new_d)
  close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # noqa: E731
  jax.tree.map(close, new_state.generator.params, generator_after(seen))
  differs = jax.tree.map(lambda a, b: not np.allclose(a, b), new_state.generator.params, generator_after(unseen))
  assert any(jax.tree.leaves(differs))


def test_d_steps_discriminator_updates_per_generator_update():
  config = with_game(d_steps=3)
  state, _ = step_lib.train_step(toy_state(config), batch(config))
  d_count = state.discriminator.opt_state.count
  g_count = state.generator.opt_state.count
  assert (int(d_count), int(g_count)) == (3, 1)
  with pytest.raises(ValueError, match='does not split'):
    step_lib.train_step(toy_state(config), batch(config)[:-1])


def test_ema_follows_generator():
  config = with_game(ema_decay=0.9)
  state = toy_state(config)
  old_ema = copy(state.ema_params)
  new_state, _ = step_lib.train_step(state, batch(config))
  expected = jax.tree.map(lambda e, g: 0.9 * e + 0.1 * g, old_ema, new_state.generator.params)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), new_state.ema_params, expected)


def test_scan_equals_repeated_steps_and_is_reproducible():
  source = make_source(TOY.data, 0)
  batches = jnp.asarray(source.batches(0, 4, 64))
  scanned, metrics = step_lib.train_steps(toy_state(), batches)
  assert metrics['d_loss'].shape == (4,)
  looped = toy_state()
  for b in batches:
    looped, _ = step_lib.train_step(looped, b)
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
    scanned.generator.params,
    looped.generator.params,
  )
  again, _ = step_lib.train_steps(toy_state(), batches)
  jax.tree.map(np.testing.assert_array_equal, scanned.generator.params, again.generator.params)
  # The training loop's one-dispatch-per-step path (train.scan=False) gives the same.
  stepped, stepped_metrics = step_by_step(toy_state(), np.asarray(batches))
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), scanned.ema_params, stepped.ema_params
  )
  np.testing.assert_allclose(stepped_metrics['d_loss'], metrics['d_loss'], rtol=1e-5)


@pytest.mark.parametrize('objective', ['non_saturating', 'minimax'])
def test_a_toy_game_learns(objective):
  """A thousand steps move G from around 0 onto N(1, 0.5^2), with either objective."""
  _assert_learns(with_game(objective=objective))


def test_bfloat16_compute_learns_with_float32_state():
  """The bfloat16 policy: networks run in bfloat16, everything kept stays float32, and the toy game still learns."""
  config = dataclasses.replace(TOY, model=dataclasses.replace(TOY.model, compute_dtype='bfloat16'))
  state = _assert_learns(config)
  dtypes = {leaf.dtype for leaf in jax.tree.leaves((state.generator, state.discriminator, state.ema_params))}
  assert dtypes <= {jnp.dtype('float32'), jnp.dtype('int32'), jnp.dtype('uint32')}
  g = state.generator
  z = jnp.ones((4, 2))
  assert g.apply(g.params, g.batch_stats, z, train=False)[0].dtype == jnp.float32
  jaxpr = jax.make_jaxpr(lambda p: g.apply(p, g.batch_stats, z, train=True))(g.params)
  matmul_dtypes = [e.outvars[0].aval.dtype for e in jaxpr.eqns if e.primitive.name == 'dot_general']
  assert matmul_dtypes and set(matmul_dtypes) == {jnp.dtype('bfloat16')}
  assert generate(state, z).dtype == jnp.float32


def _assert_learns(config):
  source = make_source(config.data, 0)
  state = toy_state(config)
  z = state.sample_latent(jax.random.key(7), 20_000)
  before = np.asarray(generate(state, z, ema=False))
  state, _ = step_lib.train_steps(state, jnp.asarray(source.batches(0, config.train.steps, 64)))
  after = np.asarray(generate(state, z, ema=False))
  assert abs(before.mean() - 1.0) > 0.5
  # G itself, not its EMA: the hinge and least-squares games end within 0.14 of the mean (seeds 0 to 3).
  assert abs(after.mean() - 1.0) < 0.2
  assert abs(after.std() - 0.5) < 0.15
  return state

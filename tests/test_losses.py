import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxgan import losses

pytestmark = pytest.mark.usefixtures('strict_dtypes')

LOG2 = math.log(2.0)
LOG3 = math.log(3.0)


def test_values_against_hand_computed_numbers():
  # logit 0: D = 1/2. logit log 3: D = 3/4. logit -log 3: D = 1/4.
  real = jnp.array([0.0, LOG3, -LOG3])
  fake = jnp.array([0.0, -LOG3, LOG3])
  np.testing.assert_allclose(
    losses.discriminator_loss(real, fake),
    [2 * LOG2, -2 * math.log(0.75), -2 * math.log(0.25)],
    rtol=1e-6,
  )
  np.testing.assert_allclose(losses.minimax_generator_loss(fake), [-LOG2, math.log(0.75), math.log(0.25)], rtol=1e-6)
  np.testing.assert_allclose(
    losses.non_saturating_generator_loss(fake), [LOG2, -math.log(0.25), -math.log(0.75)], rtol=1e-6
  )
  np.testing.assert_allclose(losses.value_function(real, fake), -losses.discriminator_loss(real, fake), rtol=1e-6)


def test_discriminator_loss_is_binary_cross_entropy_with_real_one_fake_zero():
  rng = np.random.default_rng(0)
  real, fake = rng.normal(size=8) * 3, rng.normal(size=8) * 3
  sigmoid = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
  bce = -np.log(sigmoid(real)) - np.log(1 - sigmoid(fake))
  np.testing.assert_allclose(losses.discriminator_loss(jnp.array(real), jnp.array(fake)), bce, rtol=1e-5)


@pytest.mark.parametrize('dtype', [jnp.float32, jnp.bfloat16])
def test_finite_for_extreme_logits(dtype):
  logits = jnp.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype)
  for value in [
    losses.discriminator_loss(logits, logits),
    losses.minimax_generator_loss(logits),
    losses.non_saturating_generator_loss(logits),
    losses.value_function(logits, logits),
  ]:
    assert value.dtype == dtype
    assert jnp.all(jnp.isfinite(value))
  # Confidently wrong costs about |logit|, not inf.
  np.testing.assert_allclose(losses.non_saturating_generator_loss(jnp.array([-100.0])), [100.0], rtol=1e-6)


def test_gradients_are_correct():
  with jax.enable_x64(True):  # finite differences need float64
    logits = jnp.array([-3.0, -0.5, 0.2, 2.5], jnp.float64)
    _check_all_grads(logits)


def _check_all_grads(logits):
  check_grads(losses.minimax_generator_loss, (logits,), order=2, modes=['fwd', 'rev'])
  check_grads(losses.non_saturating_generator_loss, (logits,), order=2, modes=['fwd', 'rev'])
  check_grads(losses.discriminator_loss, (logits, logits[::-1]), order=2, modes=['fwd', 'rev'])
  check_grads(losses.value_function, (logits, logits[::-1]), order=2, modes=['fwd', 'rev'])


def test_jit_equals_eager():
  real, fake = jnp.linspace(-5, 5, 11), jnp.linspace(4, -6, 11)
  for fn, args in [
    (losses.discriminator_loss, (real, fake)),
    (losses.value_function, (real, fake)),
    (losses.minimax_generator_loss, (fake,)),
    (losses.non_saturating_generator_loss, (fake,)),
  ]:
    np.testing.assert_allclose(jax.jit(fn)(*args), fn(*args), rtol=1e-6)


def test_saturating_gradient_vanishes_as_d_of_g_goes_to_zero():
  """The paper's point: log(1 - D(G(z))) saturates when D rejects the samples."""
  grad_minimax = jax.vmap(jax.grad(losses.minimax_generator_loss))
  grad_non_saturating = jax.vmap(jax.grad(losses.non_saturating_generator_loss))
  fake_logits = jnp.array([-2.0, -5.0, -10.0, -20.0])  # D(G(z)) from 0.12 down to 2e-9
  d_of_g = jax.nn.sigmoid(fake_logits)
  # d/dlogit log(1 - sigmoid(l)) = -D(G(z)): vanishes with D(G(z)).
  np.testing.assert_allclose(grad_minimax(fake_logits), -d_of_g, rtol=1e-5)
  assert abs(grad_minimax(fake_logits)[-1]) < 1e-8
  # d/dlogit -log sigmoid(l) = -(1 - D(G(z))): tends to -1, a strong signal.
  np.testing.assert_allclose(grad_non_saturating(fake_logits), -(1 - d_of_g), rtol=1e-5)
  assert abs(grad_non_saturating(fake_logits)[-1] + 1) < 1e-6
  # Both push the same way (towards fooling D): same fixed points.
  assert jnp.all(grad_minimax(fake_logits) < 0) and jnp.all(grad_non_saturating(fake_logits) < 0)


def test_get_objective():
  assert losses.get_objective('minimax').generator_loss is losses.minimax_generator_loss
  assert losses.get_objective('non_saturating').generator_loss is losses.non_saturating_generator_loss
  assert losses.get_objective('minimax').discriminator_loss is losses.discriminator_loss
  with pytest.raises(ValueError, match='unknown objective'):
    losses.get_objective('wasserstein')

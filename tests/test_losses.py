import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxgan.game import losses

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
  minimax = losses.get_objective('minimax')
  real, fake = jnp.array([0.5, -1.0]), jnp.array([2.0, -LOG3])
  np.testing.assert_allclose(minimax.generator_loss(real, fake), losses.minimax_generator_loss(fake))
  np.testing.assert_allclose(minimax.discriminator_loss(real, fake), losses.discriminator_loss(real, fake))
  assert losses.get_objective('relativistic').generator_loss is losses.relativistic_generator_loss
  with pytest.raises(ValueError, match='unknown objective'):
    losses.get_objective('wgan')
  with pytest.raises(ValueError, match='label smoothing needs an objective with labels'):
    losses.get_objective('hinge', label_smoothing=0.1)


# Hand-computed values of every objective at real logits (2, -1) and fake logits (-1, 0.5).
REAL, FAKE = [2.0, -1.0], [-1.0, 0.5]
_sp = lambda t: math.log1p(math.exp(t))  # noqa: E731  softplus
HAND = {
  # name: (generator losses, discriminator losses)
  'minimax': ([-_sp(-1.0), -_sp(0.5)], [_sp(-2.0) + _sp(-1.0), _sp(1.0) + _sp(0.5)]),
  'non_saturating': ([_sp(1.0), _sp(-0.5)], [_sp(-2.0) + _sp(-1.0), _sp(1.0) + _sp(0.5)]),
  # LSGAN 0-1-1: D (r - 1)^2 / 2 + f^2 / 2; G (f - 1)^2 / 2.
  'least_squares': ([2.0, 0.125], [0.5 + 0.5, 2.0 + 0.125]),
  # WGAN: D f - r; G -f.
  'wasserstein': ([1.0, -0.5], [-3.0, 1.5]),
  # hinge: D max(0, 1 - r) + max(0, 1 + f); G -f.
  'hinge': ([1.0, -0.5], [0.0 + 0.0, 2.0 + 1.5]),
  # RpGAN: D softplus(f - r); G softplus(r - f).
  'relativistic': ([_sp(3.0), _sp(-1.5)], [_sp(-3.0), _sp(1.5)]),
  # RaGAN, mean r = 0.5, mean f = -0.25: D softplus(mean f - r) + softplus(f - mean r);
  # G softplus(mean r - f) + softplus(r - mean f).
  'relativistic_average': (
    [_sp(1.5) + _sp(2.25), _sp(0.0) + _sp(-0.75)],
    [_sp(-2.25) + _sp(-1.5), _sp(0.75) + _sp(0.0)],
  ),
}


@pytest.mark.parametrize('name', losses.OBJECTIVES)
def test_every_objective_against_hand_computed_values(name):
  objective = losses.get_objective(name)
  g_expected, d_expected = HAND[name]
  real, fake = jnp.array(REAL), jnp.array(FAKE)
  np.testing.assert_allclose(objective.generator_loss(real, fake), g_expected, rtol=1e-6)
  np.testing.assert_allclose(objective.discriminator_loss(real, fake), d_expected, rtol=1e-6)
  np.testing.assert_allclose(jax.jit(objective.discriminator_loss)(real, fake), d_expected, rtol=1e-6)


def test_one_sided_label_smoothing():
  real, fake = jnp.array(REAL), jnp.array(FAKE)
  # BCE with the real target 0.9: -(0.9 log D(x) + 0.1 log(1 - D(x))) - log(1 - D(G(z))).
  expected = [0.9 * _sp(-r) + 0.1 * _sp(r) + _sp(f) for r, f in zip(REAL, FAKE, strict=True)]
  smoothed = losses.get_objective('non_saturating', label_smoothing=0.1)
  np.testing.assert_allclose(smoothed.discriminator_loss(real, fake), expected, rtol=1e-6)
  # Generated samples keep the label 0: only the real term moves.
  np.testing.assert_allclose(
    losses.least_squares_discriminator_loss(real, fake, label_smoothing=0.1),
    [0.5 * (r - 0.9) ** 2 + 0.5 * f**2 for r, f in zip(REAL, FAKE, strict=True)],
    rtol=1e-6,
  )


@pytest.mark.parametrize('name', losses.OBJECTIVES)
def test_every_objective_has_correct_gradients(name):
  objective = losses.get_objective(name)
  with jax.enable_x64(True):  # finite differences need float64
    real = jnp.array([-3.0, -0.5, 0.2, 2.5], jnp.float64)
    fake = jnp.array([1.5, -2.0, 0.7, -0.3], jnp.float64)  # away from the hinge's kinks
    for loss in objective:
      check_grads(lambda r, f: loss(r, f).sum(), (real, fake), order=2, modes=['fwd', 'rev'])  # noqa: B023


@pytest.mark.parametrize('dtype', [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize('name', losses.OBJECTIVES)
def test_every_objective_is_finite_for_extreme_logits(name, dtype):
  logits = jnp.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype)
  objective = losses.get_objective(name)
  for loss in objective:
    for real, fake in [(logits, logits), (logits, logits[::-1])]:
      value, grads = jax.value_and_grad(lambda r, f: loss(r, f).sum(), argnums=(0, 1))(real, fake)  # noqa: B023
      assert loss(real, fake).dtype == dtype
      assert jnp.isfinite(value) and all(jnp.all(jnp.isfinite(g)) for g in grads)

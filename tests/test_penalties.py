import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.game import penalties

W = jnp.array([3.0, 4.0])  # ||W|| = 5


def linear(x):
  """D(x) = W . x + 1: its input gradient is W everywhere."""
  return x @ W + 1.0


def half_square(x):
  """D(x) = ||x||^2 / 2: its input gradient is x."""
  return 0.5 * (x**2).sum(-1)


def test_penalties_of_a_linear_discriminator():
  key = jax.random.key(0)
  real, fake = jax.random.normal(key, (6, 2)), jax.random.normal(jax.random.key(1), (6, 2))
  np.testing.assert_allclose(penalties.r1_penalty(linear, real), np.full(6, 12.5), rtol=1e-6)  # 5^2 / 2
  np.testing.assert_allclose(penalties.r2_penalty(linear, fake), np.full(6, 12.5), rtol=1e-6)
  # Wherever the interpolates fall, (||W|| - 1)^2 = 16.
  np.testing.assert_allclose(penalties.wgan_gp_penalty(linear, real, fake, key), np.full(6, 16.0), rtol=1e-6)
  np.testing.assert_allclose(penalties.dragan_penalty(linear, real, key), np.full(6, 16.0), rtol=1e-6)


def test_penalties_read_the_gradient_at_the_right_points():
  real = jnp.array([[3.0, 4.0], [0.0, 0.5], [1.0, 0.0]])
  fake = jnp.array([[0.0, 2.0], [6.0, 8.0], [1.0, 0.0]])
  # R1 at real: ||x||^2 / 2; R2 at fake.
  np.testing.assert_allclose(penalties.r1_penalty(half_square, real), [12.5, 0.125, 0.5], rtol=1e-6)
  np.testing.assert_allclose(penalties.r2_penalty(half_square, fake), [2.0, 50.0, 0.5], rtol=1e-6)
  # WGAN-GP at x + a (G(z) - x); with real = fake the interpolate is x itself: (||x|| - 1)^2.
  np.testing.assert_allclose(penalties.wgan_gp_penalty(half_square, real, real, jax.random.key(3)), [16.0, 0.25, 0.0])
  # 1-D pairs x = 2, G(z) = 4 and beyond: ||x^|| - 1 >= 1, so x^ = sqrt(penalty) + 1 lies on the segment.
  real, fake = jnp.full((64, 1), 2.0), jnp.full((64, 1), 4.0)
  between = jnp.sqrt(penalties.wgan_gp_penalty(half_square, real, fake, jax.random.key(3))) + 1
  assert jnp.all((between >= 2) & (between <= 4)) and float(jnp.std(between)) > 0.3  # spread along it


def test_dragan_perturbs_upwards_within_half_a_std():
  real = 2.0 + jax.random.uniform(jax.random.key(0), (256, 1)) * 4.0  # in [2, 6], std about 1.15
  # D = x^2 / 2 in 1-D: the penalty is (x^ - 1)^2 with x^ >= 2, so x^ = sqrt(penalty) + 1.
  perturbed = jnp.sqrt(penalties.dragan_penalty(half_square, real, jax.random.key(1))) + 1
  moved = perturbed - real[:, 0]
  assert float(moved.min()) >= -1e-5 and float(moved.max()) <= 0.5 * float(jnp.std(real)) + 1e-5
  assert float(moved.max()) > 0.25 * float(jnp.std(real))  # it does move
  # Different keys, different perturbations; the same key, the same.
  again = penalties.dragan_penalty(half_square, real, jax.random.key(1))
  np.testing.assert_array_equal(again, penalties.dragan_penalty(half_square, real, jax.random.key(1)))
  assert not np.allclose(again, penalties.dragan_penalty(half_square, real, jax.random.key(2)))


def test_penalty_gradient_is_finite_where_the_input_gradient_vanishes():
  flat = lambda x, p: p * (x * 0).sum(-1)  # noqa: E731  input gradient 0
  real = jnp.ones((4, 2))
  grad = jax.grad(lambda p: penalties.wgan_gp_penalty(lambda x: flat(x, p), real, real, jax.random.key(0)).sum())(1.0)
  assert jnp.isfinite(grad)


def test_get_penalty():
  real, fake = jnp.ones((2, 2)), jnp.zeros((2, 2))
  np.testing.assert_allclose(penalties.get_penalty('r2')(linear, real, fake, jax.random.key(0)), [12.5, 12.5])
  with pytest.raises(ValueError, match='unknown penalty'):
    penalties.get_penalty('r3')

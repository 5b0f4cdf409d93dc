import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from jaxgan.game import theory

pytestmark = pytest.mark.usefixtures('strict_dtypes')

X = np.linspace(-12.0, 12.0, 8001)


def normal(mean, std):
  return stats.norm(mean, std).pdf(X)


def test_optimal_discriminator():
  p_r, p_g = normal(0, 1), normal(1, 2)
  d_star = theory.optimal_discriminator(p_r, p_g)
  np.testing.assert_allclose(d_star, p_r / (p_r + p_g), rtol=1e-5)
  np.testing.assert_allclose(theory.optimal_discriminator(p_r, p_r), 0.5)
  # Where both densities vanish, the convention is 1/2.
  np.testing.assert_allclose(theory.optimal_discriminator(jnp.zeros(3), jnp.zeros(3)), 0.5)
  np.testing.assert_allclose(theory.optimal_discriminator(jnp.array([0.0, 2.0]), jnp.array([2.0, 0.0])), [0.0, 1.0])


def test_kl_of_normals_matches_closed_form():
  m1, s1, m2, s2 = 0.3, 0.8, -0.5, 1.3
  expected = math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
  np.testing.assert_allclose(theory.kl_divergence(normal(m1, s1), normal(m2, s2), X), expected, rtol=1e-4)
  assert theory.kl_divergence(jnp.array([1.0, 1.0]), jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])) == jnp.inf


def js_by_quadrature(p, q):
  def integrand(x):
    m = (p(x) + q(x)) / 2
    total = 0.0
    for f in (p, q):
      if f(x) > 0:
        total += f(x) * math.log(f(x) / m) / 2
    return total

  return integrate.quad(integrand, -12, 12, limit=200)[0]


@pytest.mark.parametrize('m2,s2', [(0.0, 1.0), (0.5, 1.0), (2.0, 0.5), (8.0, 1.0)])
def test_js_against_scipy_quadrature(m2, s2):
  p, q = stats.norm(0, 1).pdf, stats.norm(m2, s2).pdf
  js = theory.js_divergence(normal(0, 1), normal(m2, s2), X)
  np.testing.assert_allclose(js, js_by_quadrature(p, q), atol=1e-5)


def test_js_properties():
  p, q = normal(0, 1), normal(1.5, 0.7)
  assert abs(theory.js_divergence(p, p, X)) < 1e-7
  np.testing.assert_allclose(theory.js_divergence(p, q, X), theory.js_divergence(q, p, X), rtol=1e-6)
  assert 0 < theory.js_divergence(p, q, X) <= math.log(2)
  # Disjoint supports: exactly log 2.
  disjoint = theory.js_divergence(np.where(X < 0, 1 / 12, 0.0), np.where(X > 0, 1 / 12, 0.0), X)
  np.testing.assert_allclose(disjoint, math.log(2), rtol=1e-3)
  # Against scipy's discrete version on the same grid (it returns the square root).
  from scipy.spatial.distance import jensenshannon

  np.testing.assert_allclose(theory.js_divergence(p, q, X), jensenshannon(p, q) ** 2, rtol=1e-3)


def test_virtual_training_criterion_is_minus_log4_plus_twice_js():
  p_r = normal(0, 1)
  for p_g in [normal(0, 1), normal(0.5, 1.2), normal(3, 0.4)]:
    c = theory.virtual_training_criterion(p_r, p_g, X)
    np.testing.assert_allclose(c, -math.log(4) + 2 * theory.js_divergence(p_r, p_g, X), atol=1e-6)
    # C(G) is V at D*, and no other D does better. (D* is clipped: in float32
    # it rounds to exactly 0 or 1 far in the tails, where log D is -inf.)
    d_star = np.clip(theory.optimal_discriminator(p_r, p_g), 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(theory.value(p_r, p_g, d_star, X), c, atol=1e-5)
    for d in [np.full_like(X, 0.5), jax.nn.sigmoid(X), np.clip(theory.optimal_discriminator(p_r, p_g) + 0.05, 0, 0.99)]:
      assert theory.value(p_r, p_g, d, X) <= c + 1e-7
  np.testing.assert_allclose(theory.virtual_training_criterion(p_r, p_r, X), theory.MINUS_LOG4, atol=1e-6)
  # At the optimum D = 1/2 gives the same value: the Nash equilibrium.
  np.testing.assert_allclose(theory.value(p_r, p_r, np.full_like(X, 0.5), X), theory.MINUS_LOG4, atol=1e-6)


def test_density_from_samples_estimates_a_normal():
  samples = np.random.default_rng(0).normal(1.0, 0.5, 200_000)
  x = np.linspace(-2, 4, 512)
  p = theory.density_from_samples(samples, x, 0.03)
  np.testing.assert_allclose(np.trapezoid(p, x), 1.0, atol=1e-3)
  np.testing.assert_allclose(p, stats.norm(1.0, np.sqrt(0.5**2 + 0.03**2)).pdf(x), atol=0.02)
  # Jittable with a traced bandwidth, and samples off the grid are dropped, not wrapped.
  p_jit = jax.jit(theory.density_from_samples)(samples, x, 0.03)
  np.testing.assert_allclose(p_jit, p, atol=1e-5)
  off_grid = theory.density_from_samples(np.array([-100.0, 100.0]), x, 0.03)
  assert float(jnp.abs(off_grid).max()) == 0.0

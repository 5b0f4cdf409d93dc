"""The theory of the original GAN, as numerics on densities over a 1-D grid.

For a fixed generator with density p_g and data density p_r (Goodfellow et
al., 2014, Proposition 1 and Theorem 1):

    D*(x) = p_r(x) / (p_r(x) + p_g(x))
    C(G)  = max_D V(D, G) = V(D*, G) = -log 4 + 2 JS(p_r || p_g),

so C(G) is minimal, -log 4, exactly when p_g = p_r, where D* = 1/2.

All densities are values on the same grid `x` (increasing, [N]); integrals use
the trapezoidal rule, so they are exact up to the grid's resolution.
"""

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxgan.data.sources import normal_pdf  # the 1-D game's data density, and the kernel of the estimates below

MINUS_LOG4 = -math.log(4.0)


def optimal_discriminator(p_real: ArrayLike, p_gen: ArrayLike) -> jax.Array:
  """D*(x) = p_r / (p_r + p_g); 1/2 where both densities are zero."""
  p_real, p_gen = jnp.asarray(p_real), jnp.asarray(p_gen)
  total = p_real + p_gen
  return jnp.where(total > 0, p_real / jnp.where(total > 0, total, 1.0), 0.5)


def _xlogy_ratio(p: jax.Array, q: jax.Array) -> jax.Array:
  """p log(p / q), taken as 0 where p = 0."""
  safe = p > 0
  return jnp.where(safe, p * (jnp.log(jnp.where(safe, p, 1.0)) - jnp.log(jnp.where(safe, q, 1.0))), 0.0)


def kl_divergence(p: ArrayLike, q: ArrayLike, x: ArrayLike) -> jax.Array:
  """KL(p || q) = integral of p log(p / q) dx, in nats (inf if q = 0 where p > 0)."""
  p, q = jnp.asarray(p), jnp.asarray(q)
  return jnp.where(jnp.any((p > 0) & (q <= 0)), jnp.inf, jnp.trapezoid(_xlogy_ratio(p, q), x))


def js_divergence(p: ArrayLike, q: ArrayLike, x: ArrayLike) -> jax.Array:
  """JS(p || q) = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2; in [0, log 2]."""
  p, q = jnp.asarray(p), jnp.asarray(q)
  m = (p + q) / 2
  return jnp.trapezoid(_xlogy_ratio(p, m) + _xlogy_ratio(q, m), x) / 2


def value(p_real: ArrayLike, p_gen: ArrayLike, d: ArrayLike, x: ArrayLike) -> jax.Array:
  """V(D, G) = integral of p_r log D + p_g log(1 - D) dx, for D's values on the grid."""
  p_real, p_gen, d = jnp.asarray(p_real), jnp.asarray(p_gen), jnp.asarray(d)
  integrand = jnp.where(p_real > 0, p_real * jnp.log(d), 0.0)
  integrand += jnp.where(p_gen > 0, p_gen * jnp.log1p(-d), 0.0)
  return jnp.trapezoid(integrand, x)


def virtual_training_criterion(p_real: ArrayLike, p_gen: ArrayLike, x: ArrayLike) -> jax.Array:
  """C(G) = max_D V(D, G) = V(D*, G), integrated without forming log D*."""
  p_real, p_gen = jnp.asarray(p_real), jnp.asarray(p_gen)
  total = p_real + p_gen
  return jnp.trapezoid(_xlogy_ratio(p_real, total) + _xlogy_ratio(p_gen, total), x)


def density_from_samples(samples: ArrayLike, x: ArrayLike, bandwidth: ArrayLike) -> jax.Array:
  """Gaussian kernel density estimate on the uniform grid `x`.

  Bins the samples on the grid (linear binning), then convolves with a
  Gaussian of std `bandwidth` spanning the whole grid, so the cost is one pass
  over the samples plus O(N^2), and every argument may be traced under `jit`.
  Mass outside the grid is dropped: the result integrates to the fraction of
  samples inside it.

  Args:
    samples: [S] draws.
    x: [N] uniform grid.
    bandwidth: kernel std, in units of x (> 0).

  Returns:
    [N] density values.
  """
  samples, x = jnp.ravel(jnp.asarray(samples, jnp.float32)), jnp.asarray(x, jnp.float32)
  n, dx = x.shape[0], x[1] - x[0]
  pos = (samples - x[0]) / dx
  lo = jnp.floor(pos)
  frac = pos - lo
  lo = lo.astype(jnp.int32)
  hi = lo + 1
  # Negative indices would wrap around: send them past the end, where they drop.
  lo, hi = jnp.where(lo < 0, n, lo), jnp.where(hi < 0, n, hi)
  counts = jnp.zeros(n).at[lo].add(1 - frac, mode='drop').at[hi].add(frac, mode='drop')
  kernel = normal_pdf(jnp.arange(-(n - 1), n, dtype=x.dtype) * dx, 0.0, bandwidth)
  smoothed = jnp.convolve(counts, kernel / kernel.sum(), mode='full')[n - 1 : 2 * n - 1]
  return smoothed / (samples.shape[0] * dx)

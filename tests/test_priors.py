"""Latent priors and the truncation trick, against their analytic moments."""

import math

import jax
import numpy as np
import pytest

from jaxgan.game.priors import sample_latent


def truncated_normal_variance(t: float) -> float:
  """Var of N(0, 1) conditioned on |z| <= t: 1 - 2 t phi(t) / (2 Phi(t) - 1)."""
  phi = math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
  mass = math.erf(t / math.sqrt(2))  # 2 Phi(t) - 1
  return 1 - 2 * t * phi / mass


@pytest.mark.parametrize('t', [0.5, 1.0, 2.0])
def test_a_truncated_normal_latent_stays_within_the_threshold_with_its_moments(t):
  z = np.asarray(sample_latent(jax.random.key(0), 'normal', (200_000, 2), truncation=t))
  assert z.dtype == np.float32 and np.abs(z).max() <= t
  assert abs(z.mean()) < 0.01
  np.testing.assert_allclose(z.var(), truncated_normal_variance(t), rtol=0.01)  # 0.0806, 0.291, 0.774


def test_a_truncated_uniform_latent_is_uniform_on_the_smaller_interval():
  z = np.asarray(sample_latent(jax.random.key(0), 'uniform', (200_000,), truncation=0.5))
  assert np.abs(z).max() <= 0.5
  np.testing.assert_allclose(z.var(), 0.5**2 / 3, rtol=0.01)  # U(-t, t): t^2 / 3
  wide = sample_latent(jax.random.key(0), 'uniform', (100,), truncation=3.0)
  np.testing.assert_array_equal(wide, sample_latent(jax.random.key(0), 'uniform', (100,)))  # t >= 1: the prior


def test_no_truncation_is_the_prior_itself():
  z = np.asarray(sample_latent(jax.random.key(1), 'normal', (100_000,)))
  np.testing.assert_allclose(z.var(), 1.0, rtol=0.02)
  assert np.abs(z).max() > 3


@pytest.mark.parametrize('t', [0, -1.0, float('nan')])
def test_a_threshold_that_is_not_positive_is_refused(t):
  with pytest.raises(ValueError, match=r'^truncation must be a positive threshold \(e.g. 0.5\), or None for none'):
    sample_latent(jax.random.key(0), 'normal', (4,), truncation=t)

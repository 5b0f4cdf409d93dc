"""Latent priors p(z) that the generator maps to samples."""

import jax

from jaxgan.config import Prior

PRIORS: tuple[Prior, ...] = ('uniform', 'normal')


def sample_latent(key: jax.Array, prior: Prior, shape: tuple[int, ...]) -> jax.Array:
  """Draws z from the prior.

  Args:
    key: a typed PRNG key.
    prior: 'uniform' for U(-1, 1) in each dimension (as the original GAN paper),
      or 'normal' for N(0, I).
    shape: the shape of z, [B, latent_dim].

  Returns:
    float32 latents of `shape`.
  """
  if prior == 'uniform':
    return jax.random.uniform(key, shape, minval=-1.0, maxval=1.0)
  if prior == 'normal':
    return jax.random.normal(key, shape)
  raise ValueError(f'unknown prior {prior!r}; choose one of {", ".join(PRIORS)}')

"""Latent priors p(z) that the generator maps to samples."""

import jax

from jaxgan.config import Prior

PRIORS: tuple[Prior, ...] = ('uniform', 'normal')


def sample_latent(
  key: jax.Array, prior: Prior, shape: tuple[int, ...], *, truncation: float | None = None
) -> jax.Array:
  """Draws z from the prior, truncated to [-truncation, truncation] in each dimension if asked.

  Truncation is BigGAN's trick (Brock et al., 2019): a normal latent's entries of magnitude above the threshold
  are drawn again, i.e. z is drawn from the truncated normal; smaller thresholds trade variety for fidelity.
  For the uniform prior it is U(-t, t) (t >= 1 changes nothing).

  Args:
    key: a typed PRNG key.
    prior: 'uniform' for U(-1, 1) in each dimension (as the original GAN paper),
      or 'normal' for N(0, I).
    shape: the shape of z, [B, latent_dim].
    truncation: the threshold t > 0, or None for the prior itself.

  Returns:
    float32 latents of `shape`.
  """
  if truncation is not None and not truncation > 0:
    raise ValueError(f'truncation must be a positive threshold (e.g. 0.5), or None for none, got {truncation}')
  if prior == 'uniform':
    bound = 1.0 if truncation is None else min(1.0, float(truncation))
    return jax.random.uniform(key, shape, minval=-bound, maxval=bound)
  if prior == 'normal':
    if truncation is None:
      return jax.random.normal(key, shape)
    return jax.random.truncated_normal(key, -float(truncation), float(truncation), shape)
  raise ValueError(f'unknown prior {prior!r}; choose one of {", ".join(PRIORS)}')

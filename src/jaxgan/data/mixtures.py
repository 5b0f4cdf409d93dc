"""The 2-D mode-collapse toys: Gaussian mixtures on a ring and on a grid, and their mode metrics.

The protocol of VEEGAN (Srivastava et al., 2017, section 5.1) and PacGAN (Lin
et al., 2018, section 5.1):

  ring8    8 Gaussians of std 0.01 evenly spaced on the unit circle;
  grid25   25 Gaussians of std 0.05 at {-4, -2, 0, 2, 4}^2;

both with equal weights. A trained generator is scored on NUM_EVAL_SAMPLES
samples: a sample is of high quality when it lies within 3 std of its nearest
mode, a mode is covered when it is the nearest mode of some high-quality
sample, and the reverse KL compares the high-quality samples' histogram over
the modes with the uniform one.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import xlogy
from jax.typing import ArrayLike

NUM_EVAL_SAMPLES = 2500  # generator samples the protocol scores
_KDE_CHUNK = 1024  # points at which kde_density evaluates the kernels of all samples at once


@dataclasses.dataclass(frozen=True, eq=False)  # hashed by identity: a static argument of jit
class Mixture:
  """An equal-weight mixture of isotropic 2-D Gaussians of one std."""

  name: str
  centers: np.ndarray  # [K, 2]
  std: float


def _ring(num_modes: int, radius: float) -> np.ndarray:
  angles = 2 * np.pi * np.arange(num_modes) / num_modes
  return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _grid(values: tuple[float, ...]) -> np.ndarray:
  return np.array([(x, y) for x in values for y in values], np.float64)


MIXTURES = {
  'ring8': Mixture('ring8', _ring(8, 1.0), 0.01),
  'grid25': Mixture('grid25', _grid((-4.0, -2.0, 0.0, 2.0, 4.0)), 0.05),
}


def sample(mixture: Mixture, key: jax.Array, num: int) -> jax.Array:
  """num float32 samples [num, 2]: a mode drawn uniformly, then Gaussian noise around it."""
  mode_key, noise_key = jax.random.split(key)
  centers = jnp.asarray(mixture.centers, jnp.float32)
  modes = jax.random.randint(mode_key, (num,), 0, len(centers))
  return centers[modes] + mixture.std * jax.random.normal(noise_key, (num, 2))


def density(mixture: Mixture, x: ArrayLike) -> jax.Array:
  """The mixture's density [N] at points x [N, 2]."""
  squared = _squared_distances(jnp.asarray(x), mixture.centers)
  std = mixture.std
  return jnp.mean(jnp.exp(-squared / (2 * std**2)), axis=1) / (2 * math.pi * std**2)


def _squared_distances(x: jax.Array, centers: ArrayLike) -> jax.Array:
  """|x_n - c_k|^2 [N, K], from the differences (no cancellation for points near a center)."""
  return jnp.sum((x[:, None, :] - jnp.asarray(centers, x.dtype)[None]) ** 2, axis=-1)


def assign_modes(samples: ArrayLike, mixture: Mixture) -> tuple[jax.Array, jax.Array]:
  """Each sample's nearest mode (int [N]) and whether it lies within 3 std of it (bool [N]).

  Args:
    samples: [N, 2] points.
    mixture: the mixture whose modes they are scored against.

  Returns:
    The index of the nearest center, and the high-quality mask.
  """
  squared = _squared_distances(jnp.asarray(samples, jnp.float32), mixture.centers)
  return jnp.argmin(squared, axis=1), jnp.min(squared, axis=1) <= (3 * mixture.std) ** 2


def mode_metrics(samples: ArrayLike, mixture: Mixture) -> dict[str, jax.Array]:
  """The mode-collapse scores of VEEGAN and PacGAN for generator samples (jittable, mixture static).

  Args:
    samples: [N, 2] generator samples (the protocol uses NUM_EVAL_SAMPLES).
    mixture: the data's mixture.

  Returns:
    high_quality_fraction: the fraction of samples within 3 std (Euclidean) of
      their nearest mode;
    modes_covered: the number of modes nearest to at least one high-quality
      sample (int32);
    mode_kl: KL(q || uniform) = sum_k q_k log(q_k K) in nats, with q the
      histogram of the high-quality samples over their nearest modes (empty
      modes add 0), as PacGAN reports it; log K when no sample is of high quality.
  """
  num_modes = len(mixture.centers)
  nearest, high_quality = assign_modes(samples, mixture)
  counts = jnp.zeros(num_modes).at[nearest].add(high_quality.astype(jnp.float32))
  total = counts.sum()
  q = counts / jnp.maximum(total, 1.0)
  return {
    'high_quality_fraction': total / nearest.shape[0],
    'modes_covered': jnp.sum(counts > 0, dtype=jnp.int32),
    'mode_kl': jnp.where(total > 0, jnp.sum(xlogy(q, q * num_modes)), math.log(num_modes)),
  }


def kde_density(samples: ArrayLike, x: ArrayLike, bandwidth: ArrayLike) -> jax.Array:
  """Gaussian kernel density estimate in 2-D: the mean of N(x; s_n, bandwidth^2 I) over the samples.

  Evaluated _KDE_CHUNK points at a time, so memory stays at a few _KDE_CHUNK x N
  floats (some 100 MB for 20,000 samples); every argument may be traced under jit.

  Args:
    samples: [N, 2] draws.
    x: [M, 2] points.
    bandwidth: the kernel's std (> 0).

  Returns:
    [M] density values.
  """
  samples, x = jnp.asarray(samples, jnp.float32), jnp.asarray(x, jnp.float32)
  variance = jnp.asarray(bandwidth, jnp.float32) ** 2
  # Coordinates as separate rows: the chunk's [C, N] kernel values then come from one fused loop.
  sx, sy = samples.T

  def at(point: jax.Array) -> jax.Array:
    squared = (sx - point[0]) ** 2 + (sy - point[1]) ** 2
    return jnp.mean(jnp.exp(squared * (-0.5 / variance)))

  return jax.lax.map(at, x, batch_size=_KDE_CHUNK) / (2 * math.pi * variance)

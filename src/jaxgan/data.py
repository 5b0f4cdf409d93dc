"""Sources of real samples.

A source knows the shape of one sample and returns the batches of any range of
steps, `batches(start, num_steps, batch_size)` -> [num_steps, batch_size,
*sample_shape], the same whatever the chunking, so that a resumed run reads
exactly what an uninterrupted one does.
"""

from typing import Protocol

import jax
import numpy as np

from jaxgan import theory
from jaxgan.config import DataConfig


class Source(Protocol):
  sample_shape: tuple[int, ...]

  def batches(self, start: int, num_steps: int, batch_size: int) -> np.ndarray: ...


class NormalSource:
  """N(mean, std^2) in one dimension, a source whose density is known."""

  sample_shape = (1,)

  def __init__(self, mean: float, std: float, seed: int):
    self.mean, self.std, self.seed = mean, std, seed

  def batches(self, start: int, num_steps: int, batch_size: int) -> np.ndarray:
    steps = [
      np.random.default_rng((self.seed, step)).standard_normal((batch_size, 1))
      for step in range(start, start + num_steps)
    ]
    return (self.mean + self.std * np.stack(steps)).astype(np.float32)

  def sample(self, key: jax.Array, num: int) -> jax.Array:
    """num samples [num, 1] drawn with a JAX key, for evaluation."""
    return self.mean + self.std * jax.random.normal(key, (num, 1))

  def density(self, x: jax.Array) -> jax.Array:
    return theory.normal_pdf(x, self.mean, self.std)

  def support(self) -> tuple[float, float]:
    """An interval holding all but a negligible part (1e-15) of the mass."""
    return self.mean - 8 * self.std, self.mean + 8 * self.std


def make_source(data: DataConfig, seed: int) -> NormalSource:
  """The source that `data` describes, seeded with `seed`."""
  if data.source == 'normal':
    return NormalSource(data.mean, data.std, seed)
  raise ValueError(f'unknown data source {data.source!r}')

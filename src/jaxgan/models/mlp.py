"""Fully connected generator and discriminator for low-dimensional data (the 1-D game, the 2-D mixtures)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.config import Activation
from jaxgan.models.conv import spectral

_ACTIVATIONS = {
  'relu': nn.relu,
  'leaky_relu': lambda x: nn.leaky_relu(x, 0.2),
  'tanh': jnp.tanh,
  'elu': nn.elu,
}


class MLPGenerator(nn.Module):
  """Fully connected generator for low-dimensional data."""

  sample_shape: tuple[int, ...]
  hidden: tuple[int, ...] = (64, 64)
  activation: Activation = 'leaky_relu'

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
    del train  # no batch norm here
    h = z
    for width in self.hidden:
      h = _ACTIVATIONS[self.activation](nn.Dense(width)(h))
    out = nn.Dense(int(np.prod(self.sample_shape)))(h)
    return out.reshape(z.shape[0], *self.sample_shape)


class MLPDiscriminator(nn.Module):
  """Fully connected discriminator for low-dimensional data."""

  hidden: tuple[int, ...] = (64, 64)
  activation: Activation = 'leaky_relu'
  spectral_norm: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    h = x.reshape(x.shape[0], -1)
    for width in self.hidden:
      h = _ACTIVATIONS[self.activation](spectral(nn.Dense(width), h, self.spectral_norm, train))
    return spectral(nn.Dense(1), h, self.spectral_norm, train)[:, 0]

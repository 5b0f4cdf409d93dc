"""Fully connected generator and discriminator for low-dimensional data (the 1-D game, the 2-D mixtures)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.config import Activation, Conditioning
from jaxgan.models.conditioning import ClassOutput, joined
from jaxgan.models.conv import spectral

_ACTIVATIONS = {
  'relu': nn.relu,
  'leaky_relu': lambda x: nn.leaky_relu(x, 0.2),
  'tanh': jnp.tanh,
  'elu': nn.elu,
}


class MLPGenerator(nn.Module):
  """Fully connected generator for low-dimensional data; a conditional one (num_classes > 0) joins the labels
  one-hot to z."""

  sample_shape: tuple[int, ...]
  hidden: tuple[int, ...] = (64, 64)
  activation: Activation = 'leaky_relu'
  num_classes: int = 0

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
    del train  # no batch norm here
    h = joined(z, labels, self.num_classes)
    for width in self.hidden:
      h = _ACTIVATIONS[self.activation](nn.Dense(width)(h))
    out = nn.Dense(int(np.prod(self.sample_shape)))(h)
    return out.reshape(z.shape[0], *self.sample_shape)


class MLPDiscriminator(nn.Module):
  """Fully connected discriminator for low-dimensional data, conditioned on the labels as `conditioning` says
  (jaxgan.models.conditioning)."""

  hidden: tuple[int, ...] = (64, 64)
  activation: Activation = 'leaky_relu'
  spectral_norm: bool = False
  conditioning: Conditioning = 'none'
  num_classes: int = 0

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array | tuple:
    h = x.reshape(x.shape[0], -1)
    h = joined(h, labels, self.num_classes) if self.conditioning == 'concat' else h
    for width in self.hidden:
      h = _ACTIVATIONS[self.activation](spectral(nn.Dense(width), h, self.spectral_norm, train))
    logits = spectral(nn.Dense(1), h, self.spectral_norm, train)[:, 0]
    return ClassOutput(self.conditioning, self.num_classes, self.spectral_norm)(logits, h, labels, train)

"""The players' networks as Flax (Linen) modules, one architecture a module.

Every generator maps latents z [B, latent_dim] to samples [B, *sample_shape];
every discriminator maps samples to one logit each, [B]. Both take `train`,
which switches batch norm between batch and running statistics.

  mlp     fully connected players for low-dimensional data;
  dcgan   DCGAN's convolutional players for images (Radford et al., 2016);
  conv    the convolutions (fast gradients on CPU) and layers they share.

A new architecture is a module here and one entry in `make_models`. This floor
imports only jaxgan.config (and jax, flax, numpy).
"""

import flax.linen as nn

from jaxgan.config import Activation, ModelConfig
from jaxgan.models.conv import Conv
from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_base_resolution
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator

__all__ = [
  'Activation',
  'Conv',
  'DCGANDiscriminator',
  'DCGANGenerator',
  'MLPDiscriminator',
  'MLPGenerator',
  'dcgan_base_resolution',
  'make_models',
]


def make_models(model: ModelConfig, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
  """The (generator, discriminator) pair of model.architecture for samples of `sample_shape`."""
  if model.architecture == 'mlp':
    return (
      MLPGenerator(sample_shape, model.g_hidden, model.activation),
      MLPDiscriminator(model.d_hidden, model.activation, model.spectral_norm),
    )
  if len(sample_shape) != 3 or sample_shape[0] != sample_shape[1] or sample_shape[0] < 4:
    raise ValueError(
      f'model.architecture=dcgan needs square images (H, H, C) of side 4 or more, got sample shape {sample_shape}; '
      'set data.resolution, or use model.architecture=mlp'
    )
  side, channels = sample_shape[1:]
  return (
    DCGANGenerator(side, channels, model.g_width, model.extra_layers, model.conv_impl),
    DCGANDiscriminator(side, model.d_width, model.extra_layers, model.conv_impl, model.spectral_norm),
  )

"""The players' networks as Flax (Linen) modules, one architecture a module.

Every generator maps latents z [B, latent_dim] to samples [B, *sample_shape];
every discriminator maps samples to one logit each, [B]. Both take `train`,
which switches batch norm between batch and running statistics.

  mlp           fully connected players for low-dimensional data;
  dcgan         DCGAN's convolutional players for images (Radford et al., 2016);
  resnet        the residual players of SNGAN and BigGAN, with SAGAN's self-attention;
  r3gan         R3GAN's modernised residual players (no normalisation, grouped convolutions, fix-up init);
  stylegan2     StyleGAN2's style-based generator (mapping network, modulated convolutions, noise inputs)
                and its residual discriminator with the minibatch standard deviation;
  conditioning  how class labels enter both players (model.conditioning);
  conv          the convolutions (fast gradients on CPU) and layers they share.

A conditional pair (model.conditioning other than none) takes labels [B] after
its input: G(z, labels), D(x, labels); an acgan discriminator returns its logits
and class logits [B, num_classes].

A new architecture is a module here and one entry in `make_models`. This floor
imports only jaxgan.config (and jax, flax, numpy).
"""

import flax.linen as nn

from jaxgan.config import Activation, ModelConfig
from jaxgan.models.conv import Conv
from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_base_resolution
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator
from jaxgan.models.r3gan import R3GANDiscriminator, R3GANGenerator
from jaxgan.models.resnet import ResNetDiscriminator, ResNetGenerator
from jaxgan.models.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator

__all__ = [
  'Activation',
  'Conv',
  'DCGANDiscriminator',
  'DCGANGenerator',
  'MLPDiscriminator',
  'MLPGenerator',
  'R3GANDiscriminator',
  'R3GANGenerator',
  'ResNetDiscriminator',
  'ResNetGenerator',
  'StyleGAN2Discriminator',
  'StyleGAN2Generator',
  'dcgan_base_resolution',
  'make_models',
]


def make_models(model: ModelConfig, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
  """The (generator, discriminator) pair of model.architecture for samples of `sample_shape`."""
  classes = model.num_classes if model.conditioning != 'none' else 0
  conditioning = {'conditioning': model.conditioning, 'num_classes': classes}
  if model.architecture == 'mlp':
    return (
      MLPGenerator(sample_shape, model.g_hidden, model.activation, classes),
      MLPDiscriminator(model.d_hidden, model.activation, model.spectral_norm, **conditioning),
    )
  if len(sample_shape) != 3 or sample_shape[0] != sample_shape[1] or sample_shape[0] < 4:
    raise ValueError(
      f'model.architecture={model.architecture} needs square images (H, H, C) of side 4 or more, got sample '
      f'shape {sample_shape}; set data.resolution, or use model.architecture=mlp'
    )
  side, channels = sample_shape[1:]
  if model.architecture == 'r3gan':
    stages = {'blocks': model.blocks, 'group_channels': model.group_channels, 'conv_impl': model.conv_impl}
    return (
      R3GANGenerator(side, channels, model.g_width, **stages, num_classes=classes),
      R3GANDiscriminator(side, model.d_width, **stages, **conditioning),
    )
  if model.architecture == 'stylegan2':
    style = {'style_dim': model.style_dim, 'mapping_layers': model.mapping_layers, 'style_mixing': model.style_mixing}
    return (
      StyleGAN2Generator(side, channels, model.g_width, **style, num_classes=classes, conv_impl=model.conv_impl),
      StyleGAN2Discriminator(
        side, model.d_width, model.d_residual, model.mbstd_group, **conditioning, conv_impl=model.conv_impl
      ),
    )
  if model.architecture == 'resnet':
    shared = {'attention': model.attention, 'conv_impl': model.conv_impl}
    return (
      ResNetGenerator(
        side,
        channels,
        model.g_width,
        spectral_norm=model.g_spectral_norm,
        num_classes=classes,
        class_embedding=model.class_embedding,
        hierarchical_latent=model.hierarchical_latent,
        **shared,
      ),
      ResNetDiscriminator(side, model.d_width, spectral_norm=model.spectral_norm, **conditioning, **shared),
    )
  return (
    DCGANGenerator(side, channels, model.g_width, model.extra_layers, model.conv_impl, classes),
    DCGANDiscriminator(side, model.d_width, model.extra_layers, model.conv_impl, model.spectral_norm, **conditioning),
  )

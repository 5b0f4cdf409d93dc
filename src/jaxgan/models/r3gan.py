"""R3GAN's players (Huang et al., 2024, "The GAN is dead; long live the GAN! A Modern GAN Baseline"): a
modernised residual network with no normalisation, trained with the relativistic objective and R1 + R2
(game.objective=relativistic, game.penalty=r1_r2; the configs/cifar10_r3gan recipe).

A stage a resolution, 4x4 up to the image's side, each of `blocks` residual blocks of the same width:
  block       x + conv1x1(act(grouped conv3x3(act(conv1x1(x))))): widths W -> 2W -> 2W -> W, the 3x3
              conv in groups of `group_channels` channels (ResNeXt's cardinality, 2W / group_channels)
  act         leaky ReLU 0.2 after a learned bias (the only biases), scaled by its gain sqrt(2 / 1.04)
  init        fix-up: weights N(0, gain^2 / fan_in), the blocks' first two layers' gain times
              L^(-1/4) for L blocks in all, their last layer zero, so that each block starts as the identity
  resampling  the [1, 2, 1] filter (2x up: zeros inserted, then filtered; 2x down: filtered, then strided),
              a 1x1 conv where the width changes
G: z -> a learned 4x4 basis scaled channel by channel by a linear map of z -> stages -> 1x1 conv to the
image's channels (no tanh). D: 1x1 conv from the image -> stages, each ending in a 2x down -> at 4x4 a
depthwise 4x4 conv to a vector -> linear to one logit (with the class terms of
jaxgan.models.conditioning). The release's CIFAR-10 preset: width 768, 2 blocks a stage, groups of 16.
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.config import Conditioning
from jaxgan.models.conditioning import ClassOutput, joined
from jaxgan.models.conv import Conv, Impl, fir_resample

_SLOPE = 0.2
_GAIN = math.sqrt(2 / (1 + _SLOPE**2))
_TAPS = (1.0, 2.0, 1.0)


def _msr(gain: float) -> nn.initializers.Initializer:
  """N(0, gain^2 / fan_in), fan_in a kernel's axes but the last (its outputs), as Flax lays kernels out."""

  def init(key: jax.Array, shape: tuple[int, ...], dtype: jnp.dtype = jnp.float32) -> jax.Array:
    return gain / math.sqrt(math.prod(shape[:-1])) * jax.random.normal(key, shape, dtype)

  return init


def _conv(features: int, size: int, impl: Impl, gain: float = 1.0, groups: int = 1, padding: str = 'SAME') -> Conv:
  return Conv(features, (size, size), padding=padding, impl=impl, kernel_init=_msr(gain), groups=groups)


class BiasedActivation(nn.Module):
  """Leaky ReLU 0.2 of x plus a learned bias, times its gain."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    bias = self.param('bias', nn.initializers.zeros, (x.shape[-1],)).astype(x.dtype)
    return nn.leaky_relu(x + bias, _SLOPE) * _GAIN


class ResidualBlock(nn.Module):
  group_channels: int
  total_blocks: int  # L, in both stages of all resolutions: the fix-up scale
  impl: Impl = 'auto'

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    width = x.shape[-1]
    expanded = 2 * width
    if expanded % self.group_channels:
      raise ValueError(
        f'R3GAN groups its 3x3 convolutions in {self.group_channels} channels (model.group_channels), which do '
        f'not divide the expanded width {expanded}; use a width whose double it divides'
      )
    gain = _GAIN * self.total_blocks ** (-1 / 4)  # L^(-1 / (2m - 2)) for m = 3 layers
    y = _conv(expanded, 1, self.impl, gain)(x)
    y = _conv(expanded, 3, self.impl, gain, expanded // self.group_channels)(BiasedActivation()(y))
    return x + _conv(width, 1, self.impl, 0.0)(BiasedActivation()(y))


def _stages(resolution: int) -> int:
  stages = round(math.log2(resolution)) - 1
  if resolution < 8 or 2 ** (stages + 1) != resolution:
    raise ValueError(f'model.architecture=r3gan needs a power-of-two image side of 8 or more, got {resolution}')
  return stages


class R3GANGenerator(nn.Module):
  """R3GAN's generator: z [B, latent_dim] (and labels [B], joined to z) to images [B, H, H, C]."""

  resolution: int
  channels: int
  width: int = 768
  blocks: int = 2
  group_channels: int = 16
  num_classes: int = 0
  conv_impl: Impl = 'auto'

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
    del train  # no batch norm
    stages = _stages(self.resolution)
    z = joined(z, labels, self.num_classes)
    basis = self.param('basis', nn.initializers.normal(1.0), (4, 4, self.width)).astype(z.dtype)
    h = basis[None] * nn.Dense(self.width, use_bias=False, kernel_init=_msr(1.0), name='basis_scale')(z)[:, None, None]
    for stage in range(stages):
      if stage:
        h = fir_resample(h, _TAPS, up=True)
      for _ in range(self.blocks):
        h = ResidualBlock(self.group_channels, stages * self.blocks, self.conv_impl)(h)
    return _conv(self.channels, 1, self.conv_impl)(h)


class R3GANDiscriminator(nn.Module):
  """R3GAN's discriminator: images [B, H, H, C] (and labels [B]) to logits [B] (acgan: and class logits)."""

  resolution: int
  width: int = 768
  blocks: int = 2
  group_channels: int = 16
  conditioning: Conditioning = 'none'
  num_classes: int = 0
  conv_impl: Impl = 'auto'

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array | tuple:
    stages = _stages(self.resolution)
    h = joined(x, labels, self.num_classes) if self.conditioning == 'concat' else x
    h = _conv(self.width, 1, self.conv_impl)(h)
    for stage in range(stages):
      for _ in range(self.blocks):
        h = ResidualBlock(self.group_channels, stages * self.blocks, self.conv_impl)(h)
      if stage < stages - 1:
        h = fir_resample(h, _TAPS, up=False)
    basis = _conv(self.width, 4, 'lax', groups=self.width, padding='VALID')  # depthwise, at 4x4: cheap either way
    features = basis(h).reshape(h.shape[0], self.width)
    logits = nn.Dense(1, use_bias=False, kernel_init=_msr(1.0))(features)[:, 0]
    return ClassOutput(self.conditioning, self.num_classes)(logits, features, labels, train)

"""The residual players of SNGAN and BigGAN (Miyato et al., 2018; Brock et al., 2019), with SAGAN's
self-attention (Zhang et al., 2019).

G: z -> dense to a 4x4 map (the smallest side, as DCGAN's) -> up-blocks (BN, ReLU, 2x nearest upsample,
3x3 conv, BN, ReLU, 3x3 conv, plus a 1x1-conv shortcut of the upsampled input) -> BN, ReLU, 3x3 conv,
tanh. D: down-blocks (ReLU, 3x3 conv, ReLU, 3x3 conv, 2x2 average pool, plus a shortcut; the first block
without its leading ReLU, SNGAN's "optimized" block), then blocks that keep the side, ReLU, a sum over
positions, one logit (with the class terms of jaxgan.models.conditioning).

Widths are multiples of `width` (BigGAN's ch) per block, from BigGAN's tables: at 32x32 G [4, 4, 4] and D
[4, 4, 4, 4] (D pooling in its first two blocks), SNGAN's CIFAR-10 ResNet with width 64 for G (256 channels)
and 32 for D (128); at 64 and 128, BigGAN's own; at other sides the 32x32 rule. A conditional G (any
model.conditioning) conditions every block's batch norms on a shared class embedding: with
`hierarchical_latent`, joined with that block's chunk of z, the first chunk alone reaching the dense layer
(BigGAN); without, joined with the whole z, which reaches the dense layer with it too (BigGAN-deep; small
generators of one or two blocks need the class there to learn it). Weights are initialised orthogonally
(BigGAN).
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.config import Conditioning
from jaxgan.models.conditioning import ClassOutput, ConditionalBatchNorm, joined
from jaxgan.models.conv import Conv, Impl, spectral
from jaxgan.models.dcgan import dcgan_base_resolution

_INIT = nn.initializers.orthogonal()
# BigGAN's width multipliers: G's blocks' outputs (its dense layer's width is the first block's input,
# the multiplier before them) and D's blocks' outputs with whether each pools.
_G_WIDTHS = {64: (16, 8, 4, 2, 1), 128: (16, 16, 8, 4, 2, 1)}
_D_BLOCKS = {64: ((1, 2, 4, 8, 16), 4), 128: ((1, 2, 4, 8, 16, 16), 5)}


def _stages(resolution: int) -> int:
  return round(math.log2(resolution // dcgan_base_resolution(resolution)))


def generator_widths(resolution: int) -> tuple[int, ...]:
  """G's width multipliers: its dense output's, then each up-block's output (one block a doubling)."""
  return _G_WIDTHS.get(resolution, (4,) * (_stages(resolution) + 1))


def discriminator_blocks(resolution: int) -> tuple[tuple[int, ...], int]:
  """D's blocks' width multipliers, and how many of the first of them pool (2x2 average)."""
  pooled = max(1, _stages(resolution) - 1)
  return _D_BLOCKS.get(resolution, ((4,) * (pooled + 2), pooled))


class SelfAttention(nn.Module):
  """SAGAN's self-attention over the positions of h [B, H, W, C]: queries C/8, keys C/8 and values C/2
  (keys and values 2x2 max-pooled, as BigGAN's), their output back to C, added with a learned gain that
  starts at 0."""

  spectral_norm: bool
  impl: Impl = 'auto'

  @nn.compact
  def __call__(self, h: jax.Array, train: bool) -> jax.Array:
    b, height, width, c = h.shape

    def project(features: int, x: jax.Array, name: str) -> jax.Array:
      layer = Conv(features, (1, 1), impl=self.impl, kernel_init=_INIT, name=name)
      return spectral(layer, x, self.spectral_norm, train)

    def pooled(x: jax.Array) -> jax.Array:
      return nn.max_pool(x, (2, 2), (2, 2)).reshape(b, -1, x.shape[-1])

    queries = project(c // 8, h, 'queries').reshape(b, -1, c // 8)
    keys, values = pooled(project(c // 8, h, 'keys')), pooled(project(c // 2, h, 'values'))
    attention = jax.nn.softmax(queries @ keys.swapaxes(1, 2), axis=-1)
    out = project(c, (attention @ values).reshape(b, height, width, c // 2), 'out')
    return h + self.param('gain', nn.initializers.zeros, ()).astype(h.dtype) * out


class GeneratorBlock(nn.Module):
  features: int
  spectral_norm: bool
  impl: Impl = 'auto'

  @nn.compact
  def __call__(self, h: jax.Array, condition: jax.Array | None, train: bool) -> jax.Array:
    def conv(features: int, size: int, x: jax.Array) -> jax.Array:
      layer = Conv(features, (size, size), impl=self.impl, use_bias=True, kernel_init=_INIT)
      return spectral(layer, x, self.spectral_norm, train)

    def upsampled(x: jax.Array) -> jax.Array:
      return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)

    x = upsampled(nn.relu(ConditionalBatchNorm()(h, condition, train)))
    x = conv(self.features, 3, x)
    x = conv(self.features, 3, nn.relu(ConditionalBatchNorm()(x, condition, train)))
    return x + conv(self.features, 1, upsampled(h))


class DiscriminatorBlock(nn.Module):
  features: int
  pool: bool
  first: bool  # SNGAN's optimized block: no ReLU before its first conv, its shortcut pooled before its conv
  spectral_norm: bool
  impl: Impl = 'auto'

  @nn.compact
  def __call__(self, h: jax.Array, train: bool) -> jax.Array:
    def conv(features: int, size: int, x: jax.Array) -> jax.Array:
      layer = Conv(features, (size, size), impl=self.impl, use_bias=True, kernel_init=_INIT)
      return spectral(layer, x, self.spectral_norm, train)

    def pooled(x: jax.Array) -> jax.Array:
      return nn.avg_pool(x, (2, 2), (2, 2)) if self.pool else x

    x = conv(self.features, 3, h if self.first else nn.relu(h))
    x = pooled(conv(self.features, 3, nn.relu(x)))
    if self.first:
      return x + conv(self.features, 1, pooled(h))
    shortcut = h if h.shape[-1] == self.features and not self.pool else pooled(conv(self.features, 1, h))
    return x + shortcut


class ResNetGenerator(nn.Module):
  """The SNGAN/BigGAN residual generator: z [B, latent_dim] (and labels [B]) to images [B, H, H, C]."""

  resolution: int
  channels: int
  width: int = 64
  attention: int = 0  # the feature-map side after whose block self-attention sits; 0: none
  spectral_norm: bool = False
  num_classes: int = 0  # conditional: > 0
  class_embedding: int = 128
  hierarchical_latent: bool = False
  conv_impl: Impl = 'auto'

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
    widths = [self.width * m for m in generator_widths(self.resolution)]
    blocks = len(widths) - 1
    chunks = [z]
    if self.hierarchical_latent:
      if z.shape[-1] % (blocks + 1):
        raise ValueError(
          f'model.hierarchical_latent splits z over {blocks + 1} parts (the dense layer and {blocks} blocks): '
          f'model.latent_dim={z.shape[-1]} does not divide; use a multiple of {blocks + 1}'
        )
      chunks = jnp.split(z, blocks + 1, axis=-1)
    dense_input, conditions = chunks[0], chunks[1:] if self.hierarchical_latent else [None] * blocks
    if labels is not None:
      shared = nn.Embed(self.num_classes, self.class_embedding, name='class_embedding')(labels)
      if self.hierarchical_latent:  # BigGAN: each block's chunk of z with the class
        conditions = [jnp.concatenate([shared, c], -1) for c in conditions]
      else:  # BigGAN-deep: z and the class into the dense layer and every block
        dense_input = jnp.concatenate([z, shared], -1)
        conditions = [dense_input] * blocks
    base = dcgan_base_resolution(self.resolution)
    dense = nn.Dense(base * base * widths[0], kernel_init=_INIT)
    h = spectral(dense, dense_input, self.spectral_norm, train).reshape(z.shape[0], base, base, widths[0])
    for features, condition in zip(widths[1:], conditions, strict=True):
      h = GeneratorBlock(features, self.spectral_norm, self.conv_impl)(h, condition, train)
      if h.shape[1] == self.attention:
        h = SelfAttention(self.spectral_norm, self.conv_impl)(h, train)
    h = nn.relu(ConditionalBatchNorm()(h, None, train))
    out = Conv(self.channels, (3, 3), impl=self.conv_impl, use_bias=True, kernel_init=_INIT)
    return jnp.tanh(spectral(out, h, self.spectral_norm, train))


class ResNetDiscriminator(nn.Module):
  """The SNGAN/BigGAN residual discriminator: images [B, H, H, C] (and labels [B]) to logits [B] (acgan:
  and class logits [B, K])."""

  resolution: int
  width: int = 64
  attention: int = 0
  spectral_norm: bool = True
  conditioning: Conditioning = 'none'
  num_classes: int = 0
  conv_impl: Impl = 'auto'

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array | tuple:
    multipliers, pooled = discriminator_blocks(self.resolution)
    h = joined(x, labels, self.num_classes) if self.conditioning == 'concat' else x
    for i, m in enumerate(multipliers):
      h = DiscriminatorBlock(self.width * m, i < pooled, i == 0, self.spectral_norm, self.conv_impl)(h, train)
      if h.shape[1] == self.attention and i < pooled:
        h = SelfAttention(self.spectral_norm, self.conv_impl)(h, train)
    features = jnp.sum(nn.relu(h), axis=(1, 2))
    logits = spectral(nn.Dense(1, kernel_init=_INIT), features, self.spectral_norm, train)[:, 0]
    return ClassOutput(self.conditioning, self.num_classes, self.spectral_norm)(logits, features, labels, train)

"""Generators and discriminators as Flax (Linen) modules.

Every generator maps latents z [B, latent_dim] to samples [B, *sample_shape];
every discriminator maps samples to one logit each, [B]. Both take `train`,
which switches batch norm between batch and running statistics.
"""

from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Activation = Literal['relu', 'leaky_relu', 'tanh', 'elu']
_ACTIVATIONS = {
  'relu': nn.relu,
  'leaky_relu': lambda x: nn.leaky_relu(x, 0.2),
  'tanh': jnp.tanh,
  'elu': nn.elu,
}
_DCGAN_INIT = nn.initializers.normal(0.02)  # as Radford et al. (2016)


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

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    del train
    h = x.reshape(x.shape[0], -1)
    for width in self.hidden:
      h = _ACTIVATIONS[self.activation](nn.Dense(width)(h))
    return nn.Dense(1)(h)[:, 0]


def dcgan_base_resolution(resolution: int) -> int:
  """The side of the smallest feature map: halve while even and still >= 4.

  64 -> 4 (four doublings), 32 -> 4, 28 -> 7, 16 -> 4, 8 -> 4.
  """
  if resolution < 4:
    raise ValueError(f'DCGAN resolution must be at least 4, got {resolution}')
  base = resolution
  while base % 2 == 0 and base // 2 >= 4:
    base //= 2
  return base


def _dcgan_widths(resolution: int, width: int) -> list[int]:
  """Channels per stride-2 stage, from the smallest feature map upwards."""
  stages = int(np.log2(resolution // dcgan_base_resolution(resolution)))
  return [width * 2 ** (stages - 1 - i) for i in range(stages)]


# A stride-2, 4-tap transposed convolution with 'SAME' padding writes output
# 2m + p from inputs m + d - 1 (d = 0, 1, 2) through kernel tap 2d - p, where
# that tap exists (p = 0, 1): every output phase is a 3-tap convolution.
_SUBPIXEL_TAP = np.array([[2 * d - p for p in (0, 1)] for d in range(3)])  # [d, p]
_SUBPIXEL_VALID = (_SUBPIXEL_TAP >= 0) & (_SUBPIXEL_TAP <= 3)
Upsample = Literal['auto', 'transpose', 'subpixel']


class UpConv(nn.Module):
  """nn.ConvTranspose(features, (4, 4), (2, 2), 'SAME', use_bias=False), two ways.

  'transpose' calls lax.conv_transpose. 'subpixel' computes the same function
  from the same (4, 4, C_in, features) kernel as one 3x3 convolution to
  4 * features channels followed by a depth-to-space shuffle: XLA's CPU backend
  takes its weight gradient about 15x faster. 'auto' picks subpixel on CPU.
  """

  features: int
  upsample: Upsample = 'auto'
  kernel_init: nn.initializers.Initializer = _DCGAN_INIT

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param('kernel', self.kernel_init, (4, 4, x.shape[-1], self.features))
    mode = self.upsample
    if mode == 'auto':
      mode = 'subpixel' if jax.default_backend() == 'cpu' else 'transpose'
    if mode == 'transpose':
      return jax.lax.conv_transpose(x, kernel, (2, 2), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    taps = np.clip(_SUBPIXEL_TAP, 0, 3)
    # k3[dy, dx, py, px] = kernel[tap(dy, py), tap(dx, px)], zero where a tap is missing.
    k3 = kernel[taps[:, None, :, None], taps[None, :, None, :]]  # [3, 3, 2, 2, C_in, F]
    mask = _SUBPIXEL_VALID[:, None, :, None] & _SUBPIXEL_VALID[None, :, None, :]
    k3 = (
      jnp.where(mask[..., None, None], k3, 0).transpose(0, 1, 4, 2, 3, 5).reshape(3, 3, x.shape[-1], 4 * self.features)
    )
    y = jax.lax.conv_general_dilated(x, k3, (1, 1), ((1, 1), (1, 1)), dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    b, h, w, _ = y.shape
    y = y.reshape(b, h, w, 2, 2, self.features).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(b, 2 * h, 2 * w, self.features)


def _batch_norm(train: bool) -> nn.BatchNorm:
  # momentum 0.9 here is PyTorch's momentum 0.1.
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)


class DCGANGenerator(nn.Module):
  """DCGAN generator: dense to the base map, then stride-2 transposed convs.

  For 64x64 and width 64 this is the pytorch/examples DCGAN netG, parameter for
  parameter: 4x4x512, 8x8x256, 16x16x128, 32x32x64, then 64x64xC with tanh;
  batch norm and ReLU between, no biases.
  """

  resolution: int
  channels: int
  width: int = 64
  upsample: Upsample = 'auto'

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
    base = dcgan_base_resolution(self.resolution)
    widths = _dcgan_widths(self.resolution, self.width)
    h = nn.Dense(base * base * widths[0], use_bias=False, kernel_init=_DCGAN_INIT)(z)
    h = h.reshape(z.shape[0], base, base, widths[0])
    h = nn.relu(_batch_norm(train)(h))
    for w in widths[1:]:
      h = UpConv(w, self.upsample)(h)
      h = nn.relu(_batch_norm(train)(h))
    h = UpConv(self.channels, self.upsample)(h)
    return jnp.tanh(h)  # [B, resolution, resolution, channels]


class DCGANDiscriminator(nn.Module):
  """DCGAN discriminator: stride-2 convs with LeakyReLU(0.2), then one logit.

  Mirrors DCGANGenerator: batch norm on every conv but the first, no biases;
  for 64x64 and width 64 the pytorch/examples DCGAN netD without its sigmoid.
  """

  resolution: int
  width: int = 64

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    h = x
    for i, w in enumerate(reversed(_dcgan_widths(self.resolution, self.width))):
      h = nn.Conv(w, (4, 4), (2, 2), 'SAME', use_bias=False, kernel_init=_DCGAN_INIT)(h)
      if i > 0:
        h = _batch_norm(train)(h)
      h = nn.leaky_relu(h, 0.2)
    h = h.reshape(x.shape[0], -1)
    return nn.Dense(1, use_bias=False, kernel_init=_DCGAN_INIT)(h)[:, 0]

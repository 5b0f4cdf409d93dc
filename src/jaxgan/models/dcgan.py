"""DCGAN (Radford et al., 2016): strided transposed convolutions up in G, strided convolutions down in D."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.config import Conditioning
from jaxgan.models.conditioning import ClassOutput, joined
from jaxgan.models.conv import DCGAN_INIT, Conv, Impl, batch_norm, spectral


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


def _upsample(features: int, impl: Impl) -> Conv:
  return Conv(features, (4, 4), (2, 2), 'SAME', transpose=True, impl=impl)


class DCGANGenerator(nn.Module):
  """DCGAN generator: dense to the base map, then stride-2 transposed convs.

  For 64x64 and width 64 this is the pytorch/examples DCGAN netG, parameter for
  parameter: 4x4x512, 8x8x256, 16x16x128, 32x32x64, then 64x64xC with tanh;
  batch norm and ReLU between, no biases. `extra_layers` adds 3x3 stride-1
  convolutions before the output layer (n_extra_layers of the DCGAN and WGAN
  reference code). A conditional one (num_classes > 0) joins the labels one-hot to z (cGAN).
  """

  resolution: int
  channels: int
  width: int = 64
  extra_layers: int = 0
  conv_impl: Impl = 'auto'
  num_classes: int = 0

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array:
    z = joined(z, labels, self.num_classes)
    base = dcgan_base_resolution(self.resolution)
    widths = _dcgan_widths(self.resolution, self.width)
    h = nn.Dense(base * base * widths[0], use_bias=False, kernel_init=DCGAN_INIT)(z)
    h = h.reshape(z.shape[0], base, base, widths[0])
    h = nn.relu(batch_norm(train)(h))
    for w in widths[1:]:
      h = nn.relu(batch_norm(train)(_upsample(w, self.conv_impl)(h)))
    for _ in range(self.extra_layers):
      h = nn.relu(batch_norm(train)(Conv(widths[-1], (3, 3), impl=self.conv_impl)(h)))
    h = _upsample(self.channels, self.conv_impl)(h)
    return jnp.tanh(h)  # [B, resolution, resolution, channels]


class DCGANDiscriminator(nn.Module):
  """DCGAN discriminator: stride-2 convs with LeakyReLU(0.2), then one logit.

  Mirrors DCGANGenerator: batch norm on every conv but the first, no biases;
  for 64x64 and width 64 the pytorch/examples DCGAN netD without its sigmoid.
  `extra_layers` adds 3x3 stride-1 convolutions after the first one. With
  `spectral_norm`, every convolution and the dense layer are spectrally normalised.
  Conditioned (jaxgan.models.conditioning) on the labels as `conditioning` says,
  its last features those the dense layer reads.
  """

  resolution: int
  width: int = 64
  extra_layers: int = 0
  conv_impl: Impl = 'auto'
  spectral_norm: bool = False
  conditioning: Conditioning = 'none'
  num_classes: int = 0

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array | tuple:
    def layer(module: nn.Module, h: jax.Array) -> jax.Array:
      return spectral(module, h, self.spectral_norm, train)

    h = joined(x, labels, self.num_classes) if self.conditioning == 'concat' else x
    for i, w in enumerate(reversed(_dcgan_widths(self.resolution, self.width))):
      h = layer(Conv(w, (4, 4), (2, 2), 'SAME', impl=self.conv_impl), h)
      if i > 0:
        h = batch_norm(train)(h)
      h = nn.leaky_relu(h, 0.2)
      if i == 0:
        for _ in range(self.extra_layers):
          h = nn.leaky_relu(batch_norm(train)(layer(Conv(w, (3, 3), impl=self.conv_impl), h)), 0.2)
    h = h.reshape(x.shape[0], -1)
    logits = layer(nn.Dense(1, use_bias=False, kernel_init=DCGAN_INIT), h)[:, 0]
    return ClassOutput(self.conditioning, self.num_classes, self.spectral_norm)(logits, h, labels, train)

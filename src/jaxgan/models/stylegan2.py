"""StyleGAN2's players (Karras et al., 2020, "Analyzing and Improving the Image Quality of StyleGAN"), with the
layers of the StyleGAN2-ADA release (Karras et al., 2020; the configs/cifar10_stylegan2_ada recipe).

G = synthesis(mapping(z, labels)):
  mapping     z normalised (and a class's embedding, normalised, joined), then `mapping_layers` dense layers
              at 1/100 the learning rate, to w [B, style_dim]; training keeps w_avg, the EMA of w (0.995), in
              the batch_stats collection, and with psi < 1 w is pulled toward it (StyleGAN's truncation trick);
  synthesis   a learned 4x4 constant, two modulated 3x3 convolutions a resolution (one at 4x4), the first of
              each resolution above 4 upsampling 2x with the [1, 3, 3, 1] filter; each w_i scales the input
              channels of its layer (modulation), the output channels then divided by the norm of the scaled
              kernel (demodulation), noise added (a learned strength a layer), bias, leaky ReLU 0.2 times
              sqrt(2); a skip generator: every resolution's to-RGB (a 1x1 modulated convolution without
              demodulation) added to the upsampled image so far. num_ws styles w_i, one a layer and the last
              to-RGB; style mixing (probability `style_mixing` in training) takes the styles from a cutoff on
              from a second latent's w.
D: from-RGB 1x1 at the image's side, then a block a resolution (3x3 conv, 3x3 conv down 2x), with `residual`
  a 1x1 down skip and the sum scaled by sqrt(1/2) (the release's 'resnet'; 'orig' without); at 4x4 the
  minibatch standard deviation (groups of up to `mbstd_group` samples, one channel), a 3x3 conv, a dense layer
  to features phi(x) and the output layer. A projection D maps the label through its own mapping network to
  c [B, C] and outputs <out(phi(x)), c> / sqrt(C), as the release does; acgan's and concat's class terms as
  jaxgan.models.conditioning's.
Every weight is stored N(0, 1) (divided by its learning-rate multiplier) and scaled at run time by 1/sqrt(fan_in)
(equalised learning rate). Channels at side r: min(64 width / r, width), width 512 the release's fmaps=1.
Left out: the release's float16 layers and their activation clamp (bfloat16 is model.compute_dtype).
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.config import Conditioning
from jaxgan.models.conditioning import ClassOutput, joined
from jaxgan.models.conv import Impl, conv, fir_filter, fir_resample

_TAPS = (1.0, 3.0, 3.0, 1.0)
_SLOPE = 0.2
_W_AVG_BETA = 0.995


def _lrelu(x: jax.Array) -> jax.Array:
  return nn.leaky_relu(x, _SLOPE) * math.sqrt(2)


def _normalised(x: jax.Array) -> jax.Array:
  """x over the root mean square of its last axis (the release's normalize_2nd_moment)."""
  return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + 1e-8)


def _standard(scale: float = 1.0) -> nn.initializers.Initializer:
  return lambda key, shape, dtype=jnp.float32: scale * jax.random.normal(key, shape, dtype)


def _channels(side: int, width: int) -> int:
  return min(64 * width // side, width)


def _sides(resolution: int) -> list[int]:
  sides = [4 * 2**i for i in range(round(math.log2(resolution)) - 1)]
  if resolution < 8 or sides[-1] != resolution:
    raise ValueError(f'model.architecture=stylegan2 needs a power-of-two image side of 8 or more, got {resolution}')
  return sides


class Dense(nn.Module):
  """A dense layer with an equalised learning rate: kernel N(0, 1 / m^2) used times m / sqrt(fan_in), bias times
  m, for the learning-rate multiplier m; leaky ReLU 0.2 times sqrt(2) after it if `activate`."""

  features: int
  activate: bool = False
  bias_init: float = 0.0
  lr_multiplier: float = 1.0

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    m = self.lr_multiplier
    kernel = self.param('kernel', _standard(1 / m), (x.shape[-1], self.features)).astype(x.dtype)
    bias = self.param('bias', nn.initializers.constant(self.bias_init), (self.features,)).astype(x.dtype)
    y = x @ kernel * (m / math.sqrt(x.shape[-1])) + bias * m
    return _lrelu(y) if self.activate else y


class EqualConv(nn.Module):
  """D's convolution with an equalised learning rate: kernel N(0, 1) used times 1/sqrt(fan_in); with `down`, the
  input filtered by [1, 3, 3, 1] first and the convolution strided 2x (a 1x1 one on the filtered-down input)."""

  features: int
  size: int
  activate: bool = True
  use_bias: bool = True
  down: bool = False
  impl: Impl = 'auto'

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    k = self.size
    kernel = self.param('kernel', _standard(), (k, k, x.shape[-1], self.features)).astype(x.dtype)
    kernel = kernel / math.sqrt(k * k * x.shape[-1])
    if self.down and k == 1:
      y = conv(fir_resample(x, _TAPS, up=False), kernel, (1, 1), 'SAME', self.impl)
    elif self.down:  # blurred with the padding that lands the strided valid convolution on H / 2
      pad = (len(_TAPS) - 2 + k - 1) // 2
      y = conv(fir_filter(x, _TAPS, (pad, pad)), kernel, (2, 2), 'VALID', self.impl)
    else:
      y = conv(x, kernel, (1, 1), 'SAME', self.impl)
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros, (self.features,)).astype(y.dtype)
    return _lrelu(y) if self.activate else y


class MappingNetwork(nn.Module):
  """z [B, Z] (Z may be 0: labels alone, as D's label mapping) and labels [B] to w [B, features]."""

  features: int = 512
  layers: int = 8
  num_classes: int = 0
  track_average: bool = False  # keep w_avg (G's mapping)

  @nn.compact
  def __call__(
    self, z: jax.Array | None, labels: jax.Array | None, train: bool, psi: float = 1.0, update: bool = True
  ) -> jax.Array:
    parts = [] if z is None else [_normalised(z)]
    if self.num_classes:
      codes = jax.nn.one_hot(labels, self.num_classes, dtype=jnp.float32 if z is None else z.dtype)
      parts.append(_normalised(Dense(self.features, name='embed')(codes)))
    w = jnp.concatenate(parts, axis=-1)
    for i in range(self.layers):
      w = Dense(self.features, activate=True, lr_multiplier=0.01, name=f'fc{i}')(w)
    if not self.track_average:
      return w
    w_avg = self.variable('batch_stats', 'w_avg', jnp.zeros, (self.features,), jnp.float32)
    if train and update and not self.is_initializing():
      w_avg.value = jnp.mean(w, axis=0).astype(jnp.float32) * (1 - _W_AVG_BETA) + _W_AVG_BETA * w_avg.value
    if psi != 1:
      w = w_avg.value.astype(w.dtype) + psi * (w - w_avg.value.astype(w.dtype))
    return w


class ModulatedConv(nn.Module):
  """A synthesis layer: x [B, H, W, C] (upsampled 2x first if `up`) convolved with the kernel scaled by the style
  affine(w) [B, C] on its input channels, demodulated (conv layers) or not (to-RGB); noise and bias after."""

  features: int
  size: int = 3
  up: bool = False
  demodulate: bool = True
  impl: Impl = 'auto'

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array, train: bool) -> jax.Array:
    fan_in = self.size * self.size * x.shape[-1]
    styles = Dense(x.shape[-1], bias_init=1.0, name='affine')(w)
    kernel = self.param('kernel', _standard(), (self.size, self.size, x.shape[-1], self.features)).astype(x.dtype)
    if not self.demodulate:
      styles = styles / math.sqrt(fan_in)
    if self.up:
      x = fir_resample(x, _TAPS, up=True)
    # Modulating the kernel is scaling the input channels; demodulating it, scaling the output channels.
    y = conv(x * styles[:, None, None, :], kernel, (1, 1), 'SAME', self.impl)
    if self.demodulate:
      norms = jnp.square(styles) @ jnp.sum(jnp.square(kernel), axis=(0, 1))  # [B, F]
      y = y * jax.lax.rsqrt(norms + 1e-8)[:, None, None, :]
      strength = self.param('noise_strength', nn.initializers.zeros, ()).astype(y.dtype)
      shape = (y.shape[0], *y.shape[1:3], 1)
      # Training draws fresh noise; inference adds a fixed map drawn at initialisation (the release's
      # noise_mode='const'), kept with the batch statistics.
      fixed = self.variable('batch_stats', 'noise_const', lambda: jax.random.normal(self.make_rng('params'), shape[1:]))
      noise = jax.random.normal(self.make_rng('noise'), shape, y.dtype) if train else fixed.value.astype(y.dtype)
      y = y + strength * noise
    y = y + self.param('bias', nn.initializers.zeros, (self.features,)).astype(y.dtype)
    return _lrelu(y) if self.demodulate else y


class StyleGAN2Generator(nn.Module):
  """StyleGAN2's generator: z [B, latent_dim] (and labels [B]) to images [B, H, H, C].

  Training (train=True) draws the noise inputs and style mixing from the 'noise' RNG stream."""

  resolution: int
  channels: int
  width: int = 512
  style_dim: int = 512
  mapping_layers: int = 8
  style_mixing: float = 0.0
  num_classes: int = 0
  conv_impl: Impl = 'auto'

  def setup(self) -> None:
    self.mapping = MappingNetwork(self.style_dim, self.mapping_layers, self.num_classes, track_average=True)
    self.synthesis = SynthesisNetwork(self.resolution, self.channels, self.width, self.conv_impl)

  @property
  def num_ws(self) -> int:
    return 2 * len(_sides(self.resolution))

  def styles(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True, psi: float = 1.0) -> jax.Array:
    """The styles ws [B, num_ws, style_dim] of latents z: the mapping's w, mixed with a second latent's at a
    random cutoff with probability style_mixing in training."""
    w = self.mapping(z, labels, train, psi)
    ws = jnp.repeat(w[:, None], self.num_ws, axis=1)
    if not (train and self.style_mixing):
      return ws
    cutoff_key, coin_key, z_key = jax.random.split(self.make_rng('noise'), 3)
    cutoff = jax.random.randint(cutoff_key, (), 1, self.num_ws)
    cutoff = jnp.where(jax.random.uniform(coin_key) < self.style_mixing, cutoff, self.num_ws)
    other = self.mapping(jax.random.normal(z_key, z.shape, z.dtype), labels, train, psi, update=False)
    return jnp.where((jnp.arange(self.num_ws) >= cutoff)[None, :, None], other[:, None], ws)

  def synthesize(self, ws: jax.Array, train: bool = True) -> jax.Array:
    """Images [B, H, H, C] from styles ws [B, num_ws, style_dim]."""
    return self.synthesis(ws, train)

  def __call__(self, z: jax.Array, labels: jax.Array | None = None, train: bool = True, psi: float = 1.0) -> jax.Array:
    return self.synthesis(self.styles(z, labels, train, psi), train)


class SynthesisNetwork(nn.Module):
  """ws [B, num_ws, style_dim] to images: the constant, two modulated convs a side, a skip image of to-RGBs."""

  resolution: int
  channels: int
  width: int
  conv_impl: Impl = 'auto'

  @nn.compact
  def __call__(self, ws: jax.Array, train: bool) -> jax.Array:
    sides = _sides(self.resolution)
    const = self.param('const', _standard(), (4, 4, _channels(4, self.width))).astype(ws.dtype)
    x, image, i = jnp.broadcast_to(const, (ws.shape[0], *const.shape)), None, 0
    for side in sides:
      features = _channels(side, self.width)
      if side > 4:
        x = ModulatedConv(features, up=True, impl=self.conv_impl, name=f'b{side}_conv0')(x, ws[:, i], train)
        i += 1
      x = ModulatedConv(features, impl=self.conv_impl, name=f'b{side}_conv1')(x, ws[:, i], train)
      i += 1
      rgb = ModulatedConv(self.channels, 1, demodulate=False, impl=self.conv_impl, name=f'b{side}_torgb')
      y = rgb(x, ws[:, i], train)  # the next layer's style, as the release indexes them
      image = y if image is None else fir_resample(image, _TAPS, up=True) + y
    return image


def minibatch_stddev(x: jax.Array, group: int) -> jax.Array:
  """x [B, H, W, C] with one channel more: in groups of g samples (the largest g <= group dividing B, samples
  b, b + B/g, ... as the release groups them), the mean over the features of their standard deviation."""
  batch = x.shape[0]
  g = max(d for d in range(1, min(group, batch) + 1) if batch % d == 0)
  y = x.astype(jnp.float32).reshape(g, batch // g, *x.shape[1:])
  std = jnp.sqrt(jnp.var(y, axis=0) + 1e-8).mean(axis=(1, 2, 3))  # [B / g]
  channel = jnp.broadcast_to(jnp.tile(std, g)[:, None, None, None], (*x.shape[:3], 1)).astype(x.dtype)
  return jnp.concatenate([x, channel], axis=-1)


class StyleGAN2Discriminator(nn.Module):
  """StyleGAN2's discriminator: images [B, H, H, C] (and labels [B]) to logits [B] (acgan: and class logits)."""

  resolution: int
  width: int = 512
  residual: bool = True
  mbstd_group: int = 4
  conditioning: Conditioning = 'none'
  num_classes: int = 0
  conv_impl: Impl = 'auto'

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, train: bool = True) -> jax.Array | tuple:
    sides = _sides(self.resolution)
    impl = self.conv_impl
    h = joined(x, labels, self.num_classes) if self.conditioning == 'concat' else x
    h = EqualConv(_channels(self.resolution, self.width), 1, impl=impl, name='fromrgb')(h)
    for side in reversed(sides[1:]):
      features, out = _channels(side, self.width), _channels(side // 2, self.width)
      y = EqualConv(features, 3, impl=impl, name=f'b{side}_conv0')(h)
      y = EqualConv(out, 3, down=True, impl=impl, name=f'b{side}_conv1')(y)
      if self.residual:
        skip = EqualConv(out, 1, activate=False, use_bias=False, down=True, impl=impl, name=f'b{side}_skip')(h)
        y = (y + skip) * math.sqrt(0.5)
      h = y
    features = _channels(4, self.width)
    h = EqualConv(features, 3, impl=impl, name='b4_conv')(minibatch_stddev(h, self.mbstd_group))
    phi = Dense(features, activate=True, name='b4_fc')(h.reshape(h.shape[0], -1))
    if self.conditioning == 'projection':
      c = MappingNetwork(features, num_classes=self.num_classes, name='label_mapping')(None, labels, train)
      return jnp.sum(Dense(features, name='b4_out')(phi) * c, axis=-1) / math.sqrt(features)
    logits = Dense(1, name='b4_out')(phi)[:, 0]
    return ClassOutput(self.conditioning, self.num_classes)(logits, phi, labels, train)

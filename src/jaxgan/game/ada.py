"""Adaptive discriminator augmentation (ADA; Karras et al., 2020, "Training Generative Adversarial Networks with
Limited Data").

D sees every image, real and generated alike, through one pipeline of
transformations, each applied to each image on its own with probability p
(the paper's 'bgc': blit, geometric, colour):

  blit       x-flip; rotation by a multiple of 90 degrees; integer translation, up to 1/8 of the side
  geometric  isotropic scaling by 2^N(0, 0.2^2); rotation U(-pi, pi), before and after the anisotropic
             scaling, each with probability 1 - sqrt(1 - p); anisotropic scaling 2^N(0, 0.2^2);
             fractional translation N(0, 0.125^2) of the side
  colour     brightness N(0, 0.2^2); contrast 2^N(0, 0.5^2); luma flip; hue rotation U(-pi, pi);
             saturation 2^N(0, 1) (hue and saturation of RGB images only)

The geometric transformations compose into one affine map an image, sampled
bilinearly with mirrored borders (the release resamples with a wavelet filter
against aliasing); the colour ones into one 4x4 matrix on (r, g, b, 1), as in
the release. Everything is differentiable with respect to the images, so G's
gradient flows through.

p is steered by `adjust_p`: after every game.ada_interval rounds, r = E[sign D(x)]
over the real images D saw in them; p moves by sign(r - target) times the images
seen over game.ada_kimg thousand, so that it can go from 0 to 1 in ada_kimg
thousand images, and stays in [0, 1].
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.ndimage import map_coordinates

_LUMA = np.asarray([1.0, 1.0, 1.0, 0.0], np.float32) / math.sqrt(3)  # the luma axis of (r, g, b, 1); numpy, so
# that importing jaxgan starts no backend (jax.distributed.initialize must come first)


class _Draws:
  """Per-image random draws [B] from a key, one fresh key each: `coin` keeps a value with probability p."""

  def __init__(self, key: jax.Array, p: jax.Array, batch: int):
    self._keys = iter(jax.random.split(key, 24))
    self.p, self.batch = p, batch

  def coin(self, value: jax.Array, identity: float, p: jax.Array | None = None) -> jax.Array:
    """value where a coin of probability p (self.p by default) falls, identity elsewhere."""
    falls = jax.random.uniform(next(self._keys), (self.batch,)) < (self.p if p is None else p)
    return jnp.where(falls, value, identity)

  def normal(self, std: float) -> jax.Array:
    return std * jax.random.normal(next(self._keys), (self.batch,))

  def uniform(self, low: float, high: float, shape: tuple[int, ...] = ()) -> jax.Array:
    return jax.random.uniform(next(self._keys), (self.batch, *shape), minval=low, maxval=high)

  def bit(self) -> jax.Array:
    return jax.random.bernoulli(next(self._keys), 0.5, (self.batch,)).astype(jnp.float32)


def _affine(linear: jax.Array, shift: jax.Array | None = None) -> jax.Array:
  """[B, 3, 3] affine maps of 2-D points from [B, 2, 2] linear parts and [B, 2] shifts."""
  batch = linear.shape[0]
  shift = jnp.zeros((batch, 2)) if shift is None else shift
  top = jnp.concatenate([linear, shift[:, :, None]], axis=2)
  return jnp.concatenate([top, jnp.broadcast_to(jnp.asarray([[0.0, 0.0, 1.0]]), (batch, 1, 3))], axis=1)


def _rotation(angle: jax.Array) -> jax.Array:
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  return _affine(jnp.stack([jnp.stack([cos, -sin], -1), jnp.stack([sin, cos], -1)], -2))


def _scaling(sx: jax.Array, sy: jax.Array) -> jax.Array:
  zero = jnp.zeros_like(sx)
  return _affine(jnp.stack([jnp.stack([sx, zero], -1), jnp.stack([zero, sy], -1)], -2))


def _translation(tx: jax.Array, ty: jax.Array) -> jax.Array:
  return _affine(jnp.broadcast_to(jnp.eye(2), (tx.shape[0], 2, 2)), jnp.stack([tx, ty], -1))


def _geometry(key: jax.Array, p: jax.Array, batch: int, height: int, width: int) -> jax.Array:
  """[B, 3, 3] maps from each output pixel's (x, y) about the centre to the input's: the blit and geometric
  transformations, each drawn with probability p (the rotations with 1 - sqrt(1 - p))."""
  draw = _Draws(key, p, batch)
  side = jnp.asarray([width, height], jnp.float32)
  flip = draw.coin(1.0 - 2.0 * draw.bit(), 1.0)
  quarter = draw.coin(jnp.floor(draw.uniform(0.0, 4.0)), 0.0)
  shift = jnp.round(draw.uniform(-0.125, 0.125, (2,)) * side)
  shift = jnp.stack([draw.coin(shift[:, i], 0.0) for i in range(2)], -1)
  scale = draw.coin(2.0 ** draw.normal(0.2), 1.0)
  p_rotation = 1.0 - jnp.sqrt(1.0 - p)
  before = draw.coin(draw.uniform(-math.pi, math.pi), 0.0, p_rotation)
  aniso = draw.coin(2.0 ** draw.normal(0.2), 1.0)
  after = draw.coin(draw.uniform(-math.pi, math.pi), 0.0, p_rotation)
  fraction = jnp.stack([draw.coin(draw.normal(0.125) * side[i], 0.0) for i in range(2)], -1)
  maps = [
    _scaling(flip, jnp.ones(batch)),
    _rotation(quarter * math.pi / 2),
    _translation(shift[:, 0], shift[:, 1]),
    _scaling(scale, scale),
    _rotation(before),
    _scaling(aniso, 1.0 / aniso),
    _rotation(after),
    _translation(fraction[:, 0], fraction[:, 1]),
  ]
  # The draws are symmetric, so a transformation and its inverse have one law: the maps compose as they come.
  total = maps[0]
  for one in maps[1:]:
    total = total @ one
  return total


def _resample(images: jax.Array, maps: jax.Array) -> jax.Array:
  """images [B, H, W, C] with out(x, y) = in(maps @ (x, y, 1)) about the centre, bilinear, mirrored borders."""
  _, height, width, _ = images.shape
  ys, xs = jnp.meshgrid(jnp.arange(height) - (height - 1) / 2, jnp.arange(width) - (width - 1) / 2, indexing='ij')
  points = jnp.stack([xs, ys, jnp.ones_like(xs)])  # [3, H, W]

  def one(image: jax.Array, transform: jax.Array) -> jax.Array:
    x, y, _ = jnp.einsum('ij,jhw->ihw', transform, points)
    rows, cols = y + (height - 1) / 2, x + (width - 1) / 2
    sample = lambda channel: map_coordinates(channel, [rows, cols], order=1, mode='mirror')  # noqa: E731
    return jax.vmap(sample, in_axes=-1, out_axes=-1)(image)

  return jax.vmap(one)(images, maps.astype(images.dtype))


def _colour(key: jax.Array, p: jax.Array, batch: int) -> jax.Array:
  """[B, 4, 4] colour maps of (r, g, b, 1): brightness, contrast, luma flip, hue and saturation, each with
  probability p."""
  draw = _Draws(key, p, batch)
  eye = jnp.broadcast_to(jnp.eye(4), (batch, 4, 4))
  luma = jnp.outer(_LUMA, _LUMA)
  brightness = draw.coin(draw.normal(0.2), 0.0)
  shift = eye.at[:, :3, 3].set(brightness[:, None])
  contrast = draw.coin(2.0 ** draw.normal(0.5), 1.0)
  scale = eye * jnp.concatenate([jnp.broadcast_to(contrast[:, None], (batch, 3)), jnp.ones((batch, 1))], 1)[:, None]
  flip = draw.coin(draw.bit(), 0.0)
  luma_flip = eye - 2.0 * flip[:, None, None] * luma
  angle = draw.coin(draw.uniform(-math.pi, math.pi), 0.0)
  axis = jnp.asarray([[0, -_LUMA[2], _LUMA[1], 0], [_LUMA[2], 0, -_LUMA[0], 0], [-_LUMA[1], _LUMA[0], 0, 0], [0] * 4])
  cos, sin = jnp.cos(angle)[:, None, None], jnp.sin(angle)[:, None, None]
  hue = luma + cos * (jnp.eye(4) - luma) + sin * axis  # Rodrigues' rotation about the luma axis
  hue = hue.at[:, 3, 3].set(1.0)
  saturation = draw.coin(2.0 ** draw.normal(1.0), 1.0)[:, None, None]
  saturate = luma + (jnp.eye(4) - luma) * saturation
  saturate = saturate.at[:, 3, 3].set(1.0)
  return saturate @ hue @ luma_flip @ scale @ shift


def ada_augment(key: jax.Array, images: jax.Array, p: jax.typing.ArrayLike) -> jax.Array:
  """ADA's augmentation of images [B, H, W, C] in [-1, 1], each transformation applied with probability p (a
  traced scalar); the result has the images' shape and dtype. Grey images (C = 1) take the colour map's mean
  over the channels, RGB ones the whole map; other channel counts the geometric transformations only."""
  batch, height, width, channels = images.shape
  p = jnp.asarray(p, jnp.float32)
  geometry_key, colour_key = jax.random.split(key)
  images = _resample(images, _geometry(geometry_key, p, batch, height, width))
  colour = _colour(colour_key, p, batch).astype(images.dtype)
  if channels == 3:
    return jnp.einsum('bij,bhwj->bhwi', colour[:, :3, :3], images) + colour[:, None, None, :3, 3]
  if channels == 1:
    grey = colour[:, :3].mean(axis=1)  # [B, 4]: a grey level's gain (the sum of the first three) and offset
    return images * grey[:, None, None, :3].sum(-1, keepdims=True) + grey[:, None, None, 3:]
  return images


def adjust_p(p: jax.Array, signs: jax.Array, seen: jax.Array, target: float, kimg: float) -> jax.Array:
  """ADA's new p from the sum of sign D(x) over the `seen` real images since the last adjustment."""
  step = jnp.sign(signs / jnp.maximum(seen, 1.0) - target) * seen / (kimg * 1000.0)
  return jnp.clip(p + step, 0.0, 1.0)

"""Transformations of what the discriminator sees.

- `diff_augment`: DiffAugment (Zhao et al., 2020, "Differentiable Augmentation
  for Data-Efficient GAN Training"), random colour, translation and cutout that
  G's gradient flows through. Apply the same policy to real and generated
  images before D.
- `flip_and_translate`: the transformation of consistency regularisation
  (bCR, jaxgan.game.regularisers).
- `pack`: PacGAN packing (Lin et al., 2018), D judges m samples at a time.
- `instance_noise`: Gaussian noise added to D's inputs (Sønderby et al., 2017;
  Arjovsky & Bottou, 2017).

All are pure functions of a key and an array, usable under `jax.jit` and
`jax.vmap`, differentiable with respect to the images, and they keep the
input's float dtype (float32 or bfloat16).
"""

from collections.abc import Callable, Sequence
from typing import get_args

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxgan.config import Augmentation

AUGMENTATIONS: tuple[Augmentation, ...] = get_args(Augmentation)


def _translation_limit(side: int) -> int:
  """The largest shift along an axis of `side` pixels: 1/8 of it, rounded."""
  return int(side * 0.125 + 0.5)


def _cutout_size(side: int) -> int:
  """The cutout's extent along an axis of `side` pixels: 1/2 of it, rounded."""
  return int(side * 0.5 + 0.5)


def _per_example(values: jax.Array, dtype: jnp.dtype) -> jax.Array:
  return values.astype(dtype)[:, None, None, None]


def _color_factors(key: jax.Array, batch: int) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Draws the colour factors, float32 [B] each: brightness, saturation, contrast."""
  k_brightness, k_saturation, k_contrast = jax.random.split(key, 3)
  brightness = jax.random.uniform(k_brightness, (batch,), minval=-0.5, maxval=0.5)
  saturation = jax.random.uniform(k_saturation, (batch,), minval=0.0, maxval=2.0)
  contrast = jax.random.uniform(k_contrast, (batch,), minval=0.5, maxval=1.5)
  return brightness, saturation, contrast


def _adjust_color(images: jax.Array, brightness: jax.Array, saturation: jax.Array, contrast: jax.Array) -> jax.Array:
  """Adds brightness, then scales deviations from the pixel's and the image's mean."""
  dtype = images.dtype
  x = images + _per_example(brightness, dtype)
  mean = jnp.mean(x, axis=-1, keepdims=True)  # [B, H, W, 1]
  x = (x - mean) * _per_example(saturation, dtype) + mean
  mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)  # [B, 1, 1, 1]
  return (x - mean) * _per_example(contrast, dtype) + mean


def _translation_offsets(key: jax.Array, batch: int, height: int, width: int) -> tuple[jax.Array, jax.Array]:
  """Draws int32 [B] shifts (down, right), each uniform in [-s, s] for its axis."""
  k_rows, k_cols = jax.random.split(key)
  s_rows, s_cols = _translation_limit(height), _translation_limit(width)
  rows = jax.random.randint(k_rows, (batch,), -s_rows, s_rows + 1)
  cols = jax.random.randint(k_cols, (batch,), -s_cols, s_cols + 1)
  return rows, cols


def _translate(images: jax.Array, rows: jax.Array, cols: jax.Array) -> jax.Array:
  """Moves each image's content down by rows[b] and right by cols[b], filling with zeros.

  out[b, i, j] = images[b, i - rows[b], j - cols[b]], zero where that is outside.
  """
  _, height, width, _ = images.shape
  source_rows = jnp.arange(height)[None, :] - rows[:, None]  # [B, H]
  source_cols = jnp.arange(width)[None, :] - cols[:, None]  # [B, W]
  inside = ((source_rows >= 0) & (source_rows < height))[:, :, None] & ((source_cols >= 0) & (source_cols < width))[
    :, None, :
  ]  # [B, H, W]
  batch_index = jnp.arange(images.shape[0])[:, None, None]
  moved = images[
    batch_index,
    jnp.clip(source_rows, 0, height - 1)[:, :, None],
    jnp.clip(source_cols, 0, width - 1)[:, None, :],
  ]  # [B, H, W, C]
  return jnp.where(inside[..., None], moved, 0)


def _cutout_corners(key: jax.Array, batch: int, height: int, width: int) -> tuple[jax.Array, jax.Array]:
  """Draws int32 [B] top-left corners of the cutout; they may lie outside the image.

  As the authors' code: the centre is uniform over [0, side] for an even cutout
  size and over [0, side - 1] for an odd one, and the corner is the centre less
  half the size, so the square always covers at least half its rows and columns.
  """
  k_rows, k_cols = jax.random.split(key)
  size_rows, size_cols = _cutout_size(height), _cutout_size(width)
  centre_rows = jax.random.randint(k_rows, (batch,), 0, height + 1 - size_rows % 2)
  centre_cols = jax.random.randint(k_cols, (batch,), 0, width + 1 - size_cols % 2)
  return centre_rows - size_rows // 2, centre_cols - size_cols // 2


def _cut_out(images: jax.Array, top: jax.Array, left: jax.Array) -> jax.Array:
  """Zeroes rows [top, top + size) and columns [left, left + size) of each image."""
  _, height, width, _ = images.shape
  row = jnp.arange(height)[None, :]
  col = jnp.arange(width)[None, :]
  in_rows = (row >= top[:, None]) & (row < top[:, None] + _cutout_size(height))  # [B, H]
  in_cols = (col >= left[:, None]) & (col < left[:, None] + _cutout_size(width))  # [B, W]
  inside = in_rows[:, :, None] & in_cols[:, None, :]  # [B, H, W]
  return jnp.where(inside[..., None], 0, images)


def _color(key: jax.Array, images: jax.Array) -> jax.Array:
  return _adjust_color(images, *_color_factors(key, images.shape[0]))


def _translation(key: jax.Array, images: jax.Array) -> jax.Array:
  return _translate(images, *_translation_offsets(key, *images.shape[:3]))


def _cutout(key: jax.Array, images: jax.Array) -> jax.Array:
  return _cut_out(images, *_cutout_corners(key, *images.shape[:3]))


_STAGES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
  'color': _color,
  'translation': _translation,
  'cutout': _cutout,
}


def diff_augment(key: jax.Array, images: ArrayLike, policy: Sequence[str]) -> jax.Array:
  """DiffAugment: random colour, translation and cutout, each example drawn apart.

  As the authors' released code, for images in [-1, 1]:
  'color' adds U(-0.5, 0.5) (brightness), then scales each pixel's deviation
  from its channel mean by U(0, 2) (saturation), then the deviation from the
  image mean by U(0.5, 1.5) (contrast). 'translation' shifts each axis by an
  integer uniform in [-s, s], s = int(side / 8 + 0.5), filling with zeros.
  'cutout' zeroes a square of side int(side / 2 + 0.5) (per axis, so a
  rectangle on non-square images) at a random place, clipped at the borders.

  Stage i of the policy draws from `jax.random.fold_in(key, i)`, so the same key
  gives the same result. `policy` must be static under `jax.jit`.

  Args:
    key: a PRNG key.
    images: [B, H, W, C] floating images.
    policy: names from `AUGMENTATIONS`, applied in the given order.

  Returns:
    The augmented [B, H, W, C] images, in the dtype of `images`.

  Raises:
    ValueError: on an unknown name or images that are not 4-D.
  """
  if isinstance(policy, str):
    raise ValueError(f'policy must be a sequence of names, not the string {policy!r}; use a tuple such as ("color",)')
  for name in policy:
    if name not in _STAGES:
      raise ValueError(f'unknown augmentation {name!r}; choose from {", ".join(AUGMENTATIONS)}')
  images = jnp.asarray(images)
  if images.ndim != 4:
    raise ValueError(f'DiffAugment needs images [B, H, W, C], got shape {images.shape}')
  for index, name in enumerate(policy):
    images = _STAGES[name](jax.random.fold_in(key, index), images)
  return images


def flip_and_translate(key: jax.Array, images: jax.Array) -> jax.Array:
  """Each image [B, H, W, C] x-flipped with probability 1/2, then translated as DiffAugment's 'translation'
  (consistency regularisation's transformation)."""
  flip_key, shift_key = jax.random.split(key)
  flips = jax.random.bernoulli(flip_key, 0.5, (images.shape[0],))[:, None, None, None]
  return _translation(shift_key, jnp.where(flips, images[:, :, ::-1], images))


def pack(x: ArrayLike, m: int) -> jax.Array:
  """PacGAN packing: concatenates consecutive groups of m samples on the last axis.

  Samples b*m, ..., b*m + m - 1 become packed sample b, in that order, so
  [B, D] points become [B / m, D * m] and [B, H, W, C] images [B / m, H, W, C * m].

  Args:
    x: [B, ..., D] samples.
    m: the number of samples per pack; 1 returns `x` unchanged.

  Returns:
    [B / m, ..., D * m] packed samples.

  Raises:
    ValueError: if m < 1, x has fewer than 2 axes, or B is not divisible by m.
  """
  x = jnp.asarray(x)
  if m < 1:
    raise ValueError(f'pack needs m >= 1, got {m}')
  if x.ndim < 2:
    raise ValueError(f'pack needs samples [B, ..., D], got shape {x.shape}')
  if m == 1:
    return x
  batch = x.shape[0]
  if batch % m:
    raise ValueError(f'cannot pack a batch of {batch} in groups of {m}: {batch} is not divisible by {m}')
  groups = x.reshape(batch // m, m, *x.shape[1:])  # [B / m, m, ..., D]
  return jnp.moveaxis(groups, 1, -2).reshape(batch // m, *x.shape[1:-1], m * x.shape[-1])


def instance_noise(key: jax.Array, x: ArrayLike, std: float) -> jax.Array:
  """Adds N(0, std^2) noise to D's inputs.

  Args:
    key: a PRNG key.
    x: floating samples of any shape.
    std: the noise's standard deviation; 0 returns `x` unchanged. May be a
      traced scalar (an annealed schedule under `jax.jit`).

  Returns:
    x + std * N(0, I), with the shape and dtype of `x`.

  Raises:
    ValueError: if a concrete std is negative.
  """
  x = jnp.asarray(x)
  if isinstance(std, (int, float)):
    if std < 0:
      raise ValueError(f'instance noise needs std >= 0, got {std}')
    if std == 0:
      return x
  noise = jax.random.normal(key, x.shape, x.dtype)
  return x + jnp.asarray(std, x.dtype) * noise

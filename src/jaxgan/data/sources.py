"""Sources of real samples, chosen by `data.source` (`jaxgan-train --data`).

  normal                 N(mean, std^2) in one dimension (known density);
  ring8, grid25          the 2-D Gaussian mixtures of the mode-collapse protocol
                         (jaxgan.data.mixtures), sampled on the device;
  digits                 scikit-learn's 1,797 handwritten digits, 8x8, no download;
  FILE.npz               `images` uint8 [N, H, W] or [N, H, W, C], and optional integer `labels` [N];
  DIR                    a folder of PNG / JPEG files;
  tfds:NAME[:SPLIT]      an image dataset of tensorflow-datasets, read with
                         `tfds.data_source` (no TensorFlow needed to read).

Folders and tfds splits are decoded, cropped and resized once per resolution
into the preparation cache (jaxgan.data.prepared) and mapped from there; npz files
and digits are held in memory. jaxgan.data.pipeline takes images from there to the
device.

A source knows the shape of one sample and returns the batches of any range of
steps, `batches(start, num_steps, batch_size)` -> float32 [num_steps,
batch_size, *sample_shape] (a NumPy array, or a jax.Array made on the device),
images scaled to [-1, 1]. Batch t depends only on the seed and t (each epoch
is a fresh seeded permutation), so the data position is the step itself: a
resumed run reads exactly what an uninterrupted one does, whatever the chunking.
"""

import functools
import os
import socket
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxgan.config import DataConfig
from jaxgan.data import mixtures
from jaxgan.data.prepared import prepared
from jaxgan.files import quiet_libraries


class DataError(ValueError):
  """A data source that cannot be read or used."""


class Source(Protocol):
  sample_shape: tuple[int, ...]

  def batches(self, start: int, num_steps: int, batch_size: int) -> np.ndarray | jax.Array: ...


def normal_pdf(x: ArrayLike, mean: float, std: float) -> jax.Array:
  """Density of N(mean, std^2) at x."""
  return jnp.exp(-0.5 * ((jnp.asarray(x) - mean) / std) ** 2) / (std * jnp.sqrt(2 * jnp.pi))


class NormalSource:
  """N(mean, std^2) in one dimension, a source whose density is known."""

  sample_shape = (1,)

  def __init__(self, mean: float, std: float, seed: int):
    self.mean, self.std, self.seed = mean, std, seed

  def batches(self, start: int, num_steps: int, batch_size: int) -> np.ndarray:
    steps = [
      np.random.default_rng((self.seed, step)).standard_normal((batch_size, 1))
      for step in range(start, start + num_steps)
    ]
    return (self.mean + self.std * np.stack(steps)).astype(np.float32)

  def sample(self, key: jax.Array, num: int) -> jax.Array:
    """num samples [num, 1] drawn with a JAX key, for evaluation."""
    return self.mean + self.std * jax.random.normal(key, (num, 1))

  def density(self, x: jax.Array) -> jax.Array:
    return normal_pdf(x, self.mean, self.std)

  def support(self) -> tuple[float, float]:
    """An interval holding all but a negligible part (1e-15) of the mass."""
    return self.mean - 8 * self.std, self.mean + 8 * self.std


@functools.partial(jax.jit, static_argnums=(0, 3, 4))
def _mixture_batches(
  mixture: mixtures.Mixture, key: jax.Array, start: jax.Array, num_steps: int, batch_size: int
) -> jax.Array:
  """Batches [num_steps, batch_size, 2] of steps start.., batch t drawn with fold_in(key, t)."""
  steps = start + jnp.arange(num_steps)
  return jax.vmap(lambda t: mixtures.sample(mixture, jax.random.fold_in(key, t), batch_size))(steps)


class MixtureSource:
  """A 2-D Gaussian mixture of jaxgan.data.mixtures, a source whose density is known."""

  sample_shape = (2,)

  def __init__(self, mixture: mixtures.Mixture, seed: int):
    self.mixture, self.seed = mixture, seed

  def batches(self, start: int, num_steps: int, batch_size: int) -> jax.Array:
    """float32 [num_steps, batch_size, 2], made on the device by one jitted function."""
    return _mixture_batches(self.mixture, jax.random.key(self.seed), jnp.int32(start), num_steps, batch_size)

  def sample(self, key: jax.Array, num: int) -> jax.Array:
    """num samples [num, 2] drawn with a JAX key, for evaluation."""
    return mixtures.sample(self.mixture, key, num)

  def density(self, x: jax.Array) -> jax.Array:
    """The mixture's density [N] at points x [N, 2]."""
    return mixtures.density(self.mixture, x)


class ImageSource:
  """uint8 images [N, H, W, C] (in memory, or mapped from the preparation cache) and their labels, shuffled
  afresh each epoch with a seeded permutation."""

  def __init__(self, images: np.ndarray, seed: int, labels: np.ndarray | None = None):
    self.images, self.labels, self.seed = images, labels, seed
    self.size, self.sample_shape = len(images), tuple(images.shape[1:])

  def _permutation(self, epoch: int) -> np.ndarray:
    return np.random.default_rng((self.seed, epoch)).permutation(self.size)

  def indices(self, start: int, num_steps: int, batch_size: int) -> np.ndarray:
    """The images of steps start.. as indices [num_steps, batch_size] into self.images."""
    if batch_size > self.size:
      raise DataError(f'batch of {batch_size} is larger than the dataset ({self.size} images); lower train.batch_size')
    flat = np.arange(start * batch_size, (start + num_steps) * batch_size)
    epochs, positions = np.divmod(flat, self.size)
    indices = np.empty_like(flat)
    for epoch in np.unique(epochs):
      where = epochs == epoch
      indices[where] = self._permutation(int(epoch))[positions[where]]
    return indices.reshape(num_steps, batch_size)

  def batches(self, start: int, num_steps: int, batch_size: int) -> np.ndarray:
    return to_unit_range(self.images[self.indices(start, num_steps, batch_size)])


def to_unit_range(images: np.ndarray | jax.Array) -> np.ndarray | jax.Array:
  """uint8 images (numpy or jax) as float32 in [-1, 1], x / 127.5 - 1, the range players see; others unchanged."""
  return images.astype(np.float32) / 127.5 - 1.0 if images.dtype == np.uint8 else images


def subset(source: ImageSource, num: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
  """num images of `source` (all, if it holds fewer) chosen by a seeded permutation, in index order: uint8
  [n, H, W, C], and their labels [n] (None where the data has none)."""
  indices = np.sort(np.random.default_rng(seed).permutation(source.size)[:num])
  return source.images[indices], source.labels[indices] if source.labels is not None else None


def fit_image(image: np.ndarray, resolution: int) -> np.ndarray:
  """Center-crops to a square and resizes to resolution x resolution (0 keeps the size)."""
  from PIL import Image

  h, w = image.shape[:2]
  side = min(h, w)
  top, left = (h - side) // 2, (w - side) // 2
  image = image[top : top + side, left : left + side]
  if resolution and side != resolution:
    channels = image.shape[2]
    pil = Image.fromarray(image[..., 0] if channels == 1 else image)
    image = np.asarray(pil.resize((resolution, resolution), Image.Resampling.BICUBIC)).reshape(
      resolution, resolution, -1
    )
  return image


def as_nhwc(images: np.ndarray, origin: str) -> np.ndarray:
  """uint8 images [N, H, W] or [N, H, W, C] as [N, H, W, C]; DataError naming `origin` for anything else."""
  if images.dtype != np.uint8:
    raise DataError(f'{origin}: images must be uint8 in [0, 255], got {images.dtype}')
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise DataError(f'{origin}: images must be [N, H, W] or [N, H, W, C] with C 1 or 3, got shape {images.shape}')
  if len(images) == 0:
    raise DataError(f'{origin}: no images')
  return images


def _in_memory(
  images: np.ndarray, resolution: int, seed: int, origin: str, labels: np.ndarray | None = None
) -> ImageSource:
  images = as_nhwc(images, origin)
  if resolution and images.shape[1:3] != (resolution, resolution):
    images = np.stack([fit_image(image, resolution) for image in images])
  if labels is not None and (labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer)):
    raise DataError(
      f'{origin}: labels must be integers [{len(images)}], one per image, got {labels.dtype} {labels.shape}'
    )
  return ImageSource(images, seed, labels)


def _digits() -> tuple[np.ndarray, np.ndarray]:
  from sklearn.datasets import load_digits

  digits = load_digits()
  return np.round(digits.images * (255 / 16)).astype(np.uint8), digits.target  # [1797, 8, 8], 0..16 -> 0..255


def _npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
  if not zipfile.is_zipfile(path):  # np.load would take it for a pickle
    raise DataError(
      f'{path}: not a .npz file (not a readable zip archive); save one with numpy.savez(path, images=...)'
    )
  try:
    with np.load(path, allow_pickle=False) as archive:
      if 'images' not in archive.files:
        raise DataError(f'{path}: no array named images (found: {", ".join(archive.files) or "none"})')
      return archive['images'], archive['labels'] if 'labels' in archive.files else None
  except DataError:
    raise
  except Exception as e:  # zipfile, pickle and format errors: one line
    raise DataError(f'{path}: not a readable .npz file ({type(e).__name__}: {e})') from e


_IMAGE_SUFFIXES = {'.png', '.jpg', '.jpeg'}


_SIXTEEN_BIT_GREY = ('I;16', 'I;16L', 'I;16B', 'I')  # Pillow's modes of 16-bit grey PNGs


def _decode_file(file: Path, resolution: int, mode: str) -> tuple[np.ndarray, None]:
  from PIL import Image

  try:
    with Image.open(file) as image:
      if image.mode in _SIXTEEN_BIT_GREY:  # convert('L') would clip them at 255, not scale 0..65535 to 0..255
        levels = np.clip(np.asarray(image, np.float64), 0, 65535)
        pixels = Image.fromarray(np.round(levels / 257).astype(np.uint8)).convert(mode)
      else:
        pixels = image.convert(mode)
      return fit_image(np.asarray(pixels).reshape(image.height, image.width, -1), resolution), None
  except OSError as e:
    raise DataError(f'{file}: not a readable image ({e})') from e


def _folder(path: Path, resolution: int) -> tuple[np.ndarray, None]:
  """The folder's images, prepared once into the cache (jaxgan.data.prepared): grey if its first image is."""
  from PIL import Image

  files = sorted(f for f in path.rglob('*') if f.suffix.lower() in _IMAGE_SUFFIXES)
  if not files:
    raise DataError(f'{path}: no PNG or JPEG files')
  try:
    with Image.open(files[0]) as image:
      mode = 'L' if image.mode in ('L', 'LA', '1', *_SIXTEEN_BIT_GREY) else 'RGB'
  except OSError as e:
    raise DataError(f'{files[0]}: not a readable image ({e})') from e
  listing = [(str(f.relative_to(path)), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
  identity = {'folder': str(path.resolve()), 'files': listing, 'mode': mode, 'resolution': resolution}
  return _prepared(identity, files, functools.partial(_decode_file, resolution=resolution, mode=mode), str(path))


def _prepared(identity: dict, items: list, decode: Callable, origin: str) -> tuple[np.ndarray, np.ndarray | None]:
  try:
    return prepared(identity, items, decode, origin)
  except ValueError as e:  # DataError included
    raise DataError(str(e)) from e


def _online(host: str = 'storage.googleapis.com') -> bool:
  """Whether tensorflow-datasets' download host answers within seconds (offline, its retries take minutes)."""
  try:
    socket.create_connection((host, 443), timeout=5).close()
    return True
  except OSError:
    return False


def _tfds(spec: str, resolution: int, seed: int) -> ImageSource:
  """A split of tensorflow-datasets, prepared once into the cache (jaxgan.data.prepared)."""
  name, _, split = spec.partition(':')
  split = split or 'train'
  try:
    import tensorflow_datasets as tfds
  except ImportError as e:
    raise DataError(f"tfds:{spec} needs tensorflow-datasets: pip install 'jaxgan[tfds]'") from e
  way_out = (
    'prepare it where there is network (pip install "jaxgan[tfds]", TensorFlow needed) '
    'or train from local files: --data FILE.npz or --data DIR'
  )
  try:
    try:
      with quiet_libraries():  # tfds warns about the folders it looks in
        source = tfds.data_source(name, split=split, download=False)
    except Exception:  # not prepared here: download it, if there is a network to download from
      if not _online():
        raise DataError(f'tfds:{spec} is not prepared on this machine and there is no network; {way_out}') from None
      source = tfds.data_source(name, split=split)
    size = len(source)
    first = source[0]
  except DataError:
    raise
  except Exception as e:  # no network, unknown name, unprepared data: one line
    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise DataError(f'cannot read tfds:{spec} ({reason}); {way_out}') from e
  key = 'image' if 'image' in first else next((k for k, v in first.items() if getattr(v, 'ndim', 0) == 3), None)
  if key is None:
    raise DataError(f'tfds:{spec} has no image feature (features: {", ".join(first)})')

  labelled = 'label' in first and np.ndim(first['label']) == 0

  def decode(index: int) -> tuple[np.ndarray, int | None]:
    example = source[index]  # one item at a time: batched reads (__getitems__) fail under tfds' mock
    image = fit_image(as_nhwc(np.asarray(example[key])[None], f'tfds:{spec}')[0], resolution)
    return image, int(example['label']) if labelled else None

  info = getattr(source, 'dataset_info', None)
  identity = {
    'tfds': name,
    'split': split,
    'version': str(getattr(info, 'version', '')),
    'data_dir': str(getattr(info, 'data_dir', '')),
    'size': size,
    'resolution': resolution,
  }
  images, labels = _prepared(identity, range(size), decode, f'tfds:{spec}')
  return ImageSource(images, seed, labels)


def make_source(data: DataConfig, seed: int) -> Source:
  """The source that `data` describes, seeded with `seed`; raises DataError."""
  spec = data.source
  if spec == 'normal':
    return NormalSource(data.mean, data.std, seed)
  if spec in mixtures.MIXTURES:
    return MixtureSource(mixtures.MIXTURES[spec], seed)
  if spec == 'digits':
    images, labels = _digits()
    return _in_memory(images, data.resolution, seed, 'digits', labels)
  if spec.startswith('tfds:'):
    return _tfds(spec.removeprefix('tfds:'), data.resolution, seed)
  path = Path(os.path.expanduser(spec))
  if path.suffix == '.npz':
    if not path.is_file():
      raise DataError(f'{spec}: no such file')
    images, labels = _npz(path)
    return _in_memory(images, data.resolution, seed, spec, labels)
  if path.is_dir():
    return ImageSource(_folder(path, data.resolution)[0], seed)
  if path.exists():
    raise DataError(f'{spec}: not a data source; give a .npz file of images or a folder of PNG / JPEG files')
  if '/' in spec or path.suffix:
    raise DataError(f'{spec}: no such file or folder')
  raise DataError(
    f'unknown data source {spec!r}: use normal, ring8, grid25, digits, FILE.npz, an image folder or tfds:NAME[:SPLIT]'
  )

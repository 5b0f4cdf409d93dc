"""The preparation cache: images decoded, cropped and resized once per (source, resolution), not on every read.

An image folder or a tensorflow-datasets split is prepared on first use into
$JAXGAN_CACHE/data/KEY.npy (default ~/.cache/jaxgan/data/sources), a uint8 array
[N, H, W, C] that later runs map from disk in a moment; KEY hashes what
identifies the source (a folder's files with their sizes and modification
times; a tfds split's name, version and size), the resolution and
PREPARATION_VERSION. Beside it, KEY.json records that identity, the shape and
the sha256 of the array's bytes, and KEY.labels.npy the class labels where the
source has them. Files are written under temporary names and renamed, the
record last; a cache entry whose record is missing, from another version, or
whose bytes do not hash to the record's sha256 is prepared again (with a
one-line note), never trusted. Nothing is written beside the user's data.

The images are decoded by threads in Grain's pipeline (PIL releases the GIL),
with a progress bar.
"""

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

PREPARATION_VERSION = 2  # raise when the decoding, cropping or resizing changes (2: 16-bit grey PNGs scaled)


def cache_dir() -> Path:
  """$JAXGAN_CACHE, or ~/.cache/jaxgan: prepared data, classifiers and reference features."""
  return Path(os.environ.get('JAXGAN_CACHE', Path.home() / '.cache' / 'jaxgan')).expanduser()


def _sha256(path: Path) -> str:
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 24), b''):
      digest.update(chunk)
  return digest.hexdigest()


def _note(text: str) -> None:
  print(f'jaxgan: {text}', file=sys.stderr, flush=True)


def _load(stem: Path, identity: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None] | None:
  """The cached images (memory-mapped) and labels of `stem`, or None where there is no trustworthy entry."""
  record_path = stem.with_suffix('.json')
  if not record_path.exists():
    return None
  try:
    record = json.loads(record_path.read_text())
    images_path = stem.with_suffix('.npy')
    if record.get('identity') != identity:
      raise ValueError('its record is of another source or jaxgan version')
    if record.get('sha256') != _sha256(images_path):
      raise ValueError('its contents do not match its record')
    images = np.load(images_path, mmap_mode='r', allow_pickle=False)
    if images.dtype != np.uint8 or list(images.shape) != record['shape']:
      raise ValueError(f'uint8 {record["shape"]} recorded, {images.dtype} {list(images.shape)} found')
    labels = None
    if record.get('labels_sha256'):
      labels_path = stem.with_suffix('.labels.npy')
      if _sha256(labels_path) != record['labels_sha256']:
        raise ValueError('its labels do not match its record')
      labels = np.load(labels_path, allow_pickle=False)
    return images, labels
  except (OSError, ValueError, KeyError, TypeError) as e:
    _note(f'the prepared data {stem}.npy is not usable ({e}); preparing it again')
    return None


def _decoded(items: Sequence[Any], decode: Callable[[Any], tuple[np.ndarray, int | None]], origin: str):
  """(image, label) of every item in order, decoded by Grain's reading threads, with a progress bar."""
  import grain
  from tqdm.auto import tqdm

  threads = max(1, min(16, os.cpu_count() or 1))
  dataset = grain.MapDataset.source(items).map(decode)
  reading = dataset.to_iter_dataset(grain.ReadOptions(num_threads=threads, prefetch_buffer_size=4 * threads))
  bar = tqdm(total=len(items), unit='image', desc=f'preparing {origin}', file=sys.stderr, leave=False)
  with bar:
    for decoded in reading:
      bar.update()
      yield decoded


def prepared(
  identity: dict[str, Any],
  items: Sequence[Any],
  decode: Callable[[Any], tuple[np.ndarray, int | None]],
  origin: str,
) -> tuple[np.ndarray, np.ndarray | None]:
  """The images [N, H, W, C] uint8 (memory-mapped) and labels [N] (None where there are none) of `items`, each
  decoded by `decode(item)` -> (uint8 image [H, W, C], integer label or None), from the cache, or decoded there
  now. `identity` (JSON) names the source and resolution; decoded images must share one shape, or `decode`
  raises. Memory stays at one image: they are written into the cache file as they come. Raises ValueError
  for images of different sizes."""
  identity = json.loads(json.dumps({**identity, 'version': PREPARATION_VERSION}))  # as its record reads back
  key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]
  folder = cache_dir() / 'data'
  stem = folder / key
  cached = _load(stem, identity)
  if cached is not None:
    return cached
  folder.mkdir(parents=True, exist_ok=True)
  with tempfile.TemporaryDirectory(dir=folder, prefix=f'.{key}-') as scratch:
    images_path, labels_path = Path(scratch) / 'images.npy', Path(scratch) / 'labels.npy'
    images, labels = None, []
    for i, (image, label) in enumerate(_decoded(items, decode, origin)):
      if images is None:
        images = np.lib.format.open_memmap(images_path, mode='w+', dtype=np.uint8, shape=(len(items), *image.shape))
      if image.shape != images.shape[1:]:
        raise ValueError(
          f'{origin}: images of different sizes ({images.shape[1:]} and {image.shape}); set data.resolution to '
          'resize them'
        )
      images[i] = image
      labels.append(label)
    images.flush()
    record = {'identity': identity, 'shape': list(images.shape), 'sha256': _sha256(images_path)}
    del images
    if all(label is not None for label in labels):
      np.save(labels_path, np.asarray(labels, np.int64))
      record['labels_sha256'] = _sha256(labels_path)
      os.replace(labels_path, stem.with_suffix('.labels.npy'))
    os.replace(images_path, stem.with_suffix('.npy'))
    record_path = Path(scratch) / 'record.json'
    record_path.write_text(json.dumps(record, indent=1))
    os.replace(record_path, stem.with_suffix('.json'))  # last: the entry exists once its record does
  _note(f'prepared {origin} ({len(items)} images) into {stem}.npy; later runs read it from there')
  labels_path = stem.with_suffix('.labels.npy')
  return (
    np.load(stem.with_suffix('.npy'), mmap_mode='r'),
    np.load(labels_path) if 'labels_sha256' in record else None,
  )

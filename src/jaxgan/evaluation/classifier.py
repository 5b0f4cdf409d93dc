"""A small CNN trained on a labelled image dataset: the offline feature extractor for digits and MNIST.

Inception-v3 features mean little for 8x8 or 28x28 grey digits, and its weights
need a download. Here jaxgan trains its own extractor on the dataset's labels
(seconds on a CPU) and caches it: its penultimate features give a "classifier
FID", its predictions the classes a generator covers.

  classifier = load_or_train(images, labels, cache_dir=Path('~/.cache/jaxgan').expanduser(), data_key='digits')
  features, logits = classifier.embed(samples)  # samples in [-1, 1], [N, H, W, C]

Training is a pure function of the data and the seed (a seeded stratified
split, init, batches and shifts drawn with `fold_in(key, step)`), so the same
inputs give the same parameters, bit for bit, on the same machine.
"""

import dataclasses
import functools
import hashlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from jaxgan.data.sources import to_unit_range

CLASSIFIER_VERSION = 1  # bump when the architecture or the training changes: it is part of the cache key
_SMALLEST_SIDE = 4  # stop downsampling once a feature map's side is this small


class DomainClassifier(nn.Module):
  """A small CNN for images of 8x8 up to 64x64, 1 or 3 channels.

  A 3x3 conv of `width` channels, stride-2 3x3 convs (2 * width channels) while
  the side is above 4, one more 3x3 conv, a global average pool, a dense ReLU
  layer of `feature_dim` (the features) and the logits: 8x8 -> 4x4, 28x28 ->
  14, 7, 4. No batch norm, no dropout: inference is a pure function of the params.
  """

  num_classes: int
  width: int = 32
  feature_dim: int = 128

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Features [B, feature_dim] and logits [B, num_classes] of images x [B, H, W, C] in [-1, 1]."""
    h = nn.relu(nn.Conv(self.width, (3, 3))(x))
    side, channels = min(x.shape[1:3]), self.width
    while side > _SMALLEST_SIDE:
      channels = min(2 * channels, 2 * self.width)
      h = nn.relu(nn.Conv(channels, (3, 3), strides=(2, 2))(h))
      side = -(-side // 2)
    h = nn.relu(nn.Conv(channels, (3, 3))(h))
    h = jnp.mean(h, axis=(1, 2))  # [B, channels]
    features = nn.relu(nn.Dense(self.feature_dim)(h))
    return features, nn.Dense(self.num_classes)(features)


@functools.partial(jax.jit, static_argnums=0)
def _apply(module: DomainClassifier, params: dict, images: jax.Array) -> tuple[jax.Array, jax.Array]:
  return module.apply({'params': params}, images)


def _named(params: dict) -> list[tuple[str, Any]]:
  """The parameters' leaves in tree order with their names, such as 'Conv_0/kernel'."""
  return [('/'.join(str(k.key) for k in path), leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]]


@dataclasses.dataclass(frozen=True, eq=False)
class Classifier:
  """A trained DomainClassifier with what it was trained on."""

  params: dict
  num_classes: int
  image_shape: tuple[int, int, int]  # (H, W, C)
  accuracy: float  # on the held-out images; nan when none were held out
  num_train: int
  num_heldout: int
  version: int = CLASSIFIER_VERSION

  @property
  def module(self) -> DomainClassifier:
    return DomainClassifier(self.num_classes)

  @functools.cached_property
  def sha256(self) -> str:
    """sha256 of the parameters: their float32 bytes, leaf after leaf in tree order."""
    digest = hashlib.sha256()
    for _, leaf in _named(self.params):
      digest.update(np.ascontiguousarray(leaf, np.float32).tobytes())
    return digest.hexdigest()

  def features(self, images: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """Features [B, feature_dim] and logits [B, num_classes] of float images [B, H, W, C] in [-1, 1], jitted."""
    return _apply(self.module, self.params, jnp.asarray(images, jnp.float32))

  def embed(self, images: ArrayLike, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Features and logits (float32 NumPy) of any number of images, in batches of batch_size.

    Args:
      images: [N, H, W, C] floats in [-1, 1] (generator samples), or uint8 in [0, 255] (scaled here).
      batch_size: images per call; the last batch is padded, so one compilation serves all batches.

    Returns:
      features [N, feature_dim] and logits [N, num_classes].
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != self.image_shape:
      raise ValueError(
        f'images must be [N, {", ".join(map(str, self.image_shape))}] as the classifier was trained on, '
        f'got shape {images.shape}; resize them to its image_shape'
      )
    size = min(batch_size, len(images))
    features, logits = [], []
    for start in range(0, len(images), batch_size):
      batch = images[start : start + batch_size]
      batch = to_unit_range(batch).astype(np.float32)
      padded = np.concatenate([batch, np.zeros((size - len(batch), *self.image_shape), np.float32)])
      f, y = self.features(padded)
      features.append(np.asarray(f[: len(batch)]))
      logits.append(np.asarray(y[: len(batch)]))
    if not features:
      return np.zeros((0, self.module.feature_dim), np.float32), np.zeros((0, self.num_classes), np.float32)
    return np.concatenate(features), np.concatenate(logits)


def _check(images: np.ndarray, labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
  """images as uint8 [N, H, W, C] ([N, H, W] gains C = 1) and labels as int64 [N]; ValueError otherwise."""
  images = np.asarray(images)
  if images.dtype != np.uint8:
    raise ValueError(f'images must be uint8 in [0, 255], got {images.dtype}; convert with np.uint8 (not scaled floats)')
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or images.shape[-1] not in (1, 3) or min(images.shape[1:3], default=0) < 4:
    raise ValueError(f'images must be [N, H, W, C] with C 1 or 3 and sides >= 4, got shape {images.shape}')
  if labels is None:
    raise ValueError(f'labels are missing: give integer class labels [N] for the {len(images)} images')
  labels = np.asarray(labels)
  if labels.ndim != 1 or len(labels) != len(images) or labels.dtype.kind not in 'iu':
    raise ValueError(
      f'labels must be integers [N] matching the {len(images)} images, got shape {labels.shape} of {labels.dtype}'
    )
  if labels.min() < 0:
    raise ValueError(f'labels must be class indices >= 0, got {labels.min()}; map them to 0..num_classes-1')
  if len(np.unique(labels)) < 2:
    raise ValueError(f'labels must hold at least 2 classes to train a classifier, got only {np.unique(labels)}')
  return images, labels.astype(np.int64)


def _split(labels: np.ndarray, holdout_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """Seeded stratified split: indices (train, held out), each class keeping at least one training image."""
  rng = np.random.default_rng(seed)
  train, heldout = [], []
  for label in np.unique(labels):
    members = rng.permutation(np.flatnonzero(labels == label))
    count = min(int(round(holdout_fraction * len(members))), len(members) - 1)
    heldout.append(members[:count])
    train.append(members[count:])
  return np.sort(np.concatenate(train)), np.sort(np.concatenate(heldout))


def _shift(key: jax.Array, images: jax.Array, limit: int) -> jax.Array:
  """Moves each image by up to `limit` pixels along each axis, filling with the background (-1)."""
  _, height, width, _ = images.shape
  padded = jnp.pad(images, ((0, 0), (limit, limit), (limit, limit), (0, 0)), constant_values=-1.0)
  offsets = jax.random.randint(key, (images.shape[0], 2), 0, 2 * limit + 1)

  def crop(image: jax.Array, offset: jax.Array) -> jax.Array:
    return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (height, width, image.shape[-1]))

  return jax.vmap(crop)(padded, offsets)


@dataclasses.dataclass(frozen=True)
class _Training:
  """What a training step compiles in (hashable, so trainings alike share one compilation)."""

  module: DomainClassifier
  steps: int
  batch_size: int
  learning_rate: float
  shift: int  # the largest shift of the augmentation, in pixels

  def optimizer(self) -> optax.GradientTransformation:
    warmup, total = max(1, self.steps // 20), max(1, self.steps)
    return optax.adam(optax.warmup_cosine_decay_schedule(0.0, self.learning_rate, warmup, total))


@functools.partial(jax.jit, static_argnums=0, donate_argnums=(1, 2))
def _train_step(
  training: _Training,
  params: dict,
  opt_state: optax.OptState,
  key: jax.Array,
  step: jax.Array,
  images: jax.Array,  # [N, H, W, C] uint8, the training part
  labels: jax.Array,  # [N] int32
) -> tuple[dict, optax.OptState, jax.Array]:
  """One Adam step on a batch drawn with fold_in(key, step), shifted at random; returns the loss too."""
  k_batch, k_shift = jax.random.split(jax.random.fold_in(key, step))
  idx = jax.random.randint(k_batch, (training.batch_size,), 0, labels.shape[0])
  x = _shift(k_shift, to_unit_range(images[idx]), training.shift)

  def loss_fn(params: dict) -> jax.Array:
    logits = training.module.apply({'params': params}, x)[1]
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels[idx]).mean()

  loss, grads = jax.value_and_grad(loss_fn)(params)
  updates, opt_state = training.optimizer().update(grads, opt_state, params)
  return optax.apply_updates(params, updates), opt_state, loss


def train_classifier(
  images: np.ndarray,
  labels: np.ndarray,
  *,
  seed: int = 0,
  steps: int = 1000,
  batch_size: int = 64,
  learning_rate: float = 3e-3,
  holdout_fraction: float = 0.1,
) -> Classifier:
  """Trains a DomainClassifier on labelled images; deterministic for a seed.

  Adam with a warmup-cosine schedule on softmax cross-entropy, random shifts
  of up to side / 14 pixels (1 for 8x8, 2 for 28x28), batches drawn with
  replacement from the training part of a stratified split.

  Args:
    images: uint8 [N, H, W, C] (or [N, H, W]), C 1 or 3.
    labels: integer classes [N] in 0..num_classes-1.
    seed: seeds the split, the init, the batches and the shifts.
    steps: Adam steps.
    batch_size: images per step.
    learning_rate: the schedule's peak.
    holdout_fraction: the part of each class held out to measure accuracy.

  Returns:
    The Classifier, its `accuracy` measured on the held-out images.
  """
  images, labels = _check(images, labels)
  if not 0 <= holdout_fraction < 1:
    raise ValueError(f'holdout_fraction must be in [0, 1), got {holdout_fraction}')
  train_idx, heldout_idx = _split(labels, holdout_fraction, seed)
  module = DomainClassifier(int(labels.max()) + 1)
  training = _Training(module, steps, batch_size, learning_rate, shift=max(1, round(min(images.shape[1:3]) / 14)))
  init_key, key = jax.random.split(jax.random.key(seed))
  params = module.init(init_key, jnp.zeros((1, *images.shape[1:]), jnp.float32))['params']
  opt_state = training.optimizer().init(params)
  train_images, train_labels = jnp.asarray(images[train_idx]), jnp.asarray(labels[train_idx], jnp.int32)
  for step in range(steps):
    params, opt_state, loss = _train_step(training, params, opt_state, key, jnp.int32(step), train_images, train_labels)
  if steps and not np.isfinite(float(loss)):
    raise FloatingPointError(f'classifier training diverged (loss {float(loss)}); lower learning_rate')
  classifier = Classifier(
    params=jax.device_get(params),
    num_classes=module.num_classes,
    image_shape=tuple(images.shape[1:]),
    accuracy=float('nan'),
    num_train=len(train_idx),
    num_heldout=len(heldout_idx),
  )
  if len(heldout_idx):
    predicted = classifier.embed(images[heldout_idx])[1].argmax(-1)
    classifier = dataclasses.replace(classifier, accuracy=float(np.mean(predicted == labels[heldout_idx])))
  return classifier


def _cache_name(images: np.ndarray, labels: np.ndarray, data_key: str, seed: int) -> str:
  data = hashlib.sha256(np.ascontiguousarray(images).data)
  data.update(np.ascontiguousarray(labels, np.int64).data)
  key = f'{data_key}|v{CLASSIFIER_VERSION}|seed{seed}|{images.shape}|{data.hexdigest()}'
  return hashlib.sha256(key.encode()).hexdigest()[:16] + '.npz'


def _save(path: Path, classifier: Classifier) -> None:
  """Writes the classifier as an .npz (parameters under 'params/NAME'), atomically."""
  arrays = {f'params/{name}': np.asarray(leaf, np.float32) for name, leaf in _named(classifier.params)}
  fields = ('num_classes', 'image_shape', 'accuracy', 'num_train', 'num_heldout', 'version', 'sha256')
  arrays.update({name: np.asarray(getattr(classifier, name)) for name in fields})
  handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.stem}.', suffix='.tmp')
  try:
    with os.fdopen(handle, 'wb') as f:
      np.savez(f, **arrays)
    os.replace(temporary, path)
  finally:
    Path(temporary).unlink(missing_ok=True)


def _load(path: Path, num_classes: int, image_shape: tuple[int, ...]) -> Classifier:
  """The classifier saved at `path`; ValueError (or an I/O error) when it is not the one expected."""
  with path.open('rb') as f, np.load(f, allow_pickle=False) as saved:  # np.load leaks a path it fails to read
    if int(saved['version']) != CLASSIFIER_VERSION:
      raise ValueError(f'version {int(saved["version"])}, not {CLASSIFIER_VERSION}')
    if int(saved['num_classes']) != num_classes or tuple(saved['image_shape']) != image_shape:
      raise ValueError(f'saved for {int(saved["num_classes"])} classes of {tuple(saved["image_shape"])} images')
    expected = jax.eval_shape(DomainClassifier(num_classes).init, jax.random.key(0), jnp.zeros((1, *image_shape)))
    params = []
    for name, leaf in _named(expected['params']):
      value = saved[f'params/{name}']
      if value.shape != leaf.shape or value.dtype != np.float32:
        raise ValueError(f'parameter {name} is {value.dtype} {value.shape}, not float32 {leaf.shape}')
      params.append(value)
    classifier = Classifier(
      params=jax.tree.unflatten(jax.tree.structure(expected['params']), params),
      num_classes=num_classes,
      image_shape=image_shape,
      accuracy=float(saved['accuracy']),
      num_train=int(saved['num_train']),
      num_heldout=int(saved['num_heldout']),
    )
    if classifier.sha256 != str(saved['sha256']):
      raise ValueError('parameters do not match their saved sha256')
  return classifier


def load_or_train(
  images: np.ndarray, labels: np.ndarray, *, cache_dir: Path, data_key: str, seed: int = 0
) -> Classifier:
  """The classifier of these images and labels from `cache_dir`, trained and cached there on first use.

  The cache file is named by a hash of data_key, CLASSIFIER_VERSION, seed, the
  image shape and the images' and labels' bytes. A file that cannot be read or
  does not match (version, classes, shapes, parameter hash) is retrained and
  overwritten, with a warning.

  Args:
    images: uint8 [N, H, W, C] (or [N, H, W]).
    labels: integer classes [N].
    cache_dir: the folder of cached classifiers, created if missing.
    data_key: names the dataset (e.g. 'digits', 'mnist:train').
    seed: the training seed.

  Returns:
    The Classifier.
  """
  images, labels = _check(images, labels)
  cache_dir = Path(cache_dir)
  path = cache_dir / _cache_name(images, labels, data_key, seed)
  if path.exists():
    try:
      return _load(path, int(labels.max()) + 1, tuple(images.shape[1:]))
    except Exception as e:  # unreadable, truncated or foreign: never trusted
      reason = ' '.join(str(e).split())[:200]
      warnings.warn(f'classifier cache {path} is unusable ({type(e).__name__}: {reason}); retraining', stacklevel=2)
  classifier = train_classifier(images, labels, seed=seed)
  cache_dir.mkdir(parents=True, exist_ok=True)
  _save(path, classifier)
  return classifier

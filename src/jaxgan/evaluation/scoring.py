"""Scores of image GANs, each stored with the protocol that makes it comparable.

An evaluation embeds generated images (the EMA generator's, quantised to uint8
as real images are) and reference images with one feature extractor, and
computes from the two sets of features the scores of jaxgan.evaluation.scores:

  fid       Frechet distance of the features' Gaussian fits (lower is better);
  kid       kernel inception distance: unbiased MMD^2, cubic kernel, mean (and
            kid_std) over 100 subsets of 1,000 (lower is better);
  pr        precision and recall, k = 3 (Kynkaanniemi et al., 2019);
  dc        density and coverage, k = 5 (Naeem et al., 2020);
  is        Inception Score over 10 splits, of the extractor's class logits;
  classes   classes_covered (argmax classes of the generated images) and
            class_kl, the KL of their histogram from uniform: classifier only.

A class-conditional generator draws its images of the classes in turn (image i of class i mod K),
so every score sees the classes equally, and two more scores read the classes asked for:

  intra_fid       the mean over classes of each class's FID, its generated images against the
                  reference images of that class (Miyato & Koyama, 2018); labelled reference data;
  class_accuracy  the fraction of generated images the classifier calls the class they were drawn
                  of (and class_accuracy_min, the worst class's): "draw a 7" gives a 7; classifier only.

Extractors: `inception`, pytorch-fid's Inception-v3 (jaxgan.evaluation.inception;
its weights converted once by jaxgan-convert-inception), and `classifier`, a
small CNN trained on the reference data's labels (jaxgan.evaluation.classifier),
the offline extractor for digits and MNIST. `auto` takes the classifier where
the reference data has labels.

Every result holds `protocol`: the extractor and its weights' hash, the counts
of generated and reference images, the reference source and its resolution,
the resizer, the dtype, the metrics' parameters and jaxgan's version. Reference
features are cached under $JAXGAN_CACHE (default ~/.cache/jaxgan) keyed by that
protocol; a cache file that does not read back is computed again.
"""

import dataclasses
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import __version__
from jaxgan.config import (
  CONDITIONAL_SCORES,
  SCORE_RESULTS,
  Config,
  DataConfig,
  EvalConfig,
  override_value,
  score_results,
)
from jaxgan.data.prepared import cache_dir
from jaxgan.data.sources import DataError, ImageSource, as_nhwc, make_source, subset, to_unit_range
from jaxgan.evaluation import scores
from jaxgan.files import write_atomically
from jaxgan.game.state import GANState, generate

FAKE_SEED = 0  # the latents of the generated images scored
REFERENCE_SEED = 0  # the permutation choosing the reference images
_BATCH = 250  # images embedded at once
_CLASSIFIER_MAX_IMAGES = 20_000  # labelled images the classifier is trained and held out on, at most
_KEPT_FEATURES = {'kid', 'pr', 'dc', 'intra_fid'}  # scores that need every feature vector, not the Gaussian fit
_PARAMETERS = {'kid': {'subsets': 100, 'subset_size': 1000}, 'pr': {'k': 3}, 'dc': {'k': 5}, 'is': {'splits': 10}}


class EvalError(ValueError):
  """Scores that cannot be computed as asked (no weights, no labels, unusable images)."""


@dataclasses.dataclass(frozen=True)
class Extractor:
  """A feature extractor: float images in [-1, 1] [B, H, W, C] -> (features [B, F], class logits [B, K])."""

  name: str
  embed: Callable[[jax.Array], tuple[jax.Array, jax.Array]]
  protocol: dict[str, Any]  # what identifies it: weights' hash, resizer, dtype
  image_shape: tuple[int, ...] | None = None  # the only shape it takes; None: any


def inception_extractor(weights: str | os.PathLike | None = None) -> Extractor:
  """pytorch-fid's Inception-v3 from its converted weights (default: inception.default_weights_path())."""
  from jaxgan.evaluation import inception

  try:
    network = inception.load(weights or inception.default_weights_path())
  except inception.InceptionWeightsError as e:
    raise EvalError(str(e)) from e
  protocol = {
    'extractor': 'inception-v3-fid (pytorch-fid)',
    'weights_sha256': network.weights_sha256,
    'source_weights_sha256': network.source_sha256,
    'resizer': 'bilinear to 299x299, no antialiasing (torch align_corners=False)',
    'features': 'pool3, 2048',
  }
  return Extractor('inception', network.features, protocol)


def classifier_extractor(reference: ImageSource, reference_spec: str) -> Extractor:
  """The domain classifier of a labelled reference, trained once and cached (jaxgan.evaluation.classifier)."""
  from jaxgan.evaluation import classifier as classifier_lib

  if reference.labels is None:
    raise EvalError(
      f'{reference_spec} has no labels for the classifier extractor; give labelled data (an npz with labels, '
      'digits, tfds with a label) or use the inception extractor (--extractor inception)'
    )
  images, labels = subset(reference, _CLASSIFIER_MAX_IMAGES, REFERENCE_SEED)
  try:
    network = classifier_lib.load_or_train(
      images, labels, cache_dir=cache_dir() / 'classifiers', data_key=reference_spec
    )
  except ValueError as e:
    raise EvalError(f'{reference_spec}: {e}') from e
  protocol = {
    'extractor': f'classifier v{network.version} trained on {reference_spec}',
    'weights_sha256': network.sha256,
    'classifier_accuracy': network.accuracy,
    'classifier_images': {'train': network.num_train, 'heldout': network.num_heldout},
    'resizer': 'none (the data resolution)',
  }
  return Extractor('classifier', network.features, protocol, tuple(images.shape[1:]))


class _Embedded:
  """Features of a stream of image batches: their Gaussian fit, and the features themselves where kept."""

  def __init__(self, keep: bool):
    self.fit: scores.GaussianFit | None = None
    self.kept: list[np.ndarray] | None = [] if keep else None
    self.logits: list[np.ndarray] = []

  def add(self, features: jax.Array, logits: jax.Array) -> None:
    self.fit = (self.fit or scores.GaussianFit.start(features.shape[-1])).add(features)
    if self.kept is not None:
      self.kept.append(np.asarray(features))
    self.logits.append(np.asarray(logits))

  def arrays(self) -> dict[str, np.ndarray]:
    out = {'mean': self.fit.mean, 'covariance': self.fit.covariance, 'logits': np.concatenate(self.logits)}
    return out | ({'features': np.concatenate(self.kept)} if self.kept is not None else {})


def _check_shape(extractor: Extractor, shape: tuple[int, ...], what: str) -> None:
  if extractor.image_shape is not None and tuple(shape) != extractor.image_shape:
    raise EvalError(
      f'{what} are {"x".join(map(str, shape))} but the {extractor.name} extractor takes '
      f"{'x'.join(map(str, extractor.image_shape))} (its reference's size); give images of that size, or use "
      '--extractor inception'
    )


def embed(extractor: Extractor, batches: Iterator[np.ndarray | jax.Array], keep: bool) -> dict[str, np.ndarray]:
  """The features of image batches (uint8, or floats in [-1, 1]) of at most _BATCH images: mean, covariance,
  logits, and the features if kept. A short batch is padded to a power of two (or _BATCH), so that the
  extractor compiles for few shapes."""
  embedded = _Embedded(keep)
  for batch in batches:
    embedded.add(*_embedded_batch(extractor, batch))
  return embedded.arrays()


def _embedded_batch(extractor: Extractor, batch: np.ndarray | jax.Array) -> tuple[jax.Array, jax.Array]:
  """(features, logits) of at most _BATCH images, padded for the extractor to a power of two (or _BATCH)."""
  images = to_unit_range(jnp.asarray(batch))
  size = min(_BATCH, 1 << (len(images) - 1).bit_length())  # a power of two: few shapes to compile
  padded = jnp.pad(images, [(0, size - len(images))] + [(0, 0)] * (images.ndim - 1))
  features, logits = extractor.embed(padded)
  return features[: len(images)], logits[: len(images)]


def _generated_images(state: GANState, key: jax.Array, labels: jax.Array | None) -> jax.Array:
  """A batch of the EMA generator's images (of the classes `labels`, for a conditional one), quantised to
  uint8 levels as stored images are, in [-1, 1]."""
  images = generate(state, state.sample_latent(key, _BATCH), labels)
  return jnp.round((jnp.clip(images, -1, 1) + 1) * 127.5) / 127.5 - 1


_generated = jax.jit(_generated_images)
_members_generated = jax.jit(jax.vmap(_generated_images, in_axes=(0, None, None)))  # a population's: [M, B, ...]


def requested_classes(state: GANState, num: int) -> np.ndarray | None:
  """The classes a conditional generator's num scored images are drawn of, in turn: i mod K; None without."""
  return np.arange(num, dtype=np.int32) % state.num_classes if state.num_classes else None


def _draws(state: GANState, num: int, seed: int) -> Iterator[tuple[int, jax.Array, jax.Array | None]]:
  """(start, key, labels) of each batch of num scored images: batch i drawn with fold_in(key(seed), i), of the
  classes in turn for a conditional generator."""
  key = jax.random.key(seed)
  classes = requested_classes(state, num + _BATCH)
  for i, start in enumerate(range(0, num, _BATCH)):
    yield start, jax.random.fold_in(key, i), None if classes is None else jnp.asarray(classes[start : start + _BATCH])


def generated_batches(state: GANState, num: int, seed: int = FAKE_SEED) -> Iterator[jax.Array]:
  """num images of the run's EMA generator, in batches (see _draws)."""
  for start, key, labels in _draws(state, num, seed):
    yield _generated(state, key, labels)[: num - start]


def image_batches(images: np.ndarray) -> Iterator[np.ndarray]:
  for start in range(0, len(images), _BATCH):
    yield images[start : start + _BATCH]


def compute(real: dict[str, np.ndarray], fake: dict[str, np.ndarray], metrics: tuple[str, ...]) -> dict[str, float]:
  """The scores `metrics` (keys of jaxgan.config.SCORE_RESULTS) from the embedded real and fake images."""
  out = {}
  if 'fid' in metrics:
    out['fid'] = scores.frechet_distance(real['mean'], real['covariance'], fake['mean'], fake['covariance'])
  if 'kid' in metrics:
    out['kid'], out['kid_std'] = scores.kid(real['features'], fake['features'], **_kid_arguments(real, fake))
  if 'pr' in metrics:
    out['precision'], out['recall'] = scores.precision_recall(real['features'], fake['features'], **_PARAMETERS['pr'])
  if 'dc' in metrics:
    out['density'], out['coverage'] = scores.density_coverage(real['features'], fake['features'], **_PARAMETERS['dc'])
  if 'is' in metrics:
    out['is'], out['is_std'] = scores.inception_score(fake['logits'], splits=_is_splits(len(fake['logits'])))
  if 'classes' in metrics:
    out |= scores.class_scores(fake['logits'])
  if 'intra_fid' in metrics:
    out |= scores.intra_class_fid(real['features'], real['labels'], fake['features'], fake['labels'])
  if 'class_accuracy' in metrics:
    out |= scores.class_accuracy(fake['logits'], fake['labels'])
  return {k: float(v) for k, v in out.items()}


def _kid_arguments(real: dict[str, np.ndarray], fake: dict[str, np.ndarray]) -> dict[str, int]:
  size = scores.kid_subset_size(len(real['features']), len(fake['features']), _PARAMETERS['kid']['subset_size'])
  return {'num_subsets': _PARAMETERS['kid']['subsets'], 'subset_size': size}


def _is_splits(num_fake: int) -> int:
  """The Inception Score's splits: 10, or one per image when there are fewer."""
  return min(_PARAMETERS['is']['splits'], num_fake)


def protocol(
  extractor: Extractor, metrics: tuple[str, ...], num_real: int, num_fake: int, reference: dict[str, Any]
) -> dict[str, Any]:
  """What a score depends on, beside the generator: written with every result."""
  parameters = {m: _PARAMETERS[m] for m in metrics if m in _PARAMETERS}
  if 'kid' in parameters:
    size = scores.kid_subset_size(num_real, num_fake, _PARAMETERS['kid']['subset_size'])
    parameters['kid'] = {**parameters['kid'], 'subset_size': size}
  if 'is' in parameters:
    parameters['is'] = {'splits': _is_splits(num_fake)}
  return {
    **extractor.protocol,
    'dtype': 'float32',
    'num_fake': num_fake,
    'num_real': num_real,
    'reference': reference,
    'fake': f'EMA generator, latents of seed {FAKE_SEED}, quantised to uint8',
    'metrics': parameters,
    'jaxgan': __version__,
  }


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
  """The protocol keys whose values differ between two results' protocols (the metrics' own parameters aside)."""
  keys = (a.keys() | b.keys()) - {'metrics'}
  return sorted(k for k in keys if a.get(k) != b.get(k))


def warn_if_incomparable(results: list[dict[str, Any]]) -> None:
  """Warns when results were computed under different protocols: their scores do not compare."""
  for result in results[1:]:
    changed = differences(results[0]['protocol'], result['protocol'])
    if changed:
      warnings.warn(
        f'these results hold scores of different protocols, which do not compare (step {results[0].get("step")} '
        f'and step {result.get("step")} differ in {", ".join(changed)})',
        stacklevel=2,
      )
      return


def _cache_key(value: Any) -> str:
  return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:20]


def reference_features(
  extractor: Extractor, source: ImageSource, reference: dict[str, Any], num: int, keep: bool
) -> dict[str, np.ndarray]:
  """The embedded reference images (and their labels, where the source has them), read from the cache keyed
  by extractor, reference, count and the selected images' own bytes (a file rewritten in place is embedded
  afresh), or computed."""
  images, labels = subset(source, num, REFERENCE_SEED)
  content = hashlib.sha256(np.ascontiguousarray(images))
  content.update(b'' if labels is None else np.ascontiguousarray(labels, np.int64))
  identity = {'extractor': extractor.protocol, 'reference': reference, 'num': num, 'jaxgan': __version__}
  identity |= {'images': content.hexdigest(), 'shape': list(images.shape)}
  path = cache_dir() / 'reference' / f'{_cache_key(identity)}.npz'
  try:
    with np.load(path, allow_pickle=False) as cached:
      arrays = {name: cached[name] for name in cached.files}
    if (not keep or 'features' in arrays) and (source.labels is None or 'labels' in arrays):
      return arrays
  except (FileNotFoundError, NotADirectoryError):  # not cached (yet)
    pass
  except Exception as e:  # corrupt or foreign: never trusted
    warnings.warn(
      f'reference features {path} do not read back ({type(e).__name__}); computing them again', stacklevel=2
    )
  _check_shape(extractor, images.shape[1:], 'the reference images')
  arrays = embed(extractor, image_batches(images), keep=True) | ({} if labels is None else {'labels': labels})
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda temporary: _save_npz(temporary, arrays))
  except OSError as e:  # a read-only or full cache: the features stand, only the next run embeds them again
    warnings.warn(f'reference features not cached in {path.parent} ({e})', stacklevel=2)
  return arrays


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
  with open(path, 'wb') as file:  # a file, not a name: np.savez would add .npz to the temporary's name
    np.savez(file, **arrays)


def _reference_source(spec: str, resolution: int) -> ImageSource:
  try:
    source = make_source(DataConfig(source=spec, resolution=resolution), 0)
  except DataError as e:
    raise EvalError(str(e)) from e
  if not isinstance(source, ImageSource):
    raise EvalError(f'{spec} is not image data; scores compare images (give an npz, a folder, digits or tfds:NAME)')
  _check_size(spec, source)
  return source


def _check_size(spec: str, source: ImageSource) -> None:
  if source.size < 2:
    raise EvalError(f'{spec} holds {source.size} image; scores compare sets of 2 or more images')


class Evaluation:
  """Scores a run's generator under one protocol: its extractor and reference features are built once."""

  def __init__(self, settings: EvalConfig, data: DataConfig):
    """Scores settings.metrics (if none: fid, kid, pr, dc, is, and classes with the classifier) against
    settings.reference (default the run's data.source at its data.resolution)."""
    unknown = [m for m in settings.metrics if m not in SCORE_RESULTS]
    if unknown:
      raise EvalError(f'unknown metrics {",".join(unknown)}: choose from {",".join(SCORE_RESULTS)}')
    spec = settings.reference or data.source
    self.source = _reference_source(spec, data.resolution)
    self.extractor = _extractor(settings.extractor, self.source, spec)
    with_classes = ('classes',) if self.extractor.name == 'classifier' else ()
    self.metrics = tuple(settings.metrics) or ('fid', 'kid', 'pr', 'dc', 'is', *with_classes)
    for metric in ('classes', 'class_accuracy'):
      if metric in self.metrics and self.extractor.name != 'classifier':
        raise EvalError(f'the {metric} score needs the classifier extractor (labelled reference data)')
    if 'intra_fid' in self.metrics and self.source.labels is None:
      raise EvalError(f'the intra_fid score needs labelled reference data; {spec} has no labels')
    self.num_fake, self.num_real = settings.num_fake, min(settings.num_real, self.source.size)
    self.reference = {'source': spec, 'resolution': data.resolution or 'stored', 'selection': 'seeded'}
    self.protocol = protocol(self.extractor, self.metrics, self.num_real, self.num_fake, self.reference)
    if set(CONDITIONAL_SCORES) & set(self.metrics):
      self.protocol['fake_classes'] = 'image i of class i mod K; intra_fid: each class against its reference images'
    self._keep = bool(_KEPT_FEATURES & set(self.metrics))
    self._real: dict[str, np.ndarray] | None = None

  def real(self) -> dict[str, np.ndarray]:
    if self._real is None:
      self._real = reference_features(self.extractor, self.source, self.reference, self.num_real, self._keep)
    return self._real

  def _check_generator(self, state: GANState) -> None:
    one = jax.random.key(0)
    shape = jax.eval_shape(lambda s: generate(s, s.sample_latent(one, 1), s.sample_labels(one, 1)), state).shape[1:]
    _check_shape(self.extractor, shape, "the generator's images")
    conditional = set(CONDITIONAL_SCORES) & set(self.metrics)
    if conditional and not state.num_classes:
      raise EvalError(f'{" and ".join(sorted(conditional))} score a class-conditional generator; this one is not')

  def _scores(self, fake: dict[str, np.ndarray], state: GANState) -> dict[str, float]:
    if state.num_classes:
      fake['labels'] = requested_classes(state, self.num_fake)
    return compute(self.real(), fake, self.metrics)

  def __call__(self, state: GANState) -> dict[str, float]:
    """The scores of the EMA generator of `state` (a single run's, or a sweep member's)."""
    self._check_generator(state)
    return self._scores(embed(self.extractor, generated_batches(state, self.num_fake), self._keep), state)

  def score_members(self, population: GANState, members: Sequence[int]) -> dict[int, dict[str, float]]:
    """The scores of `members` of a population (leaves [M, ...]), each the images __call__ scores of it alone:
    each batch generated for all of them in one vmapped call, then embedded _BATCH images at a time across
    members."""
    if not members:
      return {}
    # What generating reads (G, its EMA, the step), gathered for the chosen members alone: no D, no optimizers.
    generating = population.replace(
      generator=population.generator.replace(opt_state=None), discriminator=None, hparams={}, trackers={}
    )
    every = list(members) == list(range(len(population.step)))
    chosen = generating if every else jax.tree.map(lambda leaf: leaf[np.asarray(members)], generating)
    first = jax.tree.map(lambda leaf: leaf[0], chosen)
    self._check_generator(first)
    embedded = [_Embedded(self._keep) for _ in members]
    for start, key, labels in _draws(first, self.num_fake, FAKE_SEED):
      images = _members_generated(chosen, key, labels)[:, : self.num_fake - start]
      each, flat = images.shape[1], images.reshape(-1, *images.shape[2:])  # member m's: [m * each, (m + 1) * each)
      for lo in range(0, len(flat), _BATCH):
        features, logits = _embedded_batch(self.extractor, flat[lo : lo + _BATCH])
        hi = lo + len(features)
        for m in range(lo // each, (hi - 1) // each + 1):
          a, b = max(lo, m * each) - lo, min(hi, (m + 1) * each) - lo
          embedded[m].add(features[a:b], logits[a:b])
    return {i: self._scores(e.arrays(), first) for i, e in zip(members, embedded, strict=True)}

  def score_images(self, images: np.ndarray) -> dict[str, float]:
    """The scores of uint8 images [N, H, W, C] (all of them) against the reference."""
    _check_shape(self.extractor, images.shape[1:], 'the images')
    if conditional := set(CONDITIONAL_SCORES) & set(self.metrics):
      raise EvalError(f'{" and ".join(sorted(conditional))} score a conditional generator, not a folder of images')
    fake = embed(self.extractor, image_batches(images), self._keep)
    return compute(self.real(), fake, self.metrics)


def _extractor(kind: str, source: ImageSource, spec: str) -> Extractor:
  if kind == 'classifier' or (kind == 'auto' and source.labels is not None):
    return classifier_extractor(source, spec)
  if kind == 'inception':
    return inception_extractor()
  if kind == 'auto':
    try:
      return inception_extractor()
    except EvalError as e:
      raise EvalError(f'{spec} has no labels for the classifier extractor, so auto takes Inception: {e}') from None
  raise EvalError(f'unknown extractor {kind!r}: use auto, inception or classifier')


def better(metric: str, value: float, than: float | None) -> bool:
  """Whether `value` of result key `metric` beats `than` (None: nothing yet)."""
  lower = score_results(tuple(SCORE_RESULTS))[metric]
  if than is None or not np.isfinite(than):
    return bool(np.isfinite(value))
  return value < than if lower else value > than


def with_eval_settings(config: Config, settings: dict[str, Any]) -> Config:
  """config with eval.KEY = value for each of `settings`, checked as the command line checks them."""
  for key, value in settings.items():
    config = override_value(config, f'eval.{key}', value)
  return config


def evaluate_images(real: str | os.PathLike, fake: str | os.PathLike | np.ndarray, **settings: Any) -> dict[str, Any]:
  """Scores the images `fake` against those of `real`.

  Args:
    real: an image set as jaxgan.data.sources reads it (FILE.npz with uint8 `images`, a folder, digits, tfds:...).
    fake: the same, or uint8 images [N, H, W, C] (what jaxgan.sample returns).
    **settings: eval.* keys (metrics, extractor, num_fake, num_real); all of fake's images are scored
      unless num_fake is given.

  Returns:
    The scores and their protocol.
  """
  if not isinstance(real, (str, os.PathLike)):
    raise TypeError(f'real must be a data source (a path, digits, tfds:NAME), got {type(real).__name__}')
  if isinstance(fake, np.ndarray):
    try:
      array = as_nhwc(fake, 'fake')
    except DataError as e:
      raise EvalError(str(e)) from e
    fake_source = ImageSource(array, 0)
    fake = f'an array of {len(array)} images'
    _check_size('the fake array', fake_source)
  else:
    fake_source = _reference_source(str(fake), 0)  # its size checked there
  eval_config = with_eval_settings(Config(), {**settings, 'reference': str(real)}).eval
  if 'num_fake' not in settings or eval_config.num_fake > fake_source.size:  # all of them, and the protocol says so
    eval_config = dataclasses.replace(eval_config, num_fake=fake_source.size)
  evaluation = Evaluation(eval_config, DataConfig(source=str(real)))
  images, _ = subset(fake_source, eval_config.num_fake, FAKE_SEED)
  scored = evaluation.score_images(images)
  return {**scored, 'protocol': {**evaluation.protocol, 'fake': f'{fake} ({len(images)} images, seeded selection)'}}


def read_results(path: Path) -> list[dict[str, Any]]:
  """The results of the eval.json at `path` ([] if there is none); EvalError for a file that is not one."""
  if not path.exists():
    return []
  try:
    results = json.loads(path.read_text())['results']
    if not isinstance(results, list):
      raise TypeError('results is not a list')
  except (OSError, ValueError, KeyError, TypeError) as e:
    reason = type(e).__name__
    raise EvalError(f'{path} is not an eval.json of jaxgan ({reason}); move it away or give another --out') from e
  return results


def record(path: Path, result: dict[str, Any]) -> None:
  """Adds `result` to the results of eval.json at `path` (replacing one of the same step, member, best and
  protocol); warns if they were computed under different protocols. Refuses a file that is not jaxgan's."""
  results = read_results(path)
  same = ('step', 'member', 'best', 'protocol')
  results = [r for r in results if any(r.get(k) != result.get(k) for k in same)] + [result]
  warn_if_incomparable(results)
  write_atomically(path, lambda temporary: temporary.write_text(json.dumps({'results': results}, indent=2) + '\n'))

"""The digits classifier: accuracy, determinism, features and its cache."""

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_digits

from jaxgan.evaluation import classifier


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
  """scikit-learn's digits as jaxgan.data reads them: uint8 [1797, 8, 8] (0..16 scaled to 0..255), labels [1797]."""
  digits = load_digits()
  return np.round(digits.images * (255 / 16)).astype(np.uint8), digits.target


@pytest.fixture(scope='module')
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
  return tmp_path_factory.mktemp('classifiers')


@pytest.fixture(scope='module')
def trained(cache_dir: Path) -> classifier.Classifier:
  """The digits classifier with the default training, trained once into cache_dir."""
  return classifier.load_or_train(*_digits(), cache_dir=cache_dir, data_key='digits')


def _quick(monkeypatch: pytest.MonkeyPatch, steps: int = 20) -> None:
  """Makes load_or_train's trainings short (caching, not accuracy, is under test)."""
  train = classifier.train_classifier
  monkeypatch.setattr(classifier, 'train_classifier', lambda *a, **k: train(*a, **k, steps=steps))


def _no_training(monkeypatch: pytest.MonkeyPatch) -> None:
  def fail(*args, **kwargs):
    raise AssertionError('trained although the cache holds the classifier')

  monkeypatch.setattr(classifier, 'train_classifier', fail)


def test_digits_classifier_is_accurate(trained: classifier.Classifier):
  assert trained.accuracy >= 0.95
  assert (trained.num_train, trained.num_heldout) == (1618, 179)  # 10% of each class held out
  assert (trained.num_classes, trained.image_shape, trained.version) == (10, (8, 8, 1), classifier.CLASSIFIER_VERSION)


def test_features_and_logits(trained: classifier.Classifier):
  images, labels = _digits()
  uint8 = images[:300, ..., None]
  features, logits = trained.embed(uint8.astype(np.float32) / 127.5 - 1.0, batch_size=128)  # 128, 128, 44
  assert features.shape == (300, 128) and logits.shape == (300, 10)
  assert features.dtype == logits.dtype == np.float32
  assert features.min() >= 0  # after a ReLU
  whole_f, whole_y = trained.features(uint8.astype(np.float32) / 127.5 - 1.0)
  np.testing.assert_allclose(features, whole_f, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(logits, whole_y, rtol=1e-5, atol=1e-5)
  np.testing.assert_array_equal(trained.embed(uint8)[1], trained.embed(uint8.astype(np.float32) / 127.5 - 1.0)[1])
  assert np.mean(logits.argmax(-1) == labels[:300]) > 0.95  # mostly training images
  empty_f, empty_y = trained.embed(np.zeros((0, 8, 8, 1), np.float32))
  assert empty_f.shape == (0, 128) and empty_y.shape == (0, 10)
  with pytest.raises(ValueError, match=r'images must be \[N, 8, 8, 1\]'):
    trained.embed(np.zeros((4, 28, 28, 1), np.float32))


@pytest.mark.parametrize('shape', [(8, 8, 1), (28, 28, 1), (32, 32, 3), (64, 64, 3)])
def test_any_small_image_size(shape: tuple[int, int, int]):
  module = classifier.DomainClassifier(num_classes=7, feature_dim=16)
  variables = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, *shape)))
  features, logits = jax.eval_shape(module.apply, variables, jnp.zeros((5, *shape)))
  assert features.shape == (5, 16) and logits.shape == (5, 7)
  assert set(variables) == {'params'}  # no batch statistics


def test_cache_is_written_once_and_loaded(trained: classifier.Classifier, cache_dir: Path, monkeypatch):
  files = list(cache_dir.iterdir())
  assert len(files) == 1 and files[0].suffix == '.npz' and len(files[0].stem) == 16  # no temporary left behind
  _no_training(monkeypatch)
  loaded = classifier.load_or_train(*_digits(), cache_dir=cache_dir, data_key='digits')
  assert loaded.sha256 == trained.sha256 and len(loaded.sha256) == 64
  assert (loaded.accuracy, loaded.num_train, loaded.num_heldout) == (
    trained.accuracy,
    trained.num_train,
    trained.num_heldout,
  )
  images = _digits()[0][:64, ..., None]
  for a, b in zip(loaded.embed(images), trained.embed(images), strict=True):
    np.testing.assert_array_equal(a, b)
  # Another dataset key, seed or data is another file, not this one.
  with pytest.raises(AssertionError, match='trained although'):
    classifier.load_or_train(*_digits(), cache_dir=cache_dir, data_key='digits', seed=1)
  with pytest.raises(AssertionError, match='trained although'):
    classifier.load_or_train(*_digits(), cache_dir=cache_dir, data_key='digits-again')


def test_training_is_deterministic():
  images, labels = _digits()
  first, second, other = (classifier.train_classifier(images, labels, steps=10, seed=s) for s in (3, 3, 4))
  assert first.sha256 == second.sha256
  assert first.sha256 != other.sha256


def _garbage(path: Path) -> None:
  path.write_bytes(b'not a classifier \x00\x01' * 50)


def _truncated(path: Path) -> None:
  path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _resave(path: Path, change) -> None:
  with np.load(path) as saved:
    arrays = dict(saved)
  with path.open('wb') as f:
    np.savez(f, **change(arrays))


def _old_version(path: Path) -> None:
  _resave(path, lambda arrays: {**arrays, 'version': np.asarray(classifier.CLASSIFIER_VERSION - 1)})


def _altered_parameter(path: Path) -> None:
  name = 'params/Dense_1/bias'
  _resave(path, lambda arrays: {**arrays, name: arrays[name] + 1})


def _wrong_shape(path: Path) -> None:
  name = 'params/Dense_1/kernel'
  _resave(path, lambda arrays: {**arrays, name: arrays[name][:, :5]})


@pytest.mark.parametrize('corrupt', [_garbage, _truncated, _old_version, _altered_parameter, _wrong_shape])
def test_unusable_cache_is_retrained_with_a_warning(
  corrupt, trained: classifier.Classifier, cache_dir: Path, tmp_path: Path, monkeypatch
):
  images, labels = _digits()
  [original] = cache_dir.iterdir()
  path = tmp_path / original.name
  path.write_bytes(original.read_bytes())
  corrupt(path)
  _quick(monkeypatch)
  with pytest.warns(UserWarning, match='unusable.*retraining') as record:
    again = classifier.load_or_train(images, labels, cache_dir=tmp_path, data_key='digits')
  assert len(record) == 1 and '\n' not in str(record[0].message)
  assert again.sha256 != trained.sha256  # retrained (briefly), not read
  _no_training(monkeypatch)
  assert classifier.load_or_train(images, labels, cache_dir=tmp_path, data_key='digits').sha256 == again.sha256
  assert list(tmp_path.iterdir()) == [path]  # overwritten in place


@pytest.mark.parametrize(
  'images, labels, message',
  [
    (None, None, 'labels are missing: give integer class labels'),
    (None, np.zeros(5, np.int64), r'labels must be integers \[N\] matching the 1797 images, got shape \(5,\)'),
    (None, 'float', r'labels must be integers \[N\] matching the 1797 images, got shape \(1797,\) of float64'),
    (None, 'negative', 'labels must be class indices >= 0, got -1'),
    (None, np.full(1797, 3), 'at least 2 classes'),
    ('float', None, 'images must be uint8'),
    (np.zeros((1797, 8, 8, 2), np.uint8), None, r'images must be \[N, H, W, C\] with C 1 or 3'),
    (np.zeros((1797, 64), np.uint8), None, r'images must be \[N, H, W, C\]'),
  ],
)
def test_bad_input_is_one_line(images, labels, message, tmp_path: Path):
  digits, targets = _digits()
  if images is None:
    images = digits
  elif isinstance(images, str):
    images = digits.astype(np.float32) / 255
  if isinstance(labels, str):
    labels = {'float': targets.astype(np.float64), 'negative': targets - 1}[labels]
  elif labels is None and images is not digits:
    labels = targets
  with pytest.raises(ValueError, match=message) as error:
    classifier.train_classifier(images, labels)
  assert '\n' not in str(error.value)
  with pytest.raises(ValueError, match=message):
    classifier.load_or_train(images, labels, cache_dir=tmp_path, data_key='digits')
  assert not list(tmp_path.iterdir())

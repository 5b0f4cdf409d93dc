"""Feature scores against independent float64 references written here with numpy / scipy."""

import jax
import numpy as np
import pytest
import scipy.linalg
import scipy.special
from scipy.spatial.distance import cdist

from jaxgan.evaluation import scores


def _gaussian_features(seed: int, n: int, dim: int, offset: float = 0.0) -> np.ndarray:
  rng = np.random.default_rng(seed)
  mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
  return (offset + rng.normal(size=(n, dim)) @ mixing).astype(np.float32)


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  x = np.asarray(x, np.float64)
  return x.mean(axis=0), np.cov(x, rowvar=False)


# ---------------------------------------------------------------------------------------------------------
# Gaussian fit and FID


@pytest.mark.usefixtures('strict_dtypes')  # jnp promotions stay explicit
def test_gaussian_fit_streams_uneven_batches_far_from_zero():
  x = _gaussian_features(0, 201, 24, offset=1000.0)
  ref_mean, ref_cov = _moments(x)
  empty = scores.GaussianFit.start(24)
  fit = empty
  for start, stop in [(0, 37), (37, 137), (137, 138), (138, 138), (138, 201)]:
    fit = fit.add(x[start:stop])
  assert (fit.count, empty.count) == (201, 0)  # add returns a new fit
  assert fit.mean.dtype == fit.covariance.dtype == np.float64
  np.testing.assert_allclose(fit.mean - 1000, ref_mean - 1000, rtol=0, atol=1e-6)
  np.testing.assert_allclose(fit.covariance, ref_cov, rtol=1e-6, atol=1e-6 * np.abs(ref_cov).max())
  mean, cov = scores.fit_gaussian(x, batch_size=50)
  np.testing.assert_allclose(mean, ref_mean, rtol=1e-9)
  np.testing.assert_allclose(cov, ref_cov, rtol=1e-6, atol=1e-6 * np.abs(ref_cov).max())
  with pytest.raises(ValueError, match='dimension 24'):
    fit.add(x[:, :3])
  with pytest.raises(ValueError, match='at least 2 rows'):
    _ = empty.add(x[:1]).covariance


@pytest.mark.parametrize('dim', [16, 48])
def test_frechet_distance_matches_scipy_sqrtm(dim):
  m1, c1 = _moments(_gaussian_features(1, 300, dim))
  m2, c2 = _moments(_gaussian_features(2, 250, dim, offset=0.5))
  reference = np.sum((m1 - m2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * np.trace(scipy.linalg.sqrtm(c1 @ c2).real)
  fid = scores.frechet_distance(m1, c1, m2, c2)
  assert isinstance(fid, float)
  np.testing.assert_allclose(fid, reference, rtol=1e-6)
  assert abs(scores.frechet_distance(m1, c1, m1, c1)) < 1e-6 * np.trace(c1)


def test_frechet_distance_closed_form_for_diagonal_covariances():
  m1, m2 = np.array([0.0, 1.0, -2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.5])
  a, b = np.array([1.0, 4.0, 0.25, 9.0]), np.array([4.0, 1.0, 0.25, 0.0])  # b singular
  expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
  np.testing.assert_allclose(scores.frechet_distance(m1, np.diag(a), m2, np.diag(b)), expected, rtol=1e-12)
  with pytest.raises(ValueError, match='covariances'):
    scores.frechet_distance(m1, np.diag(a), m2[:3], np.diag(b[:3]))


# ---------------------------------------------------------------------------------------------------------
# KID


def _mmd2_reference(x: np.ndarray, y: np.ndarray) -> float:
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  m, d = x.shape

  def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / d + 1) ** 3

  kxx, kyy = kernel(x, x), kernel(y, y)
  within = kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)
  return within / (m * (m - 1)) - 2 * kernel(x, y).sum() / m**2


@pytest.mark.usefixtures('strict_dtypes')  # jnp promotions stay explicit
def test_kid_on_whole_sets_matches_unbiased_mmd():
  real = _gaussian_features(3, 150, 16)
  fake = 0.8 * _gaussian_features(4, 150, 16) + 0.3
  mean, std = scores.kid(real, fake, num_subsets=1, subset_size=150, key=7)
  assert isinstance(mean, float) and std == 0.0
  np.testing.assert_allclose(mean, _mmd2_reference(real, fake), rtol=1e-4)


def test_kid_is_near_zero_for_one_distribution_and_caps_the_subset_size():
  rng = np.random.default_rng(5)
  real, same = rng.normal(size=(2, 200, 16)).astype(np.float32)
  shifted_mean, _ = scores.kid(real, same + 0.5, num_subsets=8, subset_size=100)
  same_mean, same_std = scores.kid(real, same, num_subsets=8, subset_size=100)
  assert shifted_mean > 0.1 and abs(same_mean) < 0.05 * shifted_mean and same_std > 0
  assert scores.kid(real, same, num_subsets=8, subset_size=100, key=2) == scores.kid(
    real, same, num_subsets=8, subset_size=100, key=jax.random.key(2)
  )
  assert scores.kid_subset_size(200, 120, 1000) == 120
  capped = scores.kid(real, same[:120], num_subsets=2, subset_size=1000)  # runs with subsets of 120
  assert np.isfinite(capped).all()
  with pytest.raises(ValueError, match='dimension'):
    scores.kid(real, same[:, :4])


# ---------------------------------------------------------------------------------------------------------
# Inception Score and class histograms


def _inception_score_reference(logits: np.ndarray, splits: int) -> tuple[float, float]:
  p = scipy.special.softmax(np.asarray(logits, np.float64), axis=1)
  n = len(p)
  split_scores = []
  for s in range(splits):
    part = p[s * n // splits : (s + 1) * n // splits]
    kl = scipy.special.rel_entr(part, part.mean(axis=0)).sum(axis=1)
    split_scores.append(np.exp(kl.mean()))
  return float(np.mean(split_scores)), float(np.std(split_scores))


def test_inception_score_extremes_and_hand_case():
  np.testing.assert_allclose(scores.inception_score(np.zeros((20, 10)), splits=2), (1.0, 0.0), atol=1e-6)
  one_hot = np.tile(30.0 * np.eye(10), (4, 1))
  np.testing.assert_allclose(scores.inception_score(one_hot, splits=2), (10.0, 0.0), rtol=1e-4, atol=1e-4)
  mixed = np.concatenate([np.zeros((20, 10)), one_hot[:20]])  # split 0 scores 1, split 1 scores 10
  np.testing.assert_allclose(scores.inception_score(mixed, splits=2), (5.5, 4.5), rtol=1e-4)
  p = np.array([[0.8, 0.2], [0.2, 0.8]])
  by_hand = np.exp(0.8 * np.log(1.6) + 0.2 * np.log(0.4))
  np.testing.assert_allclose(scores.inception_score(np.log(p), splits=1), (by_hand, 0.0), rtol=1e-6)


@pytest.mark.usefixtures('strict_dtypes')  # jnp promotions stay explicit
def test_inception_score_uneven_splits_match_reference():
  logits = 3 * np.random.default_rng(6).normal(size=(23, 5))
  logits[0, 1] = -np.inf  # a class of probability 0 contributes 0 log 0 = 0
  np.testing.assert_allclose(scores.inception_score(logits, splits=4), _inception_score_reference(logits, 4), 1e-5)
  with pytest.raises(ValueError, match='splits'):
    scores.inception_score(logits, splits=24)


def test_class_scores_by_hand():
  classes = np.array([0, 0, 0, 1, 1, 2])
  logits = 5.0 * np.eye(4)[classes] + 0.1
  h = np.array([3, 2, 1]) / 6
  expected = {'classes_covered': 3, 'class_kl': float(np.sum(h * np.log(4 * h)))}
  for predictions in (logits, scipy.special.softmax(logits, axis=1)):
    result = scores.class_scores(predictions)
    assert result['classes_covered'] == 3 and isinstance(result['classes_covered'], int)
    np.testing.assert_allclose(result['class_kl'], expected['class_kl'], rtol=1e-12)
  assert scores.class_scores(np.eye(4)) == {'classes_covered': 4, 'class_kl': 0.0}


# ---------------------------------------------------------------------------------------------------------
# k-NN manifolds


def _manifold_reference(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
  real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
  real_radii = np.sort(cdist(real, real), axis=1)[:, k]  # column 0 is the point itself
  fake_radii = np.sort(cdist(fake, fake), axis=1)[:, k]
  inside_real = cdist(real, fake) <= real_radii[:, None]  # [N, M]: fake j in real i's ball
  inside_fake = cdist(real, fake) <= fake_radii[None, :]  # [N, M]: real i in fake j's ball
  return {
    'precision': inside_real.any(axis=0).mean(),
    'recall': inside_fake.any(axis=1).mean(),
    'density': inside_real.sum() / (k * fake.shape[0]),
    'coverage': inside_real.any(axis=1).mean(),
  }


@pytest.mark.usefixtures('strict_dtypes')  # jnp promotions stay explicit
@pytest.mark.parametrize(('block', 'k'), [(7, 3), (scores._ROW_BLOCK, 5)])
def test_manifold_scores_match_brute_force(monkeypatch, block, k):
  monkeypatch.setattr(scores, '_ROW_BLOCK', block)
  real = _gaussian_features(8, 53, 8, offset=100.0)
  fake = 1.3 * (_gaussian_features(9, 41, 8) + 0.4) + 100.0
  reference = _manifold_reference(real, fake, k)
  assert 0 < reference['precision'] < 1 and 0 < reference['recall'] < 1 and 0 < reference['coverage'] < 1
  np.testing.assert_allclose(scores.precision_recall(real, fake, k=k), [reference['precision'], reference['recall']])
  np.testing.assert_allclose(
    scores.density_coverage(real, fake, k=k), [reference['density'], reference['coverage']], rtol=1e-12
  )


def test_manifold_scores_of_identical_and_disjoint_sets(monkeypatch):
  monkeypatch.setattr(scores, '_ROW_BLOCK', 16)
  x = _gaussian_features(10, 40, 6)
  assert scores.precision_recall(x, x) == (1.0, 1.0)
  density, coverage = scores.density_coverage(x, x)
  assert coverage == 1.0 and density >= 1.0  # every fake sits on a real sample, in its ball
  assert scores.precision_recall(x, x + 100) == (0.0, 0.0)
  assert scores.density_coverage(x, x + 100) == (0.0, 0.0)
  with pytest.raises(ValueError, match='k='):
    scores.precision_recall(x, x[:3])

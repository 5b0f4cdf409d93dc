"""Scores of generated samples as pure functions of their features (or a classifier's logits).

  GaussianFit, fit_gaussian   streaming mean / covariance of features (float64 on the host);
  frechet_distance            FID between two Gaussians (Heusel et al., 2017);
  kid                         Kernel Inception Distance (Binkowski et al., 2018) as torch-fidelity defines it;
  inception_score             IS (Salimans et al., 2016) from logits, over splits of consecutive rows;
  precision_recall            improved precision / recall (Kynkaanniemi et al., 2019);
  density_coverage            density / coverage (Naeem et al., 2020);
  class_scores                classes covered and the KL of the class histogram from uniform.

Features enter as float32: the device work (matrix products at HIGHEST precision, so no TF32 on GPUs) is
float32, and whatever cancels (sums of kernel values, moments, the matrix square root) is finished on the
host in float64. Every score is returned as a Python float or int, ready for JSON. Pairwise distances are
computed _ROW_BLOCK query rows at a time against the whole other set, so memory is O(_ROW_BLOCK x N).
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

_HIGHEST = jax.lax.Precision.HIGHEST
_ROW_BLOCK = 1024  # query rows whose squared distances to a whole set are held at once


def _features(x: ArrayLike, name: str) -> jax.Array:
  x = jnp.asarray(x, jnp.float32)
  if x.ndim != 2:
    raise ValueError(f'{name} must be features [N, D], got shape {x.shape}')
  return x


def _feature_pair(real: ArrayLike, fake: ArrayLike) -> tuple[jax.Array, jax.Array]:
  real, fake = _features(real, 'real'), _features(fake, 'fake')
  if real.shape[1] != fake.shape[1]:
    raise ValueError(f'real and fake features differ in dimension: {real.shape[1]} vs {fake.shape[1]}')
  return real, fake


# ---------------------------------------------------------------------------------------------------------
# Gaussian fit and FID


@jax.jit
def _batch_moments(x: jax.Array, shift: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The batch's sum of x - shift [D] and its scatter about the batch mean [D, D], in float32."""
  y = x - shift
  total = jnp.sum(y, axis=0)
  centred = y - total / y.shape[0]
  return total, jnp.matmul(centred.T, centred, precision=_HIGHEST)


@dataclasses.dataclass(frozen=True, eq=False)
class GaussianFit:
  """Streaming mean and covariance of features [N, D], in memory independent of N.

  Immutable: `add` returns a new fit. Each batch is reduced on the device in float32 after subtracting
  a fixed shift (the first batch's mean, so features far from 0 lose no precision): its sum and its
  scatter about its own mean. The host merges the batches in float64 with the pairwise update of Chan et
  al. (1979). Each distinct batch size compiles the reduction once.
  """

  count: int  # rows added
  shift: np.ndarray  # [D] float32, subtracted from every row before the device reduction
  shifted_mean: np.ndarray  # [D] float64, the mean of (row - shift)
  scatter: np.ndarray  # [D, D] float64, the sum of (row - mean)(row - mean)^T

  @classmethod
  def start(cls, dim: int) -> 'GaussianFit':
    """An empty fit of dim-dimensional features."""
    return cls(0, np.zeros(dim, np.float32), np.zeros(dim), np.zeros((dim, dim)))

  @property
  def dim(self) -> int:
    return self.shift.shape[0]

  def add(self, features: ArrayLike) -> 'GaussianFit':
    """The fit with a batch [B, D] of features added (B may be 0)."""
    x = _features(features, 'features')
    if x.shape[1] != self.dim:
      raise ValueError(f'features must have dimension {self.dim}, got shape {x.shape}')
    n = x.shape[0]
    if n == 0:
      return self
    shift = np.asarray(jnp.mean(x, axis=0)) if self.count == 0 else self.shift
    batch_sum, batch_scatter = jax.device_get(_batch_moments(x, shift))
    total = self.count + n
    delta = batch_sum.astype(np.float64) / n - self.shifted_mean
    return GaussianFit(
      count=total,
      shift=shift,
      shifted_mean=self.shifted_mean + delta * (n / total),
      scatter=self.scatter + batch_scatter + np.outer(delta, delta) * (self.count * n / total),
    )

  @property
  def mean(self) -> np.ndarray:
    """The mean [D] (float64)."""
    if self.count < 1:
      raise ValueError('the mean needs at least 1 row')
    return self.shift.astype(np.float64) + self.shifted_mean

  @property
  def covariance(self) -> np.ndarray:
    """The unbiased (ddof=1) covariance [D, D] (float64, symmetric)."""
    if self.count < 2:
      raise ValueError(f'the covariance needs at least 2 rows, got {self.count}')
    return (self.scatter + self.scatter.T) / (2 * (self.count - 1))


def fit_gaussian(features: ArrayLike, *, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
  """The mean [D] and unbiased covariance [D, D] of features [N, D], in float64, via GaussianFit."""
  if batch_size < 1:
    raise ValueError(f'batch_size must be >= 1, got {batch_size}')
  if not isinstance(features, jax.Array):
    features = np.asarray(features)
  if features.ndim != 2:
    raise ValueError(f'features must be [N, D], got shape {features.shape}')
  fit = GaussianFit.start(features.shape[1])
  for start in range(0, len(features), batch_size):
    fit = fit.add(features[start : start + batch_size])
  return fit.mean, fit.covariance


def frechet_distance(mean1: ArrayLike, cov1: ArrayLike, mean2: ArrayLike, cov2: ArrayLike) -> float:
  """The Frechet distance between N(mean1, cov1) and N(mean2, cov2): FID on Inception features.

  |m1 - m2|^2 + tr(C1) + tr(C2) - 2 tr sqrt(C1 C2) in float64, with tr sqrt(C1 C2) the sum of the square
  roots of the eigenvalues of S C2 S, S = C1^(1/2) (both symmetric eigendecompositions; eigenvalues
  clipped at 0, so rank-deficient covariances are fine).

  Args:
    mean1: [D] mean of the first set.
    cov1: [D, D] its covariance.
    mean2: [D] mean of the second set.
    cov2: [D, D] its covariance.

  Returns:
    The distance (>= 0 up to rounding).
  """
  m1, c1, m2, c2 = (np.asarray(a, np.float64) for a in (mean1, cov1, mean2, cov2))
  d = m1.size
  if m1.shape != (d,) or m2.shape != (d,) or c1.shape != (d, d) or c2.shape != (d, d):
    raise ValueError(f'need means [D] and covariances [D, D], got {m1.shape}, {c1.shape}, {m2.shape}, {c2.shape}')
  eigenvalues, vectors = np.linalg.eigh(c1)
  root = (vectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ vectors.T
  product = root @ c2 @ root
  trace_root = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((product + product.T) / 2), 0, None)))
  return float(np.sum((m1 - m2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * trace_root)


# ---------------------------------------------------------------------------------------------------------
# KID


def kid_subset_size(n_real: int, n_fake: int, subset_size: int = 1000) -> int:
  """The subset size kid uses: subset_size, capped at the smaller set's row count; record it with the score."""
  size = min(subset_size, n_real, n_fake)
  if size < 2:
    raise ValueError(f'KID needs subsets of at least 2 rows, got {size} (sets of {n_real} and {n_fake} rows)')
  return size


def _cubic_kernel(x: jax.Array, y: jax.Array) -> jax.Array:
  return (jnp.matmul(x, y.T, precision=_HIGHEST) / x.shape[1] + 1) ** 3


@functools.partial(jax.jit, static_argnames='size')
def _kid_row_sums(real: jax.Array, fake: jax.Array, keys: jax.Array, size: int) -> jax.Array:
  """[S, 3, size] row sums of K_xx and K_yy without their diagonals and of K_xy, one subset at a time."""

  def one(key: jax.Array) -> jax.Array:
    real_key, fake_key = jax.random.split(key)
    x = real[jax.random.choice(real_key, real.shape[0], (size,), replace=False)]
    y = fake[jax.random.choice(fake_key, fake.shape[0], (size,), replace=False)]
    kxx, kyy = _cubic_kernel(x, x), _cubic_kernel(y, y)
    return jnp.stack([kxx.sum(1) - jnp.diagonal(kxx), kyy.sum(1) - jnp.diagonal(kyy), _cubic_kernel(x, y).sum(1)])

  return jax.lax.map(one, keys)


def kid(
  real: ArrayLike,
  fake: ArrayLike,
  *,
  num_subsets: int = 100,
  subset_size: int = 1000,
  key: jax.Array | int | None = None,
) -> tuple[float, float]:
  """Kernel Inception Distance: the unbiased MMD^2 with the kernel (x.y / D + 1)^3, over random subsets.

  As torch-fidelity computes it: each subset draws m rows of real and m of fake without replacement,
  MMD^2 = (sum_{i!=j} k(x_i, x_j) + sum_{i!=j} k(y_i, y_j)) / (m (m - 1)) - 2 sum_{i,j} k(x_i, y_j) / m^2.
  One subset at a time (three m x m kernel matrices in float32); the sums are finished in float64.

  Args:
    real: [N, D] features of real samples.
    fake: [M, D] features of generated samples.
    num_subsets: subsets averaged over.
    subset_size: rows per subset and per set; capped at min(N, M), see kid_subset_size.
    key: a JAX key or an int seed for the subsets; None means seed 0.

  Returns:
    The mean and the standard deviation (ddof=0) of MMD^2 over the subsets.
  """
  real, fake = _feature_pair(real, fake)
  size = kid_subset_size(real.shape[0], fake.shape[0], subset_size)
  if num_subsets < 1:
    raise ValueError(f'num_subsets must be >= 1, got {num_subsets}')
  if key is None or isinstance(key, int):
    key = jax.random.key(0 if key is None else key)
  sums = np.asarray(_kid_row_sums(real, fake, jax.random.split(key, num_subsets), size), np.float64)
  xx, yy, xy = sums.sum(axis=-1).T
  mmd2 = (xx + yy) / (size * (size - 1)) - 2 * xy / size**2
  return float(np.mean(mmd2)), float(np.std(mmd2))


# ---------------------------------------------------------------------------------------------------------
# Inception Score and class histograms


@functools.partial(jax.jit, static_argnames='splits')
def _split_mean_kl(logits: jax.Array, split_ids: jax.Array, splits: int) -> jax.Array:
  """[splits] mean over each split's rows of KL(p(y|x) || p(y)), p(y) the split's mean prediction."""
  log_p = jax.nn.log_softmax(logits)
  counts = jax.ops.segment_sum(jnp.ones(logits.shape[0]), split_ids, splits)
  top = jax.ops.segment_max(log_p, split_ids, splits)  # [S, C]: log p(y) as a logsumexp, stable
  top = jnp.where(jnp.isfinite(top), top, 0.0)
  summed = jax.ops.segment_sum(jnp.exp(log_p - top[split_ids]), split_ids, splits)
  log_marginal = top + jnp.log(summed) - jnp.log(counts)[:, None]
  p = jnp.exp(log_p)
  kl = jnp.sum(jnp.where(p > 0, p * (log_p - log_marginal[split_ids]), 0.0), axis=1)  # 0 log 0 = 0
  return jax.ops.segment_sum(kl, split_ids, splits) / counts


def inception_score(logits: ArrayLike, *, splits: int = 10) -> tuple[float, float]:
  """Inception Score exp(E_x KL(p(y|x) || p(y))) from a classifier's logits.

  Rows are cut into splits of consecutive rows, [s N // splits, (s + 1) N // splits) as in the original
  code and torch-fidelity; p(y) is each split's mean prediction.

  Args:
    logits: [N, C] logits (log-probabilities also work), N >= splits.
    splits: number of splits.

  Returns:
    The mean and the standard deviation (ddof=0) of the score over the splits.
  """
  logits = _features(logits, 'logits')
  n = logits.shape[0]
  if not 1 <= splits <= n:
    raise ValueError(f'need 1 <= splits <= N, got {splits} splits of {n} rows')
  bounds = np.arange(splits + 1) * n // splits
  split_ids = np.searchsorted(bounds, np.arange(n), side='right') - 1
  scores = np.exp(np.asarray(_split_mean_kl(logits, jnp.asarray(split_ids), splits), np.float64))
  return float(np.mean(scores)), float(np.std(scores))


def class_scores(logits: ArrayLike) -> dict[str, int | float]:
  """Mode scores from a classifier's predictions [N, C] (logits or probabilities: only the argmax counts).

  Returns:
    classes_covered: the number of classes that are the argmax of at least one sample;
    class_kl: KL(h || uniform) = sum_c h_c log(h_c C) in nats, h the histogram of the argmax classes
      (empty classes add 0).
  """
  logits = _features(logits, 'logits')
  num_classes = logits.shape[1]
  counts = np.bincount(np.asarray(jnp.argmax(logits, axis=1)), minlength=num_classes)
  h = counts[counts > 0] / logits.shape[0]
  return {'classes_covered': int(h.size), 'class_kl': float(np.sum(h * np.log(h * num_classes)))}


def class_accuracy(logits: ArrayLike, requested: ArrayLike) -> dict[str, float]:
  """How often a classifier calls a conditional generator's samples what they were asked to be.

  Args:
    logits: the classifier's predictions [N, C] of the generated images (only the argmax counts).
    requested: the class each image was generated of [N].

  Returns:
    class_accuracy: the fraction of images whose argmax class is the requested one; class_accuracy_min, that
    of the worst class; and class_accuracy_C for each requested class C.
  """
  logits, requested = _features(logits, 'logits'), np.asarray(requested)
  hits = np.asarray(jnp.argmax(logits, axis=1)) == requested
  per_class = {int(c): float(hits[requested == c].mean()) for c in np.unique(requested)}
  return {
    'class_accuracy': float(hits.mean()),
    'class_accuracy_min': min(per_class.values()),
    **{f'class_accuracy_{c}': value for c, value in per_class.items()},
  }


def intra_class_fid(
  real_features: ArrayLike, real_labels: ArrayLike, fake_features: ArrayLike, fake_labels: ArrayLike
) -> dict[str, float]:
  """Intra-class FID (Miyato & Koyama, 2018): each class's FID between its real and generated features, and
  their mean over the classes generated.

  Args:
    real_features: [N, D] reference features; real_labels [N] their classes.
    fake_features: [M, D] generated features; fake_labels [M] the classes they were generated of.

  Returns:
    intra_fid, the mean over classes; intra_fid_C for each class C.

  Raises:
    ValueError: a generated class with fewer than 2 images on either side.
  """
  real_labels, fake_labels = np.asarray(real_labels), np.asarray(fake_labels)
  per_class = {}
  for c in np.unique(fake_labels):
    real, fake = np.asarray(real_features)[real_labels == c], np.asarray(fake_features)[fake_labels == c]
    if min(len(real), len(fake)) < 2:
      raise ValueError(f'class {c} has {len(real)} reference and {len(fake)} generated images; each needs 2 or more')
    per_class[int(c)] = frechet_distance(*fit_gaussian(real), *fit_gaussian(fake))
  return {'intra_fid': float(np.mean(list(per_class.values()))), **{f'intra_fid_{c}': v for c, v in per_class.items()}}


# ---------------------------------------------------------------------------------------------------------
# k-NN manifolds: precision / recall, density / coverage


def _row_distances(row: jax.Array, row_sq: jax.Array, others: jax.Array, others_sq: jax.Array) -> jax.Array:
  """|row - o|^2 [N] as |row|^2 + |o|^2 - 2 row.o, clamped at 0 (rounding can make it slightly negative)."""
  return jnp.maximum(row_sq + others_sq - 2 * jnp.dot(others, row, precision=_HIGHEST), 0.0)


def _knn_radii(x: jax.Array, x_sq: jax.Array, k: int, block: int) -> jax.Array:
  """[N] squared distance of each row to its k-th nearest other row (itself excluded by index)."""
  indices = jnp.arange(x.shape[0])

  def one(args: tuple[jax.Array, jax.Array, jax.Array]) -> jax.Array:
    row, row_sq, i = args
    d2 = jnp.where(indices == i, jnp.inf, _row_distances(row, row_sq, x, x_sq))
    return -jax.lax.top_k(-d2, k)[0][k - 1]

  return jax.lax.map(one, (x, x_sq, indices), batch_size=block)


def _balls_containing(
  queries: jax.Array, queries_sq: jax.Array, centers: jax.Array, centers_sq: jax.Array, radii: jax.Array, block: int
) -> jax.Array:
  """[M] int32: for each query row, the number of centers c with |query - c|^2 <= radii_c."""

  def one(args: tuple[jax.Array, jax.Array]) -> jax.Array:
    row, row_sq = args
    return jnp.sum(_row_distances(row, row_sq, centers, centers_sq) <= radii, dtype=jnp.int32)

  return jax.lax.map(one, (queries, queries_sq), batch_size=block)


def _nearest(
  queries: jax.Array, queries_sq: jax.Array, others: jax.Array, others_sq: jax.Array, block: int
) -> jax.Array:
  """[M] squared distance of each query row to its nearest row of others."""

  def one(args: tuple[jax.Array, jax.Array]) -> jax.Array:
    return jnp.min(_row_distances(*args, others, others_sq))

  return jax.lax.map(one, (queries, queries_sq), batch_size=block)


def _checked_sets(real: ArrayLike, fake: ArrayLike, k: int) -> tuple[jax.Array, jax.Array]:
  real, fake = _feature_pair(real, fake)
  if not 1 <= k < min(real.shape[0], fake.shape[0]):
    raise ValueError(f'need 1 <= k < rows of each set, got k={k} for sets of {real.shape[0]} and {fake.shape[0]}')
  return real, fake


def _centred_with_norms(real: jax.Array, fake: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
  """Both sets less the real mean (distances unchanged, less cancellation in |a|^2 + |b|^2 - 2 a.b), and norms."""
  centre = jnp.mean(real, axis=0)
  real, fake = real - centre, fake - centre
  return real, jnp.sum(real**2, axis=1), fake, jnp.sum(fake**2, axis=1)


@functools.partial(jax.jit, static_argnames=('k', 'block'))
def _precision_recall_hits(real: jax.Array, fake: jax.Array, k: int, block: int) -> tuple[jax.Array, jax.Array]:
  """Whether each fake row lies in some real ball [M], and each real row in some fake ball [N]."""
  real, real_sq, fake, fake_sq = _centred_with_norms(real, fake)
  real_radii, fake_radii = _knn_radii(real, real_sq, k, block), _knn_radii(fake, fake_sq, k, block)
  return (
    _balls_containing(fake, fake_sq, real, real_sq, real_radii, block) > 0,
    _balls_containing(real, real_sq, fake, fake_sq, fake_radii, block) > 0,
  )


def precision_recall(real: ArrayLike, fake: ArrayLike, *, k: int = 3) -> tuple[float, float]:
  """Improved precision and recall (Kynkaanniemi et al., 2019) of k-NN balls.

  A sample's ball has the radius of its distance to its k-th nearest other sample of the same set.
  Squared distances are compared (clamped at 0, so a point on a sample of zero radius is inside).

  Args:
    real: [N, D] features of real samples.
    fake: [M, D] features of generated samples.
    k: the neighbour that sets the radius, 1 <= k < min(N, M).

  Returns:
    precision: the fraction of fake samples inside at least one real ball (distance <= radius);
    recall: the fraction of real samples inside at least one fake ball.
  """
  fake_hits, real_hits = _precision_recall_hits(*_checked_sets(real, fake, k), k, _ROW_BLOCK)
  return float(np.mean(np.asarray(fake_hits))), float(np.mean(np.asarray(real_hits)))


@functools.partial(jax.jit, static_argnames=('k', 'block'))
def _density_coverage_counts(real: jax.Array, fake: jax.Array, k: int, block: int) -> tuple[jax.Array, jax.Array]:
  """The number of real balls containing each fake row [M], and whether each real ball holds a fake row [N]."""
  real, real_sq, fake, fake_sq = _centred_with_norms(real, fake)
  real_radii = _knn_radii(real, real_sq, k, block)
  return (
    _balls_containing(fake, fake_sq, real, real_sq, real_radii, block),
    _nearest(real, real_sq, fake, fake_sq, block) <= real_radii,
  )


def density_coverage(real: ArrayLike, fake: ArrayLike, *, k: int = 5) -> tuple[float, float]:
  """Density and coverage (Naeem et al., 2020) of the real samples' k-NN balls.

  Args:
    real: [N, D] features x of real samples; each has a ball of radius NND_k(x_i), the distance to its
      k-th nearest other real sample.
    fake: [M, D] features y of generated samples.
    k: the neighbour that sets the radius, 1 <= k < min(N, M).

  Returns:
    density: (1 / (k M)) sum_j (the number of real balls containing y_j), 1 in expectation for fakes
      drawn like the reals, unbounded above;
    coverage: the fraction of real balls that contain at least one fake sample.
  """
  counts, covered = _density_coverage_counts(*_checked_sets(real, fake, k), k, _ROW_BLOCK)
  counts = np.asarray(counts, np.int64)
  return float(counts.sum() / (k * counts.size)), float(np.mean(np.asarray(covered)))

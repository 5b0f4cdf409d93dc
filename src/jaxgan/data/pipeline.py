"""How real batches reach the device, chosen by `data.pipeline`.

  device   the whole image set is put on the device once as uint8 (split over
           the mesh's `data` axis where there are several devices); each step
           is sent only the indices of its batch [B] and gathers and converts
           them on the device, inside the compiled step.
  stream   Grain worker processes gather the batches of the coming steps from
           the images (mapped from the preparation cache, jaxgan.data.prepared, for
           folders and tfds) and a thread puts them on the device ahead of the
           step (double buffering), as uint8, converted inside the step.
  auto     device when the images fit data.device_budget_gb (by default a
           quarter of the device's memory), stream otherwise; the run says
           which it took.

Either way batch t holds the images ImageSource.indices gives for step t (with
their labels, for a class-conditional run), a function of (seed, t) only: the
two pipelines train bitwise alike, and a resumed run reads what an
uninterrupted one does. The other sources (normal, ring8, grid25) make their
own batches (on the device for the mixtures).
"""

import os
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxgan.config import DataConfig
from jaxgan.data import parallel
from jaxgan.data.sources import DataError, ImageSource, Source

_AHEAD = 2  # batches on the device ahead of the step, and per stream worker


def device_budget(data: DataConfig) -> int:
  """Bytes of the device's memory that data.pipeline=auto lets a resident image set take."""
  if data.device_budget_gb:
    return int(data.device_budget_gb * 2**30)
  stats = jax.local_devices()[0].memory_stats() or {}  # None on the CPU: the host's memory is the device's
  memory = stats.get('bytes_limit') or os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
  return memory // 4


def choose(source: Source, data: DataConfig) -> str:
  """'device' or 'stream' for an image source as data.pipeline asks; 'own' for sources that make their own."""
  if not isinstance(source, ImageSource):
    return 'own'
  if data.pipeline != 'auto':
    return data.pipeline
  return 'device' if source.images.nbytes <= device_budget(data) else 'stream'


def put_on_mesh(array: np.ndarray, mesh: Mesh | None, spec: P) -> jax.Array:
  """A host array (the same on every process) on the mesh as `spec` splits it; on the default device without one."""
  if mesh is None:
    return jax.device_put(array)
  return jax.make_array_from_callback(array.shape, NamedSharding(mesh, spec), lambda index: array[index])


class _StepImages:
  """Grain's map from a step to the uint8 images of its batch (the rows this process holds). Pickled into the
  worker processes by the file the images are mapped from, not by their bytes."""

  def __init__(self, source: ImageSource, rows: int, local_rows: slice, labelled: bool):
    self.source, self.rows, self.local_rows, self.labelled = source, rows, local_rows, labelled

  def __getstate__(self) -> dict[str, Any]:
    images = self.source.images
    mapped = isinstance(images, np.memmap) and images.filename
    source = ImageSource(images[:0], self.source.seed, self.source.labels) if mapped else self.source
    return {**self.__dict__, 'source': source, 'size': self.source.size, 'mapped': mapped}

  def __setstate__(self, state: dict[str, Any]) -> None:
    mapped, size = state.pop('mapped'), state.pop('size')
    self.__dict__.update(state)
    if mapped:
      self.source = ImageSource(np.load(mapped, mmap_mode='r'), self.source.seed, self.source.labels)
      if self.source.size != size:
        raise DataError(f'{mapped} changed while the run streamed from it ({size} images, now {self.source.size})')

  def __call__(self, step: int) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    indices = self.source.indices(step, 1, self.rows)[0, self.local_rows]
    images = self.source.images[indices]
    return (images, self.source.labels[indices].astype(np.int32)) if self.labelled else images


class Feed:
  """The real batches of a run, on the device, step after step: `feed(start, num_steps)` -> (batches, pool)
  for jaxgan.game.step.train_steps(state, batches, pool) (or one at a time, train_step(state, batches[i], pool)).

  A sweep whose members draw their own batches has one source per member: batches [K, M, B, ...] (or
  indices [K, M, B]); otherwise [K, B, ...]. A labelled feed (a class-conditional run's) gives (images,
  labels) batches, or a pool of (images, labels) that the indices index.
  """

  def __init__(
    self,
    sources: Sequence[Source],
    data: DataConfig,
    rows: int,
    mesh: Mesh | None,
    sweeping: bool,
    labelled: bool = False,
  ):
    """sources: the run's (a sweep's members' own, one each); rows: real samples a step takes; labelled: with
    the images' labels (DataError for a source without)."""
    self.sources, self.rows, self.mesh, self.sweeping = list(sources), rows, mesh, sweeping
    self.labelled = labelled
    if labelled and getattr(self.sources[0], 'labels', None) is None:
      raise DataError(
        f'data.source={data.source} has no class labels, which model.conditioning needs: give labelled data '
        "(an npz with 'labels', digits, or a tfds split with a label), or set model.conditioning=none"
      )
    self.kind, self.data = choose(self.sources[0], data), data
    self.pool = None
    self._local_rows = parallel.process_rows(rows) if mesh and not sweeping else slice(None)
    self._workers = data.workers if data.workers >= 0 else min(8, os.cpu_count() or 1)
    self._stream: Iterator[Any] | None = None
    self._next_step = -1
    if self.kind == 'stream' and len(self.sources) > 1:
      raise DataError(
        'a sweep whose members draw their own batches (train.member_batches=own) streams no data: set '
        'data.pipeline=device, or train.member_batches=shared'
      )
    if self.kind == 'device':
      images = np.asarray(self.sources[0].images)
      missing = -len(images) % (mesh.shape[parallel.DATA_AXIS] if mesh else 1)  # whole shards on every device
      if missing:
        images = np.concatenate([images, np.zeros((missing, *images.shape[1:]), np.uint8)])
      pool = images
      if labelled:
        labels = np.asarray(self.sources[0].labels, np.int32)
        pool = (images, np.concatenate([labels, np.zeros(missing, np.int32)]))
      try:
        self.pool = jax.tree.map(lambda part: put_on_mesh(part, mesh, P(parallel.DATA_AXIS)), pool)
      except jax.errors.JaxRuntimeError as e:
        if 'RESOURCE_EXHAUSTED' not in str(e):
          raise
        raise DataError(
          f'the images ({images.nbytes / 2**30:.2f} GiB) do not fit on the device: set data.pipeline=stream (or auto)'
        ) from e

  def check(self, step: int) -> None:
    """Raises DataError where the data cannot serve the batches of `step` (a batch larger than the data)."""
    for source in self.sources:
      (source.indices if isinstance(source, ImageSource) else source.batches)(step, 1, self.rows)

  def describe(self) -> str:
    """One line for the user: the pipeline this run took, and why."""
    source = self.sources[0]
    if self.kind == 'own':
      return ''
    size = f'{source.size} images {"x".join(map(str, source.sample_shape))}, {source.images.nbytes / 2**20:.0f} MiB'
    if self.kind == 'device':
      return f'data on the device ({size}); each step gathers its batch there'
    why = ', over data.device_budget_gb' if self.data.pipeline == 'auto' else ''
    return f'data streamed by {self._workers or "no"} Grain worker processes ({size}{why}), {_AHEAD} batches ahead'

  def _placed(self, batches: np.ndarray | jax.Array, own: bool) -> np.ndarray | jax.Array:
    """Batches [K, B, ...] ([K, M, B, ...] with own) of this process's rows, as global arrays on the mesh (as
    they are, without one)."""
    if not self.mesh:  # host arrays go with the call that takes them: indexing one step's costs nothing there
      return batches
    if self.sweeping:
      return parallel.shard_population_batches(batches, self.mesh, own=own)
    return parallel.shard_batches(batches, self.mesh)

  def __call__(self, start: int, num_steps: int) -> tuple[jax.Array | list[jax.Array], jax.Array | None]:
    own = len(self.sources) > 1
    if self.kind == 'own':
      parts = [source.batches(start, num_steps, self.rows) for source in self.sources]
      batches = (jnp if isinstance(parts[0], jax.Array) else np).stack(parts, axis=1) if own else parts[0]
      return self._placed(batches if own or self.sweeping else batches[:, self._local_rows], own), None
    if self.kind == 'device':
      parts = [source.indices(start, num_steps, self.rows).astype(np.int32) for source in self.sources]
      indices = np.stack(parts, axis=1) if own else parts[0][:, self._local_rows]
      return self._placed(indices, own), self.pool
    return self._streamed(start, num_steps), None

  def _streamed(self, start: int, num_steps: int) -> list[jax.Array]:
    """The next num_steps batches of the stream, each on the device (a list: the loop takes them one by one)."""
    if self._stream is None or start != self._next_step:
      self.close()
      self._stream = self._open_stream(start)
    self._next_step = start + num_steps
    return [next(self._stream) for _ in range(num_steps)]

  def _open_stream(self, start: int) -> Iterator[jax.Array]:
    import grain

    read = _StepImages(self.sources[0], self.rows, self._local_rows, self.labelled)

    def put(batch: np.ndarray | tuple) -> jax.Array | tuple:  # in the prefetch thread, ahead of the step
      if not self.mesh:
        return jax.device_put(batch)
      return jax.tree.map(lambda part: self._placed(part[None], own=False)[0], batch)

    steps = grain.MapDataset.range(start, 2**62).map(read).to_iter_dataset(grain.ReadOptions(num_threads=0))
    if self._workers:
      from absl import flags  # Grain's workers read its absl flags: parsed, as a program using absl would have

      if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
      steps = steps.mp_prefetch(grain.MultiprocessingOptions(num_workers=self._workers, per_worker_buffer_size=_AHEAD))
    return iter(grain.experimental.ThreadPrefetchIterDataset(steps.map(put), prefetch_buffer_size=_AHEAD))

  def close(self) -> None:
    """Stops the stream's workers, if any."""
    if self._stream is not None and hasattr(self._stream, 'close'):
      self._stream.close()
    self._stream = None

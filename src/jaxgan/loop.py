"""The training loop: `train(config, workdir)`, shared by the CLI, notebooks and sweeps.

It writes into the workdir:
  config.json       the resolved config; run.json, the shape of one sample;
  metrics.jsonl     one JSON object per logged step (`train/...`, `eval/...`, `perf/...`);
  tensorboard/      the same as TensorBoard event files, and sample grids;
  checkpoints/      orbax checkpoints of the whole state, every train.checkpoint_every steps;
  summary.json      the final figures; losses.png, the loss curves;
  samples/, samples.gif, samples.png    for image GANs;
  panels.png, curves.png                for 1-D games with a known data density.

Starting again on a workdir with a checkpoint resumes from it, exactly: batch,
randomness and update order depend only on the step, which the checkpoint holds.
SIGINT, SIGTERM and train.max_seconds stop training at the next log step with
a checkpoint.

On several hosts (jaxgan.parallel.initialize_from_environment first) every
process runs this same loop on the global arrays and reads its own rows of each
batch; the workdir must be shared. Process 0 writes the run's files, the others
write theirs to a scratch folder; checkpoints are written by all together.
"""

import contextlib
import json
import os
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils

from jaxgan import config as config_lib
from jaxgan import parallel
from jaxgan.checkpoint import Checkpointer, CheckpointError
from jaxgan.config import Config
from jaxgan.data import DataError, NormalSource, make_source
from jaxgan.eval1d import Evaluator1D
from jaxgan.samples import SampleGrids
from jaxgan.state import create_state
from jaxgan.step import train_step, train_steps
from jaxgan.writer import MetricWriter, read_metrics

# Keys that may change when a run resumes: they steer the loop, not the game.
_RUN_CONTROL = {'train.steps', 'train.log_every', 'train.checkpoint_every', 'train.sample_every', 'train.max_seconds'}


class RunError(RuntimeError):
  """A run that cannot start or go on: unusable workdir or data, a mismatched checkpoint, NaN."""


def prepare_workdir(workdir: str | os.PathLike) -> Path:
  """Creates workdir (made absolute: orbax needs it) and checks that it is writable."""
  path = Path(workdir).expanduser().absolute()
  try:
    path.mkdir(parents=True, exist_ok=True)
    probe = path / f'.jaxgan-write-test-{os.getpid()}'  # one per process: several may share the workdir
    probe.write_text('')
    probe.unlink()
  except OSError as e:
    raise RunError(f'workdir {path} is not usable: {e.strerror or e}') from e
  return path


def _flatten(tree: dict[str, Any], prefix: str = '') -> dict[str, Any]:
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat |= _flatten(value, f'{prefix}{key}.')
    else:
      flat[f'{prefix}{key}'] = value
  return flat


def _check_same_game(saved: dict[str, Any], config: Config, workdir: Path) -> None:
  old, new = _flatten(saved), _flatten(json.loads(json.dumps(config_lib.to_dict(config))))
  changed = sorted(k for k in old.keys() | new.keys() if k not in _RUN_CONTROL and old.get(k) != new.get(k))
  if changed:
    k = changed[0]
    raise RunError(
      f'config does not match the checkpoint in {workdir} ({k}: {old.get(k)} there, {new.get(k)} now); '
      'use a new --workdir, or the same config to resume'
    )


def _chunk_ends(start: int, steps: int, log_every: int, events: set[int]) -> list[int]:
  """Steps after `start` at which the loop stops to log, evaluate or save; ends with `steps`."""
  ends = {*range(log_every, steps, log_every), *events, steps}
  return sorted(e for e in ends if start < e <= steps)


@contextlib.contextmanager
def _stop_requests() -> Iterator[list[str]]:
  """Turns SIGINT and SIGTERM into a request to stop at the next log step."""
  requests: list[str] = []
  handled = (signal.SIGINT, signal.SIGTERM)
  try:
    previous = {s: signal.signal(s, lambda signum, _: requests.append(signal.Signals(signum).name)) for s in handled}
  except ValueError:  # not the main thread: no handlers, no graceful stop
    yield requests
    return
  try:
    yield requests
  finally:
    for s, handler in previous.items():
      signal.signal(s, handler)


def _open_run(
  config: Config, workdir: Path, checkpoints: Checkpointer, fresh_state: Any, sample_shape: tuple[int, ...], out: Path
) -> tuple[Any, list[str]]:
  """The state to start from: the latest checkpoint's, or fresh.

  Writes config.json and run.json (the sample shape, so that sampling needs no data) into `out`.
  """
  config_path = workdir / 'config.json'
  if config_path.exists():
    _check_same_game(json.loads(config_path.read_text()), config, workdir)
  state, notes = checkpoints.restore_latest(fresh_state)
  if state is None:
    if config_path.exists() or (workdir / 'metrics.jsonl').exists():
      raise RunError(f'{workdir} holds a run but no readable checkpoint to resume; choose a new --workdir')
    state = fresh_state
  if jax.process_count() > 1:  # every process has read the workdir before process 0 writes to it
    multihost_utils.sync_global_devices('jaxgan: run opened')
  (out / 'config.json').write_text(json.dumps(config_lib.to_dict(config), indent=2) + '\n')
  (out / 'run.json').write_text(json.dumps({'sample_shape': list(sample_shape)}) + '\n')
  return state, notes


def train(config: Config, workdir: str | os.PathLike, *, progress: bool = True) -> dict[str, Any]:
  """Trains (or resumes) a GAN as `config` says, writing the run into `workdir`.

  Args:
    config: the run's config.
    workdir: the run's directory, created if needed; a checkpoint in it is resumed.
    progress: show a progress bar on stderr.

  Returns:
    The summary (also in workdir/summary.json), or, when stopped early by a
    signal or train.max_seconds, {'stopped': reason, 'step': step}.

  Raises:
    ConfigError: a config value out of range.
    RunError: unusable workdir or data, a checkpoint of another config, NaN or Inf.
  """
  start_time = time.perf_counter()
  config = config_lib.validate(config)
  workdir = prepare_workdir(workdir)
  with _stop_requests() as stop_requests, _output_dir(workdir) as out:
    try:
      return _run(config, workdir, out, progress, start_time, stop_requests)
    except CheckpointError as e:
      raise RunError(str(e)) from e


@contextlib.contextmanager
def _output_dir(workdir: Path) -> Iterator[Path]:
  """Where this process writes the run's files: the workdir on process 0; on
  the others (which compute the same, SPMD) a scratch folder, removed after."""
  if jax.process_index() == 0:
    yield workdir
  else:
    with tempfile.TemporaryDirectory(prefix='jaxgan-process-') as scratch:
      yield Path(scratch)


def _run(
  config: Config, workdir: Path, out: Path, progress: bool, start_time: float, stop_requests: list[str]
) -> dict[str, Any]:
  t = config.train
  try:
    source = make_source(config.data, t.seed)
  except DataError as e:
    raise RunError(str(e)) from e
  # Several devices: the batch split over them, the state replicated (jaxgan.parallel).
  mesh = parallel.data_mesh() if jax.device_count() > 1 else None
  rows = t.batch_size * config.game.d_steps
  if mesh:
    try:
      parallel.process_rows(t.batch_size)  # each D update's batch splits evenly
    except ValueError as e:
      raise RunError(f'train.batch_size: {e}') from e
    local_rows = parallel.process_rows(rows)
  init_key, eval_key = jax.random.split(jax.random.key(t.seed))
  checkpoints = Checkpointer(workdir / 'checkpoints')
  fresh = create_state(config, init_key, source.sample_shape)
  if mesh:
    fresh = parallel.replicate(fresh, mesh)  # restored arrays take the target's sharding
  state, notes = _open_run(config, workdir, checkpoints, fresh, source.sample_shape, out)
  xla_convs_on_cpu = (
    config.model.architecture == 'dcgan' and config.model.conv_impl == 'lax' and jax.default_backend() == 'cpu'
  )
  if t.scan and xla_convs_on_cpu:
    notes.append(
      "train.scan with model.conv_impl=lax: XLA's CPU convolution gradients run many times slower inside "
      'lax.scan (jax-ml/jax#12868); set train.scan=False or model.conv_impl=auto'
    )
  for note in notes:
    print(f'jaxgan: {note}', flush=True)
  step = int(state.step)
  if step == 0:
    checkpoints.save(state)
  summary_path = workdir / 'summary.json'
  if step >= t.steps and summary_path.exists():
    print(f'jaxgan: {workdir} already finished {step} steps; raise train.steps to train on', flush=True)
    return json.loads(summary_path.read_text())

  writer = MetricWriter(out, step, t.steps, progress and out == workdir)
  if isinstance(source, NormalSource):
    evaluator = Evaluator1D(config.eval, source, eval_key, t.steps, out)
  else:
    evaluator = SampleGrids(out, writer, eval_key, t.sample_every, t.steps)
  evaluator(state, step)
  stopped = None
  last_logged = read_metrics(out / 'metrics.jsonl')
  metrics = last_logged[-1] if last_logged else {}
  finished = False
  try:
    for end in _chunk_ends(step, t.steps, t.log_every, evaluator.events() | {*range(0, t.steps, t.checkpoint_every)}):
      chunk_start = time.perf_counter()
      try:
        batches = source.batches(step, end - step, rows)
        if mesh:
          batches = parallel.shard_batches(batches[:, local_rows], mesh)
      except DataError as e:
        raise RunError(str(e)) from e
      state, chunk = train_steps(state, batches) if t.scan else _step_by_step(state, batches)
      chunk = jax.device_get(chunk)
      _check_finite(chunk, step, checkpoints)
      seconds = time.perf_counter() - chunk_start
      images = (end - step) * t.batch_size
      step = end
      metrics = {f'train/{name}': float(np.mean(values)) for name, values in chunk.items()}
      metrics['perf/images_per_second'] = images / seconds
      metrics |= {f'eval/{name}': value for name, value in evaluator(state, step).items()}
      writer.write(step, metrics)
      if step < t.steps and stop_requests:
        stopped = stop_requests[0]
      elif step < t.steps and t.max_seconds and time.perf_counter() - start_time > t.max_seconds:
        stopped = f'max time ({t.max_seconds:g} s)'
      stopped = _stop_together(stopped)
      if step % t.checkpoint_every == 0 or step == t.steps or stopped:
        checkpoints.save(state)
      if stopped:
        break
    finished = True
  finally:
    writer.close(keep_progress=finished)

  if stopped:
    return {'stopped': stopped, 'step': step}
  summary = {
    **evaluator.finish(state),
    **{k.removeprefix('train/'): v for k, v in metrics.items() if k.startswith('train/')},
    'steps': t.steps,
    'wall_seconds': time.perf_counter() - start_time,
  }
  _plot_losses(out)
  (out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
  return summary


def _stop_together(stopped: str | None) -> str | None:
  """Process 0's decision to stop, on every process (signals and clocks differ between hosts)."""
  if jax.process_count() == 1:
    return stopped
  if multihost_utils.broadcast_one_to_all(np.int32(stopped is not None)):
    return stopped or 'stopped on process 0'
  return None


def _step_by_step(state: Any, batches: np.ndarray) -> tuple[Any, dict[str, np.ndarray]]:
  """What train_steps does, one dispatch per step; metrics stacked, [K].

  The host runs at most one step ahead of the devices. Further ahead, XLA's CPU
  client (jax 0.10) can deadlock a step over several devices: each device's
  part waits for a slot among that device's in-flight computations, which later
  steps, waiting on this one, can fill first; the other devices' parts then wait
  in the step's all-reduce for good.
  """
  metrics = []
  for i in range(len(batches)):  # indexing, not iterating: batches may span several processes
    state, step_metrics = train_step(state, batches[i])
    if metrics:
      jax.block_until_ready(metrics[-1])
    metrics.append(step_metrics)
  return state, jax.tree.map(lambda *m: np.stack(m), *metrics)


def _check_finite(chunk: dict[str, np.ndarray], start: int, checkpoints: Checkpointer) -> None:
  for name, values in chunk.items():
    if not np.all(np.isfinite(values)):
      bad = start + int(np.argmin(np.isfinite(values))) + 1
      last = checkpoints.steps()[-1] if checkpoints.steps() else None
      raise RunError(
        f'{name} became {values[bad - start - 1]} at step {bad}; training stopped, last good checkpoint: step {last} '
        f'in {checkpoints.directory}; lower the learning rates or check the data'
      )


def _plot_losses(workdir: Path) -> None:
  """losses.png: D and G losses, D(x) and D(G(z)) over the whole run, from metrics.jsonl."""
  import matplotlib

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt

  rows = read_metrics(workdir / 'metrics.jsonl')
  steps = [r['step'] for r in rows]
  fig, (ax_loss, ax_d) = plt.subplots(1, 2, figsize=(10, 3.4))
  for key, label in [('train/d_loss', 'D loss'), ('train/g_loss', 'G loss')]:
    ax_loss.plot(steps, [r[key] for r in rows], label=label)
  for key, label in [('train/d_real', 'D(x)'), ('train/d_fake', 'D(G(z))')]:
    ax_d.plot(steps, [r[key] for r in rows], label=label)
  ax_d.axhline(0.5, color='grey', lw=0.5)
  for ax, title in [(ax_loss, 'losses'), (ax_d, 'discriminator outputs')]:
    ax.set(xlabel='step', title=title)
    ax.legend()
  fig.tight_layout()
  fig.savefig(workdir / 'losses.png', dpi=100)
  plt.close(fig)

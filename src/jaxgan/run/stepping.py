"""The stepping: chunks of train steps dispatched, the stop requests checked between them, NaN caught.

A chunk is the steps between two stops of the loop (log, evaluation and checkpoint steps). With
train.scan it is one dispatch of train_steps; otherwise one dispatch a step (step_by_step), its
batches read PIECE steps at a time. Stop requests (SIGINT, SIGTERM, train.max_seconds) end a chunk
after the step in flight.
"""

import contextlib
import functools
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

from jaxgan.data.pipeline import Feed
from jaxgan.data.sources import DataError
from jaxgan.game.state import GANState
from jaxgan.game.step import train_step, train_steps
from jaxgan.run import workdir as workdir_lib
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.workdir import RunError
from jaxgan.run.writer import MetricWriter

PIECE = 100  # steps whose batches one-dispatch-a-step training reads at once


class Interrupted(KeyboardInterrupt):
  """Training stopped at once (a second signal, or one before training began); says what was kept."""


class Stop:
  """Stop requests: SIGINT and SIGTERM, and the train.max_seconds deadline.

  Before training, a signal stops the run at the next check (check_not_stopped);
  in training, after the step in flight, with a checkpoint. Either way the run
  says so at once, and a second signal stops at once, raising KeyboardInterrupt,
  though not inside a checkpoint save (then right after it).
  """

  def __init__(self, max_seconds: float, start_time: float):
    self.signal: str | None = None  # the name of the first SIGINT or SIGTERM
    self.training = False
    self._max_seconds, self._deadline = max_seconds, start_time + max_seconds if max_seconds else float('inf')
    self._saving = self._now = False

  def requested(self) -> str | None:
    """Why training should stop after the step in flight, or None."""
    self.check_not_stopped_at_once()
    if self.signal is None and time.perf_counter() > self._deadline:
      return f'max time ({self._max_seconds:g} s)'
    return self.signal

  def after_step(self) -> str | None:
    """Why to stop after the step in flight: on one process, any stop request; on several, none (they stop at
    log steps, agreed by all, requested_by_all) but a second signal."""
    return self.requested() if jax.process_count() == 1 else self.check_not_stopped_at_once()

  def requested_by_all(self, *, finished: bool) -> str | None:
    """At a log step: why to stop, process 0's decision on every process (signals and clocks differ between
    hosts); None once training has `finished` its steps."""
    stopped = None if finished else self.requested()
    if jax.process_count() == 1:
      return stopped
    if multihost_utils.broadcast_one_to_all(np.int32(stopped is not None)):
      return stopped or 'stopped on process 0'
    return None

  def seconds_left(self) -> float:
    return self._deadline - time.perf_counter()

  def check_not_stopped(self) -> None:
    """Before training: raises KeyboardInterrupt if a signal came."""
    if self.signal:
      raise KeyboardInterrupt

  def check_not_stopped_at_once(self) -> None:
    """Raises KeyboardInterrupt after a second signal (should its own have been lost, as one raised inside a
    garbage-collector callback is)."""
    if self._now:
      raise KeyboardInterrupt

  def _on_signal(self, signum: int, _: Any) -> None:
    name = signal.Signals(signum).name
    if self.signal is None:
      self.signal = name
      what = 'after the step in flight, with a checkpoint' if self.training else 'before training starts'
      message = f'\njaxgan: {name}: stopping {what}; {name} again stops at once\n'
      os.write(sys.stderr.fileno(), message.encode())  # not print: the signal may come inside a write to stderr
    else:
      self._now = True
      if not self._saving:
        raise KeyboardInterrupt

  @contextlib.contextmanager
  def handling_signals(self) -> Iterator['Stop']:
    handled = (signal.SIGINT, signal.SIGTERM)
    try:
      previous = {s: signal.signal(s, self._on_signal) for s in handled}
    except ValueError:  # not the main thread: no handlers, no graceful stop
      yield self
      return
    try:
      yield self
    finally:
      for s, handler in previous.items():
        signal.signal(s, handler)

  @contextlib.contextmanager
  def deferred(self) -> Iterator[None]:
    """A second signal during the block (a checkpoint save) takes effect after it."""
    self._saving = True
    try:
      yield
    finally:
      self._saving = False
    self.check_not_stopped_at_once()


def chunk_ends(start: int, steps: int, log_every: int, events: set[int]) -> list[int]:
  """Steps after `start` at which the loop stops to log, evaluate or save; ends with `steps`."""
  ends = {*range(log_every, steps, log_every), *events, steps}
  return sorted(e for e in ends if start < e <= steps)


def batches(feed: Feed, start: int, num_steps: int) -> tuple[Any, jax.Array | None]:
  """The feed's batches of steps start.. start + num_steps (and its image pool); unreadable data in one line."""
  try:
    return feed(start, num_steps)
  except DataError as e:
    raise RunError(str(e)) from e


def chunk_of_steps(
  state: GANState, feed: Feed, start: int, end: int, *, scan: bool, stop: Stop, writer: MetricWriter
) -> tuple[GANState, dict[str, np.ndarray]]:
  """Steps start..end and their metrics, [steps]: one dispatch (scan), or one a step, the data read PIECE steps
  at a time and the progress bar moved on after each, stopping early where a stop was requested (one dispatch
  runs whole)."""
  if scan:
    steps, pool = batches(feed, start, end - start)
    if isinstance(steps, list):  # streamed: one batch a step, stacked for the scan
      steps = jax.tree.map(lambda *each: jnp.stack(each), *steps)
    state, metrics = train_steps(state, steps, pool)
    return state, jax.device_get(metrics)
  pieces = []
  for piece_start in range(start, end, PIECE):
    num_steps = min(PIECE, end - piece_start)
    each_step = functools.partial(_stepped, writer, stop)
    state, piece = step_by_step(state, *batches(feed, piece_start, num_steps), each_step)
    pieces.append(piece)
    if len(piece['d_loss']) < num_steps or stop.after_step():
      break
  return state, {name: np.concatenate([p[name] for p in pieces]) for name in pieces[0]}


def _stepped(writer: MetricWriter, stop: Stop) -> str | None:
  """After each step: the progress bar moved on; why to stop (None: go on)."""
  writer.advance()
  return stop.after_step()


def step_by_step(
  state: GANState,
  batches: Sequence[jax.Array] | jax.Array,
  pool: jax.Array | None = None,
  should_stop: Callable[[], Any] | None = None,
) -> tuple[GANState, dict[str, np.ndarray]]:
  """What train_steps does, one dispatch per step; metrics stacked, [K].

  Returns early, after the step in flight, once `should_stop()` is true.

  The host runs at most one step ahead of the devices. Further ahead, XLA's CPU
  client (jax 0.10) can deadlock a step over several devices: each device's
  part waits for a slot among that device's in-flight computations, which later
  steps, waiting on this one, can fill first; the other devices' parts then wait
  in the step's all-reduce for good.
  """
  metrics = []
  for i in range(len(batches)):  # indexing, not iterating: batches may span several processes
    state, step_metrics = train_step(state, batches[i], pool)
    if metrics:
      jax.block_until_ready(metrics[-1])
    metrics.append(step_metrics)
    if should_stop and should_stop():
      break
  return state, jax.tree.map(lambda *m: np.stack(m), *metrics)


def check_finite(chunk: dict[str, np.ndarray], start: int, checkpoints: Checkpointer) -> None:
  """Stops a single run whose metrics became NaN or Inf in the chunk from step `start`, saying where."""
  for name, values in chunk.items():
    if not np.all(np.isfinite(values)):
      bad = start + int(np.argmin(np.isfinite(values))) + 1
      kept = workdir_lib.trained_steps(checkpoints.directory.parent)
      where = f'last good checkpoint: step {kept[-1]} in {checkpoints.directory}' if kept else 'no checkpoint was kept'
      raise RunError(
        f'{name} became {values[bad - start - 1]} at step {bad}; training stopped, {where}; '
        'lower the learning rates or check the data'
      )

"""Where a run's wall time goes, for its timings.json and experiments/bench/sweep.py.

The loop opens one recording; inside it, code marks what it does with `phase(name)` (a no-op when nothing
records). Phases nest and count exclusively: a phase's time excludes that of the phases inside it and the
compilation that happened during it (jax's tracing, lowering and compiling, from jax.monitoring), which
counts as 'compile'. What no phase covers counts as 'startup' until the run is open (Timings.opened), then as
'other'.

  startup      opening the run: data, networks, checkpoint restored, extractor and reference scores;
  steps        the compiled rounds (and their dispatch and transfer of metrics);
  evaluation   the evaluators' work at log steps and the end, on the device and off it;
  pictures     matplotlib figures and image grids (inside evaluation and finish);
  files        metrics rows, summaries, tables;
  checkpoints  saving the state;
  compile      jax's tracing, lowering and compiling, wherever it happened.

It also counts the programs the run compiled ('programs_compiled') and those the persistent compilation cache
served instead ('programs_from_cache'): a sweep compiles the same programs whatever its number of members, and a
second sweep of the same shapes compiles none.
"""

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterator

import jax

_COMPILE_EVENTS = '/jax/core/compile/'
_PROGRAM = '/jax/core/compile/backend_compile_duration'  # one a program, whether compiled or read from the cache
_FROM_CACHE = '/jax/compilation_cache/cache_hits'


class Timings:
  """Seconds by phase, exclusive; see the module's docstring."""

  def __init__(self):
    self.seconds: dict[str, float] = defaultdict(float)
    self._stack: list[str] = []
    self._unphased = 'startup'
    self._started = self._mark = time.perf_counter()
    self._compiling = 0.0  # compile seconds not yet taken out of a phase
    self._programs = self._from_cache = 0

  def _on_duration(self, event: str, duration: float, **_) -> None:
    if event.startswith(_COMPILE_EVENTS):
      self.seconds['compile'] += duration
      self._compiling += duration
    self._programs += event == _PROGRAM

  def _on_event(self, event: str, **_) -> None:
    self._from_cache += event == _FROM_CACHE

  def _close_span(self) -> None:
    """Books the time since the last mark to the innermost phase (or the unphased), less the compilation in it."""
    now = time.perf_counter()
    self.seconds[self._stack[-1] if self._stack else self._unphased] += now - self._mark - self._compiling
    self._mark, self._compiling = now, 0.0

  def opened(self) -> None:
    """The run is open: time outside the phases counts as 'other' from here on, not 'startup'."""
    self._close_span()
    self._unphased = 'other'

  @contextlib.contextmanager
  def phase(self, name: str) -> Iterator[None]:
    self._close_span()
    self._stack.append(name)
    try:
      yield
    finally:
      self._close_span()
      self._stack.pop()

  def report(self) -> dict[str, float]:
    """{phase}_s for each phase seen; wall_s, their sum (the recording's wall time so far); the program counts."""
    self._close_span()
    report = {f'{name}_s': round(seconds, 3) for name, seconds in sorted(self.seconds.items())}
    programs = {'programs_compiled': self._programs - self._from_cache, 'programs_from_cache': self._from_cache}
    return {**report, 'wall_s': round(time.perf_counter() - self._started, 3), **programs}


_active: list[Timings] = []


@contextlib.contextmanager
def recording() -> Iterator[Timings]:
  """A Timings that phase() books into while the block runs."""
  timings = Timings()
  jax.monitoring.register_event_duration_secs_listener(timings._on_duration)
  jax.monitoring.register_event_listener(timings._on_event)
  _active.append(timings)
  try:
    yield timings
  finally:
    _active.remove(timings)
    jax.monitoring.unregister_event_duration_listener(timings._on_duration)
    jax.monitoring.unregister_event_listener(timings._on_event)


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
  """Books the block to phase `name` of the recording in progress, if any."""
  if not _active:
    yield
    return
  with _active[-1].phase(name):
    yield

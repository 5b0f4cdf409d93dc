"""The training loop: `train(config, workdir)` and `sweep(config, members, workdir)`, for the CLI and notebooks.

It writes into the workdir:
  config.json       the resolved config; run.json, the shape of one sample and the data pipeline taken;
  metrics.jsonl     one JSON object per logged step (`train/...`, `optim/...`, `eval/...`, `perf/...`);
  tensorboard/      the same as TensorBoard event files, and sample grids;
  checkpoints/      orbax checkpoints of the whole state, every train.checkpoint_every steps;
  summary.json      the final figures (or those of a stopped run); losses.png, the loss curves;
  samples/, samples.gif, samples.png    for image GANs;
  panels.png, curves.png                for 1-D games with a known data density;
  panels.png, modes.png                 for the 2-D mixtures (ring8, grid25);
  members.json, members/NNN/, results.csv, members.png    for a sweep (jaxgan.population).

Starting again on a workdir with a checkpoint resumes from it, exactly: batch,
randomness and update order depend only on the step, which the checkpoint holds.
A resumed run may change only the keys that steer the loop (_RUN_CONTROL);
re-planning train.steps under a decaying learning rate needs `extend=True`.

A run with train.max_seconds and a decaying learning rate first fits
train.steps to that time (_fit_to_time), so that its schedule ends in time.

Stopping: SIGINT, SIGTERM and train.max_seconds stop training after the step
in flight (with train.scan, the dispatch in flight), with a checkpoint, the
summary and the pictures so far; a second signal stops at once, keeping the
last checkpoint. One live run per workdir: another is refused. A run that
fails or is stopped before it saved a trained step leaves nothing behind.

On several hosts (jaxgan.parallel.initialize_from_environment first) every
process runs this same loop on the global arrays and reads its own rows of each
batch; the workdir must be shared. Process 0 holds the workdir and writes the
run's files, the others write theirs to a scratch folder; checkpoints are
written by all together, and stops are agreed at log steps.
"""

import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

from jaxgan import config as config_lib
from jaxgan import parallel, population
from jaxgan import workdir as workdir_lib
from jaxgan.checkpoint import Checkpointer, CheckpointError
from jaxgan.config import Config
from jaxgan.data import DataError, MixtureSource, NormalSource, Source, make_source
from jaxgan.eval1d import Evaluator1D
from jaxgan.eval2d import Evaluator2D
from jaxgan.evaluation import EvalError, Evaluation, Scoring
from jaxgan.pipeline import Feed
from jaxgan.samples import SampleGrids
from jaxgan.state import GANState, create_population, create_state, learning_rates, step_of
from jaxgan.state import member as member_of
from jaxgan.step import train_step, train_steps
from jaxgan.workdir import RunError
from jaxgan.writer import MetricWriter, read_metrics, write_atomically

_PIECE = 100  # steps whose batches one-dispatch-a-step training reads at once
# Keys that may change when a run resumes: they steer the loop, not the game.
_RUN_CONTROL = {
  'train.steps',
  'train.log_every',
  'train.checkpoint_every',
  'train.sample_every',
  'train.max_seconds',
  'data.pipeline',  # both pipelines give the same batches
  'data.device_budget_gb',
  'data.workers',
}


class Interrupted(KeyboardInterrupt):
  """Training stopped at once (a second signal, or one before training began); says what was kept."""


def train(config: Config, workdir: str | os.PathLike, *, extend: bool = False, progress: bool = True) -> dict[str, Any]:
  """Trains (or resumes) a GAN as `config` says, writing the run into `workdir`.

  Args:
    config: the run's config.
    workdir: the run's directory, created if needed; a checkpoint in it is resumed.
    extend: let a resumed run change train.steps under a decaying learning-rate
      schedule (the schedule is re-planned over the new count; a note says how).
    progress: show a progress bar on stderr.

  Returns:
    The summary (also in workdir/summary.json). A run stopped early by a
    signal or train.max_seconds has 'stopped' (the reason) and 'step' in it.

  Raises:
    ConfigError: a config value out of range.
    RunError: unusable or busy workdir, unusable data, a checkpoint of another
      config, NaN or Inf, out of memory.
    Interrupted: stopped at once by a second SIGINT or SIGTERM.
  """
  return _run(config, None, workdir, extend, progress)


def sweep(
  config: Config,
  members: Sequence[population.Member],
  workdir: str | os.PathLike,
  *,
  extend: bool = False,
  progress: bool = True,
) -> dict[str, Any]:
  """Trains a population: one GAN per member, all of them as one compiled program (the step vmapped).

  The same loop as train(): the workdir lock, stops, resume and errors work alike;
  jaxgan.population says what the workdir holds.

  Args:
    config: what the members share.
    members: each member's overrides of keys in jaxgan.population.SWEEPABLE,
      e.g. [{'train.seed': 0}, {'train.seed': 1, 'optim.g_lr': 1e-3}], or
      jaxgan.product(train__seed=range(8), optim__g_lr=[1e-3, 3e-4]).
    workdir, extend, progress: as for train().

  Returns:
    The sweep's summary (also in workdir/summary.json): 'members', each
    member's summary with its overrides; 'results', the rows of results.csv,
    best first (by JS for the 1-D game, by the mode metrics for the 2-D
    mixtures, in member order for images); and as train(): step, steps,
    wall_seconds, and 'stopped' for a sweep stopped early.

  Raises:
    ConfigError: a member overriding a key that changes the program, or as train().
    RunError, Interrupted: as train().
  """
  return _run(config, list(members), workdir, extend, progress)


def _run(
  config: Config, members: list[population.Member] | None, workdir: str | os.PathLike, extend: bool, progress: bool
) -> dict[str, Any]:
  """train() (members None) or sweep()."""
  start_time = time.perf_counter()
  config = config_lib.validate(config)
  configs = population.member_configs(config, members) if members is not None else None
  workdir, created = workdir_lib.prepare(workdir)
  owner = jax.process_index() == 0
  t = config.train
  stop = _Stop(t.max_seconds, start_time)
  try:
    with stop.handling_signals(), _held(workdir), _output_dir(workdir) as out:
      before = workdir_lib.run_files(workdir)  # a failed start removes only what it added
      feed = None
      try:
        feed = _feed(config, configs)
        stop.check_not_stopped()
        scores, no_scores = _prepared_scores(config)  # before the timing: a classifier may be trained first
        fitted = _fitted_steps(workdir, config)
        if workdir_lib.read_config(workdir) is None and configs is None and t.max_seconds:
          fitted = _fit_to_time(config, feed, stop)
        if fitted:
          config = config_lib.override_value(config, 'train.steps', fitted['fitted'])
        run = _open_run(config, configs, feed, workdir, extend, stop.check_not_stopped)
        if no_scores:
          _note(no_scores)
        if run.replaced:
          before = set()
        finished = _finished_summary(workdir, run.step, config.train.steps)
        if finished:
          hint = ', with extend (--extend) as the learning rate decays' if config.optim.schedule != 'constant' else ''
          _note(f'{workdir} already finished {config.train.steps} steps; raise train.steps (--steps) to train on{hint}')
          return finished
        _write_json(out / 'config.json', config_lib.to_dict(config))
        fit = {'steps_fitted_to_time': fitted} if fitted else {}
        pipeline = {'data_pipeline': feed.describe()} if feed.describe() else {}
        _write_json(out / 'run.json', {'sample_shape': list(feed.sources[0].sample_shape), **pipeline, **fit})
        if configs:
          _write_json(out / population.MEMBERS_FILE, population.normalized(members, configs))
        stop.check_not_stopped()
        return _loop(config, run, out, progress, start_time, stop, scores)
      except BaseException:
        if owner and not workdir_lib.trained_steps(workdir):  # a run that never saved a trained step
          with stop.deferred():  # whole, even at a second Ctrl-C
            workdir_lib.remove_run(workdir, keep=before, ending=True, created=created)
        raise
      finally:
        if feed:
          feed.close()
  except BaseException as e:
    reported = _reported(e, config, workdir)
    if reported is e:
      raise
    raise reported from e


class _Run(NamedTuple):
  """An opened run: its data (and mesh), checkpoints and the state to go on from."""

  feed: Feed  # its sources: one; or a sweep's, one per member when they draw their own batches
  configs: list[Config] | None  # a sweep's members' configs
  checkpoints: Checkpointer
  state: GANState  # a sweep's: every leaf with a leading member axis
  replaced: bool  # the workdir held a run that never saved a trained step, now removed

  @property
  def step(self) -> int:
    return step_of(self.state)


def _note(text: str) -> None:
  """A line to the user, on stderr with the progress bar (stdout has the result)."""
  print(f'jaxgan: {text}', file=sys.stderr, flush=True)


def _write_json(path: Path, value: Any) -> None:
  write_atomically(path, lambda temporary: temporary.write_text(json.dumps(value, indent=2) + '\n'))


def _finished_summary(workdir: Path, step: int, steps: int) -> dict[str, Any] | None:
  """The summary of a run that has finished `steps` steps, None if it has not (or was stopped)."""
  try:
    summary = json.loads((workdir / 'summary.json').read_text()) if step >= steps else None
  except (OSError, ValueError):
    return None
  return summary if summary and 'stopped' not in summary else None


def _reported(error: BaseException, config: Config, workdir: Path) -> BaseException:
  """The error a caller sees: a RunError in one line where the cause is known."""
  if isinstance(error, KeyboardInterrupt) and not isinstance(error, Interrupted):
    kept = workdir_lib.trained_steps(workdir)
    if kept:
      return Interrupted(f'stopped at once; checkpoint {kept[-1]} is kept: run the same command to resume')
    return Interrupted('stopped before the first checkpoint; nothing was kept')
  if isinstance(error, (CheckpointError, EvalError)):
    return RunError(str(error))
  out_of_memory = isinstance(error, MemoryError) or (
    isinstance(error, jax.errors.JaxRuntimeError) and 'RESOURCE_EXHAUSTED' in str(error)
  )
  if out_of_memory:
    size = config.train.batch_size
    return RunError(
      f'out of memory at train.batch_size={size} ({str(error).strip().splitlines()[0][:120]}); '
      f'lower it, e.g. --set train.batch_size={max(1, size // 2)}'
    )
  return error


@contextlib.contextmanager
def _held(workdir: Path) -> Iterator[None]:
  """Holds the workdir for this run (process 0 locks it for all); refuses one held by a live run."""
  with contextlib.ExitStack() as stack:
    refusal = None
    if jax.process_index() == 0:
      try:
        stack.enter_context(workdir_lib.lock(workdir))
      except Exception as e:  # told to the other processes before it is raised
        refusal = e
    if jax.process_count() > 1 and multihost_utils.broadcast_one_to_all(np.int32(refusal is not None)):
      refusal = refusal or RunError(f'{workdir} could not be held by process 0')
    if refusal:
      raise refusal
    yield


@contextlib.contextmanager
def _output_dir(workdir: Path) -> Iterator[Path]:
  """Where this process writes the run's files: the workdir on process 0; on
  the others (which compute the same, SPMD) a scratch folder, removed after."""
  if jax.process_index() == 0:
    yield workdir
  else:
    with tempfile.TemporaryDirectory(prefix='jaxgan-process-') as scratch:
      yield Path(scratch)


def _flatten(tree: dict[str, Any], prefix: str = '') -> dict[str, Any]:
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat |= _flatten(value, f'{prefix}{key}.')
    else:
      flat[f'{prefix}{key}'] = value
  return flat


def _check_same_game(saved: Config, config: Config, workdir: Path) -> None:
  old, new = _flatten(config_lib.to_dict(saved)), _flatten(config_lib.to_dict(config))
  changed = sorted(k for k in old.keys() | new.keys() if k not in _RUN_CONTROL and old.get(k) != new.get(k))
  if changed:
    k = changed[0]
    raise RunError(
      f'config does not match the checkpoint in {workdir} ({k}: {old.get(k)} there, {new.get(k)} now); '
      'use a new --workdir, or the same config to resume'
    )


def _check_plan(saved: Config, config: Config, step: int, extend: bool, workdir: Path) -> str | None:
  """Refuses a train.steps that the saved state cannot follow; returns a note on a changed plan."""
  before, after = saved.train.steps, config.train.steps
  decaying = config.optim.schedule != 'constant'
  if after < step:
    raise RunError(
      f'{workdir} has trained {step} steps, more than train.steps={after}; to train on, give --steps '
      f'{max(before, step)}{" (or more, with --extend)" if decaying else " or more"}; to read it, use jaxgan-sample'
    )
  if after == before:
    return None
  schedule = config.optim.schedule
  if not decaying:
    return f'train.steps {before} -> {after}: training on from step {step} (constant learning rates)'
  old, new = learning_rates(saved, step)['g_lr'], learning_rates(config, step)['g_lr']
  change = f"G's learning rate at step {step}: {old:.3g} -> {new:.3g}"
  if not extend:
    raise RunError(
      f'{workdir} was planned for {before} steps with a {schedule} learning-rate schedule; --steps {after} would '
      f're-plan it ({change}): add --extend to do so, or keep --steps {before}'
    )
  verb = 'extending' if after > before else 're-planning'
  return f'{verb} {workdir} from {before} to {after} steps: the {schedule} schedule now spans {after} ({change})'


def _feed(config: Config, configs: list[Config] | None) -> Feed:
  """The run's real batches, from its data source (a sweep's members' own, where they draw their own batches),
  on its mesh where there are several devices: the batch split over them, the state replicated
  (jaxgan.parallel); a sweep's members split over them first."""
  t = config.train
  own_batches = configs is not None and t.member_batches == 'own'
  if configs is not None and jax.process_count() > 1:
    raise RunError('a sweep runs in one process (on all its devices); run it on one host')
  mesh = None
  if jax.device_count() > 1:
    mesh = parallel.population_mesh(len(configs)) if configs else parallel.data_mesh()
    rows = mesh.shape[parallel.DATA_AXIS]
    if t.batch_size % rows:
      raise RunError(
        f'train.batch_size: batch of {t.batch_size} does not split over {rows} devices; make it a multiple of {rows}'
      )
  try:
    sources = [make_source(c.data, c.train.seed) for c in (configs if own_batches else [config])]
    return Feed(sources, config.data, t.batch_size * config.game.d_steps, mesh, sweeping=configs is not None)
  except DataError as e:
    raise RunError(str(e)) from e


def _open_run(
  config: Config,
  configs: list[Config] | None,
  feed: Feed,
  workdir: Path,
  extend: bool,
  check_not_stopped: Callable[[], None],
) -> _Run:
  """The run's checkpoints and the state to start from (the latest checkpoint's, or fresh).

  Writes nothing of the run but the checkpoints folder; moves unreadable
  checkpoints aside, and removes a run that never saved a trained step (it
  starts afresh). Calls check_not_stopped between its long parts.
  """
  t, mesh = config.train, feed.mesh
  saved = workdir_lib.read_config(workdir)
  if saved is None and (present := workdir_lib.run_files(workdir)):
    names = ', '.join(sorted(present))
    raise RunError(f'{workdir} holds {names} but no jaxgan run (no config.json); use another --workdir')
  notes = []
  never_trained = not workdir_lib.trained_steps(workdir) and not list(workdir.glob('corrupt-checkpoint-*'))
  replaced = bool(saved) and never_trained and not (workdir / 'summary.json').exists()
  several = jax.process_count() > 1
  if several:  # every process has read the workdir before any changes it
    multihost_utils.sync_global_devices('jaxgan: workdir read')
  if replaced:  # killed, or failed, before its first checkpoint
    if jax.process_index() == 0:
      workdir_lib.remove_run(workdir)
    if several:
      multihost_utils.sync_global_devices('jaxgan: workdir cleared')
    notes.append(f'{workdir} held a run that never saved a trained step; starting it afresh')
    saved = None
  if saved:
    _check_same_game(saved, config, workdir)
    _check_same_members(population.read_members(workdir), configs, workdir)
  checkpoints = Checkpointer(workdir / 'checkpoints')
  shape = feed.sources[0].sample_shape
  if configs is None:
    fresh = create_state(config, _init_key(config), shape)
    fresh = parallel.replicate(fresh, mesh) if mesh else fresh  # restored arrays take the target's sharding
  else:
    fresh = create_population(configs, jnp.stack([_init_key(c) for c in configs]), shape)
    fresh = parallel.shard_members(fresh, mesh) if mesh else fresh
  check_not_stopped()
  state, set_aside = checkpoints.restore_latest(fresh)
  notes += set_aside
  if state is None:
    if saved:
      raise RunError(f'{workdir} holds a run but no readable checkpoint to resume; choose a new --workdir')
    state = fresh
  run = _Run(feed, configs, checkpoints, state, replaced)
  if saved and run.step:
    plan = _check_plan(saved, config, run.step, extend, workdir)
    notes += [plan] if plan else [f'resuming from step {run.step}'] if run.step < t.steps else []
  try:
    feed.check(run.step)  # the data serves this run's batches
  except DataError as e:
    raise RunError(str(e)) from e
  if feed.kind == 'stream':  # slower than the device's, so said (run.json says which it took, either way)
    notes.append(feed.describe())
  for note in notes:
    _note(note)
  return run


_TIMED_STEPS, _TIMED_SECONDS = 20, 1.0  # steps timed at a time, and for at least how long, to fit train.steps
# Of the time left after the timing, what the fitted steps may take: 90%, less another compilation and
# _FINISHING_SECONDS for the checkpoints, pictures and scores.
_TIME_MARGIN, _FINISHING_SECONDS = 0.9, 5.0


def _fit_to_time(config: Config, feed: Feed, stop: '_Stop') -> dict[str, int] | None:
  """{'asked': train.steps, 'fitted': fewer steps} so that a decaying schedule ends within train.max_seconds,
  or None if the steps fit (or the schedule is constant: the run stops at the deadline, resumable).

  Times steps of a throwaway state (after _TIMED_STEPS that compile), _TIMED_STEPS at a time for at least
  _TIMED_SECONDS, the way the run will take them, then
  fits the steps into the time left (see _TIME_MARGIN). The fitted count is saved with the
  config and in run.json, so that the same command resumes the run on the same schedule. What happens between
  steps (checkpoints, sample grids, scores, the 1-D game's evaluations) is not timed but left to the margin: a
  run heavy in those may still stop at the deadline, resumable.
  """
  t = config.train
  if jax.process_count() > 1 or config.optim.schedule == 'constant':
    return None
  state = create_state(config, _init_key(config), feed.sources[0].sample_shape)
  state = parallel.replicate(state, feed.mesh) if feed.mesh else state
  run_steps = train_steps if t.scan else _step_by_step
  compile_start = time.perf_counter()
  state, _ = run_steps(state, *feed(0, _TIMED_STEPS))
  jax.block_until_ready(state)
  timed_start = timed = time.perf_counter()
  timed_steps = 0
  while timed_steps == 0 or timed - timed_start < _TIMED_SECONDS:  # small steps: long enough to average the load
    state, _ = run_steps(state, *feed(_TIMED_STEPS + timed_steps, _TIMED_STEPS))
    jax.block_until_ready(state)
    timed, timed_steps = time.perf_counter(), timed_steps + _TIMED_STEPS
  per_step = (timed - timed_start) / timed_steps
  compiling = max(0.0, (timed_start - compile_start) - per_step * _TIMED_STEPS)
  fitted = int((stop.seconds_left() * _TIME_MARGIN - compiling - _FINISHING_SECONDS) / per_step)
  if not 0 < fitted < t.steps:  # they fit; or too little time to plan for: the deadline stops the run
    return None
  _note(
    f'train.steps {t.steps} -> {fitted}: at {per_step * 1e3:.3g} ms a step (timed over {timed_steps}) the '
    f'{config.optim.schedule} schedule then ends within train.max_seconds={t.max_seconds:g}'
  )
  return {'asked': t.steps, 'fitted': fitted}


def _fitted_steps(workdir: Path, config: Config) -> dict[str, int] | None:
  """The steps a run in workdir was fitted to its time with, if `config` asks for the steps it was fitted from."""
  try:
    fitted = json.loads((workdir / 'run.json').read_text()).get('steps_fitted_to_time')
  except (OSError, ValueError, AttributeError):
    return None
  return fitted if fitted and fitted.get('asked') == config.train.steps else None


def _init_key(config: Config) -> jax.Array:
  """The key a run of `config` initialises its state from (the other half of its seed's key evaluates)."""
  return jax.random.split(jax.random.key(config.train.seed))[0]


def _check_same_members(saved: list[dict] | None, configs: list[Config] | None, workdir: Path) -> None:
  if saved is None and configs is None:
    return
  if saved is None or configs is None:
    what = 'a single run' if saved is None else f'a sweep of {len(saved)} members'
    raise RunError(f'{workdir} holds {what}; use a new --workdir, or resume it as it was started')
  members = [{k: config_lib.value_of(c, k) for k in m} for m, c in zip(saved, configs, strict=False)]
  if len(saved) != len(configs) or members != saved:
    raise RunError(
      f'{workdir} holds a sweep of other members ({population.MEMBERS_FILE}); use a new --workdir, '
      'or the same members to resume'
    )


def _chunk_ends(start: int, steps: int, log_every: int, events: set[int]) -> list[int]:
  """Steps after `start` at which the loop stops to log, evaluate or save; ends with `steps`."""
  ends = {*range(log_every, steps, log_every), *events, steps}
  return sorted(e for e in ends if start < e <= steps)


class _Stop:
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
  def handling_signals(self) -> Iterator['_Stop']:
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


def _prepared_scores(config: Config) -> tuple[Evaluation | None, str | None]:
  """The evaluation of an image run with eval.metrics (all members of a sweep share it), its extractor built
  and its reference embedded; None for other runs. With eval.extractor=auto and no extractor to be had
  (unlabelled data, no Inception weights), None and a note saying why: a recipe's scores do not stop a user's
  own data."""
  if not config.eval.metrics:
    return None, None
  try:
    evaluation = Evaluation(config.eval, config.data)
  except EvalError as e:
    if config.eval.extractor != 'auto':
      raise
    return None, f'no scores ({e}); set eval.metrics=() to silence this'
  evaluation.real()
  return evaluation, None


def _loop(
  config: Config, run: _Run, out: Path, progress: bool, start_time: float, stop: _Stop, scores: Evaluation | None
) -> dict[str, Any]:
  t = config.train
  checkpoints, state = run.checkpoints, run.state
  members = run.configs or [config]  # a single run: one member, its state without a member axis
  sweeping = run.configs is not None

  def batches(start: int, num_steps: int) -> tuple[Any, jax.Array | None]:
    try:
      return run.feed(start, num_steps)
    except DataError as e:
      raise RunError(str(e)) from e

  def live() -> list[int]:
    """The members still training: not diverged."""
    return [i for i in range(len(members)) if i not in diverged]

  def stopping() -> str | None:
    """Why to stop after the step in flight: on one process, any stop request; on several, none (they stop at
    log steps, agreed by all) but a second signal."""
    return stop.requested() if jax.process_count() == 1 else stop.check_not_stopped_at_once()

  def after_each_step() -> str | None:
    writer.advance()
    return stopping()

  def chunk_of_steps(state: GANState, start: int, end: int) -> tuple[GANState, dict[str, np.ndarray]]:
    """Steps start..end: one dispatch (train.scan), or one a step, the data read _PIECE steps at a time."""
    if t.scan:
      state, metrics = train_steps(state, *batches(start, end - start))
      return state, jax.device_get(metrics)
    pieces = []
    for piece_start in range(start, end, _PIECE):
      num_steps = min(_PIECE, end - piece_start)
      state, piece = _step_by_step(state, *batches(piece_start, num_steps), after_each_step)
      pieces.append(piece)
      if len(piece['d_loss']) < num_steps or stopping():
        break
    return state, {name: np.concatenate([p[name] for p in pieces]) for name in pieces[0]}

  xla_convs_on_cpu = (
    config.model.architecture == 'dcgan' and config.model.conv_impl == 'lax' and jax.default_backend() == 'cpu'
  )
  if t.scan and xla_convs_on_cpu:
    _note(
      "train.scan with model.conv_impl=lax: XLA's CPU convolution gradients run many times slower inside "
      'lax.scan (jax-ml/jax#12868); set train.scan=False or model.conv_impl=auto'
    )
  step = run.step
  stop.check_not_stopped()
  stop.training = True
  writer = MetricWriter(out, step, t.steps, progress and jax.process_index() == 0, members=len(run.configs or []))
  finished = False
  try:
    outs = [population.member_dir(out, i) for i in range(len(members))] if sweeping else [out]
    logged = read_metrics(out / 'metrics.jsonl')
    member_rows = _rows_by_member(logged, len(members), sweeping)
    metrics = [rows[-1] if rows else {} for rows in member_rows]
    diverged = {i: m['diverged_at_step'] for i, m in enumerate(metrics) if 'diverged_at_step' in m}
    evaluator = _evaluator(members, run.feed.sources[0], outs, writer, sweeping, scores, member_rows)
    evaluator(_population(state, sweeping), step, live())
    stopped = None
    events = evaluator.events() | {*range(0, t.steps, t.checkpoint_every)}
    for end in _chunk_ends(step, t.steps, t.log_every, events):
      chunk_start = time.perf_counter()
      state, chunk = chunk_of_steps(state, step, end)
      done = len(chunk['d_loss'])
      if not sweeping:
        _check_finite(chunk, step, checkpoints)
      seconds = time.perf_counter() - chunk_start
      step += done
      for i, member in enumerate(members):
        values = {name: v[:, i] if sweeping else v for name, v in chunk.items()}
        metrics[i] = {f'train/{name}': float(np.mean(v)) for name, v in values.items()}
        metrics[i] |= {f'optim/{name}': rate for name, rate in learning_rates(member, step - 1).items()}
        metrics[i]['perf/images_per_second'] = done * t.batch_size * len(members) / seconds
        if i not in diverged and not all(np.isfinite(v).all() for v in values.values()):
          diverged[i] = step - done + int(np.argmin(np.all([np.isfinite(v) for v in values.values()], axis=0))) + 1
          _note(f'member {i} diverged (NaN or Inf) at step {diverged[i]}; the others go on')
        if i in diverged:
          metrics[i]['diverged_at_step'] = diverged[i]
      for i, scored in evaluator(_population(state, sweeping), step, live()).items():
        metrics[i] |= {f'eval/{name}': value for name, value in scored.items()}
      for i in range(len(members)):
        writer.write(step, metrics[i], member=i if sweeping else None)
      stopped = _stop_together(stop.requested() if step < t.steps else None)
      if step % t.checkpoint_every == 0 or step == t.steps or stopped:
        with stop.deferred():
          checkpoints.save(state, require_finite=not sweeping)
      if stopped:
        break
    with stop.deferred():  # the summaries and pictures, whole
      ending = {
        'step': step,
        'steps': t.steps,
        'wall_seconds': time.perf_counter() - start_time,
        **({'stopped': stopped} if stopped else {}),
      }
      summaries, logged = [], read_metrics(out / 'metrics.jsonl')
      final = evaluator.finish(_population(state, sweeping), live())
      for i, (o, rows) in enumerate(zip(outs, _rows_by_member(logged, len(members), sweeping), strict=True)):
        figures = final.get(i, {})
        trained = {k.removeprefix('train/'): v for k, v in metrics[i].items() if k.startswith('train/')}
        summaries.append({**figures, **trained, **({'diverged_at_step': diverged[i]} if i in diverged else {})})
        _plot_losses(o, rows)
      if sweeping:
        summary = _finish_sweep(config, run.configs, out, summaries, ending)
      else:
        summary = {**summaries[0], **ending}
        _write_json(out / 'summary.json', summary)
    finished = True
  finally:
    writer.close(keep_progress=finished)
  return summary


def _rows_by_member(rows: list[dict[str, Any]], members: int, sweeping: bool) -> list[list[dict[str, Any]]]:
  """metrics.jsonl rows, each member's apart (a single run's: one list, its rows have no member field)."""
  return [[r for r in rows if r.get('member') == (i if sweeping else None)] for i in range(members)]


def _population(state: GANState, sweeping: bool) -> GANState:
  """The state as a population: a sweep's itself, a single run's as a population of one."""
  return state if sweeping else jax.tree.map(lambda leaf: leaf[None], state)


def _evaluator(
  configs: list[Config],
  source: Source,
  outs: list[Path],
  writer: MetricWriter,
  sweeping: bool,
  scores: Evaluation | None,
  logged: list[list[dict[str, Any]]],
) -> Any:
  """What evaluates the members of a population (a single run: one) at log steps, all of them at once, and
  draws each one's pictures into its out; logged: each member's metrics rows so far.

  An evaluator has events() (the steps the loop must stop at), __call__(population, step, members) at every log
  step and finish(population, members) at the end, each returning {member: {name: value}} for the members
  asked (those not diverged).
  """
  config = configs[0]  # the members differ in nothing the evaluation reads but their seeds
  keys = jnp.stack([jax.random.split(jax.random.key(c.train.seed))[1] for c in configs])
  for out in outs:
    out.mkdir(parents=True, exist_ok=True)
  t = config.train
  if isinstance(source, NormalSource):
    return Evaluator1D(config.eval, source, keys, t.steps, outs, logged)
  if isinstance(source, MixtureSource):
    return Evaluator2D(config.eval, source, keys, t.steps, outs)
  grids = SampleGrids(outs, writer, keys, t.sample_every, t.steps, sweep=sweeping)
  if scores is None:
    return grids
  keep_best = jax.process_count() == 1
  scorers = [Scoring(c, scores, out, keep_best=keep_best) for c, out in zip(configs, outs, strict=True)]
  return _Together(grids, _EachMember(scorers))


class _Together:
  """Evaluators of a population as one: their events, figures and summaries merged, member by member."""

  def __init__(self, *parts: Any):
    self.parts = parts

  def events(self) -> set[int]:
    return set().union(*(part.events() for part in self.parts))

  def __call__(self, population: GANState, step: int, members: Sequence[int]) -> dict[int, dict[str, float]]:
    return _merged([part(population, step, members) for part in self.parts], members)

  def finish(self, population: GANState, members: Sequence[int]) -> dict[int, dict[str, Any]]:
    return _merged([part.finish(population, members) for part in self.parts], members)


def _merged(results: list[dict[int, dict[str, Any]]], members: Sequence[int]) -> dict[int, dict[str, Any]]:
  return {i: {k: v for result in results for k, v in result[i].items()} for i in members}


class _EachMember:
  """Evaluators of one member each, as one evaluator of the population: the image scores, which take each
  member in turn (their extractor's batches already fill the device)."""

  def __init__(self, parts: list[Any]):
    self.parts = parts

  def events(self) -> set[int]:
    return set().union(*(part.events() for part in self.parts))

  def __call__(self, population: GANState, step: int, members: Sequence[int]) -> dict[int, dict[str, float]]:
    return {i: self.parts[i](member_of(population, i), step) for i in members}

  def finish(self, population: GANState, members: Sequence[int]) -> dict[int, dict[str, Any]]:
    return {i: self.parts[i].finish(member_of(population, i)) for i in members}


def _finish_sweep(
  config: Config, configs: list[Config], out: Path, summaries: list[dict[str, Any]], ending: dict[str, Any]
) -> dict[str, Any]:
  """Each member's summary.json, results.csv, members.png and the sweep's summary.json; prints the table."""
  members = population.read_members(out)
  for i, summary in enumerate(summaries):
    _write_json(population.member_dir(out, i) / 'summary.json', {'member': i, **members[i], **summary, **ending})
  keys = population.ranking(config)
  rows = population.results_table(members, summaries, keys)
  population.write_results(out, rows)
  population.draw_members(out, members, config, summaries)
  summary = {'members': [{'member': i, **members[i], **s} for i, s in enumerate(summaries)], 'results': rows, **ending}
  _write_json(out / 'summary.json', summary)
  return summary


def _stop_together(stopped: str | None) -> str | None:
  """Process 0's decision to stop, on every process (signals and clocks differ between hosts)."""
  if jax.process_count() == 1:
    return stopped
  if multihost_utils.broadcast_one_to_all(np.int32(stopped is not None)):
    return stopped or 'stopped on process 0'
  return None


def _step_by_step(
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


def _check_finite(chunk: dict[str, np.ndarray], start: int, checkpoints: Checkpointer) -> None:
  for name, values in chunk.items():
    if not np.all(np.isfinite(values)):
      bad = start + int(np.argmin(np.isfinite(values))) + 1
      kept = workdir_lib.trained_steps(checkpoints.directory.parent)
      where = f'last good checkpoint: step {kept[-1]} in {checkpoints.directory}' if kept else 'no checkpoint was kept'
      raise RunError(
        f'{name} became {values[bad - start - 1]} at step {bad}; training stopped, {where}; '
        'lower the learning rates or check the data'
      )


def _plot_losses(workdir: Path, rows: list[dict[str, Any]]) -> None:
  """losses.png: D and G losses, D(x) and D(G(z)) over the whole run, from its rows of metrics.jsonl."""
  from matplotlib.figure import Figure  # not pyplot: a notebook's plotting backend stays as it is
  from matplotlib.ticker import MaxNLocator

  rows = [r for r in rows if 'train/d_loss' in r]
  steps = [r['step'] for r in rows]
  marker = 'o' if len(rows) < 20 else None  # a short run's few points, each seen
  fig = Figure(figsize=(10, 3.4))
  ax_loss, ax_d = fig.subplots(1, 2)
  for key, label in [('train/d_loss', 'D loss'), ('train/g_loss', 'G loss')]:
    ax_loss.plot(steps, [r[key] for r in rows], label=label, marker=marker)
  for key, label in [('train/d_real', 'D(x)'), ('train/d_fake', 'D(G(z))')]:
    ax_d.plot(steps, [r[key] for r in rows], label=label, marker=marker)
  ax_d.axhline(0.5, color='grey', lw=0.5)
  for ax, title, ylabel in [(ax_loss, 'losses', 'loss'), (ax_d, 'discriminator outputs', 'D output (probability)')]:
    ax.set(xlabel='step', ylabel=ylabel, title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
  fig.tight_layout()
  fig.savefig(workdir / 'losses.png', dpi=100)

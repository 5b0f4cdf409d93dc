"""Opening a run: the workdir held, the data fed, the state restored (or fresh), the steps fitted to time.

Starting again on a workdir with a checkpoint resumes from it, exactly: batch,
randomness and update order depend only on the step, which the checkpoint holds.
A resumed run may change only the keys that steer the loop (RUN_CONTROL);
re-planning train.steps under a decaying learning rate needs `extend=True`.

A run with train.max_seconds and a decaying learning rate first fits
train.steps to that time (fit_to_time), so that its schedule ends in time.
"""

import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

from jaxgan import config as config_lib
from jaxgan.config import Config
from jaxgan.data import parallel
from jaxgan.data.pipeline import Feed
from jaxgan.data.sources import DataError, make_source
from jaxgan.evaluation.scoring import EvalError, Evaluation
from jaxgan.files import write_json
from jaxgan.game.state import GANState, create_population, create_state, schedules, step_of
from jaxgan.game.step import train_steps
from jaxgan.run import population
from jaxgan.run import workdir as workdir_lib
from jaxgan.run.checkpoint import Checkpointer
from jaxgan.run.stepping import Stop, step_by_step
from jaxgan.run.workdir import RunError

# Keys that may change when a run resumes: they steer the loop, not the game.
RUN_CONTROL = {
  'train.steps',
  'train.log_every',
  'train.checkpoint_every',
  'train.sample_every',
  'train.max_seconds',
  'data.pipeline',  # both pipelines give the same batches
  'data.device_budget_gb',
  'data.workers',
}


class Run(NamedTuple):
  """An opened run: its data (and mesh), checkpoints and the state to go on from."""

  feed: Feed  # its sources: one; or a sweep's, one per member when they draw their own batches
  configs: list[Config] | None  # a sweep's members' configs
  checkpoints: Checkpointer
  state: GANState  # a sweep's: every leaf with a leading member axis
  replaced: bool  # the workdir held a run that never saved a trained step, now removed

  @property
  def step(self) -> int:
    return step_of(self.state)


def note(text: str) -> None:
  """A line to the user, on stderr with the progress bar (stdout has the result)."""
  print(f'jaxgan: {text}', file=sys.stderr, flush=True)


@contextlib.contextmanager
def held(workdir: Path) -> Iterator[None]:
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
def output_dir(workdir: Path) -> Iterator[Path]:
  """Where this process writes the run's files: the workdir on process 0; on
  the others (which compute the same, SPMD) a scratch folder, removed after."""
  if jax.process_index() == 0:
    yield workdir
  else:
    with tempfile.TemporaryDirectory(prefix='jaxgan-process-') as scratch:
      yield Path(scratch)


@contextlib.contextmanager
def removed_unless_trained(workdir: Path, created: Path | None, stop: Stop) -> Iterator[Callable[[], None]]:
  """Within the block, a run that fails or is stopped before it saved a trained step leaves nothing behind: the
  files it added are removed (whole, even at a second Ctrl-C). Yields forget(): the workdir's earlier files
  are the run's own (it replaced a run that never trained), so they go too."""
  before = workdir_lib.run_files(workdir)

  def forget() -> None:
    before.clear()

  try:
    yield forget
  except BaseException:
    if jax.process_index() == 0 and not workdir_lib.trained_steps(workdir):
      with stop.deferred():
        workdir_lib.remove_run(workdir, keep=before, ending=True, created=created)
    raise


@contextlib.contextmanager
def feed(config: Config, configs: list[Config] | None) -> Iterator[Feed]:
  """The run's real batches, from its data source (a sweep's members' own, where they draw their own batches),
  on its mesh where there are several devices: the batch split over them, the state replicated
  (jaxgan.data.parallel); a sweep's members split over them first. Closed after the block."""
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
    rows, labelled = t.batch_size * config.game.d_steps, config.model.conditioning != 'none'
    opened = Feed(sources, config.data, rows, mesh, sweeping=configs is not None, labelled=labelled)
  except DataError as e:
    raise RunError(str(e)) from e
  try:
    yield opened
  finally:
    opened.close()


def with_classes(config: Config, feed: Feed) -> Config:
  """config, with model.num_classes taken from the data's labels where a class-conditional run leaves it 0;
  RunError for labels that a given num_classes does not hold."""
  if config.model.conditioning == 'none':
    return config
  labels = np.asarray(feed.sources[0].labels)
  found, low = int(labels.max()) + 1, int(labels.min())
  given = config.model.num_classes
  if low < 0 or (given and found > given):
    raise RunError(
      f'data.source={config.data.source} has labels in {low}..{found - 1}, not in 0..{(given or found) - 1}: '
      'give labels 0..K-1 and model.num_classes=K (or 0, to take K from the data)'
    )
  return config if given else config_lib.override_value(config, 'model.num_classes', found)


def open_run(
  config: Config,
  configs: list[Config] | None,
  feed: Feed,
  workdir: Path,
  extend: bool,
  check_not_stopped: Callable[[], None],
) -> Run:
  """The run's checkpoints and the state to start from (the latest checkpoint's, or fresh).

  Writes nothing of the run but the checkpoints folder; moves unreadable
  checkpoints aside, and removes a run that never saved a trained step (it
  starts afresh). Calls check_not_stopped between its long parts.
  """
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
  fresh = _fresh_state(config, configs, feed)
  check_not_stopped()
  run = Run(feed, configs, checkpoints, _restored(checkpoints, fresh, saved, workdir, notes), replaced)
  if saved and run.step:
    plan = _check_plan(saved, config, run.step, extend, workdir)
    notes += [plan] if plan else [f'resuming from step {run.step}'] if run.step < config.train.steps else []
  try:
    feed.check(run.step)  # the data serves this run's batches
  except DataError as e:
    raise RunError(str(e)) from e
  if feed.kind == 'stream':  # slower than the device's, so said (run.json says which it took, either way)
    notes.append(feed.describe())
  for line in notes:
    note(line)
  return run


def _fresh_state(config: Config, configs: list[Config] | None, feed: Feed) -> GANState:
  """The state a new run starts from (a sweep's: its members' stacked), on the feed's mesh."""
  shape, mesh = feed.sources[0].sample_shape, feed.mesh
  if configs is None:
    fresh = create_state(config, init_key(config), shape)
    return parallel.replicate(fresh, mesh) if mesh else fresh  # restored arrays take the target's sharding
  fresh = create_population(configs, jnp.stack([init_key(c) for c in configs]), shape)
  return parallel.shard_members(fresh, mesh) if mesh else fresh


def _restored(checkpoints: Checkpointer, fresh: GANState, saved: Config | None, workdir: Path, notes: list) -> GANState:
  """The latest readable checkpoint's state (unreadable ones set aside, said in `notes`), else `fresh`."""
  state, set_aside = checkpoints.restore_latest(fresh)
  notes += set_aside
  if state is not None:
    return state
  if saved:
    raise RunError(f'{workdir} holds a run but no readable checkpoint to resume; choose a new --workdir')
  return fresh


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
  changed = sorted(k for k in old.keys() | new.keys() if k not in RUN_CONTROL and old.get(k) != new.get(k))
  if changed:
    k = changed[0]
    raise RunError(
      f'config does not match the checkpoint in {workdir} ({k}: {old.get(k)} there, {new.get(k)} now); '
      'use a new --workdir, or the same config to resume'
    )


def _check_plan(saved: Config, config: Config, step: int, extend: bool, workdir: Path) -> str | None:
  """Refuses a train.steps that the saved state cannot follow; returns a note on a changed plan."""
  before, after = saved.train.steps, config.train.steps
  decaying = config_lib.spans_train_steps(config)
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
  if schedule != 'constant':
    old, new = schedules(saved, step)['g_lr'], schedules(config, step)['g_lr']
    plan, change = (
      f'a {schedule} learning-rate schedule',
      f" (G's learning rate at step {step}: {old:.3g} -> {new:.3g})",
    )
  else:
    plan, change = f'ramps of {", ".join(config_lib.ramps(config))} over them', ''
  if not extend:
    raise RunError(
      f'{workdir} was planned for {before} steps with {plan}; --steps {after} would re-plan it{change}: add '
      f'--extend to do so, or keep --steps {before}'
    )
  verb = 'extending' if after > before else 're-planning'
  return f'{verb} {workdir} from {before} to {after} steps: the schedules now span {after}{change}'


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


def write_run_files(
  out: Path, config: Config, feed: Feed, fitted: dict[str, int] | None, members: list | None, configs: list | None
) -> None:
  """config.json (the resolved config), run.json (a sample's shape, the pipeline taken, the steps fitted to
  time) and a sweep's members.json."""
  write_json(out / 'config.json', config_lib.to_dict(config))
  fit = {'steps_fitted_to_time': fitted} if fitted else {}
  pipeline = {'data_pipeline': feed.describe()} if feed.describe() else {}
  write_json(out / 'run.json', {'sample_shape': list(feed.sources[0].sample_shape), **pipeline, **fit})
  if configs:
    write_json(out / population.MEMBERS_FILE, population.normalized(members, configs))


def finished_summary(workdir: Path, step: int, config: Config) -> dict[str, Any] | None:
  """The summary of a run that has finished config's train.steps (saying so, and how to train on); None if it
  has not (or was stopped)."""
  steps = config.train.steps
  try:
    summary = json.loads((workdir / 'summary.json').read_text()) if step >= steps else None
  except (OSError, ValueError):
    return None
  if not summary or 'stopped' in summary:
    return None
  hint = ' and add --extend (its schedules span train.steps)' if config_lib.spans_train_steps(config) else ''
  note(f'{workdir} already finished {steps} steps; raise train.steps (--steps) to train on{hint}')
  return summary


def prepared_scores(config: Config) -> tuple[Evaluation | None, str | None]:
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


def init_key(config: Config) -> jax.Array:
  """The key a run of `config` initialises its state from (the other half of its seed's key evaluates)."""
  return jax.random.split(jax.random.key(config.train.seed))[0]


_TIMED_STEPS, _TIMED_SECONDS = 20, 1.0  # steps timed at a time, and for at least how long, to fit train.steps
# Of the time left after the timing, what the fitted steps may take: 90%, less another compilation and
# _FINISHING_SECONDS for the checkpoints, pictures and scores.
TIME_MARGIN, _FINISHING_SECONDS = 0.9, 5.0


def fitted_steps(workdir: Path, config: Config, feed: Feed, stop: Stop, sweeping: bool) -> dict[str, int] | None:
  """{'asked': train.steps, 'fitted': fewer steps} that a run's decaying schedule is fitted to train.max_seconds
  with (a new single run: timed now), or was when it started (a resumed one asking the same train.steps);
  None for a run of the steps asked."""
  if workdir_lib.read_config(workdir) is None and not sweeping and config.train.max_seconds:
    return fit_to_time(config, feed, stop)
  try:
    fitted = json.loads((workdir / 'run.json').read_text()).get('steps_fitted_to_time')
  except (OSError, ValueError, AttributeError):
    return None
  return fitted if fitted and fitted.get('asked') == config.train.steps else None


def fit_to_time(config: Config, feed: Feed, stop: Stop) -> dict[str, int] | None:
  """{'asked': train.steps, 'fitted': fewer steps} so that a decaying schedule ends within train.max_seconds,
  or None if the steps fit (or the schedule is constant: the run stops at the deadline, resumable).

  Times steps of a throwaway state (after _TIMED_STEPS that compile), _TIMED_STEPS at a time for at least
  _TIMED_SECONDS, the way the run will take them, then
  fits the steps into the time left (see TIME_MARGIN). The fitted count is saved with the
  config and in run.json, so that the same command resumes the run on the same schedule. What happens between
  steps (checkpoints, sample grids, scores, the 1-D game's evaluations) is not timed but left to the margin: a
  run heavy in those may still stop at the deadline, resumable.
  """
  t = config.train
  if jax.process_count() > 1 or not config_lib.spans_train_steps(config):
    return None
  state = create_state(config, init_key(config), feed.sources[0].sample_shape)
  state = parallel.replicate(state, feed.mesh) if feed.mesh else state
  run_steps = train_steps if t.scan else step_by_step
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
  fitted = int((stop.seconds_left() * TIME_MARGIN - compiling - _FINISHING_SECONDS) / per_step)
  if not 0 < fitted < t.steps:  # they fit; or too little time to plan for: the deadline stops the run
    return None
  note(
    f'train.steps {t.steps} -> {fitted}: at {per_step * 1e3:.3g} ms a step (timed over {timed_steps}) the '
    f'{config.optim.schedule} schedule then ends within train.max_seconds={t.max_seconds:g}'
  )
  return {'asked': t.steps, 'fitted': fitted}

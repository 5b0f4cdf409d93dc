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
  members.json, members/NNN/, results.csv, members.png    for a sweep (jaxgan.run.population);
  timings.json      where the wall time went, by phase (jaxgan.timing): start-up, compilation, steps,
                    evaluation, pictures, files, checkpoints; the programs compiled and read from the cache.

The loop below reads top to bottom: open the run (opening), train it chunk by chunk between log
steps (stepping), do the periodic work at each (periodic), and finish (finishing).

Starting again on a workdir with a checkpoint resumes from it, exactly: batch,
randomness and update order depend only on the step, which the checkpoint holds
(jaxgan.run.opening says what a resumed run may change, and how a run with
train.max_seconds fits its steps to that time).

Stopping: SIGINT, SIGTERM and train.max_seconds stop training after the step
in flight (with train.scan, the dispatch in flight), with a checkpoint, the
summary and the pictures so far; a second signal stops at once, keeping the
last checkpoint. One live run per workdir: another is refused. A run that
fails or is stopped before it saved a trained step leaves nothing behind.

On several hosts (jaxgan.data.parallel.initialize_from_environment first) every
process runs this same loop on the global arrays and reads its own rows of each
batch; the workdir must be shared. Process 0 holds the workdir and writes the
run's files, the others write theirs to a scratch folder; checkpoints are
written by all together, and stops are agreed at log steps.
"""

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax

from jaxgan import config as config_lib
from jaxgan import timing
from jaxgan.config import Config
from jaxgan.files import write_json
from jaxgan.run import opening, population
from jaxgan.run import workdir as workdir_lib
from jaxgan.run.finishing import reported, write_summary
from jaxgan.run.opening import Run, note
from jaxgan.run.periodic import Periodic
from jaxgan.run.stepping import Interrupted, Stop, check_finite, chunk_ends, chunk_of_steps
from jaxgan.run.workdir import RunError
from jaxgan.run.writer import MetricWriter

__all__ = ['Interrupted', 'RunError', 'sweep', 'train']


def train(config: Config, workdir: str | os.PathLike, *, extend: bool = False, progress: bool = True) -> dict[str, Any]:
  """Trains (or resumes) a GAN as `config` says, writing the run into `workdir`.

  Args:
    config: the run's config.
    workdir: the run's directory, created if needed; a checkpoint in it is resumed.
    extend: let a resumed run change train.steps under a decaying learning-rate
      schedule (the schedule is re-planned over the new count; a note says how).
    progress: show a progress bar on stderr.

  Returns:
    The summary (also in workdir/summary.json), with step, steps and
    wall_seconds, the seconds from the call to the end of training (the final
    scores and pictures after it; timings.json has the whole run's). A run
    stopped early by a signal or train.max_seconds has 'stopped' (the reason).

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
  jaxgan.run.population says what the workdir holds.

  Args:
    config: what the members share.
    members: each member's overrides of keys in jaxgan.run.population.SWEEPABLE,
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
  """train() (members None) or sweep(): the run opened, trained, finished; its errors said in one line."""
  start_time = time.perf_counter()
  config = config_lib.validate(config)
  configs = population.member_configs(config, members) if members is not None else None
  workdir, created = workdir_lib.prepare(workdir)
  stop = Stop(config.train.max_seconds, start_time)
  try:
    with (
      timing.recording() as timings,
      stop.handling_signals(),
      opening.held(workdir),
      opening.output_dir(workdir) as out,
      opening.removed_unless_trained(workdir, created, stop) as forget_earlier_files,
      opening.feed(config, configs) as feed,
    ):
      config = opening.with_classes(config, feed)
      configs = population.member_configs(config, members) if members is not None else None
      stop.check_not_stopped()
      scores, no_scores = opening.prepared_scores(config)  # before the timing: a classifier may be trained first
      fitted = opening.fitted_steps(workdir, config, feed, stop, sweeping=configs is not None)
      if fitted:
        config = config_lib.override_value(config, 'train.steps', fitted['fitted'])
      run = opening.open_run(config, configs, feed, workdir, extend, stop.check_not_stopped)
      if no_scores:
        note(no_scores)
      if run.replaced:
        forget_earlier_files()
      finished = opening.finished_summary(workdir, run.step, config)
      if finished:
        return finished
      opening.write_run_files(out, config, feed, fitted, members, configs)
      stop.check_not_stopped()
      timings.opened()
      summary = _train_loop(config, run, out, progress, start_time, stop, scores)
      write_json(out / 'timings.json', timings.report())
      return summary
  except BaseException as e:
    error = reported(e, config, workdir)
    if error is e:
      raise
    raise error from e


def _train_loop(
  config: Config, run: Run, out: Path, progress: bool, start_time: float, stop: Stop, scores: Any
) -> dict[str, Any]:
  """Trains run.state from its step to train.steps, a chunk of steps between log steps at a time: each chunk
  logged, evaluated and checkpointed as train.* and eval.* say; then the summaries and pictures."""
  t, state, step = config.train, run.state, run.step
  _warn_if_slow_scan(config)
  stop.check_not_stopped()
  stop.training = True
  writer = MetricWriter(out, step, t.steps, progress and jax.process_index() == 0, members=len(run.configs or []))
  finished = False
  try:
    with timing.phase('evaluation'):
      periodic = Periodic(config, run.configs, run.feed.sources[0], out, writer, scores)
      periodic.start(state, step)
    stopped = None
    for end in chunk_ends(step, t.steps, t.log_every, periodic.events() | {*range(0, t.steps, t.checkpoint_every)}):
      chunk_start = time.perf_counter()
      with timing.phase('steps'):
        state, chunk = chunk_of_steps(state, run.feed, step, end, scan=t.scan, stop=stop, writer=writer)
      if run.configs is None:  # a single run stops on NaN; a sweep's diverged members are said and left
        check_finite(chunk, step, run.checkpoints)
      step += len(chunk['d_loss'])
      with timing.phase('evaluation'):
        periodic.log(state, step, chunk, time.perf_counter() - chunk_start)
      stopped = stop.requested_by_all(finished=step >= t.steps)
      if step % t.checkpoint_every == 0 or step == t.steps or stopped:
        with stop.deferred(), timing.phase('checkpoints'):
          run.checkpoints.save(state, require_finite=run.configs is None)
      if stopped:
        break
    with stop.deferred():  # the summaries and pictures, whole
      ending = {'step': step, 'steps': t.steps, 'wall_seconds': time.perf_counter() - start_time}
      ending |= {'stopped': stopped} if stopped else {}
      with timing.phase('evaluation'):
        summaries = periodic.finish(state)
      with timing.phase('files'):
        summary = write_summary(config, run.configs, out, summaries, ending)
    finished = True
  finally:
    writer.close(keep_progress=finished)
  return summary


def _warn_if_slow_scan(config: Config) -> None:
  xla_convs_on_cpu = (
    config.model.architecture == 'dcgan' and config.model.conv_impl == 'lax' and jax.default_backend() == 'cpu'
  )
  if config.train.scan and xla_convs_on_cpu:
    note(
      "train.scan with model.conv_impl=lax: XLA's CPU convolution gradients run many times slower inside "
      'lax.scan (jax-ml/jax#12868); set train.scan=False or model.conv_impl=auto'
    )

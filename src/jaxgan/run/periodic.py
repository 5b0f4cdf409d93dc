"""The periodic work of a run at its log steps: each member's metrics, evaluations, pictures and scores.

A single run is a population of one here: one member, its state given a member
axis, so that the 1-D game's, the 2-D mixtures' and the images' evaluators see
every run alike and evaluate a sweep's members all at once.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.config import Config
from jaxgan.data.sources import MixtureSource, NormalSource, Source
from jaxgan.evaluation.game1d import Evaluator1D
from jaxgan.evaluation.scoring import Evaluation
from jaxgan.evaluation.toys2d import Evaluator2D
from jaxgan.game.state import GANState, schedules, step_of
from jaxgan.game.state import member as member_of
from jaxgan.run import population
from jaxgan.run.evaluate import Scoring
from jaxgan.run.finishing import plot_losses
from jaxgan.run.opening import note
from jaxgan.run.samples import SampleGrids
from jaxgan.run.writer import MetricWriter, read_metrics, rows_by_member


class Periodic:
  """The members of a run (a single run: one) at log steps: their metrics rows written, their evaluations and
  pictures, and which of them have diverged (NaN or Inf; the others go on)."""

  def __init__(
    self, config: Config, configs: list[Config] | None, source: Source, out: Path, writer: MetricWriter, scores: Any
  ):
    self.members = configs or [config]
    self.sweeping = configs is not None
    self.out, self.writer, self.batch_size = out, writer, config.train.batch_size
    self.outs = member_dirs(out, len(self.members), self.sweeping)
    logged = rows_by_member(read_metrics(out / 'metrics.jsonl'), len(self.members), self.sweeping)
    self.metrics = [rows[-1] if rows else {} for rows in logged]  # each member's last row (of a resumed run)
    self.diverged = {i: m['diverged_at_step'] for i, m in enumerate(self.metrics) if 'diverged_at_step' in m}
    self.evaluator = evaluator(self.members, source, self.outs, writer, self.sweeping, scores, logged)

  def events(self) -> set[int]:
    """The steps the loop must stop at for the evaluations and pictures."""
    return self.evaluator.events()

  def live(self) -> list[int]:
    """The members still training: not diverged."""
    return [i for i in range(len(self.members)) if i not in self.diverged]

  def start(self, state: GANState, step: int) -> None:
    """At the loop's start: what the evaluators draw of the state trained from."""
    self.evaluator(self._population(state), step, self.live())

  def log(self, state: GANState, step: int, chunk: dict[str, np.ndarray], seconds: float) -> None:
    """After a chunk of steps ending at `step`: each member's metrics of it (train/, optim/, perf/), its
    evaluations (eval/), written as one row a member."""
    done = len(chunk['d_loss'])
    for i, member in enumerate(self.members):
      values = {name: v[:, i] if self.sweeping else v for name, v in chunk.items()}
      metrics = {f'train/{name}': float(np.mean(v)) for name, v in values.items()}
      metrics |= {f'optim/{name}': value for name, value in schedules(member, step - 1).items()}
      metrics['perf/images_per_second'] = done * self.batch_size * len(self.members) / seconds
      finite = np.all([np.isfinite(v) for v in values.values()], axis=0)  # [done]
      if i not in self.diverged and not finite.all():
        self.diverged[i] = step - done + int(np.argmin(finite)) + 1
        note(f'member {i} diverged (NaN or Inf) at step {self.diverged[i]}; the others go on')
      if i in self.diverged:
        metrics['diverged_at_step'] = self.diverged[i]
      self.metrics[i] = metrics
    for i, scored in self.evaluator(self._population(state), step, self.live()).items():
      self.metrics[i] |= {f'eval/{name}': value for name, value in scored.items()}
    self.writer.write(step, self.metrics, sweep=self.sweeping)

  def finish(self, state: GANState) -> list[dict[str, Any]]:
    """Each member's summary (its final figures and last train/ metrics); the pictures of those drawn."""
    final = self.evaluator.finish(self._population(state), self.live())
    summaries = []
    for i in range(len(self.members)):
      trained = {k.removeprefix('train/'): v for k, v in self.metrics[i].items() if k.startswith('train/')}
      diverged = {'diverged_at_step': self.diverged[i]} if i in self.diverged else {}
      summaries.append({**final.get(i, {}), **trained, **diverged})
    drawn = self.drawn(summaries)
    self.evaluator.draw([i for i in drawn if i in final])
    logged = rows_by_member(read_metrics(self.out / 'metrics.jsonl'), len(self.members), self.sweeping)
    for i in drawn:
      plot_losses(self.outs[i], logged[i])
    return summaries

  def drawn(self, summaries: list[dict[str, Any]]) -> list[int]:
    """The members whose own pictures are drawn: a single run's one; a sweep's best eval.member_figures by
    its ranking (members.png shows them all)."""
    if not self.sweeping:
      return [0]
    return population.ranked(summaries, population.ranking(self.members[0]))[: self.members[0].eval.member_figures]

  def _population(self, state: GANState) -> GANState:
    """The state as a population: a sweep's itself, a single run's as a population of one."""
    return state if self.sweeping else jax.tree.map(lambda leaf: leaf[None], state)


def member_dirs(out: Path, members: int, sweeping: bool) -> list[Path]:
  """Where each member's files go (a single run's: out itself), created."""
  outs = [population.member_dir(out, i) for i in range(members)] if sweeping else [out]
  for member_out in outs:
    member_out.mkdir(parents=True, exist_ok=True)
  return outs


def evaluator(
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
  asked (those not diverged), and draw(members), the final pictures of some of those finish was asked.
  """
  config = configs[0]  # the members differ in nothing the evaluation reads but their seeds
  keys = jnp.stack([jax.random.split(jax.random.key(c.train.seed))[1] for c in configs])
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
  return _Together(grids, _Scored(scorers, scores))


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

  def draw(self, members: Sequence[int]) -> None:
    for part in self.parts:
      part.draw(members)


def _merged(results: list[dict[int, dict[str, Any]]], members: Sequence[int]) -> dict[int, dict[str, Any]]:
  return {i: {k: v for result in results for k, v in result[i].items()} for i in members}


class _Scored:
  """The image scorers of a population's members (one Scoring each, with its best checkpoint) as one evaluator:
  the members due are scored together (Evaluation.score_members: their images generated in one vmapped call a
  batch, embedded in shared calls of the extractor), then each result goes to its member's scorer."""

  def __init__(self, parts: list[Scoring], evaluation: Evaluation):
    self.parts, self.evaluation = parts, evaluation

  def events(self) -> set[int]:
    return set().union(*(part.events() for part in self.parts))

  def __call__(self, population: GANState, step: int, members: Sequence[int]) -> dict[int, dict[str, float]]:
    results = self.evaluation.score_members(population, [i for i in members if self.parts[i].due(step)])
    return {i: self.parts[i](member_of(population, i), step, results.get(i)) for i in members}

  def finish(self, population: GANState, members: Sequence[int]) -> dict[int, dict[str, Any]]:
    step = step_of(population)
    results = self.evaluation.score_members(population, [i for i in members if self.parts[i].scores_at(step)])
    return {i: self.parts[i].finish(member_of(population, i), results.get(i)) for i in members}

  def draw(self, members: Sequence[int]) -> None:
    """Scores draw no pictures."""

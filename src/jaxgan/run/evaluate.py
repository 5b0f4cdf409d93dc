"""Scores of runs: the training loop's scorer of an image run, with its best checkpoint, and evaluate_run.

What a score is, and the protocol stored beside it, is jaxgan.evaluation's; this
module adds what needs a run around it: its checkpoints and its workdir.
"""

import json
import os
from pathlib import Path
from typing import Any

from jaxgan.config import Config
from jaxgan.data.mixtures import MIXTURES
from jaxgan.evaluation.scoring import EvalError, Evaluation, better, record, with_eval_settings
from jaxgan.files import write_atomically
from jaxgan.game.state import GANState, step_of
from jaxgan.run import runs
from jaxgan.run.checkpoint import Checkpointer

EVAL_FILE = 'eval.json'  # in a run's workdir: its scores by jaxgan-eval, one result a checkpoint and protocol


class Scoring:
  """The training loop's scorer of an image run (or a sweep member): scores every eval.every steps and at the
  end, returns them to be logged (eval/NAME), and keeps the best checkpoint by eval.best_metric in out/best,
  described by out/best.json."""

  def __init__(self, config: Config, evaluation: Evaluation, out: Path, *, keep_best: bool = True):
    """Scores with `evaluation` (built from config.eval and config.data) as config.eval says."""
    self.settings = config.eval
    self.evaluation = evaluation
    every, total = config.eval.every, config.train.steps
    self.steps = {*range(every, total, every), total} if every else {total}
    self.best_file = out / 'best.json'
    saved = json.loads(self.best_file.read_text()) if self.best_file.exists() else None  # of a resumed run
    self.best = {k: saved[k] for k in ('step', 'metric', 'value')} if saved else None
    self.checkpoints = Checkpointer(out / 'best', keep=1) if keep_best else None
    self._last: tuple[int, dict[str, float]] | None = None
    self._started = False

  def events(self) -> set[int]:
    return self.steps

  def scores_at(self, step: int) -> bool:
    """Whether this scorer, called at `step`, would score anew (a score of the finished step included)."""
    return not (self._last and self._last[0] == step)

  def due(self, step: int) -> bool:
    """Whether __call__ at `step` scores anew."""
    return self._started and step in self.steps and self.scores_at(step)

  def _score(self, state: GANState, step: int, result: dict[str, float] | None) -> dict[str, float]:
    if not self.scores_at(step):
      return self._last[1]
    result = self.evaluation(state) if result is None else result
    self._last = (step, result)
    metric = self.settings.best_metric
    if self.checkpoints and better(metric, result[metric], self.best and self.best['value']):
      self.checkpoints.save(state)
      self.best = {'step': step, 'metric': metric, 'value': result[metric]}
      described = {**self.best, 'scores': result, 'protocol': self.evaluation.protocol}
      write_atomically(self.best_file, lambda path: path.write_text(json.dumps(described, indent=2) + '\n'))
    return result

  def __call__(self, state: GANState, step: int, result: dict[str, float] | None = None) -> dict[str, float]:
    """The scores at `step` if due (`result`: those computed already, with the population's), else {}."""
    started, self._started = self._started, True
    return self._score(state, step, result) if started and step in self.steps else {}  # not at the loop's start

  def finish(self, state: GANState, result: dict[str, float] | None = None) -> dict[str, Any]:
    """The scores of the final (or stopped-at) step (`result`: computed already), their protocol, and the best
    step's."""
    result = self._score(state, step_of(state), result)
    return {**result, 'eval_protocol': self.evaluation.protocol, **({'best': self.best} if self.best else {})}


def evaluate_run(
  workdir: str | os.PathLike,
  *,
  step: int | None = None,
  best: bool = False,
  member: int | None = None,
  **settings: Any,
) -> dict[str, Any]:
  """Scores a run's EMA generator and records the result in workdir/eval.json (beside any earlier ones).

  Args:
    workdir: a run of jaxgan-train / jaxgan.train (or a sweep, with `member`).
    step, best, member: which checkpoint (as jaxgan.load reads them); default the latest.
    **settings: eval.* keys that replace the run's own (metrics, extractor, reference, num_fake, num_real).

  Returns:
    The result: step, the scores, and their protocol.

  Raises:
    EvalError: scores that cannot be computed as asked; RunError: no run, no such checkpoint (one line each).
  """
  path = Path(workdir).expanduser().absolute()
  config, state = runs.load(path, member=member, best=best, step=step)
  if config.data.source in ('normal', *MIXTURES):
    raise EvalError(
      f'{path} is a run of {config.data.source}, not of images: its own figures (JS divergence, mode metrics) '
      'are in its summary.json and metrics.jsonl'
    )
  if state.step.ndim:
    raise EvalError(f'{path} holds a sweep of {len(state.step)} members; score one member at a time (--member)')
  config = with_eval_settings(config, settings)
  evaluation = Evaluation(config.eval, config.data)
  result = {
    'step': step_of(state),
    **({'member': member} if member is not None else {}),
    **({'best': True} if best else {}),
    **evaluation(state),
    'protocol': evaluation.protocol,
  }
  record(path / EVAL_FILE, result)
  return result

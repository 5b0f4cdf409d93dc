"""Finishing a run: its summary, a sweep's results table and picture, the loss curves, errors in one line."""

from pathlib import Path
from typing import Any

import jax

from jaxgan import timing
from jaxgan.config import Config
from jaxgan.evaluation.scoring import EvalError
from jaxgan.files import write_json
from jaxgan.run import population
from jaxgan.run import workdir as workdir_lib
from jaxgan.run.checkpoint import CheckpointError
from jaxgan.run.stepping import Interrupted
from jaxgan.run.workdir import RunError


def write_summary(
  config: Config, configs: list[Config] | None, out: Path, summaries: list[dict[str, Any]], ending: dict[str, Any]
) -> dict[str, Any]:
  """summary.json of a single run (summaries: its one) or of a sweep (finish_sweep); returns it."""
  if configs is not None:
    return finish_sweep(config, out, summaries, ending)
  summary = {**summaries[0], **ending}
  write_json(out / 'summary.json', summary)
  return summary


def finish_sweep(config: Config, out: Path, summaries: list[dict[str, Any]], ending: dict[str, Any]) -> dict[str, Any]:
  """Each member's summary.json, results.csv, members.png and the sweep's summary.json."""
  members = population.read_members(out)
  for i, summary in enumerate(summaries):
    write_json(population.member_dir(out, i) / 'summary.json', {'member': i, **members[i], **summary, **ending})
  keys = population.ranking(config)
  rows = population.results_table(members, summaries, keys)
  population.write_results(out, rows)
  population.draw_members(out, members, config, summaries)
  summary = {'members': [{'member': i, **members[i], **s} for i, s in enumerate(summaries)], 'results': rows, **ending}
  write_json(out / 'summary.json', summary)
  return summary


def reported(error: BaseException, config: Config, workdir: Path) -> BaseException:
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


@timing.phase('pictures')
def plot_losses(workdir: Path, rows: list[dict[str, Any]]) -> None:
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

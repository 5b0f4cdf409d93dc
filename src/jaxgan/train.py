"""The training loop: `train(config, workdir)`, shared by the CLI, notebooks and sweeps.

It writes into the workdir:
  config.json     the resolved config;
  metrics.jsonl   one JSON object per logged step (`train/...`, `eval/...`);
  summary.json    the final figures;
  panels.png, curves.png   for 1-D games with a known data density.
"""

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxgan import config as config_lib
from jaxgan.config import Config
from jaxgan.data import make_source
from jaxgan.eval1d import Evaluator1D
from jaxgan.state import create_state
from jaxgan.step import train_steps

_RUN_FILES = ('config.json', 'metrics.jsonl', 'summary.json')


class RunError(RuntimeError):
  """A run that cannot start or cannot go on: unusable workdir, non-finite loss."""


def prepare_workdir(workdir: str | os.PathLike) -> Path:
  """Creates workdir (absolute) and checks that it is writable and holds no run."""
  path = Path(workdir).expanduser().absolute()
  try:
    path.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise RunError(f'cannot create workdir {path}: {e.strerror or e}') from e
  existing = [name for name in _RUN_FILES if (path / name).exists()]
  if existing:
    raise RunError(f'workdir {path} already holds a run ({existing[0]}); choose a new --workdir')
  probe = path / '.jaxgan-write-test'
  try:
    probe.write_text('')
    probe.unlink()
  except OSError as e:
    raise RunError(f'workdir {path} is not writable: {e.strerror or e}') from e
  return path


def _write_json(path: Path, obj: Any) -> None:
  path.write_text(json.dumps(obj, indent=2) + '\n')


def _chunk_ends(steps: int, log_every: int, events: set[int]) -> list[int]:
  """Steps at which the loop stops to log or evaluate, ending with `steps`."""
  return sorted({*range(log_every, steps, log_every), *(e for e in events if 0 < e < steps), steps})


def train(config: Config, workdir: str | os.PathLike) -> dict[str, Any]:
  """Trains a GAN as `config` says and writes the run into `workdir`.

  Args:
    config: the run's config.
    workdir: a directory that is created if needed and must not hold a run.

  Returns:
    The summary, also written to workdir/summary.json.

  Raises:
    ConfigError: the config has a value out of range.
    RunError: the workdir is unusable, or a loss became NaN or Inf.
  """
  start = time.perf_counter()
  config = config_lib.validate(config)
  workdir = prepare_workdir(workdir)
  _write_json(workdir / 'config.json', config_lib.to_dict(config))

  t = config.train
  key = jax.random.key(t.seed)
  init_key, eval_key = jax.random.split(key)
  source = make_source(config.data, t.seed)
  state = create_state(config, init_key, source.sample_shape)
  evaluator = Evaluator1D(config.eval, source, eval_key)
  panel_steps = {round(f * t.steps) for f in config.eval.panel_fractions}

  if 0 in panel_steps:
    evaluator.panel(state, 0)
  step = 0
  print_every = max(1, t.steps // 10)
  with open(workdir / 'metrics.jsonl', 'w') as metrics_file:
    for end in _chunk_ends(t.steps, t.log_every, panel_steps):
      batches = source.batches(step, end - step, t.batch_size * config.game.d_steps)
      state, chunk = train_steps(state, batches)
      chunk = jax.device_get(chunk)
      for name, values in chunk.items():
        if not np.all(np.isfinite(values)):
          bad = step + int(np.argmin(np.isfinite(values))) + 1
          raise RunError(
            f'{name} became {values[bad - step - 1]} at step {bad}; lower the learning rates or check the data'
          )
      step, previous = end, step
      metrics = {f'train/{name}': float(np.mean(values)) for name, values in chunk.items()}
      metrics |= {f'eval/{name}': value for name, value in evaluator.track(state, step).items()}
      if step in panel_steps:
        evaluator.panel(state, step)
      metrics_file.write(json.dumps({'step': step, **metrics}) + '\n')
      metrics_file.flush()
      if step // print_every > previous // print_every:
        _print_progress(step, t.steps, metrics)

  evaluator.save_plots(workdir)
  summary = {**evaluator.summary(state), 'steps': t.steps, 'wall_seconds': time.perf_counter() - start}
  _write_json(workdir / 'summary.json', summary)
  return summary


def _print_progress(step: int, steps: int, metrics: dict[str, float]) -> None:
  shown = {
    'd_loss': 'train/d_loss',
    'g_loss': 'train/g_loss',
    'D(x)': 'train/d_real',
    'D(G(z))': 'train/d_fake',
    'JS': 'eval/js_divergence',
  }
  parts = [
    f'{label} {metrics[key]:.4g}' for label, key in shown.items() if key in metrics and math.isfinite(metrics[key])
  ]
  print(f'step {step}/{steps}  ' + '  '.join(parts), flush=True)

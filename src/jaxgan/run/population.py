"""Populations: the members of a sweep, their ranking and their pictures side by side.

A sweep is one config and a list of members, each overriding keys that leave
the compiled program as it is (SWEEPABLE: train.seed and the HYPERPARAMETERS
that the train state holds as arrays). All members train as one program, the
train step vmapped over a leading member axis of the state (jaxgan.sweep,
`jaxgan-train --sweep`). A key that would change shapes or code (widths,
resolution, objective, d_steps, ...) is refused: run one sweep per value of it.

In the workdir of a sweep: members.json (each member's overrides), one folder
per member under members/ (its summary.json and pictures), results.csv (the
members ranked), members.png (their pictures side by side); metrics.jsonl has a
`member` field in each row.
"""

import csv
import io
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxgan import config as config_lib
from jaxgan import timing
from jaxgan.config import Config, ConfigError, score_results
from jaxgan.data import mixtures
from jaxgan.files import read_panels
from jaxgan.game.state import HYPERPARAMETERS
from jaxgan.run import images

SWEEPABLE = ('train.seed', *HYPERPARAMETERS)
MEMBERS_FILE = 'members.json'
RESULTS_FILE = 'results.csv'
PICTURE_FILE = 'members.png'
Member = Mapping[str, Any]  # config key ('optim.g_lr' or optim__g_lr) -> value


def _dotted(key: str) -> str:
  return key.replace('__', '.')


def product(**lists: Iterable[Any]) -> list[dict[str, Any]]:
  """Members for every combination of the values (the first key varies slowest), e.g.
  `product(train__seed=range(4), optim__g_lr=[1e-3, 3e-4])`: 8 members."""
  keys = [_dotted(k) for k in lists]
  return [dict(zip(keys, values, strict=True)) for values in itertools.product(*map(list, lists.values()))]


def parse_sweeps(assignments: Sequence[str]) -> list[dict[str, Any]]:
  """The members of `--sweep KEY=V1,V2,...` options: the product of their lists (values kept as text)."""
  lists = {}
  for assignment in assignments:
    key, sep, text = assignment.partition('=')
    values = [v.strip() for v in text.split(',')]
    if not sep or not key.strip() or not any(values):
      raise ConfigError(f'--sweep {assignment!r} is not of the form section.key=V1,V2,...; e.g. train.seed=0,1,2,3')
    if '' in values:
      raise ConfigError(f'--sweep {assignment!r} has an empty value; give V1,V2,... without empty items')
    if key.strip() in lists:
      raise ConfigError(f'--sweep {key.strip()} is given twice; give all its values in one list')
    lists[key.strip()] = values
  return product(**lists)


def member_configs(config: Config, members: Sequence[Member]) -> list[Config]:
  """Each member's config: config with the member's overrides (values, or text as on the command line)."""
  if not members:
    raise ConfigError('a sweep needs at least one member, e.g. --sweep train.seed=0,1,2,3')
  configs = []
  for member in members:
    member_config = config
    for key, value in member.items():
      key = _dotted(key)
      config_lib.value_of(config, key)  # an unknown key says so, before whether it may vary
      if key not in SWEEPABLE:
        raise ConfigError(
          f'{key} cannot vary within one sweep: it changes the compiled program; run one sweep per value of it '
          f'(--set {key}=...). Keys that can vary: {", ".join(SWEEPABLE)}'
        )
      member_config = config_lib.override_value(member_config, key, value)
    configs.append(config_lib.validate(member_config))
  _refuse_twins(members, configs)
  return configs


def _refuse_twins(members: Sequence[Member], configs: list[Config]) -> None:
  """Refuses two members of the same config: they would train alike, bit for bit."""
  seen = {}
  for i, (member, member_config) in enumerate(zip(members, configs, strict=True)):
    twin = seen.setdefault(config_lib.to_dict(member_config).__repr__(), i)
    if twin != i:
      same = (
        ', '.join(f'{_dotted(k)}={config_lib.value_of(member_config, _dotted(k))}' for k in member) or 'no overrides'
      )
      raise ConfigError(
        f'members {twin} and {i} are the same run ({same}): they would train alike; give each member its own values, '
        'e.g. --sweep train.seed=0,1'
      )


def normalized(members: Sequence[Member], configs: Sequence[Config]) -> list[dict[str, Any]]:
  """The members as saved in members.json: dotted keys and the values their configs hold."""
  return [
    {_dotted(key): config_lib.value_of(c, _dotted(key)) for key in m} for m, c in zip(members, configs, strict=True)
  ]


def read_members(workdir: Path) -> list[dict[str, Any]] | None:
  """The members saved in workdir, None if it holds no sweep."""
  path = workdir / MEMBERS_FILE
  return json.loads(path.read_text()) if path.exists() else None


def member_dir(workdir: Path, member: int) -> Path:
  return workdir / 'members' / f'{member:03d}'


def ranking(config: Config) -> list[tuple[str, bool]]:
  """The summary keys that rank the members of a sweep of `config`, most important first, and whether higher is
  better: JS for the 1-D game, the mode metrics for the 2-D mixtures, eval.best_metric for scored images (none
  for images without eval.metrics)."""
  source = config.data.source
  if source == 'normal':
    return [('js_divergence', False)]
  if source in mixtures.MIXTURES:
    return [('modes_covered', True), ('high_quality_fraction', True), ('mode_kl', False)]
  if config.eval.metrics:
    metric = config.eval.best_metric
    return [(metric, not score_results(config.eval.metrics)[metric])]
  return []


def ranked(summaries: Sequence[Mapping[str, Any]], keys: Sequence[tuple[str, bool]]) -> list[int]:
  """Member indices, best first by `keys` (members with a NaN or a missing figure last)."""

  def order(i: int) -> tuple:
    figures = [summaries[i].get(key, float('nan')) for key, _ in keys]
    if not all(np.isfinite(f) for f in figures):
      return (True, i)
    return (False, *(-f if higher else f for f, (_, higher) in zip(figures, keys, strict=True)), i)

  return sorted(range(len(summaries)), key=order)


def results_table(
  members: Sequence[Member], summaries: Sequence[Mapping[str, Any]], keys: Sequence[tuple[str, bool]]
) -> list[dict[str, Any]]:
  """One row per member, ranked: rank, member, its overrides, then the ranking figures and the other numbers."""
  swept = list(dict.fromkeys(k for m in members for k in m))
  rows = []
  for rank, i in enumerate(ranked(summaries, keys), start=1):
    numbers = {k: v for k, v in summaries[i].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    first = {key: numbers.pop(key) for key, _ in keys if key in numbers}
    rows.append({'rank': rank, 'member': i, **{k: members[i].get(k) for k in swept}, **first, **numbers})
  return rows


@timing.phase('files')
def write_results(workdir: Path, rows: Sequence[Mapping[str, Any]]) -> None:
  columns = list(dict.fromkeys(c for row in rows for c in row))
  text = io.StringIO()
  writer = csv.DictWriter(text, columns, lineterminator='\n')
  writer.writeheader()
  writer.writerows(rows)
  (workdir / RESULTS_FILE).write_text(text.getvalue())


def format_table(rows: Sequence[Mapping[str, Any]], limit: int = 8) -> str:
  """The first `limit` columns of the ranked rows as aligned text."""
  columns = list(dict.fromkeys(c for row in rows for c in row))[:limit]
  cells = [
    [f'{row.get(c):.4g}' if isinstance(row.get(c), float) else str(row.get(c, '')) for c in columns] for row in rows
  ]
  widths = [max(len(c), *(len(r[j]) for r in cells)) for j, c in enumerate(columns)]
  lines = ['  '.join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
  lines += ['  '.join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
  return '\n'.join(lines)


def member_label(member: Mapping[str, Any], index: int) -> str:
  return f'member {index}: ' + ', '.join(f'{k.split(".")[-1]}={v}' for k, v in member.items())


@timing.phase('pictures')
def draw_members(workdir: Path, members: Sequence[Member], config: Config, summaries: Sequence[Mapping]) -> None:
  """members.png: every member's final picture side by side (1-D: its last panel; 2-D: its samples over the
  modes; images: its last sample grid), titled with its overrides and its first ranking figure."""
  from matplotlib.figure import Figure

  source = config.data.source
  columns = min(8, len(members))
  rows = -(-len(members) // columns)
  fig = Figure(figsize=(3 * columns, 3 * rows + 0.4))
  axes = fig.subplots(rows, columns, squeeze=False).ravel()
  key = ranking(config)[0][0] if ranking(config) else None  # the figure each title shows
  for i, ax in enumerate(axes):
    if i >= len(members):
      ax.axis('off')
      continue
    folder = member_dir(workdir, i)
    if source == 'normal':
      _draw_1d(ax, read_panels(folder / 'panels.npz'))
    elif source in mixtures.MIXTURES:
      _draw_2d(ax, read_panels(folder / 'panels2d.npz'), mixtures.MIXTURES[source])
    elif grids := sorted((folder / 'samples').glob('step_*.png')):  # the last grid (samples.png: drawn members')
      ax.imshow(images.read_png(grids[-1]).squeeze(), cmap='gray')
      ax.axis('off')
    figure = f'\n{key} {summaries[i][key]:.3g}' if key and key in summaries[i] else ''
    ax.set_title(member_label(members[i], i) + figure, fontsize=7)
  fig.tight_layout()
  fig.savefig(workdir / PICTURE_FILE, dpi=90)


def _draw_1d(ax, panels: list[dict[str, Any]]) -> None:
  if not panels:
    return
  p = panels[-1]
  ax.plot(p['x'], p['p_real'], 'k--', lw=1)
  ax.plot(p['x'], p['p_gen'], 'g-', lw=1)
  ax.plot(p['x'], p['d_game'], 'b--', lw=1)
  x, density = np.asarray(p['x']), np.asarray(p['p_real'])
  data = x[density > 1e-3 * density.max()]  # where the real data lies, whatever its scale
  if len(data):
    margin = 0.1 * (data[-1] - data[0]) or 1.0
    ax.set_xlim(data[0] - margin, data[-1] + margin)


def _draw_2d(ax, panels: list[dict[str, Any]], mixture: mixtures.Mixture) -> None:
  if not panels:
    return
  ax.scatter(*np.asarray(panels[-1]['samples']).T, s=1, alpha=0.5, lw=0)
  ax.plot(*mixture.centers.T, 'k+', ms=4)
  ax.set_aspect('equal')

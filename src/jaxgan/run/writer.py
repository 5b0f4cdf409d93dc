"""Where a run's metrics and pictures go: metrics.jsonl, TensorBoard and a progress bar."""

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from jaxgan import timing


def read_metrics(path: Path) -> list[dict]:
  """The JSON objects of a metrics.jsonl file, skipping a torn last line."""
  if not path.exists():
    return []
  rows = []
  for line in path.read_text().splitlines():
    try:
      rows.append(json.loads(line))
    except json.JSONDecodeError:
      break
  return rows


def _tensorboard_writer() -> type:
  """tensorboardX's SummaryWriter, loaded without torch: tensorboardX imports torch wherever it is installed (some
  2 s a start) only to accept torch tensors, which jaxgan never gives it."""
  if 'tensorboardX' not in sys.modules and 'torch' not in sys.modules:
    sys.modules['torch'] = None  # `import torch` raises ImportError while tensorboardX loads
    try:
      import tensorboardX  # noqa: F401
    finally:
      del sys.modules['torch']
  from tensorboardX import SummaryWriter

  return SummaryWriter


class MetricWriter:
  """metrics.jsonl (always), TensorBoard event files (tensorboardX) and a tqdm bar.

  On resume, lines logged after the restored step (by the run that was
  interrupted) are dropped, so that the file reads as one run: that of an
  uninterrupted run, with a line at each step where the run was stopped.
  """

  _SHOWN = {'d_loss': 'train/d_loss', 'g_loss': 'train/g_loss', 'D(x)': 'train/d_real', 'D(G(z))': 'train/d_fake'}

  def __init__(self, workdir: Path, start_step: int, total_steps: int, progress: bool = True, members: int = 0):
    """A sweep's `members` each get their rows (with a `member` field) and their TensorBoard folder."""
    self.path = workdir / 'metrics.jsonl'
    kept = [row for row in read_metrics(self.path) if row.get('step', 0) <= start_step]
    self.path.write_text(''.join(json.dumps(row) + '\n' for row in kept))
    self._file = open(self.path, 'a')  # noqa: SIM115  closed in close()
    summary_writer = _tensorboard_writer()
    folders = [f'member_{i:03d}' for i in range(members)] if members else ['']
    self._tb = [summary_writer(str(workdir / 'tensorboard' / folder)) for folder in folders]
    from tqdm.auto import tqdm

    self._bar = tqdm(total=total_steps, initial=start_step, unit='step', file=sys.stderr, disable=not progress)

  @timing.phase('files')
  def write(self, step: int, rows: list[dict[str, float]], sweep: bool = False) -> None:
    """The rows of metrics.jsonl at `step`, in one write: a single run's one, or a sweep's one a member (with
    its `member` field); the progress bar shows the first."""
    numbered = [{'step': step, **({'member': i} if sweep else {}), **metrics} for i, metrics in enumerate(rows)]
    self._file.write(''.join(json.dumps(row) + '\n' for row in numbered))
    self._file.flush()
    for tb, metrics in zip(self._tb, rows, strict=True):
      for name, value in metrics.items():
        tb.add_scalar(name, value, step)
    metrics = rows[0]
    shown = {label: f'{metrics[key]:.3g}' for label, key in self._SHOWN.items() if key in metrics}
    if 'perf/images_per_second' in metrics:
      shown['img/s'] = f'{metrics["perf/images_per_second"]:.0f}'
    self._bar.set_postfix(shown, refresh=False)
    self._bar.update(step - self._bar.n)

  def advance(self) -> None:
    """One more step done: the progress bar moves (write() logs it)."""
    self._bar.update(1)

  @timing.phase('pictures')
  def image(self, name: str, step: int, image: np.ndarray, member: int | None = None) -> None:
    self._tb[member or 0].add_image(name, image, step, dataformats='HWC')

  def close(self, keep_progress: bool = True) -> None:
    """Closes everything; the progress bar is wiped when the run failed, so its error line stands alone."""
    self._bar.leave = keep_progress
    self._bar.close()
    for tb in self._tb:
      tb.close()
    self._file.close()


def rows_by_member(rows: list[dict[str, Any]], members: int, sweeping: bool) -> list[list[dict[str, Any]]]:
  """metrics.jsonl rows, each member's apart (a single run's: one list, its rows have no member field)."""
  return [[r for r in rows if r.get('member') == (i if sweeping else None)] for i in range(members)]

"""Files written whole or not at all, and libraries kept quiet about failures that jaxgan reports itself.

The ground floor with jaxgan.config: every room may use it; it imports only numpy.
"""

import contextlib
import gc
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
  """Within the block: absl's and asyncio's log records below CRITICAL are dropped, and so are the
  'Event loop is closed' errors of orbax's futures that a failed read leaves to the garbage collector."""
  loggers = [logging.getLogger(name) for name in ('absl', 'asyncio')]
  levels = [logger.level for logger in loggers]
  hook = sys.unraisablehook

  def drop_closed_loop_errors(unraisable: 'sys.UnraisableHookArgs') -> None:
    if not (isinstance(unraisable.exc_value, RuntimeError) and 'Event loop is closed' in str(unraisable.exc_value)):
      hook(unraisable)

  for logger in loggers:
    logger.setLevel(logging.CRITICAL)
  sys.unraisablehook = drop_closed_loop_errors
  try:
    yield
    gc.collect()  # what a failed read left behind, collected while the hook is ours
  finally:
    sys.unraisablehook = hook
    for logger, level in zip(loggers, levels, strict=True):
      logger.setLevel(level)


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
  """Writes `path` through `write(temporary path)` and a rename: a reader, or a kill, never sees half of it."""
  temporary = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
  try:
    write(temporary)
    os.replace(temporary, path)
  finally:
    temporary.unlink(missing_ok=True)


def read_panels(path: Path) -> list[dict[str, Any]]:
  """The panels that write_panels saved in `path`, in order (scalars as Python numbers); none if it does not exist."""
  if not path.exists():
    return []
  panels: dict[int, dict[str, Any]] = {}
  with np.load(path) as saved:
    for name in saved.files:
      index, key = name.split('/', 1)
      value = saved[name]
      panels.setdefault(int(index), {})[key] = value.item() if value.ndim == 0 else value
  return [panels[i] for i in sorted(panels)]


def write_panels(path: Path, panels: list[dict[str, Any]]) -> None:
  """Saves a list of dicts of arrays and numbers as one .npz file, atomically (entries `index/key`)."""
  arrays = {f'{i}/{k}': v for i, p in enumerate(panels) for k, v in p.items()}

  def save(temporary: Path) -> None:
    with open(temporary, 'wb') as file:  # a file, not a name: np.savez would add .npz to the temporary name
      np.savez(file, **arrays)

  write_atomically(path, save)


def write_json(path: Path, value: Any) -> None:
  """Writes `value` as indented JSON to `path`, atomically."""
  write_atomically(path, lambda temporary: temporary.write_text(json.dumps(value, indent=2) + '\n'))

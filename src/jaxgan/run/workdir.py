"""A run's directory: made and checked, held by one live run at a time, its saved
config read, and the files of a run that never saved a trained step removed."""

import contextlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from jaxgan import config as config_lib
from jaxgan.config import Config, ConfigError

LOCK_FILE = '.lock'
# Everything jaxgan-train writes into a workdir; nothing else there is ever removed.
# config.json last: removed in this order, a cut-short removal still leaves a run that a new one replaces.
RUN_FILES = (
  'run.json',
  'metrics.jsonl',
  'summary.json',
  'losses.png',
  'samples.png',
  'samples.gif',
  'panels.png',
  'panels.npz',
  'panels2d.npz',
  'modes.png',
  'curves.png',
  'members.json',
  'members',
  'results.csv',
  'members.png',
  'checkpoints',
  'best',
  'best.json',
  'eval.json',
  'samples',
  'tensorboard',
  'config.json',
)


class RunError(RuntimeError):
  """A run that cannot start or go on: unusable workdir or data, a mismatched checkpoint, NaN."""


def prepare(workdir: str | os.PathLike) -> tuple[Path, Path | None]:
  """Creates workdir (made absolute: orbax needs it) and checks that it is writable.

  Returns:
    The absolute path, and the outermost folder this call created (workdir or
    one above it), None if workdir existed.
  """
  path = Path(os.path.abspath(os.path.expanduser(workdir)))  # absolute, and no '..' in it
  if path.exists() and not path.is_dir():
    raise RunError(f'workdir {path} is a file, not a folder; give a folder')
  created = next((p for p in reversed([path, *path.parents]) if not p.exists()), None)
  try:
    path.mkdir(parents=True, exist_ok=True)
    probe = path / f'.jaxgan-write-test-{os.getpid()}'  # one per process: several may share the workdir
    probe.write_text('')
    probe.unlink()
  except OSError as e:
    raise RunError(f'workdir {path} is not usable: {e.strerror or e}') from e
  return path, created


@contextlib.contextmanager
def lock(path: Path) -> Iterator[None]:
  """Holds `path` for this process until the block ends; refuses a workdir held by a live run.

  The lock is the kernel's (flock on path/.lock): it goes with the process that
  held it, so a run killed with SIGKILL does not block its restart.
  """
  try:
    import fcntl
  except ImportError:  # not a POSIX system: no lock
    yield
    return
  with open(path / LOCK_FILE, 'a+') as file:
    try:
      fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      file.seek(0)
      raise _in_use(path, file.read().strip() or 'another process') from None
    except OSError:  # a file system without locks: go on unguarded
      yield
      return
    if not (path / LOCK_FILE).exists() or os.stat(path / LOCK_FILE).st_ino != os.fstat(file.fileno()).st_ino:
      # A run that failed to start removed the lock file between our open and our lock: it is another's now.
      raise _in_use(path, 'another start')
    file.truncate(0)
    file.write(f'jaxgan pid {os.getpid()} on {socket.gethostname()}, since {time.strftime("%Y-%m-%d %H:%M:%S")}\n')
    file.flush()
    try:
      yield
    finally:
      fcntl.flock(file, fcntl.LOCK_UN)


def _in_use(path: Path, owner: str) -> RunError:
  return RunError(f'{path} is in use by a live run ({owner}); wait for it to end or use another --workdir')


def holder(path: Path) -> str | None:
  """The live run that holds path (its line in the lock file), None if none does; changes nothing."""
  try:
    import fcntl

    file = open(path / LOCK_FILE)  # noqa: SIM115  closed below; read-only: no lock file, no live run
  except (ImportError, OSError):
    return None
  with file:
    try:
      fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
      return file.read().strip() or 'another process'
    except OSError:
      return None
    fcntl.flock(file, fcntl.LOCK_UN)
  return None


def read_config(path: Path) -> Config | None:
  """The config saved in path/config.json, None if there is none."""
  config_path = path / 'config.json'
  if not config_path.exists():
    return None
  try:
    return config_lib.from_dict(Config, json.loads(config_path.read_text()))
  except (OSError, ValueError, TypeError) as e:  # JSONDecodeError and ConfigError are ValueErrors
    reason = e if isinstance(e, ConfigError) else f'{type(e).__name__}: {e}'
    raise RunError(
      f'{config_path} is not a readable jaxgan config ({reason}); restore it or use another --workdir'
    ) from e


def run_files(path: Path) -> set[str]:
  """The names of RUN_FILES present in path."""
  return {name for name in RUN_FILES if (path / name).exists()}


def trained_steps(path: Path) -> list[int]:
  """The steps above 0 of the complete checkpoints in path/checkpoints (orbax names each by its step), sorted."""
  folder = path / 'checkpoints'
  steps = [int(p.name) for p in folder.iterdir() if p.name.isdigit()] if folder.is_dir() else []
  return sorted(step for step in steps if step > 0)


def remove_run(path: Path, *, keep: set[str] = frozenset(), ending: bool = False, created: Path | None = None) -> None:
  """Removes the RUN_FILES in path but those in `keep`. For a run `ending` (it leaves the workdir): the lock
  file too when no run is left, and the folders from path up to `created` (what prepare made) left empty."""
  for name in [name for name in RUN_FILES if name not in keep]:
    target = path / name
    if target.is_dir() and not target.is_symlink():
      shutil.rmtree(target, ignore_errors=True)
    else:
      target.unlink(missing_ok=True)
  if ending and not (path / 'config.json').exists():
    (path / LOCK_FILE).unlink(missing_ok=True)
  if ending and created:
    for folder in [path, *path.parents][: len(path.parts) - len(created.parts) + 1]:
      try:
        folder.rmdir()  # only an empty folder goes
      except OSError:
        break

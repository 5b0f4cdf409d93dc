"""Keeping what libraries print about failures that jaxgan reports itself, in one line, off the screen."""

import contextlib
import gc
import logging
import sys
from collections.abc import Iterator


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

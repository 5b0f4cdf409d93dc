"""Whole-state checkpoints with orbax: save every N steps, restore the latest good one."""

import contextlib
import dataclasses
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from jaxgan.files import quiet_libraries
from jaxgan.game.state import GANState, step_of


class CheckpointError(RuntimeError):
  """A checkpoint that cannot be written or does not fit the run's config."""


def _storable(state: GANState) -> GANState:
  return state.replace(key=jax.random.key_data(state.key))  # orbax stores raw key data


def all_finite(state: GANState) -> bool:
  """True when every float leaf of the state is finite."""
  leaves = [x for x in jax.tree.leaves(_storable(state)) if jnp.issubdtype(x.dtype, jnp.floating)]
  return bool(jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])))


class Checkpointer:
  """The checkpoints of one run, in `directory` (absolute), the last `keep` kept.

  A `read_only` one (for sampling, perhaps beside a live run) changes nothing on disk.
  """

  def __init__(self, directory: Path, keep: int = 3, *, read_only: bool = False):
    self.directory = directory
    self._keep = keep
    self._read_only = read_only
    self._manager = self._open()

  def _open(self) -> ocp.CheckpointManager:
    # Synchronous saves: a checkpoint is complete when save() returns, so a
    # SIGKILL right after it loses nothing. A save cut short by a kill leaves
    # a temporary folder, removed here (a read-only one leaves all as it is).
    options = ocp.CheckpointManagerOptions(
      max_to_keep=None if self._read_only else self._keep,
      save_interval_steps=0 if self._read_only else 1,
      enable_async_checkpointing=False,
      cleanup_tmp_directories=not self._read_only,
      read_only=self._read_only,
      create=not self._read_only,
    )
    with quiet_libraries() if self._read_only else contextlib.nullcontext():  # orbax warns that it is read-only
      return ocp.CheckpointManager(self.directory, options=options)

  def steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def save(self, state: GANState, *, require_finite: bool = True) -> None:
    """Saves `state` at its step; refuses a state with NaN or Inf in it if require_finite (a sweep's diverged
    members are saved as they are)."""
    step = step_of(state)
    if require_finite and not all_finite(state):
      raise CheckpointError(f'refusing to checkpoint step {step}: the state holds NaN or Inf')
    if step in self._manager.all_steps():
      return
    try:
      self._manager.save(step, args=ocp.args.StandardSave(_storable(state)))
      self._manager.wait_until_finished()
    except OSError as e:
      raise CheckpointError(f'cannot write checkpoint {step} in {self.directory}: {e.strerror or e}') from e

  def restore_latest(self, target: GANState, *, step: int | None = None) -> tuple[GANState | None, list[str]]:
    """The newest checkpoint that restores into `target`'s structure (or the one of `step`), or None.

    A checkpoint that fails to read is moved aside (to corrupt-checkpoint-STEP
    next to the checkpoints folder; a read-only Checkpointer leaves it where it
    is) and the one before it is tried.

    Returns:
      The restored state (or None when there is no checkpoint) and one message
      per checkpoint set aside.
    """
    abstract = jax.eval_shape(_storable, target)
    notes = []
    for step in [s for s in reversed(self.steps()) if step is None or s == step]:
      try:
        with quiet_libraries():  # a failed read is one line of ours, not pages of orbax's and tensorstore's
          restored = self._restore(step, abstract)
      except (ValueError, TypeError) as e:
        if 'shape' in str(e).lower() or 'structure' in str(e).lower():
          raise CheckpointError(
            f'the checkpoint at step {step} in {self.directory} does not fit this config ({str(e).splitlines()[0]})'
          ) from e
        notes.append(self._skip(step, e))
        continue
      except Exception as e:  # unreadable files: try the one before
        notes.append(self._skip(step, e))
        continue
      return restored.replace(key=jax.random.wrap_key_data(restored.key)), notes
    return None, notes

  def _restore(self, step: int, abstract: GANState) -> GANState:
    """Checkpoint `step` into `abstract`'s structure; one written before a field that this run leaves empty
    (state.trackers, without ADA or LeCam) restores with that field empty."""
    try:
      return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
    except ValueError as e:
      fields = {
        f.name: getattr(abstract, f.name) for f in dataclasses.fields(abstract) if f.metadata.get('pytree_node', True)
      }
      older = {name: value for name, value in fields.items() if value != {}}
      if 'structure' not in str(e).lower() or older == fields:
        raise
      return abstract.replace(**self._manager.restore(step, args=ocp.args.StandardRestore(older)))

  def _skip(self, step: int, error: Exception) -> str:
    first_line = str(error).strip().splitlines()[0][:100] if str(error).strip() else ''
    reason = f'{type(error).__name__}: {first_line}' if first_line else type(error).__name__
    if self._read_only:
      return f'checkpoint {step} is unreadable ({reason}); using the one before'
    aside = self.directory.parent / f'corrupt-checkpoint-{step}'
    shutil.move(self.directory / str(step), aside)
    self._manager = self._open()
    return f'checkpoint {step} is unreadable ({reason}); moved to {aside.name}, using the one before'

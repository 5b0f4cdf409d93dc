"""Samples from a trained run: the latest checkpoint's EMA generator."""

import json
import os
import sys
from pathlib import Path

import jax
import numpy as np

from jaxgan import workdir as workdir_lib
from jaxgan.checkpoint import Checkpointer
from jaxgan.config import Config
from jaxgan.state import GANState, create_state, generate
from jaxgan.workdir import RunError


def load_run(workdir: str | os.PathLike) -> tuple[Config, GANState]:
  """The config and the latest good checkpoint's state of the run in `workdir`; changes nothing there."""
  path = Path(workdir).expanduser().absolute()
  config = workdir_lib.read_config(path)
  if config is None:
    raise RunError(f'{path} holds no run (no config.json); give the --workdir of a jaxgan-train run')
  try:
    shape = tuple(json.loads((path / 'run.json').read_text())['sample_shape'])  # no need to read the data
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise RunError(
      f'{path}/run.json is missing or unreadable ({type(e).__name__}); it holds the shape of one sample, '
      'e.g. {"sample_shape": [8, 8, 1]}'
    ) from e
  fresh = create_state(config, jax.random.key(config.train.seed), shape)
  state, notes = Checkpointer(path / 'checkpoints', read_only=True).restore_latest(fresh)
  for note in notes:
    print(f'jaxgan: {note}', file=sys.stderr)
  if state is None or int(state.step) == 0:
    live = workdir_lib.holder(path)
    how = f'the live run training it ({live}) saves one' if live else 'train it first: one is saved'
    raise RunError(
      f'{path} has no trained checkpoint yet; {how} every train.checkpoint_every steps, at the end and when stopped'
    )
  return config, state


def sample(workdir: str | os.PathLike, num: int, seed: int = 0) -> tuple[np.ndarray, bool]:
  """num samples of the run's EMA generator.

  Returns:
    (samples, is_image): uint8 images [N, H, W, C], or float32 [N, D] for
    low-dimensional data.
  """
  _, state = load_run(workdir)
  z = state.sample_latent(jax.random.key(seed), num)
  out = np.asarray(jax.jit(generate)(state, z))
  if out.ndim != 4:  # not [N, H, W, C] images
    return out.reshape(num, -1).astype(np.float32), False
  from jaxgan.images import to_uint8

  return to_uint8(out), True

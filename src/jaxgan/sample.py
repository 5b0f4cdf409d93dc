"""Samples from a trained run: the latest checkpoint's EMA generator."""

import json
import os
from pathlib import Path

import jax
import numpy as np

from jaxgan import config as config_lib
from jaxgan.checkpoint import Checkpointer
from jaxgan.config import Config
from jaxgan.state import GANState, create_state, generate
from jaxgan.train import RunError


def load_run(workdir: str | os.PathLike) -> tuple[Config, GANState]:
  """The config and the latest good checkpoint's state of the run in `workdir`."""
  path = Path(workdir).expanduser().absolute()
  config_path = path / 'config.json'
  if not config_path.is_file():
    raise RunError(f'{path} holds no run (no config.json); give the --workdir of a jaxgan-train run')
  config = config_lib.from_dict(Config, json.loads(config_path.read_text()))
  shape = tuple(json.loads((path / 'run.json').read_text())['sample_shape'])  # no need to read the data
  fresh = create_state(config, jax.random.key(config.train.seed), shape)
  state, notes = Checkpointer(path / 'checkpoints').restore_latest(fresh)
  for note in notes:
    print(f'jaxgan: {note}')
  if state is None:
    raise RunError(f'{path} holds no checkpoint yet')
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

"""Checks that several test files make of a GAN: a population member against its run alone, and a stopped run
resumed against an uninterrupted one."""

import jax
import jax.numpy as jnp
import numpy as np

import jaxgan
from jaxgan import config as config_lib
from jaxgan.config import Config
from jaxgan.game import step as step_lib
from jaxgan.game.state import GANState, create_population, create_state
from jaxgan.game.state import member as member_of
from jaxgan.run.runs import load as load_run


def leaves(state: GANState) -> list[np.ndarray]:
  """Every array of a state, its key as raw data."""
  return [np.asarray(x) for x in jax.tree.leaves(state.replace(key=jax.random.key_data(state.key)))]


def assert_members_equal_runs_alone(configs: list[Config], batches: jax.Array, sample_shape: tuple[int, ...]) -> None:
  """A population of configs (member i from key i) trained on batches [K, B, ...] equals each config alone."""
  keys = jnp.stack([jax.random.key(i) for i in range(len(configs))])
  population, _ = step_lib.train_steps(create_population(configs, keys, sample_shape), batches)
  for i, config in enumerate(configs):
    alone, _ = step_lib.train_steps(create_state(config, jax.random.key(i), sample_shape), batches)
    for a, b in zip(leaves(member_of(population, i)), leaves(alone), strict=True):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def assert_stopped_run_resumes_bitwise(config: Config, tmp_path, steps: int, every: int) -> GANState:
  """jaxgan.train of config for `steps` steps (logs and checkpoints every `every`), whole and stopped by its time
  limit then resumed: the two end bitwise alike. Returns the whole run's state."""
  for key in ('log_every', 'checkpoint_every'):
    config = config_lib.override(config, f'train.{key}={every}')
  for assignment in (f'train.steps={steps}', f'train.sample_every={steps}', 'eval.metrics=()'):
    config = config_lib.override(config, assignment)
  jaxgan.train(config, tmp_path / 'whole', progress=False)
  stopped = jaxgan.train(config_lib.override(config, 'train.max_seconds=0.001'), tmp_path / 'cut', progress=False)
  assert stopped['step'] < steps
  jaxgan.train(config, tmp_path / 'cut', progress=False)
  whole, resumed = load_run(tmp_path / 'whole')[1], load_run(tmp_path / 'cut')[1]
  for a, b in zip(leaves(whole), leaves(resumed), strict=True):
    np.testing.assert_array_equal(a, b)
  return whole

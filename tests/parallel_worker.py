"""Trains a tiny DCGAN for a few steps and saves its parameters: run as a
subprocess by test_parallel.py, on fake CPU devices and in several processes.

    python parallel_worker.py OUT.npz {single,sharded}
"""

import sys

import jax
import numpy as np

from jaxgan.config import Config, DataConfig, ModelConfig, TrainConfig
from jaxgan.data import make_source, parallel
from jaxgan.game.state import create_state
from jaxgan.game.step import train_step

CONFIG = Config(
  model=ModelConfig(architecture='dcgan', latent_dim=8, prior='normal', g_width=8, d_width=8),
  data=DataConfig(source='digits'),
  train=TrainConfig(steps=3, batch_size=16),
)


def main(out: str, mode: str) -> None:
  distributed = parallel.initialize_from_environment()
  source = make_source(CONFIG.data, 0)
  state = create_state(CONFIG, jax.random.key(0), source.sample_shape)
  batches = source.batches(0, CONFIG.train.steps, CONFIG.train.batch_size)
  if mode == 'sharded':
    mesh = parallel.data_mesh()
    state = parallel.replicate(state, mesh)
    batches = parallel.shard_batches(batches[:, parallel.process_rows(CONFIG.train.batch_size)], mesh)
    assert len(batches.sharding.device_set) == jax.device_count() > 1
  for t in range(CONFIG.train.steps):
    state, metrics = train_step(state, batches[t])
  assert all(leaf.sharding.is_fully_replicated for leaf in jax.tree.leaves(state.generator.params))
  if jax.process_index() == 0:
    leaves = jax.tree.leaves((state.generator, state.discriminator, state.ema_params))
    arrays = [np.asarray(jax.device_get(leaf)) for leaf in leaves if jax.dtypes.issubdtype(leaf.dtype, np.floating)]
    np.savez(out, *arrays, d_loss=np.asarray(metrics['d_loss']))
  if distributed:
    jax.distributed.shutdown()


if __name__ == '__main__':
  main(*sys.argv[1:])

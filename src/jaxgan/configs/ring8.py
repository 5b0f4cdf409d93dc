"""The 2-D ring of 8 Gaussians, the mode-collapse benchmark of VEEGAN and PacGAN.

    jaxgan-train --config ring8 --workdir runs/ring8

The grid25 recipe (non-saturating loss with lazy R1, TTUR, cosine decay, EMA
0.999) with G 128-128-128, 20,000 rounds of batch 512. The ring's modes are
half as wide as the grid's relative to their spacing (3 std = 0.03 against
0.77 there, 0.15 against 2 on the grid): a larger batch sharpens them. Seed 0, 2-core CPU: MLPs
256x3 at batch 256, 8,000 rounds, 96.3% high-quality samples (EMA 0.999
instead of 0.99: 96.1%), batch 512: 97.7%; 128x3, 12,000 rounds of 256:
97.1%; this recipe: 98.8%. The scores over 10 seeds are in the README's table.
"""

import dataclasses

from jaxgan.config import Config, DataConfig, TrainConfig
from jaxgan.configs import grid25


def get_config() -> Config:
  config = grid25.get_config()
  return dataclasses.replace(
    config,
    model=dataclasses.replace(config.model, g_hidden=(128,) * 3),
    data=DataConfig(source='ring8'),
    train=TrainConfig(steps=20_000, batch_size=512, log_every=1000, checkpoint_every=5000),
  )

"""DCGAN on scikit-learn's handwritten digits (8x8 grey, 1,797 images, no download).

    jaxgan-train --config digits         # the default of jaxgan-train

To be measured.
"""

from jaxgan.config import Config, DataConfig, GameConfig, ModelConfig, OptimConfig, TrainConfig


def get_config() -> Config:
  return Config(
    model=ModelConfig(architecture='dcgan', latent_dim=32, prior='normal', g_width=128, d_width=128),
    data=DataConfig(source='digits'),
    optim=OptimConfig(optimizer='adam', g_lr=2e-4, d_lr=2e-4, b1=0.5, b2=0.999),
    game=GameConfig(objective='non_saturating', d_steps=1, ema_decay=0.999),
    train=TrainConfig(steps=3000, batch_size=64, log_every=100, checkpoint_every=1000, sample_every=500, scan=False),
  )

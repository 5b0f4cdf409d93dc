"""The 2-D ring of 8 Gaussians, the mode-collapse benchmark of VEEGAN and PacGAN.

    jaxgan-train --config ring8 --workdir runs/ring8

RECIPE_PLACEHOLDER
"""

from jaxgan.config import Config, DataConfig, EvalConfig, GameConfig, ModelConfig, OptimConfig, TrainConfig


def get_config() -> Config:
  return Config(
    model=ModelConfig(
      architecture='mlp', latent_dim=2, prior='normal', g_hidden=(256,) * 3, d_hidden=(256,) * 3, activation='relu'
    ),
    data=DataConfig(source='ring8'),
    optim=OptimConfig(optimizer='adam', g_lr=1e-3, d_lr=1e-3, b1=0.5, b2=0.999, schedule='cosine'),
    game=GameConfig(objective='non_saturating', penalty='r1', penalty_weight=0.1, ema_decay=0.99),
    train=TrainConfig(steps=16000, batch_size=256, log_every=500, checkpoint_every=4000),
    eval=EvalConfig(panel_fractions=(0.02, 0.1, 0.3, 1.0)),
  )

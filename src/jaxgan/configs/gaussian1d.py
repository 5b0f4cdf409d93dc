"""The original GAN's 1-D experiment: N(4, 0.5^2) data, MLP players.

    jaxgan-train --config gaussian1d

To tune.
"""

from jaxgan.config import Config, DataConfig, EvalConfig, GameConfig, ModelConfig, OptimConfig, TrainConfig


def get_config() -> Config:
  return Config(
    model=ModelConfig(architecture='mlp', latent_dim=4, prior='uniform', g_hidden=(32, 32), d_hidden=(32, 32)),
    data=DataConfig(source='normal', mean=1.0, std=1.0),
    optim=OptimConfig(
      optimizer='adam', g_lr=1e-3, d_lr=1e-3, b1=0.5, b2=0.999, schedule='cosine', final_lr_fraction=0.01
    ),
    game=GameConfig(objective='non_saturating', update_order='alternating', d_steps=1, ema_decay=0.99),
    train=TrainConfig(steps=5000, batch_size=256, log_every=100),
    eval=EvalConfig(panel_fractions=(0.02, 0.1, 0.3, 1.0)),
  )

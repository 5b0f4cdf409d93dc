"""DCGAN on scikit-learn's handwritten digits (8x8 grey, 1,797 images, no download).

    jaxgan-train --config digits --workdir runs/digits

G: dense to 4x4x128, one transposed conv to 8x8x1; D: one strided conv and a
logit; latent N(0, I) of 32; Adam 2e-4, beta1 0.5; 3000 steps of batch 64.
Measured on a 2-core CPU: 24 s, 3 ms a step (about 19k images/s); the EMA
grid (samples.png) shows most digits recognisably (0, 1, 2, 3, 5, 6, 9), with
speckled backgrounds that 8x8 leaves little room to clean. Longer runs (8000
steps) and higher learning rates looked no better; at 16x16 (data.resolution)
the digits came out smoother but blurrier after 2500 steps (90 s).
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

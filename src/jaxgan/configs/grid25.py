"""The 2-D grid of 25 Gaussians, the mode-collapse benchmark of VEEGAN and PacGAN.

    jaxgan-train --config grid25 --workdir runs/grid25

G: MLP 256-256-256 (ReLU) from a 2-D normal latent; D: MLP 128-128-128;
non-saturating loss with R1 (gamma 0.1) applied lazily every 4 rounds; Adam
with beta1 0.5, G at 1e-3 and D at 2e-3 (TTUR), both decaying to 0 (cosine);
generator EMA 0.999; 30,000 rounds of batch 256. The scores, on 2,500 EMA
samples, are in the README's table (experiments/toy_table.py).

What got it there (seed 0, 2-core CPU; modes / high-quality fraction):
* MLPs 256x3, LeakyReLU, no penalty, 10,000 rounds: 19-21 modes, about 80%;
  ReLU: 13 modes, 90%. D drops modes, and G leaves bridges between them.
* R1 on real data (gamma 0.1): 25 modes from 4,000 rounds on, and 79% at
  8,000 / 94% at 16,000 rounds: what is left is bridges between the modes,
  which thin out the longer training goes. gamma 0.01 or 0.03: 23-24 modes;
  an 8-D latent: 21 modes, 20%; a uniform latent: 83%, KL 0.05; PacGAN's
  packing of 4 without R1: 23 modes, 4%.
* With 128-wide networks (about 4x cheaper a round), at 12,000 rounds: 75%;
  D's learning rate doubled (TTUR) 84%, 2 D steps 85%, lazy R1 83%, batch 512
  83%. 30,000 rounds with TTUR and lazy R1: 95.6% (batch 512 or D at 4e-3
  the same): G's width is what remains.
* G 256x3 (D 128x3): 96.8% at 24,000 rounds, 97.4% at 30,000; G 256x4 at
  24,000: 97.1%.
"""

from jaxgan.config import Config, DataConfig, EvalConfig, GameConfig, ModelConfig, OptimConfig, TrainConfig


def get_config() -> Config:
  return Config(
    model=ModelConfig(
      architecture='mlp', latent_dim=2, prior='normal', g_hidden=(256,) * 3, d_hidden=(128,) * 3, activation='relu'
    ),
    data=DataConfig(source='grid25'),
    optim=OptimConfig(optimizer='adam', g_lr=1e-3, d_lr=2e-3, b1=0.5, b2=0.999, schedule='cosine'),
    game=GameConfig(objective='non_saturating', penalty='r1', penalty_weight=0.1, penalty_every=4, ema_decay=0.999),
    train=TrainConfig(steps=30_000, batch_size=256, log_every=1000, checkpoint_every=7500),
    eval=EvalConfig(panel_fractions=(0.02, 0.1, 0.3, 1.0)),
  )

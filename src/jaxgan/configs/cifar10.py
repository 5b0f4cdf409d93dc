"""DCGAN for 32x32 colour images (CIFAR-10 or any npz / folder of them).

    jaxgan-train --config cifar10 --data tfds:cifar10
    jaxgan-train --config cifar10 --data images.npz          # uint8 [N, 32, 32, 3]

G: dense to 4x4x256, transposed convs to 8x8x128, 16x16x64, 32x32x3; D
mirrors it. Hyperparameters of Radford et al. (2016): Adam 2e-4, beta1 0.5,
batch 128. Sized for an accelerator: on a 2-core CPU a step takes 0.6 s
(213 images/s, measured 2026-11-26), so 20000 steps take over three hours.
"""

from jaxgan.config import Config, DataConfig, GameConfig, ModelConfig, OptimConfig, TrainConfig


def get_config() -> Config:
  return Config(
    model=ModelConfig(architecture='dcgan', latent_dim=100, prior='normal', g_width=64, d_width=64),
    data=DataConfig(source='tfds:cifar10', resolution=32),
    optim=OptimConfig(optimizer='adam', g_lr=2e-4, d_lr=2e-4, b1=0.5, b2=0.999),
    game=GameConfig(objective='non_saturating', d_steps=1, ema_decay=0.999),
    train=TrainConfig(steps=20000, batch_size=128, log_every=100, checkpoint_every=2000, sample_every=1000, scan=False),
  )

"""The pytorch/examples DCGAN on 64x64 faces (CelebA), parameter for parameter.

    jaxgan-train --config celeba64 --data tfds:celeb_a
    jaxgan-train --config celeba64 --data path/to/img_align_celeba   # a folder of JPEGs

nz 100, ngf = ndf = 64 (G 3,576,704 and D 2,765,568 parameters), BCE with the
non-saturating G loss, Adam 2e-4 with betas 0.5 / 0.999, batch 128, images
center-cropped and resized to 64x64; 8000 steps is about five epochs of
CelebA. Sized for an accelerator: on a 2-core CPU a step takes 3.5 s (37
images/s, measured 2026-11-26).
"""

from jaxgan.config import Config, DataConfig, GameConfig, ModelConfig, OptimConfig, TrainConfig


def get_config() -> Config:
  return Config(
    model=ModelConfig(architecture='dcgan', latent_dim=100, prior='normal', g_width=64, d_width=64),
    data=DataConfig(source='tfds:celeb_a', resolution=64),
    optim=OptimConfig(optimizer='adam', g_lr=2e-4, d_lr=2e-4, b1=0.5, b2=0.999),
    game=GameConfig(objective='non_saturating', d_steps=1, ema_decay=0.999),
    train=TrainConfig(steps=8000, batch_size=128, log_every=50, checkpoint_every=1000, sample_every=500, scan=False),
  )

"""R3GAN on CIFAR-10, class-conditional (Huang et al., 2024): the release's CIFAR-10 preset.

    jaxgan-train --config cifar10_r3gan --workdir runs/cifar10_r3gan                # tfds:cifar10 with labels
    jaxgan-train --config cifar10_r3gan --set model.conditioning=none ...          # unconditional

Players (jaxgan.models.r3gan): four stages, 4x4 to 32x32, of width 768 with 2 residual blocks each, grouped 3x3
convolutions of 16 channels a group (cardinality 96), z of 64 (normal) joined with the class; D's projection head.
20,732,160 parameters in G and 20,683,776 in D (unconditional; tests/test_zoo.py counts them from the release's
layer list). The game: the relativistic pairing loss (RpGAN) with R1 + R2; Adam with beta1 0; batch 512 for 20M
images (39,063 rounds), over which the release's schedules run, each a half cosine (jaxgan.game.state.cosine_ramp):
the learning rate 2e-4 to 5e-5, gamma 0.05 to 0.005, beta2 0.9 to 0.99, the augmentation probability 0 to 0.55
(jaxgan.game.ada, p on a schedule, not steered), and the G EMA's half-life 0 to 5M images. Published: FID 1.96
(conditional, 50k samples against the training set; the README lists it as published), which eval scores the same
way (Inception FID and IS of 50k). Sized for accelerators: not measured on a 2-core CPU beyond the tests' tiny
widths.
"""

from jaxgan.config import Config, DataConfig, EvalConfig, GameConfig, ModelConfig, OptimConfig, TrainConfig


def get_config() -> Config:
  return Config(
    model=ModelConfig(
      architecture='r3gan',
      latent_dim=64,
      prior='normal',
      g_width=768,
      d_width=768,
      blocks=2,
      group_channels=16,
      conditioning='projection',
    ),
    data=DataConfig(source='tfds:cifar10', resolution=32),
    optim=OptimConfig(
      optimizer='adam',
      g_lr=2e-4,
      d_lr=2e-4,
      b1=0.0,
      b2=0.9,
      b2_final=0.99,
      schedule='cosine',
      final_lr_fraction=0.25,
    ),
    game=GameConfig(
      objective='relativistic',
      penalty='r1_r2',
      penalty_weight=0.05,
      penalty_final_fraction=0.1,
      ema_decay=0.5 ** (512 / 5_000_000),
      ema_rampup='cosine',
      ada_p=0.55,
      ada_p_rampup=True,
    ),
    train=TrainConfig(steps=39063, batch_size=512, log_every=100, checkpoint_every=2000, sample_every=2000, scan=False),
    eval=EvalConfig(metrics=('fid', 'is'), extractor='inception', every=10000, num_fake=50000, num_real=50000),
  )

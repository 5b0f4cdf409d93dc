"""StyleGAN2-ADA on CIFAR-10, class-conditional (Karras et al., 2020): the release's --cfg=cifar --cond=1.

    jaxgan-train --config cifar10_stylegan2_ada --workdir runs/cifar10_stylegan2_ada     # tfds:cifar10 with labels
    jaxgan-train --config cifar10_stylegan2_ada --set model.conditioning=none ...       # unconditional
    jaxgan-sample runs/cifar10_stylegan2_ada --class 3 --psi 0.7                       # w-space truncation

Players (jaxgan.models.stylegan2): 512 channels at every side from 4x4 to 32x32, z and w of 512, a mapping
network of 2 layers (the label embedded and joined to z); D without residual skips (the release's 'orig' for
CIFAR-10), minibatch standard deviation in groups of 32, the label mapped through D's own 8-layer mapping and
projected. 20,215,315 parameters in G and 23,089,664 in D (tests/test_stylegan2.py counts them from the
release's layer list). The game: the non-saturating loss with lazy R1, gamma 0.01 every 16 rounds; no style
mixing and no path-length term (the release turns both off for CIFAR-10); ADA steering p toward E[sign D(x)] =
0.6 over 500k images, adjusted every 4 rounds; Adam with betas (0, 0.99) at the release's lazy-regularisation
rates (2.5e-3 times 4/5 for G, times 16/17 for D); batch 64 for 100M images (1,562,500 rounds); the G EMA's
half-life 500k images (decay 0.5^(64 / 500k)), at most 5% of the images seen so far (the release's ema_rampup).

Where this differs from the release: one beta2 (0.99) for both players where the release raises each to the power of
its lazy ratio (0.992 for G, 0.9906 for D); float32 or bfloat16 (model.compute_dtype) in place of its float16 layers
with their activation clamp. Published: FID 2.42 (conditional; 2.92 unconditional), 50k samples against the training
set (the README lists both as published), which eval scores the same way (Inception FID of 50k). Sized for
accelerators: not measured on a 2-core CPU beyond the tests' tiny widths.
"""

from jaxgan.config import Config, DataConfig, EvalConfig, GameConfig, ModelConfig, OptimConfig, TrainConfig


def get_config() -> Config:
  return Config(
    model=ModelConfig(
      architecture='stylegan2',
      latent_dim=512,
      prior='normal',
      g_width=512,
      d_width=512,
      style_dim=512,
      mapping_layers=2,
      d_residual=False,
      mbstd_group=32,
      conditioning='projection',
    ),
    data=DataConfig(source='tfds:cifar10', resolution=32),
    optim=OptimConfig(optimizer='adam', g_lr=0.0025 * 4 / 5, d_lr=0.0025 * 16 / 17, b1=0.0, b2=0.99),
    game=GameConfig(
      objective='non_saturating',
      penalty='r1',
      penalty_weight=0.01,
      penalty_every=16,
      ema_decay=0.5 ** (64 / 500_000),
      ema_rampup='linear',
      ada_target=0.6,
      ada_kimg=500.0,
      ada_interval=4,
    ),
    train=TrainConfig(
      steps=1_562_500, batch_size=64, log_every=100, checkpoint_every=5000, sample_every=5000, scan=False
    ),
    eval=EvalConfig(metrics=('fid', 'is'), extractor='inception', every=50000, num_fake=50000, num_real=50000),
  )

"""BigGAN on CIFAR-10, class-conditional (Brock et al., 2019), as the authors' BigGAN-PyTorch launches it.

    jaxgan-train --config cifar10_biggan --workdir runs/cifar10_biggan          # tfds:cifar10 with labels

Players (jaxgan.models.resnet): BigGAN's 32x32 residual pair, ch 64 (G: three up-blocks of 256 channels,
D: four down-blocks of 256), spectral normalisation in both, conditional batch norm in G from a shared
class embedding of 128, a projection D; z of 128, normal. The game: hinge loss, one D step a G step,
Adam with betas (0, 0.999), lr 1e-4 for G and 4e-4 for D (TTUR), batch 64 for 500 epochs (390,625
rounds), the generator EMA 0.9999 sampled and scored. These are the release's CIFAR-10 launch script's
settings (scripts/launch_cifar_ema.sh); where it differs: it initialises with Xavier rather than
orthogonally, gives each batch norm its own class embedding rather than a shared one, and starts the EMA
after 1,000 iterations. Published: FID 14.73, IS 9.22 (the BigGAN paper's CIFAR-10 row; the README lists it
as published). Sized for accelerators: not measured on a 2-core CPU beyond the tests' tiny widths.
"""

from jaxgan.config import Config, DataConfig, EvalConfig, GameConfig, ModelConfig, OptimConfig, TrainConfig


def get_config() -> Config:
  return Config(
    model=ModelConfig(
      architecture='resnet',
      latent_dim=128,
      prior='normal',
      g_width=64,
      d_width=64,
      spectral_norm=True,
      g_spectral_norm=True,
      conditioning='projection',
      class_embedding=128,
    ),
    data=DataConfig(source='tfds:cifar10', resolution=32),
    optim=OptimConfig(optimizer='adam', g_lr=1e-4, d_lr=4e-4, b1=0.0, b2=0.999),
    game=GameConfig(objective='hinge', d_steps=1, ema_decay=0.9999),
    train=TrainConfig(steps=390625, batch_size=64, log_every=100, checkpoint_every=5000, sample_every=5000),
    eval=EvalConfig(
      metrics=('fid', 'is', 'intra_fid'), extractor='inception', every=20000, num_fake=50000, num_real=50000
    ),
  )

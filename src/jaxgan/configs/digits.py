"""DCGAN on scikit-learn's handwritten digits (8x8 grey, 1,797 images, no download).

    jaxgan-train --config digits --workdir runs/digits

G: dense to 4x4x64, a 3x3 conv, one transposed conv to 8x8x1; D: a strided
conv to 4x4x64, a 3x3 conv and a logit (model.extra_layers=1); batch norm
between; latent N(0, I) of 32; Adam 4e-4 with a cosine decay, beta1 0.5; EMA
0.995; 6000 steps of batch 64. The default of `jaxgan-train`. Scored every
2000 steps and at the end with the classifier extractor (2,000 EMA images
against the 1,797 digits), the best checkpoint kept; on 2026-12-04: classifier
FID 1.79, precision 0.70, recall 0.89, all 10 classes, 79 s (real digits, half
against half: 1.27, 0.91, 0.92). Measured on a
2-core CPU (2026-11-26): 88 s of training, 91 s for the command; the EMA grid
(samples.png, docs/digits_samples.png) shows all ten digits with clean strokes
on dark backgrounds. At 8x8 the tensors are so small that XLA's own
convolutions beat jaxgan.models.conv's forms (13 against 20 ms a step; the whole run
took 122 s with those and train.scan), and XLA's convolutions run slower inside
lax.scan, hence conv_impl='lax' and one dispatch per step. Without the 3x3 layers (width 128) the run took 34 s but
D could not tell real from fake early on (its loss stayed at log 4) and the
digits stayed blotchy; 12000 steps at batch 128 without them (106 s) did not
help. 16x16 (data.resolution=16, width 32, 2500 steps, 90 s) came out
smoother but blurrier.
"""

from jaxgan.config import Config, DataConfig, EvalConfig, GameConfig, ModelConfig, OptimConfig, TrainConfig


def get_config() -> Config:
  return Config(
    model=ModelConfig(
      architecture='dcgan', latent_dim=32, prior='normal', g_width=64, d_width=64, extra_layers=1, conv_impl='lax'
    ),
    data=DataConfig(source='digits'),
    optim=OptimConfig(optimizer='adam', g_lr=4e-4, d_lr=4e-4, b1=0.5, b2=0.999, schedule='cosine'),
    game=GameConfig(objective='non_saturating', d_steps=1, ema_decay=0.995),
    train=TrainConfig(steps=6000, batch_size=64, log_every=100, checkpoint_every=1000, sample_every=500, scan=False),
    eval=EvalConfig(metrics=('fid', 'kid', 'pr', 'dc', 'is', 'classes'), every=2000, num_fake=2000),
  )

"""DCGAN for 28x28 grey digits (MNIST or any npz of such images).

    jaxgan-train --config mnist --data tfds:mnist              # prepared tensorflow-datasets
    jaxgan-train --config mnist --data mnist.npz --max-time 5m # images uint8 [N, 28, 28]

G: dense to 7x7x64, transposed convs to 14x14x32 and 28x28x1; D mirrors it.
Adam 3e-4 with a cosine decay, beta1 0.5; G's update reuses the D update's fake
batch (game.reuse_fake); 10,000 steps of batch 64, which `--max-time` fits to
its time (5 minutes: about 5,000 to 7,000 steps on 2 cores) so that the
schedule ends in it. Scored at the end with the classifier extractor
(jaxgan.evaluation.scoring: FID, KID, PR, DC, IS and classes of 5,000 EMA images).

Measured on a 2-core CPU (2026-12-04) with `--max-time 5m` on mnist5k.npz
(experiments/mnist5k.py: 5,000 real digits, 500 a class): 5,148 steps in 232 s,
all 10 classes, classifier FID 60.0, precision 0.61, recall 0.76 (real digits,
half against half: 1.3, 0.90, 0.91). Tried in the same 5 minutes, each worse
than the plain recipe of 5,000 steps (FID 63.4): DiffAugment translation and
cutout 66.2, lazy R1 (gamma 1, every 4) 71.9, batch 128 (3,115 steps) 73.3,
hinge with spectral norm 82.2, width 48 (3,807 steps) 68.8. Length was what
helped: 7,233 steps, 58.0; hence the 10,000 here for --max-time to cut.
"""

from jaxgan.config import Config, DataConfig, EvalConfig, GameConfig, ModelConfig, OptimConfig, TrainConfig


def get_config() -> Config:
  return Config(
    model=ModelConfig(architecture='dcgan', latent_dim=64, prior='normal', g_width=32, d_width=32),
    data=DataConfig(source='tfds:mnist', resolution=28),
    optim=OptimConfig(optimizer='adam', g_lr=3e-4, d_lr=3e-4, b1=0.5, b2=0.999, schedule='cosine'),
    game=GameConfig(objective='non_saturating', d_steps=1, reuse_fake=True, ema_decay=0.999),
    train=TrainConfig(steps=10000, batch_size=64, log_every=50, checkpoint_every=1000, sample_every=500, scan=False),
    eval=EvalConfig(metrics=('fid', 'kid', 'pr', 'dc', 'is', 'classes'), num_fake=5000),
  )

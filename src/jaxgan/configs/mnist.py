"""DCGAN for 28x28 grey digits (MNIST or any npz of such images).

    jaxgan-train --config mnist --data tfds:mnist              # prepared tensorflow-datasets
    jaxgan-train --config mnist --data mnist.npz --max-time 5m # images uint8 [N, 28, 28]

G: dense to 7x7x64, transposed convs to 14x14x32 and 28x28x1; D mirrors it.
Width 32 keeps a step near 68 ms on a 2-core CPU (95 ms before the sub-pixel
upsampling of jaxgan.models.UpConv; width 64 took 360 ms then), so 3000 steps
fit in five minutes with room to spare.
"""

from jaxgan.config import Config, DataConfig, GameConfig, ModelConfig, OptimConfig, TrainConfig


def get_config() -> Config:
  return Config(
    model=ModelConfig(architecture='dcgan', latent_dim=64, prior='normal', g_width=32, d_width=32),
    data=DataConfig(source='tfds:mnist', resolution=28),
    optim=OptimConfig(optimizer='adam', g_lr=2e-4, d_lr=2e-4, b1=0.5, b2=0.999),
    game=GameConfig(objective='non_saturating', d_steps=1, ema_decay=0.999),
    train=TrainConfig(steps=3000, batch_size=64, log_every=50, checkpoint_every=500, sample_every=500, scan=False),
  )

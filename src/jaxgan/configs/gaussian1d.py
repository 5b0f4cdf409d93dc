"""The original GAN's 1-D experiment (Goodfellow et al., 2014, Figure 1).

    jaxgan-train --config gaussian1d            # about 25 s on a 2-core CPU

Real data N(1, 1); z ~ U(-1, 1)^4; G and D are MLPs with two hidden layers of
32 LeakyReLU units; non-saturating G loss; 5000 rounds of 3 D updates then one
G update (alternating), batch 256. The workdir gets panels.png (panels (a) to
(d) at 2%, 10%, 30% and 100% of training: data density, generator density, D,
the analytic D* = p_r / (p_r + p_g) and a D trained to convergence against the
frozen G), curves.png (JS and V against -log 4) and summary.json. Expect
js_divergence about 2e-4 to 4e-4 nats, value -1.3863 (= -log 4 to 4 digits),
mean |D - 1/2| about 0.001 and a mixture-weighted |D - D*| below 0.01.

What makes the game settle, measured with experiments/gaussian1d_ablation.py
(final figures, seeds 0 to 2, 2-core CPU; its 2026-12-01 run as sweeps, with
every combination, is in experiments/gaussian1d_ablation.md):

| variant                                        | JS (nats)       | mean abs(D - 1/2) |
|------------------------------------------------|-----------------|-------------------|
| naive: Adam b1 0.9, constant lr, no EMA, k = 1 | 0.017 to 0.024  | 0.003 to 0.038    |
| naive + generator EMA                          | 0.004 to 0.037  | 0.003 to 0.038    |
| naive + b1 0.5                                 | 0.0008 to 0.004 | 0.005 to 0.020    |
| b1 0.5 + cosine decay to 1% of the lr          | 0.0008 to 0.0018| 0.0006 to 0.001   |
| ... + EMA 0.99                                 | 0.0008 to 0.0017| 0.0006 to 0.001   |
| ... + 3 D steps per G step (this config)       | 0.0002 to 0.0003| 0.001             |

* Adam's beta1 0.9 keeps momentum that feeds the rotation of the two players
  around the equilibrium; 0.5 (as DCGAN) damps it: the largest single gain.
* Decaying the learning rate lets the orbit shrink onto the equilibrium: D
  goes to 1/2 everywhere and V to -log 4, instead of hovering around them.
* The generator EMA averages the orbit while the learning rate is large; with
  the decay, the EMA and G coincide by the end, so it no longer changes the
  final figures (it alone cannot fix the naive run: averaging parameters of a
  generator that orbits does not average its distribution).
* More D steps keep D near D* for the current G, so G's gradient is closer to
  the gradient of JS(p_r || p_g) that the theory assumes: 5x to 8x lower JS.

The latent has 4 dimensions: with a 1-D uniform z, G must bend U(-1, 1) into
the normal's inverse CDF, which diverges at the ends, and the truncated tails
leave JS near 0.014 (same ablation). A normal prior makes G nearly affine (JS
3e-5 to 7e-5); the minimax objective and simultaneous updates reach the same
figures here (JS 2e-4 to 4e-4).
"""

from jaxgan.config import Config, DataConfig, EvalConfig, GameConfig, ModelConfig, OptimConfig, TrainConfig


def get_config() -> Config:
  return Config(
    model=ModelConfig(architecture='mlp', latent_dim=4, prior='uniform', g_hidden=(32, 32), d_hidden=(32, 32)),
    data=DataConfig(source='normal', mean=1.0, std=1.0),
    optim=OptimConfig(
      optimizer='adam', g_lr=1e-3, d_lr=1e-3, b1=0.5, b2=0.999, schedule='cosine', final_lr_fraction=0.01
    ),
    game=GameConfig(objective='non_saturating', update_order='alternating', d_steps=3, ema_decay=0.99),
    train=TrainConfig(steps=5000, batch_size=256, log_every=100),
    eval=EvalConfig(panel_fractions=(0.02, 0.1, 0.3, 1.0)),
  )

"""The game itself, pure: what the two players optimise and how one step of the min-max game updates them.

  losses     objectives as named pairs of per-example, logits-in losses (the original GAN's and its family);
  penalties  gradient penalties of D (R1, R2, WGAN-GP, DRAGAN);
  regularisers  LeCam and balanced consistency regularisation, terms of D's loss from its outputs;
  augment    DiffAugment, packing and instance noise of D's inputs;
  ada        adaptive discriminator augmentation: its transformations at probability p and p's steering;
  priors     the latent prior p(z);
  theory     the original GAN's theory: D*, the virtual training criterion, KL and JS;
  state      the train state pytree (both players, their optimizers, G's EMA, what the game steers by) and
             populations of it;
  step       train_step / train_steps: the one jitted min-max step.

No files and no host loops here: functions of arrays and of the train state. It may import
jaxgan.config, jaxgan.models and jaxgan.data (and jax, flax, optax, numpy), nothing above.
"""

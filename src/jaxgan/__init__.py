"""jaxgan: Generative Adversarial Networks in functional JAX.

The public names below load on first use, so that `import jaxgan` (and the
command line's --help, --version and Ctrl-C during start-up) costs no JAX import.

    config = jaxgan.get_config('gaussian1d', train__steps=600)  # configs
    jaxgan.train(config, 'runs/api')                             # the training loop
    config, state = jaxgan.load('runs/api')                      # a run read back
    samples = jaxgan.sample('runs/api', 1000)                    # its EMA generator's samples

and the ground floor: losses and objectives, penalties, augmentation, models,
latent priors, the theory of the original GAN, and metrics.
"""

import importlib
from typing import Any

__version__ = '0.1.0'

_PUBLIC = {
  # configs
  'Config': 'jaxgan.config',
  'ConfigError': 'jaxgan.config',
  'get_config': 'jaxgan.config',
  # runs: train, read back, sample
  'Interrupted': 'jaxgan.loop',
  'RunError': 'jaxgan.loop',
  'train': 'jaxgan.loop',
  'sweep': 'jaxgan.loop',
  'product': 'jaxgan.population',
  'create_population': 'jaxgan.state',
  'load': 'jaxgan.runs',
  'sample': 'jaxgan.runs',
  # the game, step by step
  'GANState': 'jaxgan.state',
  'create_state': 'jaxgan.state',
  'generate': 'jaxgan.state',
  'train_step': 'jaxgan.step',
  'train_steps': 'jaxgan.step',
  # losses, penalties, augmentation, priors
  'GANObjective': 'jaxgan.losses',
  'discriminator_loss': 'jaxgan.losses',
  'get_objective': 'jaxgan.losses',
  'minimax_generator_loss': 'jaxgan.losses',
  'non_saturating_generator_loss': 'jaxgan.losses',
  'value_function': 'jaxgan.losses',
  'get_penalty': 'jaxgan.penalties',
  'diff_augment': 'jaxgan.augment',
  'sample_latent': 'jaxgan.priors',
  # models
  'MLPGenerator': 'jaxgan.models',
  'MLPDiscriminator': 'jaxgan.models',
  'DCGANGenerator': 'jaxgan.models',
  'DCGANDiscriminator': 'jaxgan.models',
  # theory (Goodfellow et al., 2014) and metrics
  'MINUS_LOG4': 'jaxgan.theory',
  'optimal_discriminator': 'jaxgan.theory',
  'kl_divergence': 'jaxgan.theory',
  'js_divergence': 'jaxgan.theory',
  'virtual_training_criterion': 'jaxgan.theory',
  'mode_metrics': 'jaxgan.mixtures',
  'evaluate_run': 'jaxgan.evaluation',
  'evaluate_images': 'jaxgan.evaluation',
  'EvalError': 'jaxgan.evaluation',
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
  if name not in _PUBLIC:
    raise AttributeError(f'module jaxgan has no attribute {name!r}')
  value = getattr(importlib.import_module(_PUBLIC[name]), name)
  globals()[name] = value
  return value


def __dir__() -> list[str]:
  return sorted({*globals(), *_PUBLIC})

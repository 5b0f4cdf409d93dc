"""jaxgan: Generative Adversarial Networks in functional JAX.

The public names below load on first use, so that `import jaxgan` (and the
command line's --help, --version and Ctrl-C during start-up) costs no JAX import.
"""

import importlib
from typing import Any

__version__ = '0.1.0'

_PUBLIC = {
  'Config': 'jaxgan.config',
  'ConfigError': 'jaxgan.config',
  'GANObjective': 'jaxgan.losses',
  'discriminator_loss': 'jaxgan.losses',
  'get_objective': 'jaxgan.losses',
  'minimax_generator_loss': 'jaxgan.losses',
  'non_saturating_generator_loss': 'jaxgan.losses',
  'value_function': 'jaxgan.losses',
  'get_penalty': 'jaxgan.penalties',
  'diff_augment': 'jaxgan.augment',
  'mode_metrics': 'jaxgan.mixtures',
  'sample_latent': 'jaxgan.priors',
  'GANState': 'jaxgan.state',
  'create_state': 'jaxgan.state',
  'generate': 'jaxgan.state',
  'train_step': 'jaxgan.step',
  'train_steps': 'jaxgan.step',
  'Interrupted': 'jaxgan.loop',
  'RunError': 'jaxgan.loop',
  'train': 'jaxgan.loop',
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

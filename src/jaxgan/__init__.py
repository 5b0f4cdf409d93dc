"""jaxgan: Generative Adversarial Networks in functional JAX."""

from jaxgan.config import Config, ConfigError
from jaxgan.losses import (
  GANObjective,
  discriminator_loss,
  get_objective,
  minimax_generator_loss,
  non_saturating_generator_loss,
  value_function,
)
from jaxgan.priors import sample_latent
from jaxgan.state import GANState, create_state, generate
from jaxgan.step import train_step, train_steps
from jaxgan.train import RunError, train

__version__ = '0.1.0'
__all__ = [
  'Config',
  'ConfigError',
  'GANObjective',
  'GANState',
  'RunError',
  'create_state',
  'discriminator_loss',
  'generate',
  'get_objective',
  'minimax_generator_loss',
  'non_saturating_generator_loss',
  'sample_latent',
  'train',
  'train_step',
  'train_steps',
  'value_function',
]

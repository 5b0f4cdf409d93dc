"""GAN losses as pure, per-example functions of discriminator logits.

D(x) = sigmoid(logit). Every loss works from the logit with `log_sigmoid` /
`softplus`, so it stays finite for any logit and any float dtype. Each
function returns one value per example; the caller reduces.

The original GAN (Goodfellow et al., 2014) plays the min-max game

    min_G max_D V(D, G) = E_x log D(x) + E_z log(1 - D(G(z))).
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


def value_function(real_logits: ArrayLike, fake_logits: ArrayLike) -> jax.Array:
  """Per-example V(D, G) = log D(x) + log(1 - D(G(z))).

  Args:
    real_logits: D's logits on real samples, [B].
    fake_logits: D's logits on generated samples, [B].

  Returns:
    [B] values; their mean estimates V(D, G), whose optimum is -log 4.
  """
  return jax.nn.log_sigmoid(real_logits) + jax.nn.log_sigmoid(-jnp.asarray(fake_logits))


def discriminator_loss(real_logits: ArrayLike, fake_logits: ArrayLike) -> jax.Array:
  """Binary cross-entropy of D with real labelled 1 and generated labelled 0.

  Equals -V(D, G) per example: -log D(x) - log(1 - D(G(z))).

  Args:
    real_logits: D's logits on real samples, [B].
    fake_logits: D's logits on generated samples, [B].

  Returns:
    [B] losses.
  """
  return jax.nn.softplus(-jnp.asarray(real_logits)) + jax.nn.softplus(fake_logits)


def minimax_generator_loss(fake_logits: ArrayLike) -> jax.Array:
  """The saturating minimax loss of G: log(1 - D(G(z))), minimised by G.

  Its gradient vanishes as D(G(z)) -> 0, that is, early in training when D
  rejects the samples confidently.

  Args:
    fake_logits: D's logits on generated samples, [B].

  Returns:
    [B] losses, each in (-inf, 0).
  """
  return jax.nn.log_sigmoid(-jnp.asarray(fake_logits))


def non_saturating_generator_loss(fake_logits: ArrayLike) -> jax.Array:
  """The non-saturating loss of G: -log D(G(z)).

  Same fixed point as the minimax loss, but strong gradients when D(G(z)) -> 0.

  Args:
    fake_logits: D's logits on generated samples, [B].

  Returns:
    [B] losses, each in (0, inf).
  """
  return jax.nn.softplus(-jnp.asarray(fake_logits))


class GANObjective(NamedTuple):
  """The two players' per-example losses, both minimised."""

  generator_loss: Callable[[jax.Array], jax.Array]  # fake_logits [B] -> [B]
  discriminator_loss: Callable[[jax.Array, jax.Array], jax.Array]  # real, fake [B] -> [B]


_GENERATOR_LOSSES = {
  'minimax': minimax_generator_loss,
  'non_saturating': non_saturating_generator_loss,
}
OBJECTIVES = tuple(_GENERATOR_LOSSES)


def get_objective(name: str) -> GANObjective:
  """Returns the objective named `name`: 'minimax' or 'non_saturating'."""
  if name not in _GENERATOR_LOSSES:
    raise ValueError(f'unknown objective {name!r}; choose one of {", ".join(OBJECTIVES)}')
  return GANObjective(_GENERATOR_LOSSES[name], discriminator_loss)

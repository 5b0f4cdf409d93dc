"""GAN objectives as pure, per-example functions of discriminator outputs.

D's network returns one real number per sample, its logit (a critic value for
the objectives that are not probabilistic). The probabilistic losses work from
the logit with `log_sigmoid` / `softplus`, so they stay finite for any logit
and any float dtype. Every function returns one value per example; the caller
reduces. Both players minimise their loss.

The original GAN (Goodfellow et al., 2014) plays the min-max game

    min_G max_D V(D, G) = E_x log D(x) + E_z log(1 - D(G(z))),   D = sigmoid(logit).

An objective is a named pair of losses (`get_objective(name)`), each taking
(real_logits, fake_logits): the relativistic ones compare the two.
"""

import functools
from collections.abc import Callable
from typing import NamedTuple, get_args

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxgan.config import WITH_LABELS, Objective


def value_function(real_logits: ArrayLike, fake_logits: ArrayLike) -> jax.Array:
  """Per-example V(D, G) = log D(x) + log(1 - D(G(z))).

  Args:
    real_logits: D's logits on real samples, [B].
    fake_logits: D's logits on generated samples, [B].

  Returns:
    [B] values; their mean estimates V(D, G), whose optimum is -log 4.
  """
  return jax.nn.log_sigmoid(real_logits) + jax.nn.log_sigmoid(-jnp.asarray(fake_logits))


def discriminator_loss(
  real_logits: ArrayLike, fake_logits: ArrayLike, *, label_smoothing: ArrayLike = 0.0
) -> jax.Array:
  """Binary cross-entropy of D with real labelled 1 and generated labelled 0.

  Equals -V(D, G) per example: -log D(x) - log(1 - D(G(z))). With one-sided
  label smoothing s (Salimans et al., 2016) real samples are labelled 1 - s.

  Args:
    real_logits: D's logits on real samples, [B].
    fake_logits: D's logits on generated samples, [B].
    label_smoothing: s in [0, 1); generated samples keep the label 0.

  Returns:
    [B] losses.
  """
  real_logits = jnp.asarray(real_logits)
  # -log D(x) with weight 1 - s, -log(1 - D(x)) with weight s; s may be an array (a population's member).
  real_term = (1 - label_smoothing) * jax.nn.softplus(-real_logits) + label_smoothing * jax.nn.softplus(real_logits)
  return real_term + jax.nn.softplus(fake_logits)


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


def least_squares_discriminator_loss(
  real_logits: ArrayLike, fake_logits: ArrayLike, *, label_smoothing: ArrayLike = 0.0
) -> jax.Array:
  """LSGAN's D loss (Mao et al., 2017), a-b-c coding 0-1-1: (D(x) - 1)^2 / 2 + D(G(z))^2 / 2.

  D(.) is the raw output (no sigmoid); fake is coded a = 0, real b = 1 (or
  1 - label_smoothing).

  Args:
    real_logits: D's outputs on real samples, [B].
    fake_logits: D's outputs on generated samples, [B].
    label_smoothing: s: real samples are coded 1 - s.

  Returns:
    [B] losses.
  """
  real_logits, fake_logits = jnp.asarray(real_logits), jnp.asarray(fake_logits)
  return 0.5 * (real_logits - (1 - label_smoothing)) ** 2 + 0.5 * fake_logits**2


def least_squares_generator_loss(fake_logits: ArrayLike) -> jax.Array:
  """LSGAN's G loss, c = 1: (D(G(z)) - 1)^2 / 2, G pulling its samples to the real code."""
  return 0.5 * (jnp.asarray(fake_logits) - 1) ** 2


def wasserstein_critic_loss(real_logits: ArrayLike, fake_logits: ArrayLike) -> jax.Array:
  """WGAN's critic loss (Arjovsky et al., 2017): f(G(z)) - f(x).

  Its negated mean estimates the Wasserstein-1 distance when the critic f is
  1-Lipschitz, which needs weight clipping (game.weight_clip), a gradient
  penalty (WGAN-GP, jaxgan.game.penalties) or spectral normalisation.

  Args:
    real_logits: the critic's outputs f(x) on real samples, [B].
    fake_logits: f(G(z)) on generated samples, [B].

  Returns:
    [B] losses.
  """
  return jnp.asarray(fake_logits) - jnp.asarray(real_logits)


def wasserstein_generator_loss(fake_logits: ArrayLike) -> jax.Array:
  """WGAN's (and the hinge GAN's) G loss: -f(G(z))."""
  return -jnp.asarray(fake_logits)


def hinge_discriminator_loss(real_logits: ArrayLike, fake_logits: ArrayLike) -> jax.Array:
  """The hinge D loss (Lim & Ye, 2017; Miyato et al., 2018): max(0, 1 - D(x)) + max(0, 1 + D(G(z)))."""
  return jax.nn.relu(1 - jnp.asarray(real_logits)) + jax.nn.relu(1 + jnp.asarray(fake_logits))


def relativistic_discriminator_loss(real_logits: ArrayLike, fake_logits: ArrayLike) -> jax.Array:
  """RpGAN's D loss (Jolicoeur-Martineau, 2019): -log sigmoid(C(x) - C(G(z))), pairing x_i with G(z_i).

  D judges whether a real sample is more realistic than a generated one.

  Args:
    real_logits: the critic C on real samples, [B].
    fake_logits: C on generated samples, [B], paired with real_logits.

  Returns:
    [B] losses.
  """
  return jax.nn.softplus(jnp.asarray(fake_logits) - jnp.asarray(real_logits))


def relativistic_generator_loss(real_logits: ArrayLike, fake_logits: ArrayLike) -> jax.Array:
  """RpGAN's G loss: -log sigmoid(C(G(z)) - C(x)), the D loss with the roles swapped."""
  return relativistic_discriminator_loss(fake_logits, real_logits)


def relativistic_average_discriminator_loss(real_logits: ArrayLike, fake_logits: ArrayLike) -> jax.Array:
  """RaGAN's D loss (Jolicoeur-Martineau, 2019): each sample against the other side's batch mean.

  -log sigmoid(C(x) - mean C(G(z))) - log(1 - sigmoid(C(G(z)) - mean C(x))).
  The means are over the batch, so the per-example values depend on it.

  Args:
    real_logits: the critic C on real samples, [B].
    fake_logits: C on generated samples, [B].

  Returns:
    [B] losses.
  """
  real_logits, fake_logits = jnp.asarray(real_logits), jnp.asarray(fake_logits)
  return jax.nn.softplus(fake_logits.mean() - real_logits) + jax.nn.softplus(fake_logits - real_logits.mean())


def relativistic_average_generator_loss(real_logits: ArrayLike, fake_logits: ArrayLike) -> jax.Array:
  """RaGAN's G loss: the D loss with real and generated samples swapped."""
  return relativistic_average_discriminator_loss(fake_logits, real_logits)


Loss = Callable[[jax.Array, jax.Array], jax.Array]  # (real_logits [B], fake_logits [B]) -> [B]


class GANObjective(NamedTuple):
  """The two players' per-example losses, both minimised, both of (real_logits, fake_logits)."""

  generator_loss: Loss
  discriminator_loss: Loss


def _of_fake(generator_loss: Callable[[jax.Array], jax.Array]) -> Loss:
  """A G loss of the fake logits alone, taking (real_logits, fake_logits) like every objective's."""

  @functools.wraps(generator_loss)
  def loss(real_logits: ArrayLike, fake_logits: ArrayLike) -> jax.Array:
    del real_logits
    return generator_loss(fake_logits)

  return loss


_OBJECTIVES = {
  'minimax': (minimax_generator_loss, discriminator_loss),
  'non_saturating': (non_saturating_generator_loss, discriminator_loss),
  'least_squares': (least_squares_generator_loss, least_squares_discriminator_loss),
  'wasserstein': (wasserstein_generator_loss, wasserstein_critic_loss),
  'hinge': (wasserstein_generator_loss, hinge_discriminator_loss),
  'relativistic': (relativistic_generator_loss, relativistic_discriminator_loss),
  'relativistic_average': (relativistic_average_generator_loss, relativistic_average_discriminator_loss),
}
OBJECTIVES: tuple[Objective, ...] = get_args(Objective)
# Objectives whose D output is a probability, D = sigmoid(logit).
PROBABILISTIC = ('minimax', 'non_saturating')
# Objectives whose G loss reads D's outputs on real samples too.
RELATIVISTIC = ('relativistic', 'relativistic_average')


def get_objective(name: str, *, label_smoothing: ArrayLike = 0.0) -> GANObjective:
  """The objective `name`, one of OBJECTIVES, as a (generator_loss, discriminator_loss) pair.

  Args:
    name: minimax, non_saturating, least_squares, wasserstein, hinge,
      relativistic or relativistic_average.
    label_smoothing: one-sided smoothing of the real label, for the objectives
      with labels (WITH_LABELS).

  Returns:
    Both losses of (real_logits [B], fake_logits [B]) -> [B].
  """
  if name not in _OBJECTIVES:
    raise ValueError(f'unknown objective {name!r}; choose one of {", ".join(OBJECTIVES)}')
  generator_loss, d_loss = _OBJECTIVES[name]
  if name in WITH_LABELS:
    d_loss = functools.partial(d_loss, label_smoothing=label_smoothing)
  elif isinstance(label_smoothing, jax.Array) or label_smoothing:
    raise ValueError(
      f'label smoothing needs an objective with labels ({", ".join(WITH_LABELS)}), not {name}; set it to 0'
    )
  if name not in RELATIVISTIC:
    generator_loss = _of_fake(generator_loss)
  return GANObjective(generator_loss, d_loss)

"""Gradient penalties of the discriminator: pure functions of D and a batch.

Each takes D as a function from samples [B, ...] to outputs [B] and returns
one penalty per example; the caller weights and reduces. Gradients are taken
with respect to D's input, one example's from its own output (with batch norm
in train mode the examples of a batch interact, as in the reference code).

    r1       R1 = ||grad D(x)||^2 / 2 on real data (Mescheder et al., 2018); weight gamma
    r2       the same on generated data
    r1_r2    both, R1 + R2 (R3GAN, Huang et al., 2024)
    wgan_gp  (||grad D(x^)|| - 1)^2 on interpolates x^ = x + a (G(z) - x), a ~ U(0, 1)
             per example (Gulrajani et al., 2017); weight lambda = 10
    dragan   (||grad D(x^)|| - 1)^2 around the real data, x^ = x + a d, a ~ U(0, 1),
             d = 0.5 std(x) U(0, 1) elementwise (Kodali et al., 2017, as their released code)
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jaxgan.config import PENALTIES, PenaltyName

Discriminator = Callable[[jax.Array], jax.Array]  # samples [B, ...] -> outputs [B]
Penalty = Callable[[Discriminator, jax.Array, jax.Array, jax.Array], jax.Array]  # (D, real, fake, key) -> [B]


def _input_gradient_norms(discriminator: Discriminator, x: jax.Array) -> jax.Array:
  """||d D(x_i) / d x_i|| for each example, [B]; its gradient stays finite at 0."""
  grads = jax.grad(lambda x: discriminator(x).sum())(x)
  return optax.safe_norm(grads.reshape(len(x), -1), 0.0, axis=1)


def _per_example_uniform(key: jax.Array, x: jax.Array) -> jax.Array:
  """U(0, 1) of shape [B, 1, ...], broadcasting over an example, in x's dtype."""
  return jax.random.uniform(key, (len(x),) + (1,) * (x.ndim - 1), x.dtype)


def r1_penalty(discriminator: Discriminator, real: ArrayLike) -> jax.Array:
  """R1: ||grad D(x)||^2 / 2 on real samples [B, ...]; [B]."""
  return 0.5 * _input_gradient_norms(discriminator, jnp.asarray(real)) ** 2


def r2_penalty(discriminator: Discriminator, fake: ArrayLike) -> jax.Array:
  """R2: ||grad D(G(z))||^2 / 2 on generated samples [B, ...]; [B]."""
  return r1_penalty(discriminator, fake)


def wgan_gp_penalty(discriminator: Discriminator, real: ArrayLike, fake: ArrayLike, key: jax.Array) -> jax.Array:
  """WGAN-GP's two-sided penalty (||grad D(x^)|| - 1)^2 on random interpolates of real and fake pairs; [B]."""
  real, fake = jnp.asarray(real), jax.lax.stop_gradient(jnp.asarray(fake))
  between = real + _per_example_uniform(key, real) * (fake - real)
  return (_input_gradient_norms(discriminator, between) - 1) ** 2


def dragan_penalty(discriminator: Discriminator, real: ArrayLike, key: jax.Array) -> jax.Array:
  """DRAGAN's penalty (||grad D(x^)|| - 1)^2 on perturbed real samples; [B]."""
  real = jnp.asarray(real)
  noise_key, mix_key = jax.random.split(key)
  perturbation = 0.5 * jnp.std(real) * jax.random.uniform(noise_key, real.shape, real.dtype)
  return (_input_gradient_norms(discriminator, real + _per_example_uniform(mix_key, real) * perturbation) - 1) ** 2


_PENALTIES: dict[PenaltyName, Penalty] = {
  'r1': lambda d, real, fake, key: r1_penalty(d, real),
  'r2': lambda d, real, fake, key: r2_penalty(d, fake),
  'r1_r2': lambda d, real, fake, key: r1_penalty(d, real) + r2_penalty(d, fake),
  'wgan_gp': wgan_gp_penalty,
  'dragan': lambda d, real, fake, key: dragan_penalty(d, real, key),
}


def get_penalty(name: str) -> Penalty:
  """The penalty `name` (r1, r2, r1_r2, wgan_gp or dragan) as a function of (D, real, fake, key) -> [B]."""
  if name not in _PENALTIES:
    raise ValueError(f'unknown penalty {name!r}; choose one of {", ".join(PENALTIES)}')
  return _PENALTIES[name]

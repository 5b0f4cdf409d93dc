"""Regularisers of D's outputs, beside the gradient penalties of jaxgan.game.penalties, and G's path length.

    lecam        LeCam (Tseng et al., 2021): mean relu(D(x) - a_fake)^2 + mean relu(a_real - D(G(z)))^2,
                 a_real and a_fake the EMAs of D's mean output on real and on generated batches, updated
                 with the batch before the term is taken (as the released code, ReLU included)
    consistency  balanced consistency regularisation (bCR; Zhao et al., 2021): mean (D(x) - D(T(x)))^2 on
                 real and, as much, on generated batches, T a random x-flip and translation
                 (jaxgan.game.augment.flip_and_translate)

Both take D's outputs (logits) and return a scalar; the caller weights them.

    path_length  StyleGAN2's path-length regularisation of G (Karras et al., 2020): (|J_w^T y| - a)^2, J_w the
                 Jacobian of the images in the styles w, y Gaussian images over sqrt(H W), a the running
                 mean of the lengths (decay 0.01, updated with the batch before the term, as the release)
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxgan.game.augment import flip_and_translate


def lecam_anchors(
  anchors: tuple[jax.Array, jax.Array], real_logits: jax.Array, fake_logits: jax.Array, decay: float
) -> tuple[jax.Array, jax.Array]:
  """The EMAs (a_real, a_fake) of D's mean outputs after one more real and generated batch."""
  means = (jnp.mean(jax.lax.stop_gradient(real_logits)), jnp.mean(jax.lax.stop_gradient(fake_logits)))
  return tuple(decay * anchor + (1.0 - decay) * mean for anchor, mean in zip(anchors, means, strict=True))


def lecam_term(real_logits: jax.Array, fake_logits: jax.Array, anchors: tuple[jax.Array, jax.Array]) -> jax.Array:
  """LeCam's term: D's real outputs pulled down toward a_fake, its generated ones up toward a_real."""
  real_anchor, fake_anchor = anchors
  return jnp.mean(jax.nn.relu(real_logits - fake_anchor) ** 2) + jnp.mean(jax.nn.relu(real_anchor - fake_logits) ** 2)


def consistency_term(
  discriminator: Callable[[jax.Array], jax.Array], images: jax.Array, logits: jax.Array, key: jax.Array
) -> jax.Array:
  """bCR's term for one batch: mean (D(x) - D(T(x)))^2, D's outputs `logits` on images [B, H, W, C] given."""
  return jnp.mean((logits - discriminator(flip_and_translate(key, images))) ** 2)


def path_length_term(
  synthesize: Callable[[jax.Array], jax.Array], ws: jax.Array, running_mean: jax.Array, key: jax.Array
) -> tuple[jax.Array, jax.Array]:
  """StyleGAN2's path-length penalty of images synthesize(ws) [B, H, W, C] in their styles ws [B, L, W], the
  batch's mean, and the running mean of the lengths after this batch."""
  images, pullback = jax.vjp(synthesize, ws)
  y = jax.random.normal(key, images.shape, images.dtype) / jnp.sqrt(images.shape[1] * images.shape[2])
  (grads,) = pullback(y)
  lengths = jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grads), axis=2), axis=1))
  running_mean = running_mean + 0.01 * (jnp.mean(lengths) - running_mean)
  return jnp.mean(jnp.square(lengths - running_mean)), jax.lax.stop_gradient(running_mean)

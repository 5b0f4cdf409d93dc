"""Class conditioning (model.conditioning): how labels y in [0, num_classes) enter the two players.

  concat      cGAN (Mirza & Osindero, 2014): y one-hot joined to z, and to D's input (as constant
              channels of an image);
  projection  the projection discriminator (Miyato & Koyama, 2018): D(x, y) = psi(phi(x)) + <e_y, phi(x)>,
              e_y a learned class embedding, phi(x) D's last features;
  acgan       the auxiliary classifier (Odena et al., 2017): D's second head, class logits from phi(x),
              trained by cross-entropy on real and fake (jaxgan.game.step);
  none        labels unused.

G's side: the MLP and DCGAN generators join y one-hot to z for every conditioning; the residual
generator (jaxgan.models.resnet) conditions each batch norm on the class (ConditionalBatchNorm), as
SNGAN and BigGAN do.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.config import Conditioning
from jaxgan.models.conv import spectral


def joined(x: jax.Array, labels: jax.Array | None, num_classes: int) -> jax.Array:
  """x [B, F] or images [B, H, W, C] with y one-hot joined as K more features (constant channels); x itself
  without labels."""
  if labels is None:
    return x
  codes = jax.nn.one_hot(labels, num_classes, dtype=x.dtype)
  if x.ndim == 4:
    codes = jnp.broadcast_to(codes[:, None, None, :], (*x.shape[:3], num_classes))
  return jnp.concatenate([x, codes], axis=-1)


class ConditionalBatchNorm(nn.Module):
  """Batch norm whose gain and bias are linear in a condition vector c [B, E] (a class embedding, with a
  chunk of z for BigGAN's hierarchical latents): gain 1 + W_g c, bias W_b c, both 0 at init (so the plain
  batch norm at first); BigGAN's conditional batch norm (its gain and bias maps left without spectral norm,
  which a zero matrix would not survive). Without c, batch norm with its own affine."""

  momentum: float = 0.9  # PyTorch's 0.1

  @nn.compact
  def __call__(self, h: jax.Array, condition: jax.Array | None, train: bool) -> jax.Array:
    affine = condition is None
    h = nn.BatchNorm(not train, momentum=self.momentum, epsilon=1e-5, use_scale=affine, use_bias=affine)(h)
    if affine:
      return h

    def linear(name: str) -> jax.Array:
      layer = nn.Dense(h.shape[-1], use_bias=False, kernel_init=nn.initializers.zeros, name=name)
      return layer(condition)[:, None, None, :]

    return h * (1 + linear('gain')) + linear('bias')


class ClassOutput(nn.Module):
  """What conditioning adds to D's unconditional logits [B], from its last features phi(x) [B, F] and the labels
  [B]: projection adds <e_y, phi(x)>; acgan returns (logits, class logits [B, K]); otherwise the logits."""

  conditioning: Conditioning
  num_classes: int
  spectral_norm: bool = False

  @nn.compact
  def __call__(
    self, logits: jax.Array, features: jax.Array, labels: jax.Array | None, train: bool
  ) -> jax.Array | tuple[jax.Array, jax.Array]:
    if self.conditioning == 'projection':
      embedding = nn.Embed(self.num_classes, features.shape[-1], name='projection')
      return logits + jnp.sum(spectral(embedding, labels, self.spectral_norm, train) * features, axis=-1)
    if self.conditioning == 'acgan':
      return logits, spectral(nn.Dense(self.num_classes, name='classes'), features, self.spectral_norm, train)
    return logits

"""The residual players (jaxgan.models.resnet): SNGAN's CIFAR-10 networks parameter for parameter, the block
layout by resolution, self-attention, hierarchical latents, and the conditional scores they are judged by."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.evaluation import scores
from jaxgan.models import resnet


def parameters(module, *inputs):
  variables = jax.eval_shape(lambda: module.init(jax.random.key(0), *inputs, train=False))
  return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(variables['params']))


def conv(k, c_in, c_out):
  return k * k * c_in * c_out + c_out  # with its bias


def test_sngan_cifar10_networks_have_the_papers_parameters():
  """SNGAN's ResNet for CIFAR-10 (Miyato et al., 2018, Table 4), counted layer by layer from the table: G of
  256 channels (width 64 x 4), D of 128 (width 32 x 4)."""
  ch = 256
  g_block = conv(3, ch, ch) * 2 + conv(1, ch, ch) + 2 * 2 * ch  # two 3x3, the 1x1 shortcut, two batch norms
  g = (128 * 4 * 4 * ch + 4 * 4 * ch) + 3 * g_block + 2 * ch + conv(3, ch, 3)
  assert parameters(resnet.ResNetGenerator(32, 3, 64), jnp.zeros((1, 128))) == g == 4_276_739
  ch = 128
  first = conv(3, 3, ch) + conv(3, ch, ch) + conv(1, 3, ch)  # the optimized block, its shortcut a 1x1 conv
  pooled = 2 * conv(3, ch, ch) + conv(1, ch, ch)
  plain = 2 * conv(3, ch, ch)  # same side, same width: the identity shortcut
  d = first + pooled + 2 * plain + ch + 1
  assert parameters(resnet.ResNetDiscriminator(32, 32), jnp.zeros((1, 32, 32, 3))) == d == 1_053_825


def test_block_layouts_follow_biggan_by_resolution():
  assert resnet.generator_widths(32) == (4, 4, 4, 4)  # a 4x4 map, three up-blocks
  assert resnet.generator_widths(128) == (16, 16, 8, 4, 2, 1)
  assert resnet.discriminator_blocks(32) == ((4, 4, 4, 4), 2)
  assert resnet.discriminator_blocks(64) == ((1, 2, 4, 8, 16), 4)
  assert resnet.generator_widths(28) == (4, 4, 4)  # 7 -> 14 -> 28
  assert resnet.discriminator_blocks(8) == ((4, 4, 4), 1)


def test_self_attention_starts_as_the_identity_and_attends_once_trained():
  h = jax.random.normal(jax.random.key(0), (2, 8, 8, 16))
  attention = resnet.SelfAttention(spectral_norm=False)
  variables = attention.init(jax.random.key(1), h, False)
  np.testing.assert_array_equal(attention.apply(variables, h, False), h)  # its gain starts at 0
  params = {**variables['params'], 'gain': jnp.ones(())}
  moved = attention.apply({'params': params}, h, False)
  assert not np.allclose(moved, h)
  # Every output position mixes all positions: changing one far corner changes the first position's output.
  h2 = h.at[:, 7, 7].add(5.0)
  assert not np.allclose(attention.apply({'params': params}, h2, False)[:, 0, 0], moved[:, 0, 0])


def test_attention_and_hierarchical_latents_are_placed_as_asked():
  g = resnet.ResNetGenerator(32, 3, 2, attention=16, num_classes=10, class_embedding=8, hierarchical_latent=True)
  variables = g.init(jax.random.key(0), jnp.zeros((1, 20)), jnp.zeros((1,), jnp.int32), train=False)
  assert 'SelfAttention_0' in variables['params']
  # The 1st up-block's conditional batch norm reads the class embedding (8) and a quarter of z (5).
  assert variables['params']['GeneratorBlock_0']['ConditionalBatchNorm_0']['gain']['kernel'].shape == (13, 8)
  with pytest.raises(ValueError, match='latent_dim=21 does not divide; use a multiple of 4'):
    g.init(jax.random.key(0), jnp.zeros((1, 21)), jnp.zeros((1,), jnp.int32), train=False)


def test_class_accuracy_counts_the_requested_class():
  logits = np.eye(3)[[0, 1, 1, 2, 0, 0]]  # predicted classes 0 1 1 2 0 0
  requested = np.array([0, 1, 2, 2, 0, 1])
  got = scores.class_accuracy(logits, requested)
  assert got['class_accuracy'] == pytest.approx(4 / 6)
  assert (got['class_accuracy_0'], got['class_accuracy_1'], got['class_accuracy_2']) == (1.0, 0.5, 0.5)
  assert got['class_accuracy_min'] == 0.5


def test_intra_class_fid_is_the_mean_of_each_class_fid():
  rng = np.random.default_rng(0)
  real = rng.normal(size=(400, 3))
  fake = real + np.repeat([[0.0, 0, 0], [1.0, 0, 0]], 200, axis=0)  # class 1 moved by a unit, class 0 as real
  labels = np.repeat([0, 1], 200)
  got = scores.intra_class_fid(real, labels, fake, labels)
  each = [
    scores.frechet_distance(*scores.fit_gaussian(real[labels == c]), *scores.fit_gaussian(fake[labels == c]))
    for c in (0, 1)
  ]
  assert (got['intra_fid_0'], got['intra_fid_1']) == pytest.approx(each)
  assert got['intra_fid'] == pytest.approx(np.mean(each))
  assert (got['intra_fid_0'], got['intra_fid_1']) == pytest.approx((0.0, 1.0), abs=1e-6)  # |m1 - m2|^2, same C
  with pytest.raises(ValueError, match='class 1 has 200 reference and 1 generated images'):
    scores.intra_class_fid(real, labels, fake[:201], labels[:201])

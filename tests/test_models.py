import jax
import jax.numpy as jnp
import pytest

from jaxgan import models

pytestmark = pytest.mark.usefixtures('strict_dtypes')


def num_params(module, *inputs):
  variables = jax.eval_shape(lambda: module.init(jax.random.key(0), *inputs, train=False))
  return sum(p.size for p in jax.tree.leaves(variables['params']))


@pytest.mark.parametrize('resolution,base', [(8, 4), (16, 4), (28, 7), (32, 4), (64, 4)])
@pytest.mark.parametrize('channels', [1, 3])
def test_dcgan_shapes(resolution, base, channels):
  assert models.dcgan_base_resolution(resolution) == base
  g = models.DCGANGenerator(resolution, channels, width=8)
  d = models.DCGANDiscriminator(resolution, width=8)
  z = jax.ShapeDtypeStruct((2, 16), jnp.float32)
  g_vars = jax.eval_shape(lambda z: g.init(jax.random.key(0), z, train=False), z)
  x, updates = jax.eval_shape(lambda v, z: g.apply(v, z, train=True, mutable=['batch_stats']), g_vars, z)
  assert x.shape == (2, resolution, resolution, channels)
  assert 'batch_stats' in updates
  d_vars = jax.eval_shape(lambda x: d.init(jax.random.key(0), x, train=False), x)
  logits, _ = jax.eval_shape(lambda v, x: d.apply(v, x, train=True, mutable=['batch_stats']), d_vars, x)
  assert logits.shape == (2,)


def test_dcgan_runs_and_ends_in_tanh():
  g = models.DCGANGenerator(8, 3, width=4)
  z = jax.random.normal(jax.random.key(1), (2, 8)) * 100
  variables = g.init(jax.random.key(0), z, train=False)
  x = g.apply(variables, z, train=False)
  assert x.shape == (2, 8, 8, 3) and jnp.all(jnp.abs(x) <= 1)


def test_dcgan64_matches_pytorch_examples_parameter_counts():
  # pytorch/examples dcgan: netG has 3,576,704 parameters and netD 2,765,568.
  z = jnp.zeros((1, 100))
  assert num_params(models.DCGANGenerator(64, 3, width=64), z) == 3_576_704
  assert num_params(models.DCGANDiscriminator(64, width=64), jnp.zeros((1, 64, 64, 3))) == 2_765_568


def test_mlp_shapes():
  g = models.MLPGenerator((3,), hidden=(8, 8))
  d = models.MLPDiscriminator(hidden=(8,))
  z = jnp.ones((5, 2))
  x = g.apply(g.init(jax.random.key(0), z), z)
  assert x.shape == (5, 3)
  assert d.apply(d.init(jax.random.key(1), x), x).shape == (5,)


def test_resolution_too_small():
  with pytest.raises(ValueError, match='at least 4'):
    models.dcgan_base_resolution(2)


@pytest.mark.parametrize('transpose', [False, True])
@pytest.mark.parametrize('impl', ['lax', 'matmul'])
def test_conv_module_equals_flax(transpose, impl):
  """models.Conv is flax's Conv / ConvTranspose without bias (stride 2, 4x4, 'SAME'): values and gradients."""
  import flax.linen as nn
  import numpy as np

  x = jax.random.normal(jax.random.key(0), (2, 6, 5, 3))
  flax_type = nn.ConvTranspose if transpose else nn.Conv
  reference = flax_type(4, (4, 4), (2, 2), 'SAME', use_bias=False)
  params = reference.init(jax.random.key(1), x)
  module = models.Conv(4, (4, 4), (2, 2), 'SAME', transpose=transpose, impl=impl)

  def loss(m, p, x):
    return jnp.sum(jnp.sin(m.apply(p, x)))

  np.testing.assert_allclose(module.apply(params, x), reference.apply(params, x), atol=1e-5)
  want = jax.grad(lambda p, x: loss(reference, p, x), argnums=(0, 1))(params, x)
  got = jax.grad(lambda p, x: loss(module, p, x), argnums=(0, 1))(params, x)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-4), got, want)


def test_extra_layers_add_3x3_convolutions():
  z, x = jnp.zeros((2, 16)), jnp.zeros((2, 16, 16, 3))
  for extra in (0, 2):
    g = models.DCGANGenerator(16, 3, width=8, extra_layers=extra)
    d = models.DCGANDiscriminator(16, width=8, extra_layers=extra)
    g_vars, d_vars = g.init(jax.random.key(0), z), d.init(jax.random.key(1), x)
    assert g.apply(g_vars, z, train=False).shape == (2, 16, 16, 3)
    assert d.apply(d_vars, x, train=False).shape == (2,)
    # Each extra layer: a 3x3 kernel at the last (G) or first (D) stage's width, and its batch norm.
    kernels = lambda v: sorted(k['kernel'].shape for k in v['params'].values() if 'kernel' in k)  # noqa: E731
    g_3x3 = [s for s in kernels(g_vars) if s[:2] == (3, 3)]
    d_3x3 = [s for s in kernels(d_vars) if s[:2] == (3, 3)]
    assert g_3x3 == [(3, 3, 8, 8)] * extra and d_3x3 == [(3, 3, 8, 8)] * extra

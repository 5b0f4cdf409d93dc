"""StyleGAN2's players: tied to the StyleGAN2-ADA release by their parameter counts, their layers checked against
the paper's equations, style mixing, w-space truncation and path-length regularisation, training at 32x32 in
every conditioning, resuming bitwise and in populations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from checks import assert_members_equal_runs_alone, assert_stopped_run_resumes_bitwise
from jaxgan import config as config_lib
from jaxgan.data import make_source
from jaxgan.evaluation.scores import fit_gaussian, frechet_distance
from jaxgan.game import step as step_lib
from jaxgan.game.regularisers import path_length_term
from jaxgan.game.state import create_state, generate
from jaxgan.models import stylegan2

TINY = ['model.architecture=stylegan2', 'model.g_width=16', 'model.d_width=16', 'model.style_dim=16']
TINY += ['model.latent_dim=16', 'model.mapping_layers=2', 'model.prior=normal', 'optim.b1=0', 'optim.b2=0.99']


def parameters(module, *inputs):
  shapes = jax.eval_shape(lambda: module.init(jax.random.key(0), *inputs, train=False))
  return sum(leaf.size for leaf in jax.tree.leaves(shapes['params']))


def test_parameter_counts_are_the_releases_cifar10_networks():
  """The release's --cfg=cifar networks (512 channels at every side, 2 mapping layers, D 'orig'), counted layer
  by layer from its training/networks.py. G: mapping embed 10*512+512, fc0 1024*512+512, fc1 512*512+512;
  b4 const 512*16, conv1 (affine 512*512+512, weight 9*512*512, noise strength 1, bias 512), to-RGB (affine,
  weight 512*3, bias 3); b8..b32 conv0, conv1, to-RGB each. D: from-RGB 3*512+512; b32..b8 two 3x3 convs;
  epilogue conv 9*513*512+512, fc 16*512*512+512, out 512*512+512 (cmap) or 512+1; the label mapping's embed and
  8 dense layers. The residual D adds one bias-free 1x1 skip (512*512) a block."""
  z, labels, x = jnp.zeros((2, 512)), jnp.zeros((2,), jnp.int32), jnp.zeros((2, 32, 32, 3))
  generator = stylegan2.StyleGAN2Generator(32, 3, 512, mapping_layers=2, num_classes=10)
  assert parameters(generator, z, labels) == 20_215_315
  assert parameters(stylegan2.StyleGAN2Generator(32, 3, 512, mapping_layers=2), z) == 19_947_539
  orig = {'width': 512, 'residual': False, 'mbstd_group': 32}
  projection = stylegan2.StyleGAN2Discriminator(32, **orig, conditioning='projection', num_classes=10)
  assert parameters(projection, x, labels) == 23_089_664
  assert parameters(stylegan2.StyleGAN2Discriminator(32, **orig), x) == 20_720_641
  assert parameters(stylegan2.StyleGAN2Discriminator(32, 512), x) == 20_720_641 + 3 * 512 * 512


def test_modulated_convolution_is_the_papers_modulated_and_demodulated_kernel():
  """Eq. 1 and 3 of the paper written out a sample at a time: w'_ijk = s_i w_ijk, w''_ijk = w'_ijk / sqrt(sum_ik
  w'_ijk^2 + eps), convolved; the layer scales channels instead of kernels. Noise strength 0 at init."""
  layer = stylegan2.ModulatedConv(5)
  x = jax.random.normal(jax.random.key(0), (3, 6, 6, 4))
  w = jax.random.normal(jax.random.key(1), (3, 7))
  variables = layer.init(jax.random.key(2), x, w, train=False)
  variables = jax.tree.map(lambda v: v + 0.1, variables)  # a bias and affine away from their initial values
  out = layer.apply(variables, x, w, train=False)
  params = variables['params']
  affine = params['affine']
  styles = w @ affine['kernel'] / np.sqrt(7) + affine['bias']
  noise = params['noise_strength'] * variables['batch_stats']['noise_const']
  for b in range(3):
    kernel = params['kernel'] * styles[b][None, None, :, None]
    kernel = kernel / jnp.sqrt(jnp.sum(kernel**2, axis=(0, 1, 2)) + 1e-8)
    y = jax.lax.conv_general_dilated(x[b : b + 1], kernel, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    expected = jax.nn.leaky_relu(y[0] + noise + params['bias'], 0.2) * np.sqrt(2)
    np.testing.assert_allclose(out[b], expected, rtol=1e-4, atol=1e-4)


def test_minibatch_stddev_is_the_releases_grouping():
  x = np.random.default_rng(0).normal(size=(8, 2, 2, 3)).astype(np.float32)
  out = np.asarray(stylegan2.minibatch_stddev(jnp.asarray(x), 4))
  np.testing.assert_array_equal(out[..., :3], x)
  for b in range(8):  # group of sample b: b mod 2, b mod 2 + 2, ... (4 samples in 2 groups)
    group = x[b % 2 :: 2]
    np.testing.assert_allclose(out[b, :, :, 3], np.sqrt(group.var(axis=0) + 1e-8).mean(), rtol=1e-5)
  assert stylegan2.minibatch_stddev(jnp.asarray(x[:6]), 4).shape == (6, 2, 2, 4)  # groups of 3: 3 divides 6


def tiny_state(*overrides, resolution=8):
  config = config_lib.get_config('digits', *TINY, f'data.resolution={resolution}', *overrides)
  return config, create_state(config, jax.random.key(0), (resolution, resolution, 1))


def test_style_mixing_takes_the_styles_past_a_cutoff_from_a_second_latent():
  _, state = tiny_state('model.style_mixing=1')
  g = state.generator
  z = state.sample_latent(jax.random.key(1), 3)
  ws = g.apply(g.params, g.batch_stats, z, train=True, rng=jax.random.key(2), method='styles')[0]
  plain = g.apply(g.params, g.batch_stats, z, train=False, method='styles')[0]
  mixed = ~np.all(np.isclose(ws, plain), axis=(0, 2))
  cutoff = int(np.argmax(mixed))
  assert 1 <= cutoff < g.module.num_ws and mixed[cutoff:].all() and not mixed[:cutoff].any()
  np.testing.assert_allclose(ws[:, cutoff:], np.broadcast_to(ws[:, cutoff : cutoff + 1], ws[:, cutoff:].shape))


def test_path_length_term_is_the_norm_of_the_jacobian_product():
  """For images linear in the styles, J^T y is a matrix product; the term is (|J^T y| - a)^2 with a the mean
  after this batch's lengths (0.01 of the way from 0.5 to them)."""
  a = jax.random.normal(jax.random.key(0), (3 * 5, 4 * 4 * 2))
  ws = jax.random.normal(jax.random.key(1), (6, 3, 5))
  key = jax.random.key(2)
  penalty, mean = path_length_term(lambda ws: (ws.reshape(6, 15) @ a).reshape(6, 4, 4, 2), ws, jnp.array(0.5), key)
  y = jax.random.normal(key, (6, 4, 4, 2)) / 4
  grads = (y.reshape(6, 32) @ a.T).reshape(6, 3, 5)
  lengths = np.sqrt(np.mean(np.sum(np.asarray(grads) ** 2, axis=2), axis=1))
  expected_mean = 0.5 + 0.01 * (lengths.mean() - 0.5)
  np.testing.assert_allclose(mean, expected_mean, rtol=1e-5)
  np.testing.assert_allclose(penalty, np.mean((lengths - expected_mean) ** 2), rtol=1e-4)


@pytest.mark.parametrize(
  'conditioning', [pytest.param(c, marks=pytest.mark.slow) for c in ('none', 'acgan', 'concat')] + ['projection']
)  # CI: one at 32x32 (tens of seconds each); test_conditioning covers every conditioning on the other players
def test_trains_50_steps_at_32x32_with_every_switch(conditioning):
  """Style mixing, path length and lazy R1 on; 50 rounds without NaN; the regularisers' metrics are there."""
  config = config_lib.get_config(
    'digits',
    *TINY,
    'model.style_mixing=0.9',
    'game.path_length_weight=2',
    'game.penalty=r1',
    'game.penalty_weight=0.05',
    'game.penalty_every=4',
    f'model.conditioning={conditioning}',
    'model.num_classes=10',
    'model.mbstd_group=4',
    'train.batch_size=8',
  )
  rng = np.random.default_rng(0)
  images = jnp.asarray(rng.integers(0, 256, (50, 8, 32, 32, 1), np.uint8))
  batch = images if conditioning == 'none' else (images, jnp.asarray(rng.integers(0, 10, (50, 8)), jnp.int32))
  state, metrics = step_lib.train_steps(create_state(config, jax.random.key(0), (32, 32, 1)), batch)
  assert all(np.all(np.isfinite(v)) for v in metrics.values())
  pl = np.asarray(metrics['g_path_length'])
  assert (pl[1::4] == 0).all() and (pl[::4] > 0).all()  # lazy: every 4 rounds
  assert float(state.trackers['path_length_mean']) > 0
  labels = None if conditioning == 'none' else jnp.array([0, 1])
  assert generate(state, state.sample_latent(jax.random.key(1), 2), labels).shape == (2, 32, 32, 1)


def test_learns_digits_and_truncation_pulls_w_to_its_mean():
  """Real learning: 150 rounds on the 8x8 digits bring the Frechet distance between G's pixels and the data's
  down by a fifth or more. Training tracks w_avg; psi = 0 gives it for every z (one image), psi = 1/2 lies
  nearer to it than psi = 1; psi on a generator without styles is refused."""
  config, state = tiny_state('train.batch_size=32', 'optim.g_lr=2e-3', 'optim.d_lr=2e-3')
  batches = make_source(config.data, 0).batches(0, 150, 32)
  real = fit_gaussian(np.asarray(batches, np.float32).reshape(-1, 64) / 127.5 - 1)
  z = state.sample_latent(jax.random.key(1), 512)
  distance = lambda s: frechet_distance(*fit_gaussian(generate(s, z, ema=False).reshape(-1, 64)), *real)  # noqa: E731
  before = distance(state)
  state, _ = step_lib.train_steps(state, jnp.asarray(batches))
  assert distance(state) < 0.8 * before

  assert float(jnp.abs(state.generator.batch_stats['mapping']['w_avg']).max()) > 0
  at_mean = np.asarray(generate(state, z[:4], psi=0.0))
  np.testing.assert_allclose(at_mean, np.broadcast_to(at_mean[:1], at_mean.shape), atol=1e-6)
  full, half = np.asarray(generate(state, z[:4])), np.asarray(generate(state, z[:4], psi=0.5))
  assert np.abs(half - at_mean).mean() < np.abs(full - at_mean).mean()
  with pytest.raises(ValueError, match='style-based generator'):
    generate(tiny_state('model.architecture=dcgan')[1], z[:4], psi=0.5)


@pytest.mark.slow  # CI: the R3GAN and conditional populations (the member axis is the architecture's own)
def test_a_population_member_equals_its_run_alone():
  configs = [config_lib.get_config('digits', *TINY, 'train.batch_size=8', f'optim.g_lr={lr}') for lr in (1e-3, 3e-4)]
  assert_members_equal_runs_alone(configs, jnp.asarray(make_source(configs[0].data, 0).batches(0, 3, 8)), (8, 8, 1))


def test_a_stopped_run_resumes_bitwise(tmp_path):
  """Noise, style mixing and the path lengths' running mean all resume exactly."""
  config = config_lib.get_config('digits', *TINY, 'train.batch_size=8', 'model.style_mixing=0.9')
  whole = assert_stopped_run_resumes_bitwise(
    config_lib.override(config, 'game.path_length_weight=2'), tmp_path, steps=12, every=4
  )
  assert float(whole.trackers['path_length_mean']) > 0

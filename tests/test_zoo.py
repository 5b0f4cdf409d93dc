"""The model zoo beyond the residual pair: R3GAN's players, tied to the release by their parameter counts and
layers, training, resuming bitwise and in populations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from checks import assert_members_equal_runs_alone, assert_stopped_run_resumes_bitwise
from jaxgan import config as config_lib
from jaxgan.data import make_source
from jaxgan.evaluation.scores import fit_gaussian, frechet_distance
from jaxgan.game import step as step_lib
from jaxgan.game.penalties import get_penalty
from jaxgan.game.state import create_state, generate
from jaxgan.models import r3gan
from jaxgan.models.conv import fir_resample

TINY_R3GAN = ['model.architecture=r3gan', 'model.g_width=16', 'model.d_width=16', 'model.blocks=1']
TINY_R3GAN += ['game.objective=relativistic', 'game.penalty=r1_r2', 'game.penalty_weight=0.05']


def parameters(module, *inputs):
  shapes = jax.eval_shape(lambda: module.init(jax.random.key(0), *inputs, train=False))
  return sum(leaf.size for leaf in jax.tree.leaves(shapes))


def test_r3gan_cifar10_parameter_counts_match_the_releases_layers():
  """The release's CIFAR-10 preset (width 768, 2 blocks at each of 4 stages, cardinality 96, expansion 2, z of
  64), counted from its layer list: a block is 1x1 W->2W, grouped 3x3 2W->2W in 96 groups, 1x1 2W->W and two
  activation biases of 2W; resampling has no weights where the width stays."""
  width, expanded, blocks = 768, 1536, 8
  block = width * expanded + expanded * (expanded // 96) * 9 + expanded * width + 2 * expanded
  generator = blocks * block + 4 * 4 * width + 64 * width + width * 3  # basis, its scale from z, to RGB
  discriminator = blocks * block + 3 * width + 4 * 4 * width + width  # from RGB, depthwise basis, logit
  assert (generator, discriminator) == (20_732_160, 20_683_776)
  assert parameters(r3gan.R3GANGenerator(32, 3, 768, 2, 16), jnp.zeros((1, 64))) == generator
  assert parameters(r3gan.R3GANDiscriminator(32, 768, 2, 16), jnp.zeros((1, 32, 32, 3))) == discriminator


def upfirdn(x, taps, up, down):
  """The release's upfirdn2d of one channel [N, N] written out: zeros inserted, padded as its upsample2d and
  downsample2d pad, the filter outer(taps, taps) (normalised, times up^2), strided."""
  taps = np.asarray(taps, float)
  size = len(taps)
  f = np.outer(taps, taps) / taps.sum() ** 2 * up**2
  n = x.shape[0] * up
  inserted = np.zeros((n, n))
  inserted[::up, ::up] = x
  lo, hi = ((size + up - 1) // 2, (size - up) // 2) if up > 1 else ((size - down + 1) // 2, (size - down) // 2)
  padded = np.pad(inserted, ((lo, hi), (lo, hi)))
  side = n + lo + hi - size + 1
  out = np.array([[np.sum(padded[i : i + size, j : j + size] * f) for j in range(side)] for i in range(side)])
  return out[::down, ::down]


@pytest.mark.parametrize('taps', [(1, 2, 1), (1, 3, 3, 1)], ids=['r3gan', 'stylegan2'])
def test_resampling_is_the_releases_filter(taps):
  x = np.random.default_rng(0).normal(size=(6, 6))
  for up, down in ((2, 1), (1, 2)):
    out = fir_resample(jnp.asarray(x)[None, :, :, None], taps, up=up > 1)[0, :, :, 0]
    np.testing.assert_allclose(out, upfirdn(x, taps, up, down), atol=1e-5)


def test_r3gan_blocks_start_as_the_identity():
  """Fix-up: each block's last layer starts at zero, so a block maps x to x at initialisation."""
  block = r3gan.ResidualBlock(group_channels=16, total_blocks=4)
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 32))
  variables = block.init(jax.random.key(1), x)
  np.testing.assert_array_equal(block.apply(variables, x), x)
  with pytest.raises(ValueError, match='model.group_channels'):
    r3gan.ResidualBlock(group_channels=48, total_blocks=4).init(jax.random.key(1), x)


def test_r1_r2_is_both_penalties():
  """A linear D(x) = <w, x>: each gradient is w, so R1 = R2 = ||w||^2 / 2 and R1 + R2 = ||w||^2."""
  w = jnp.arange(6.0).reshape(2, 3)
  d = lambda x: jnp.sum(x * w, axis=(1, 2))  # noqa: E731
  real, fake = jnp.ones((4, 2, 3)), -jnp.ones((4, 2, 3))
  np.testing.assert_allclose(get_penalty('r1_r2')(d, real, fake, jax.random.key(0)), np.full(4, 55.0))


@pytest.mark.slow  # a minute each; CI trains R3GAN at 8x8, test_conditioning every conditioning at 32x32
@pytest.mark.parametrize('conditioning', ['none', 'concat', 'acgan', 'projection'])
def test_r3gan_trains_50_steps_at_32x32(conditioning):
  config = config_lib.get_config(
    'digits', *TINY_R3GAN, f'model.conditioning={conditioning}', 'model.num_classes=10', 'train.batch_size=8'
  )
  rng = np.random.default_rng(0)
  images = jnp.asarray(rng.integers(0, 256, (50, 8, 32, 32, 3), np.uint8))
  batch = images if conditioning == 'none' else (images, jnp.asarray(rng.integers(0, 10, (50, 8)), jnp.int32))
  state, metrics = step_lib.train_steps(create_state(config, jax.random.key(0), (32, 32, 3)), batch)
  assert all(np.all(np.isfinite(v)) for v in metrics.values())
  assert generate(
    state, state.sample_latent(jax.random.key(1), 2), None if conditioning == 'none' else jnp.array([0, 1])
  ).shape == (2, 32, 32, 3)


def test_r3gan_learns_digits():
  """Real learning: 200 rounds on the 8x8 digits (Adam 2e-3 with beta1 0, as the release sets beta1) bring the
  Frechet distance between G's pixels and the data's down by a fifth or more (measured: 98 -> 67)."""
  config = config_lib.get_config(
    'digits', *TINY_R3GAN, 'train.batch_size=32', 'optim.g_lr=2e-3', 'optim.d_lr=2e-3', 'optim.b1=0'
  )
  batches = make_source(config.data, 0).batches(0, 200, 32)
  real = fit_gaussian(np.asarray(batches, np.float32).reshape(-1, 64) / 127.5 - 1)
  state = create_state(config, jax.random.key(0), (8, 8, 1))
  z = state.sample_latent(jax.random.key(1), 512)
  distance = lambda s: frechet_distance(*fit_gaussian(generate(s, z, ema=False).reshape(-1, 64)), *real)  # noqa: E731
  before = distance(state)
  state, _ = step_lib.train_steps(state, jnp.asarray(batches))
  assert distance(state) < 0.8 * before


def test_a_r3gan_population_member_equals_its_run_alone_and_a_run_resumes_bitwise(tmp_path):
  configs = [
    config_lib.get_config('digits', *TINY_R3GAN, 'train.batch_size=16', f'optim.g_lr={lr}') for lr in (1e-3, 3e-4)
  ]
  assert_members_equal_runs_alone(configs, jnp.asarray(make_source(configs[0].data, 0).batches(0, 3, 16)), (8, 8, 1))
  assert_stopped_run_resumes_bitwise(configs[0], tmp_path, steps=20, every=5)

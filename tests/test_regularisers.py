"""ADA, LeCam and bCR: the terms against hand computation, ADA's transformations and its steering of p, and the
regularised game training, resuming bitwise and in populations."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from checks import assert_members_equal_runs_alone, assert_stopped_run_resumes_bitwise, leaves
from jaxgan import config as config_lib
from jaxgan.data import make_source
from jaxgan.game import ada, regularisers
from jaxgan.game import step as step_lib
from jaxgan.game.augment import flip_and_translate
from jaxgan.game.state import create_state, discriminate
from jaxgan.run.checkpoint import Checkpointer

TINY = ['model.g_width=8', 'model.d_width=8', 'train.batch_size=16', 'eval.metrics=()']
ALL_THREE = ['game.ada_target=0.6', 'game.ada_kimg=1', 'game.ada_interval=2', 'game.lecam_weight=0.3']
ALL_THREE += ['game.consistency_weight=10']


def test_lecam_term_against_hand_computation():
  real, fake = jnp.array([1.0, -0.5]), jnp.array([0.2, -2.0])
  anchors = (jnp.float32(0.5), jnp.float32(-0.3))  # (a_real, a_fake)
  # relu(D(x) - a_fake)^2: 1.3^2, 0; relu(a_real - D(G(z)))^2: 0.3^2, 2.5^2
  want = (1.3**2 + 0) / 2 + (0.3**2 + 2.5**2) / 2
  np.testing.assert_allclose(regularisers.lecam_term(real, fake, anchors), want, rtol=1e-6)
  new = regularisers.lecam_anchors(anchors, real, fake, 0.9)
  np.testing.assert_allclose(new, [0.9 * 0.5 + 0.1 * 0.25, 0.9 * -0.3 + 0.1 * -0.9], rtol=1e-6)


def test_flip_and_translate_is_a_shift_of_the_image_or_its_mirror():
  """Each output is the input, or its mirror, moved by at most 1/8 of the side with zeros filled in: found by
  trying every flip and shift in numpy."""
  images = jax.random.uniform(jax.random.key(0), (6, 16, 16, 2), minval=0.5, maxval=1.0)
  out = np.asarray(flip_and_translate(jax.random.key(1), images))
  flips = 0
  for x, y in zip(np.asarray(images), out, strict=True):
    found = []
    for flipped, source in ((False, x), (True, x[:, ::-1])):
      for dr in range(-2, 3):
        for dc in range(-2, 3):
          moved = np.zeros_like(source)
          moved[max(dr, 0) : 16 + min(dr, 0), max(dc, 0) : 16 + min(dc, 0)] = source[
            max(-dr, 0) : 16 + min(-dr, 0), max(-dc, 0) : 16 + min(-dc, 0)
          ]
          if np.array_equal(moved, y):
            found.append(flipped)
    assert found, 'an output that is no shift of its image or mirror'
    flips += found[0]
  assert 0 < flips < 6  # both happen (a fixed key: 6 fair coins)


def test_consistency_term_is_the_mean_squared_change_of_d():
  w = jax.random.normal(jax.random.key(0), (8, 8, 1))
  judge = lambda x: jnp.sum(x * w, axis=(1, 2, 3))  # noqa: E731
  images = jax.random.normal(jax.random.key(1), (5, 8, 8, 1))
  key = jax.random.key(2)
  want = np.mean((np.asarray(judge(images)) - np.asarray(judge(flip_and_translate(key, images)))) ** 2)
  np.testing.assert_allclose(regularisers.consistency_term(judge, images, judge(images), key), want, rtol=1e-5)
  symmetric = lambda x: jnp.zeros(len(x))  # noqa: E731  D that no transformation moves
  assert float(regularisers.consistency_term(symmetric, images, symmetric(images), key)) == 0


def test_ada_at_p_0_is_the_identity_and_at_p_1_moves_every_image():
  images = jax.random.uniform(jax.random.key(0), (8, 16, 16, 3), minval=-1, maxval=1)
  np.testing.assert_array_equal(ada.ada_augment(jax.random.key(1), images, 0.0), images)
  moved = ada.ada_augment(jax.random.key(1), images, 1.0)
  assert moved.shape == images.shape and np.all(np.abs(moved - images).mean(axis=(1, 2, 3)) > 0.05)
  grads = jax.grad(lambda x: ada.ada_augment(jax.random.key(1), x, 0.5).sum())(images)
  assert np.all(np.isfinite(grads)) and np.abs(grads).sum() > 0  # G's gradient flows through
  for channels in (1, 2):
    assert ada.ada_augment(jax.random.key(1), images[..., :channels], 1.0).shape == (8, 16, 16, channels)
  assert ada.ada_augment(jax.random.key(1), images.astype(jnp.bfloat16), 0.5).dtype == jnp.bfloat16


def test_ada_geometry_follows_the_papers_laws():
  """At p = 1: |det| of the linear part is the isotropic scale squared (the anisotropic one cancels), so
  log2 |det| ~ N(0, 0.4^2); half the maps mirror (det < 0); at p = 0 every map is the identity."""
  maps = np.asarray(ada._geometry(jax.random.key(3), jnp.float32(1.0), 20000, 32, 32))
  det = np.linalg.det(maps[:, :2, :2])
  assert abs(np.log2(np.abs(det)).std() - 0.4) < 0.01 and abs(np.log2(np.abs(det)).mean()) < 0.01
  assert abs((det < 0).mean() - 0.5) < 0.02
  identity = np.broadcast_to(np.eye(3), (4, 3, 3))
  np.testing.assert_array_equal(ada._geometry(jax.random.key(3), jnp.float32(0.0), 4, 32, 32), identity)


def test_adjust_p_moves_by_the_images_seen_toward_the_target():
  # r = 6 / 8 = 0.75 > 0.6: p rises by 8 / (0.5 * 1000); below the target it falls; it stays in [0, 1].
  np.testing.assert_allclose(ada.adjust_p(jnp.float32(0.5), 6.0, 8.0, 0.6, 0.5), 0.516, rtol=1e-6)
  np.testing.assert_allclose(ada.adjust_p(jnp.float32(0.5), -2.0, 8.0, 0.6, 0.5), 0.484, rtol=1e-6)
  assert float(ada.adjust_p(jnp.float32(0.999), 8.0, 8.0, 0.6, 0.5)) == 1.0
  assert float(ada.adjust_p(jnp.float32(0.001), -8.0, 8.0, 0.6, 0.5)) == 0.0


def test_ada_raises_p_when_d_memorises_its_data():
  """Four real images, repeated: D learns them, r = E sign D(x) climbs past the target and p rises, by exactly
  one step of B / (ada_kimg * 1000) a round (ada_interval=1), toward the target."""
  config = config_lib.get_config(
    'digits', *TINY, 'game.ada_target=0.6', 'game.ada_kimg=1', 'game.ada_interval=1', 'optim.d_lr=2e-3'
  )
  four = np.asarray(make_source(config.data, 0).batches(0, 1, 4))[0]
  batches = jnp.asarray(np.tile(four, (100, 4, 1, 1, 1)))  # [100, 16, 8, 8, 1]
  state, metrics = step_lib.train_steps(create_state(config, jax.random.key(0), four.shape[1:]), batches)
  p, r = np.asarray(metrics['ada_p']), np.asarray(metrics['ada_r'])
  previous = np.concatenate([[0.0], p[:-1]])
  np.testing.assert_allclose(p, np.clip(previous + np.sign(r - 0.6) * 16 / 1000, 0, 1), atol=1e-6)
  assert p.max() > 0.5 and r[:5].mean() < r[20:40].mean()
  np.testing.assert_array_equal(state.trackers['ada_p'], p[-1])


def test_lecam_tracks_the_ema_of_d_on_real_samples():
  """An MLP D (no batch norm, no augmentation): after one round a_real = (1 - decay) * mean D(x), D's logits
  before its update."""
  config = config_lib.get_config('ring8', 'game.lecam_weight=0.3', 'game.lecam_decay=0.9', 'train.batch_size=16')
  real = jax.random.normal(jax.random.key(1), (16, 2))
  state = create_state(config, jax.random.key(0), (2,))
  before = float(discriminate(state, real).mean())
  state, metrics = step_lib.train_step(state, real)
  np.testing.assert_allclose(state.trackers['lecam_real'], 0.1 * before, rtol=1e-5)
  assert np.isfinite(metrics['d_lecam']) and metrics['d_lecam'] > 0


SLOW = pytest.mark.slow
REGULARISED = [
  pytest.param('dcgan', ALL_THREE, id='dcgan-all'),
  *(
    pytest.param('resnet', [extra], id=f'resnet-{extra}', marks=SLOW)
    for extra in ('game.ada_target=0.6', 'game.ada_p=0.5', 'game.lecam_weight=0.3', 'game.consistency_weight=10')
  ),
]


@pytest.mark.parametrize('architecture,extra', REGULARISED)
def test_the_regularisers_train_50_steps_at_32x32(architecture, extra):
  """Random 32x32 RGB images: 50 rounds in one scan, every metric finite (all three at once by default, each on
  the residual pair with -m slow)."""
  widths = ['model.g_width=4', 'model.d_width=4', 'train.batch_size=8']
  config = config_lib.get_config('digits', f'model.architecture={architecture}', *widths, *extra)
  images = jnp.asarray(np.random.default_rng(0).integers(0, 256, (50, 8, 32, 32, 3), np.uint8))
  state, metrics = step_lib.train_steps(create_state(config, jax.random.key(0), (32, 32, 3)), images)
  assert all(np.all(np.isfinite(v)) for v in metrics.values())
  assert {'ada_p', 'd_lecam', 'd_consistency'} & set(metrics)


def test_image_regularisers_refuse_points():
  for extra in ('game.ada_p=0.5', 'game.consistency_weight=10'):
    with pytest.raises(config_lib.ConfigError, match='needs images'):
      create_state(config_lib.get_config('ring8', extra), jax.random.key(0), (2,))


@pytest.mark.slow  # test_zoo, test_stylegan2 and test_conditioning check a population member in CI
def test_a_regularised_population_member_equals_its_run_alone():
  configs = [config_lib.get_config('digits', *TINY, *ALL_THREE, f'optim.g_lr={lr}') for lr in (1e-3, 3e-4)]
  assert_members_equal_runs_alone(configs, jnp.asarray(make_source(configs[0].data, 0).batches(0, 3, 16)), (8, 8, 1))


@pytest.mark.slow  # in CI, test_family's resume carries ADA, LeCam and bCR with the other stateful switches
def test_a_stopped_regularised_run_resumes_bitwise(tmp_path):
  whole = assert_stopped_run_resumes_bitwise(config_lib.get_config('digits', *TINY, *ALL_THREE), tmp_path, 20, 5)
  assert float(whole.trackers['ada_p']) > 0  # p moved, and was carried over the stop


def test_a_checkpoint_from_before_the_trackers_restores(tmp_path):
  """A run without ADA or LeCam resumes from a checkpoint written before GANState had trackers."""
  state = create_state(config_lib.get_config('digits', *TINY), jax.random.key(0), (8, 8, 1))
  storable = state.replace(key=jax.random.key_data(state.key))
  older = {
    f.name: getattr(storable, f.name)
    for f in dataclasses.fields(storable)
    if f.metadata.get('pytree_node', True) and f.name != 'trackers'
  }
  with ocp.CheckpointManager(tmp_path / 'checkpoints') as manager:
    manager.save(0, args=ocp.args.StandardSave(older))
  restored, notes = Checkpointer(tmp_path / 'checkpoints').restore_latest(state)
  assert notes == [] and restored.trackers == {}
  for a, b in zip(leaves(restored), leaves(state), strict=True):
    np.testing.assert_array_equal(a, b)

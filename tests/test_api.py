"""The Python API: its own mistakes, each with a message that says what to do, and its config, load and sample."""

import subprocess
import sys

import jax
import numpy as np
import pytest

import jaxgan
from jaxgan import config as config_lib


@pytest.fixture(scope='module')
def config():
  return config_lib.override(config_lib.load('gaussian1d'), 'game.d_steps=1')


def test_a_dict_for_a_config_is_named(tmp_path):
  with pytest.raises(jaxgan.ConfigError, match=r'^config must be a jaxgan.Config, got dict; .*from_dict'):
    jaxgan.train({'train': {'steps': 10}}, tmp_path / 'run')
  assert not (tmp_path / 'run').exists()
  with pytest.raises(jaxgan.ConfigError, match='config must be a jaxgan.Config, got str'):
    jaxgan.create_state('gaussian1d', jax.random.key(0), (1,))


def test_a_donated_state_reused_is_named(config):
  state = jaxgan.create_state(config, jax.random.key(0), (1,))
  batch = np.ones((config.train.batch_size, 1), np.float32)
  new_state, _ = jaxgan.train_step(state, batch)
  with pytest.raises(
    ValueError, match='this GANState was donated to an earlier train_step.*state, metrics = train_step'
  ):
    jaxgan.train_step(state, batch)
  with pytest.raises(ValueError, match='donated'):
    jaxgan.train_steps(state, batch[None])
  assert int(jaxgan.train_step(new_state, batch)[0].step) == 2  # the returned state goes on


def test_a_batch_of_another_sample_shape_is_named(config):
  state = jaxgan.create_state(config, jax.random.key(0), (1,))
  images = np.zeros((config.train.batch_size, 8, 8, 1), np.float32)
  with pytest.raises(
    ValueError, match=r'batch of samples of shape \(8, 8, 1\) does not fit the state, made for .*\(1,\)'
  ):
    jaxgan.train_step(state, images)


def test_a_sample_shape_that_does_not_fit_the_model_is_named():
  dcgan = config_lib.load('digits')
  with pytest.raises(jaxgan.ConfigError, match=r'dcgan needs square images \(H, H, C\).*got sample shape \(1,\)'):
    jaxgan.create_state(dcgan, jax.random.key(0), (1,))
  with pytest.raises(jaxgan.ConfigError, match=r'got sample shape \(8, 16, 1\)'):
    jaxgan.create_state(dcgan, jax.random.key(0), (8, 16, 1))


def test_public_names_load_on_first_use():
  assert set(jaxgan.__all__) <= set(dir(jaxgan))
  for name in jaxgan.__all__:
    assert getattr(jaxgan, name) is not None
  from jaxgan import loop  # importing the module of train() leaves jaxgan.train the function

  assert callable(jaxgan.train) and jaxgan.train is loop.train
  with pytest.raises(AttributeError, match='no attribute'):
    jaxgan.nosuch  # noqa: B018


# jaxgan.get_config: keyword overrides are Python values, checked as the text ones are.


@pytest.mark.parametrize(
  'name, keywords, text',
  [
    ('gaussian1d', {'optim__g_lr': 1e-4}, 'optim.g_lr=1e-4'),
    ('gaussian1d', {'train__steps': 200}, 'train.steps=200'),
    ('gaussian1d', {'model__g_hidden': (32, 16)}, 'model.g_hidden=32,16'),
    ('gaussian1d', {'eval__panel_fractions': [0.5, 1.0]}, 'eval.panel_fractions=[0.5,1]'),
    ('gaussian1d', {'eval__panel_fractions': ()}, 'eval.panel_fractions=()'),
    ('gaussian1d', {'train__scan': False}, 'train.scan=false'),
    ('gaussian1d', {'game__objective': 'hinge'}, 'game.objective=hinge'),
    ('digits', {'game__augment': ('color', 'translation')}, 'game.augment=color,translation'),
  ],
)
def test_keyword_overrides_equal_the_text_ones(name, keywords, text):
  by_keyword = jaxgan.get_config(name, **keywords)
  assert isinstance(by_keyword, jaxgan.Config)
  assert by_keyword == jaxgan.get_config(name, text) != jaxgan.get_config(name)


def test_text_and_keywords_together_keywords_last():
  config = jaxgan.get_config('gaussian1d', 'train.steps=7', 'optim.d_lr=3e-3', train__steps=9, game__d_steps=2)
  assert (config.train.steps, config.optim.d_lr, config.game.d_steps) == (9, 3e-3, 2)


@pytest.mark.parametrize(
  'keywords, message',
  [
    ({'steps': 5}, r'^keyword steps=5 needs its section: write train__steps=5$'),
    ({'train': 5}, r"^'train' is a section; set one of its keys as train__KEY=VALUE: steps, batch_size, "),
    ({'nosuch': 1}, r"^unknown config key 'nosuch'; keyword overrides are SECTION__KEY=VALUE, sections: model, "),
    ({'optim__glr': 1e-4}, r"^unknown config key 'optim.glr'; keys in optim: optimizer, g_lr, d_lr, "),
    ({'train__steps': 1.5}, r"^train.steps expects int, got '1.5'$"),
    ({'train__steps': True}, r"^train.steps expects int, got 'True'$"),
    ({'train__scan': 1}, r"^train.scan expects bool, got '1'$"),
    ({'model__g_hidden': 64}, r'^model.g_hidden expects a tuple or list, got 64$'),
    ({'data__source': None}, r'^data.source expects str, got None$'),
    ({'game__objective': 'nope'}, r"^game.objective must be one of minimax, .*, got 'nope'$"),
    ({'optim__g_lr': float('inf')}, r"^optim.g_lr must be a finite number, got 'inf'$"),
    ({'train__steps': -1}, r'^train.steps must be positive$'),  # the result is validated
  ],
)
def test_keyword_mistakes_are_named_in_one_line(keywords, message):
  with pytest.raises(jaxgan.ConfigError, match=message) as raised:
    jaxgan.get_config('gaussian1d', **keywords)
  assert '\n' not in str(raised.value)


def test_text_and_name_mistakes_are_named_in_one_line():
  with pytest.raises(jaxgan.ConfigError, match=r"^override 'train.steps' is not of the form section.key=value$"):
    jaxgan.get_config('gaussian1d', 'train.steps')
  with pytest.raises(jaxgan.ConfigError, match=r"^assignments are texts like 'optim.g_lr=1e-4', got int 5; give "):
    jaxgan.get_config('gaussian1d', 5)
  with pytest.raises(jaxgan.ConfigError, match=r"^unknown config 'nosuch'; built-in configs: "):
    jaxgan.get_config('nosuch')


# jaxgan.load and jaxgan.sample: a run read back.


@pytest.fixture(scope='module')
def run_1d(tmp_path_factory):
  config = jaxgan.get_config(
    'gaussian1d',
    train__steps=20,
    train__scan=False,
    eval__panel_fractions=(),
    eval__num_samples=2000,
    eval__grid_size=64,
  )
  workdir = tmp_path_factory.mktemp('api') / 'run'
  jaxgan.train(config, workdir, progress=False)
  return config, workdir


def test_load_gives_the_saved_config_and_the_trained_state(run_1d):
  config, workdir = run_1d
  loaded, state = jaxgan.load(workdir)
  assert loaded == config
  assert isinstance(state, jaxgan.GANState) and int(state.step) == config.train.steps


def test_sample_of_a_1d_run_from_its_workdir_or_its_state(run_1d):
  _, workdir = run_1d
  samples = jaxgan.sample(workdir, 50, seed=3)
  assert samples.shape == (50, 1) and samples.dtype == np.float32
  _, state = jaxgan.load(workdir)
  np.testing.assert_array_equal(jaxgan.sample(state, 50, seed=3), samples)
  assert not np.array_equal(jaxgan.sample(state, 50, seed=4), samples)
  assert not np.array_equal(jaxgan.sample(state, 50, seed=3, ema=False), samples)  # G itself, not its EMA


def test_truncated_samples_are_those_of_the_truncated_latents(run_1d):
  _, workdir = run_1d
  _, state = jaxgan.load(workdir)
  samples = jaxgan.sample(workdir, 50, seed=3, truncation=0.5)
  z = jax.random.truncated_normal(jax.random.key(3), -0.5, 0.5, (50, state.latent_dim))
  if state.prior == 'uniform':
    z = jax.random.uniform(jax.random.key(3), (50, state.latent_dim), minval=-0.5, maxval=0.5)
  np.testing.assert_array_equal(samples, np.asarray(jaxgan.generate(state, z)).reshape(50, -1))
  assert not np.array_equal(samples, jaxgan.sample(workdir, 50, seed=3))
  for bad in (0, -1.0, True, '0.5'):
    with pytest.raises(ValueError, match=r'^truncation must be a positive threshold \(e.g. 0.5\), or None for none'):
      jaxgan.sample(workdir, 50, truncation=bad)


def test_sample_of_an_image_run_is_uint8_images(tmp_path):
  config = jaxgan.get_config(  # an MLP on 8x8 digits: an image run that compiles fast
    'digits',
    model__architecture='mlp',
    model__g_hidden=(16,),
    model__d_hidden=(16,),
    model__latent_dim=4,
    train__steps=2,
    train__batch_size=8,
  )
  jaxgan.train(config, tmp_path, progress=False)
  images = jaxgan.sample(tmp_path, 5)
  assert images.shape == (5, 8, 8, 1) and images.dtype == np.uint8


@pytest.mark.parametrize(
  'num, seed, message',
  [
    (0, 0, r'^num must be a positive integer, got 0$'),
    (2.0, 0, r'^num must be a positive integer, got 2.0$'),
    (True, 0, r'^num must be a positive integer, got True$'),
    (2, -1, rf'^seed must be an integer in \[0, {config_lib.MAX_SEED}\], got -1$'),
    (2, 2**32, rf'^seed must be an integer in \[0, {config_lib.MAX_SEED}\], got {2**32}$'),
    (2, '1', rf"^seed must be an integer in \[0, {config_lib.MAX_SEED}\], got '1'$"),
  ],
)
def test_bad_num_or_seed_is_named_before_reading_the_run(num, seed, message, tmp_path):
  with pytest.raises(ValueError, match=message):
    jaxgan.sample(tmp_path / 'no-run', num, seed=seed)


def test_sample_names_what_run_must_be(run_1d):
  with pytest.raises(TypeError, match=r'^run must be a workdir or a GANState, got tuple; pass the state of '):
    jaxgan.sample(jaxgan.load(run_1d[1]), 2)
  with pytest.raises(jaxgan.RunError, match='holds no run'):
    jaxgan.sample(run_1d[1].parent / 'nothing', 2)


def test_import_jaxgan_loads_no_jax():
  code = 'import sys, jaxgan; assert jaxgan.__all__ and "jax" not in sys.modules'
  subprocess.run([sys.executable, '-c', code], check=True)

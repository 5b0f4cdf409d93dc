"""The Python API's own mistakes, each with a message that says what to do."""

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

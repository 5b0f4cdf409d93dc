"""The GAN family in the train step: every objective and regulariser from the config."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.config import DataConfig, GameConfig, TrainConfig, load
from jaxgan.data import make_source
from jaxgan.game import step as step_lib
from jaxgan.game.state import create_state
from jaxgan.models import MLPDiscriminator
from test_step import TOY, _assert_learns, with_game


@pytest.mark.parametrize('objective', ['least_squares', 'hinge', 'relativistic', 'relativistic_average'])
def test_each_objective_learns_the_toy_game(objective):
  """A thousand steps move G from around 0 onto N(1, 0.5^2)."""
  _assert_learns(with_game(objective=objective))


# A small digits DCGAN: 8x8 images, narrow networks.
DIGITS = dataclasses.replace(
  load('digits'),
  model=dataclasses.replace(load('digits').model, g_width=16, d_width=16),
  train=TrainConfig(steps=50, batch_size=16),
  eval=dataclasses.replace(load('digits').eval, metrics=()),  # scores: tests/test_evaluation.py
)
SWITCHES = [
  *({'objective': name} for name in ('minimax', 'least_squares', 'hinge', 'relativistic', 'relativistic_average')),
  {'objective': 'wasserstein', 'weight_clip': 0.01},
  *({'penalty': name} for name in ('r1', 'r2', 'wgan_gp', 'dragan')),
  {'penalty': 'r1', 'penalty_every': 4},
  {'label_smoothing': 0.1},
  {'instance_noise': 0.1},
  {'pack': 2},
  {'augment': ('color', 'translation', 'cutout')},
  {'spectral_norm': True},
]


@pytest.mark.parametrize('switch', SWITCHES, ids=lambda s: ','.join(f'{k}={v}' for k, v in s.items()))
def test_every_switch_trains_50_digit_steps(switch):
  game = {k: v for k, v in switch.items() if k != 'spectral_norm'}
  config = dataclasses.replace(
    DIGITS,
    game=dataclasses.replace(DIGITS.game, **game),
    model=dataclasses.replace(DIGITS.model, spectral_norm=switch.get('spectral_norm', False)),
  )
  source = make_source(config.data, 0)
  state = create_state(config, jax.random.key(0), source.sample_shape)
  before = jax.tree.map(np.asarray, state.discriminator.params)
  state, metrics = step_lib.train_steps(state, jnp.asarray(source.batches(0, 50, 16)))
  for name, values in metrics.items():
    assert np.all(np.isfinite(values)), f'{name} not finite with {switch}'
  moved = jax.tree.map(lambda a, b: float(np.abs(np.asarray(a) - b).max()), state.discriminator.params, before)
  assert max(jax.tree.leaves(moved)) > 0
  if 'weight_clip' in switch:
    assert max(float(jnp.abs(p).max()) for p in jax.tree.leaves(state.discriminator.params)) <= 0.01
  if 'penalty' in switch:
    every = switch.get('penalty_every', 1)
    applied = np.asarray(metrics['d_penalty']) > 0
    np.testing.assert_array_equal(applied, np.arange(50) % every == 0)  # lazily: rounds 0, k, 2k, ...


def test_lazy_penalty_is_weighted_by_its_interval():
  """Every k rounds, the term is k * weight * penalty: the same on average as weight * penalty every round."""
  config = with_game(penalty='r1', penalty_weight=2.0, penalty_every=3)
  source = make_source(config.data, 0)
  state = create_state(config, jax.random.key(0), (1,))
  discriminator = state.discriminator
  real = jnp.asarray(source.batches(0, 1, 64)[0])
  _, metrics = step_lib.train_step(jax.tree.map(jnp.copy, state), real)
  # R1 of D at step 0, computed here from the state before the step.
  grads = jax.vmap(jax.grad(lambda x: discriminator.apply(discriminator.params, {}, x[None], train=True)[0][0]))(real)
  r1 = 0.5 * (grads**2).sum(-1).mean()
  np.testing.assert_allclose(metrics['d_penalty'], 3 * 2.0 * r1, rtol=1e-5)


def test_packing_feeds_discriminator_packs_of_samples():
  config = dataclasses.replace(
    TOY,
    model=dataclasses.replace(TOY.model, d_hidden=(8,)),
    game=GameConfig(pack=4),
    data=DataConfig(source='digits'),  # not the 1-D theory check
  )
  state = create_state(config, jax.random.key(0), (2,))
  assert state.discriminator.params['Dense_0']['kernel'].shape == (8, 8)  # 4 samples of 2 features in
  state, metrics = step_lib.train_step(state, jax.random.normal(jax.random.key(1), (64, 2)))
  assert np.isfinite(metrics['d_loss'])


def test_spectral_norm_brings_the_largest_singular_value_to_one():
  module = MLPDiscriminator(hidden=(32, 16), spectral_norm=True)
  x = jax.random.normal(jax.random.key(0), (8, 4))
  variables = module.init(jax.random.key(1), x, train=False)
  params = jax.tree.map(lambda w: 3.0 * w, variables['params'])  # singular values far from 1
  stats = variables['batch_stats']
  for _ in range(30):  # one power iteration per training call
    _, updates = module.apply({'params': params, 'batch_stats': stats}, x, train=True, mutable=['batch_stats'])
    stats = updates['batch_stats']
  for layer, kernel in [(name, p['kernel']) for name, p in params.items()]:
    sigma = next(v for k, v in stats['SpectralNorm_' + layer.split('_')[1]].items() if k.endswith('sigma'))
    largest = np.linalg.svd(np.asarray(kernel / sigma), compute_uv=False)[0]
    assert abs(largest - 1) < 0.02, (layer, largest)
    assert np.linalg.svd(np.asarray(kernel), compute_uv=False)[0] > 1.5  # the raw weights are not


def test_spectral_norm_state_is_carried_in_the_train_state():
  config = dataclasses.replace(TOY, model=dataclasses.replace(TOY.model, spectral_norm=True))
  source = make_source(config.data, 0)
  state = create_state(config, jax.random.key(0), (1,))
  u_before = jax.tree.map(np.asarray, state.discriminator.batch_stats)
  assert u_before, 'the power-iteration vectors live in the state'
  state, _ = step_lib.train_steps(state, jnp.asarray(source.batches(0, 5, 64)))
  changed = jax.tree.map(lambda a, b: not np.allclose(np.asarray(a), b), state.discriminator.batch_stats, u_before)
  assert any(jax.tree.leaves(changed))


def test_config_refuses_what_does_not_fit():
  from jaxgan.config import ConfigError, validate

  def game(**changes):
    return dataclasses.replace(TOY, game=dataclasses.replace(TOY.game, **changes))

  with pytest.raises(ConfigError, match='game.label_smoothing needs an objective with labels'):
    validate(game(objective='hinge', label_smoothing=0.1))
  with pytest.raises(ConfigError, match='must be a multiple of game.pack=3'):
    validate(game(pack=3))
  with pytest.raises(ConfigError, match='game.pack > 1 does not fit the 1-D theory check'):
    validate(game(pack=2))
  with pytest.raises(ConfigError, match='DiffAugment\\) needs images'):
    create_state(game(augment=('color',)), jax.random.key(0), (1,))


def test_resume_is_bitwise_exact_with_every_stateful_switch(tmp_path):
  """Spectral-norm vectors, DiffAugment and instance-noise draws, the lazy penalty's rounds, ADA's p and counts,
  LeCam's EMAs and bCR's draws: all resume exactly."""
  from jaxgan import train
  from jaxgan.run.runs import load as load_run

  config = dataclasses.replace(
    DIGITS,
    model=dataclasses.replace(DIGITS.model, spectral_norm=True),
    optim=dataclasses.replace(DIGITS.optim, schedule='constant'),  # so that the first part may plan fewer steps
    game=dataclasses.replace(
      DIGITS.game,
      augment=('color', 'translation', 'cutout'),
      instance_noise=0.05,
      penalty='r1',
      penalty_every=3,
      ada_target=0.6,
      ada_kimg=1.0,
      ada_interval=2,
      lecam_weight=0.3,
      consistency_weight=10.0,
    ),
    train=TrainConfig(steps=14, batch_size=16, log_every=7, checkpoint_every=7, scan=False),
  )
  train(config, tmp_path / 'whole', progress=False)
  first_part = dataclasses.replace(config, train=dataclasses.replace(config.train, steps=7))
  train(first_part, tmp_path / 'parts', progress=False)
  train(config, tmp_path / 'parts', progress=False)
  (_, whole), (_, parts) = load_run(tmp_path / 'whole'), load_run(tmp_path / 'parts')
  assert int(parts.step) == 14 and float(whole.trackers['ada_p']) > 0  # p moved, and was carried over the stop
  leaves = [jax.tree.leaves(s.replace(key=jax.random.key_data(s.key))) for s in (whole, parts)]
  for a, b in zip(*leaves, strict=True):
    np.testing.assert_array_equal(a, b)

"""The ramps of R3GAN's and StyleGAN2-ADA's recipes: beta2, the penalty weight, ADA's p and the EMA's half-life,
against the releases' own formulas (written out below in numpy and torch), in training, resumed and in
populations."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from checks import assert_members_equal_runs_alone, assert_stopped_run_resumes_bitwise
from jaxgan import config as config_lib
from jaxgan.data import make_source
from jaxgan.game import step as step_lib
from jaxgan.game.state import cosine_ramp, create_state, ema_decay, learning_rate, schedules
from jaxgan.run import opening
from jaxgan.run.workdir import RunError

TINY = ['model.g_width=8', 'model.d_width=8', 'train.batch_size=16', 'eval.metrics=()', 'train.steps=20']
RAMPS = ['optim.b1=0', 'optim.b2=0.9', 'optim.b2_final=0.99', 'game.penalty=r1', 'game.penalty_weight=0.5']
RAMPS += ['game.penalty_final_fraction=0.1', 'game.ada_p=0.5', 'game.ada_p_rampup=true', 'game.ema_decay=0.9']
RAMPS += ['game.ema_rampup=cosine']


def r3gan_schedule(cur_nimg: float, base_value: float, final_value: float, total_nimg: float) -> float:
  """R3GAN's cosine_decay_with_warmup (training/training_loop.py) without its warmup and hold."""
  decay = 0.5 * (1 + np.cos(np.pi * cur_nimg / total_nimg))
  return float(final_value if cur_nimg > total_nimg else base_value + (1 - decay) * (final_value - base_value))


@pytest.mark.parametrize('start, end', [(0.05, 0.005), (0.9, 0.99), (0.0, 0.55)])
def test_cosine_ramp_is_r3gans_schedule(start, end):
  batch, steps = 512, 40
  for step in [0, 1, 7, 20, 39, 40, 41, 100]:
    want = r3gan_schedule(step * batch, start, end, steps * batch)
    np.testing.assert_allclose(float(cosine_ramp(start, end, step, steps)), want, rtol=1e-6, atol=1e-9)
  # The learning rate's cosine (optax's, with final_lr_fraction) is the same curve.
  for step in [0, 13, 40]:
    rate = learning_rate('cosine', 2e-4, 0.25, steps, step)
    np.testing.assert_allclose(float(rate), r3gan_schedule(step, 2e-4, 5e-5, steps), rtol=1e-6)


def test_ema_rampups_are_the_releases():
  """StyleGAN2-ADA: ema_nimg = min(ema_kimg * 1000, cur_nimg * ema_rampup), beta = 0.5 ** (batch / ema_nimg);
  R3GAN: ema_nimg on its cosine from 0, the same beta (0 where ema_nimg is 0). Counted here in images."""
  batch, half_life, steps = 64, 500_000, 100_000
  decay = 0.5 ** (batch / half_life)
  for step in [0, 1, 10, 1000, 50_000, 99_999, 200_000]:
    nimg = step * batch
    stylegan = 0.5 ** (batch / max(min(half_life, nimg * 0.05), 1e-8))
    r3gan = 0.5 ** (batch / max(r3gan_schedule(nimg, 0, half_life, steps * batch), 1e-8))
    # The state holds the decay in float32, which fixes the half-life to a few parts in 10^4 (1 - decay ~ 1e-4).
    np.testing.assert_allclose(float(ema_decay(decay, 'linear', step, steps)), stylegan, rtol=1e-3, atol=1e-30)
    np.testing.assert_allclose(float(ema_decay(decay, 'cosine', step, steps)), r3gan, rtol=1e-3, atol=1e-30)
  assert float(ema_decay(decay, 'none', 0, steps)) == np.float32(decay)
  assert float(ema_decay(0.0, 'cosine', 10, steps)) == 0.0  # a decay of 0 stays 0 (no NaN from its half-life)


def test_adam_with_a_ramped_beta2_is_torchs_with_its_betas_set_each_step():
  """As R3GAN's loop does: torch's Adam with param_group['betas'] = (0, beta2(t)) before each step. The player
  keeps its own b2, the ramp's start."""
  config = config_lib.get_config('gaussian1d', *RAMPS[:3], 'optim.schedule=cosine', 'train.steps=5')
  state = create_state(config, jax.random.key(0), (1,))
  player = state.generator
  params = [torch.tensor(np.asarray(p), requires_grad=True) for p in jax.tree.leaves(player.params)]
  adam = torch.optim.Adam(params, lr=1.0, betas=(0.0, 0.9), eps=1e-8)
  rng = np.random.default_rng(0)
  for t in range(5):
    grads = jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape), jnp.float32), player.params)
    scheduled = step_lib._scheduled(state.replace(generator=player), 'g', jnp.int32(t))
    np.testing.assert_allclose(float(scheduled['b2']), r3gan_schedule(t, 0.9, 0.99, 5), rtol=1e-6)
    assert float(scheduled['b2']) == pytest.approx(schedules(config, t)['b2'], rel=1e-6)  # what metrics log
    player = player.apply_gradients(grads, player.batch_stats, scheduled)
    for group in adam.param_groups:
      group['lr'], group['betas'] = float(scheduled['learning_rate']), (0.0, float(scheduled['b2']))
    for p, g in zip(params, jax.tree.leaves(grads), strict=True):
      p.grad = torch.from_numpy(np.array(g))
    adam.step()
  for got, want in zip(jax.tree.leaves(player.params), params, strict=True):
    np.testing.assert_allclose(np.asarray(got), want.detach().numpy(), rtol=1e-5, atol=1e-6)
  assert float(player.opt_state.hyperparams['b2']) == np.float32(0.9)


def digits_state(*assignments: str):
  config = config_lib.get_config('digits', *TINY, *assignments)
  batches = jnp.asarray(make_source(config.data, 0).batches(0, config.train.steps, 16))
  return config, create_state(config, jax.random.key(0), (8, 8, 1)), batches


def test_penalty_weight_follows_its_ramp():
  """One round from the same state at step t, with and without the ramp: the penalty terms' ratio is the ramp's
  factor (the R1 value itself is the same)."""
  for t in [0, 5, 19]:
    penalties = []
    for fraction in [1.0, 0.1]:
      _, state, batches = digits_state('game.penalty=r1', f'game.penalty_final_fraction={fraction}')
      _, metrics = step_lib.train_step(state.replace(step=jnp.int32(t)), batches[t])
      penalties.append(float(metrics['d_penalty']))
    np.testing.assert_allclose(penalties[1] / penalties[0], r3gan_schedule(t, 1.0, 0.1, 20), rtol=1e-4)


def test_a_run_with_every_ramp_follows_them():
  """20 rounds: ADA's p after each round on its ramp from 0; the EMA equal to G after round 0 (half-life 0) and
  lagging it after; b2's start kept in both players."""
  config, state, batches = digits_state(*RAMPS)
  state, _ = step_lib.train_step(state, batches[0])
  for ema, g in zip(jax.tree.leaves(state.ema_params), jax.tree.leaves(state.generator.params), strict=True):
    np.testing.assert_array_equal(ema, g)
  state, metrics = step_lib.train_steps(state, batches[1:])
  want_p = [r3gan_schedule(t + 1, 0.0, 0.5, 20) for t in range(1, 20)]
  np.testing.assert_allclose(np.asarray(metrics['ada_p']), want_p, rtol=1e-5, atol=1e-7)
  assert np.all(np.isfinite(np.asarray(metrics['d_loss'])))
  ema, g = jax.tree.leaves(state.ema_params), jax.tree.leaves(state.generator.params)
  assert max(float(jnp.abs(a - b).max()) for a, b in zip(ema, g, strict=True)) > 0
  for player in (state.generator, state.discriminator):
    assert float(player.opt_state.hyperparams['b2']) == np.float32(0.9)
  logged = schedules(config, 10)
  assert set(logged) == {'g_lr', 'd_lr', 'b2', 'penalty_weight', 'ema_decay'}
  np.testing.assert_allclose(logged['penalty_weight'], 0.5 * r3gan_schedule(10, 1.0, 0.1, 20), rtol=1e-6)


@pytest.mark.slow  # CI: test_family's resume and the population below
def test_a_stopped_run_with_every_ramp_resumes_bitwise(tmp_path):
  assert_stopped_run_resumes_bitwise(config_lib.get_config('digits', *TINY, *RAMPS), tmp_path, 20, 5)


@pytest.mark.slow  # CI: the ramps' resume-free run above, and test_family's and test_regularisers' populations
def test_a_population_member_with_ramps_equals_its_run_alone():
  """Members differing in b2 (the ramp's start), the penalty weight and the EMA decay, all ramped."""
  configs = [
    config_lib.get_config('digits', *TINY, *RAMPS, f'optim.b2={b2}', f'game.penalty_weight={w}', f'game.ema_decay={e}')
    for b2, w, e in [(0.9, 0.5, 0.9), (0.95, 0.2, 0.99)]
  ]
  batches = jnp.asarray(make_source(configs[0].data, 0).batches(0, 4, 16))
  assert_members_equal_runs_alone(configs, batches, (8, 8, 1))


@pytest.mark.parametrize(
  'assignments, message',
  [
    (['game.ada_p_rampup=true'], 'game.ada_p_rampup raises p from 0 to game.ada_p > 0'),
    (['game.ada_p=0.5', 'game.ada_p_rampup=true', 'game.ada_target=0.6'], 'which an adaptive p'),
    (['optim.b2_final=1.5'], r'optim.b2_final must be in \[0, 1\)'),
    (['optim.optimizer=sgd', 'optim.b2_final=0.99'], 'optim.optimizer=sgd has none'),
    (['game.penalty_final_fraction=-1'], 'game.penalty_final_fraction must be 0 or more'),
  ],
)
def test_bad_ramps_are_one_line_errors(assignments, message):
  with pytest.raises(config_lib.ConfigError, match=message):
    config_lib.get_config('digits', *assignments)


def test_more_steps_re_plan_a_ramped_run_only_with_extend(tmp_path):
  """The ramps span train.steps as a decaying learning rate does: another count needs --extend."""
  constant = ['optim.schedule=constant']
  saved = config_lib.get_config('digits', *TINY, *constant, 'game.ema_rampup=cosine', 'optim.b2_final=0.99')
  config = dataclasses.replace(saved, train=dataclasses.replace(saved.train, steps=40))
  with pytest.raises(RunError, match=r'ramps of optim.b2_final, game.ema_rampup over them; --steps 40 would re-plan'):
    opening._check_plan(saved, config, 20, False, tmp_path)
  assert 'the schedules now span 40' in opening._check_plan(saved, config, 20, True, tmp_path)
  linear = config_lib.get_config(
    'digits', *TINY, *constant, 'game.ema_rampup=linear'
  )  # over the rounds seen, not the plan
  assert opening._check_plan(linear, dataclasses.replace(linear, train=config.train), 20, False, tmp_path)

"""Populations: many GANs as one vmapped program, each member what it would be alone."""

import csv
import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgan
from jaxgan import config as config_lib
from jaxgan.data import make_source
from jaxgan.game import step as step_lib
from jaxgan.game.state import create_population, create_state
from jaxgan.game.state import member as member_of
from jaxgan.run import population
from jaxgan.run.checkpoint import Checkpointer
from test_step import TOY

# The 1-D game, small: 40 steps, a checkpoint every 20, one panel with a short D* fit.
SMALL = [
  'train.steps=40',
  'train.log_every=20',
  'train.checkpoint_every=20',
  'train.batch_size=64',
  'eval.panel_fractions=[1.0]',
  'eval.num_samples=2000',
  'eval.grid_size=64',
  'eval.dstar_steps=20',
  'eval.dstar_batch_size=256',
]
MEMBERS = jaxgan.product(train__seed=[0, 1], optim__g_lr=[1e-3, 3e-4])


def small(*extra: str) -> config_lib.Config:
  config = config_lib.load('gaussian1d')
  for assignment in [*SMALL, *extra]:
    config = config_lib.override(config, assignment)
  return config


def _member_configs(config, members):
  return population.member_configs(config, members)


def test_product_and_command_line_members():
  assert MEMBERS == [
    {'train.seed': 0, 'optim.g_lr': 1e-3},
    {'train.seed': 0, 'optim.g_lr': 3e-4},
    {'train.seed': 1, 'optim.g_lr': 1e-3},
    {'train.seed': 1, 'optim.g_lr': 3e-4},
  ]
  parsed = population.parse_sweeps(['train.seed=0,1', 'optim.g_lr=1e-3,3e-4'])
  configs = _member_configs(small(), parsed)
  assert [(c.train.seed, c.optim.g_lr) for c in configs] == [(0, 1e-3), (0, 3e-4), (1, 1e-3), (1, 3e-4)]
  with pytest.raises(jaxgan.ConfigError, match='is not of the form section.key=V1,V2'):
    population.parse_sweeps(['train.seed'])
  with pytest.raises(jaxgan.ConfigError, match='train.seed is given twice'):
    population.parse_sweeps(['train.seed=0', 'train.seed=1'])


def test_two_members_of_the_same_config_are_refused():
  with pytest.raises(jaxgan.ConfigError, match=r'members 0 and 2 are the same run \(train.seed=1, optim.g_lr=0.001\)'):
    _member_configs(
      small(), [{'train.seed': 1, 'optim.g_lr': 1e-3}, {'train.seed': 2}, {'train.seed': 1, 'optim.g_lr': 0.001}]
    )
  with pytest.raises(jaxgan.ConfigError, match='members 0 and 1 are the same run'):
    _member_configs(small(), [{'optim.g_lr': 3e-4}, {'optim.g_lr': '3e-4'}])  # text as the command line gives it


@pytest.mark.parametrize('key', ['model.g_hidden', 'game.objective', 'game.d_steps', 'data.resolution'])
def test_a_key_that_changes_the_program_is_refused(key, tmp_path):
  value = {'model.g_hidden': (8,), 'game.objective': 'minimax', 'game.d_steps': 2, 'data.resolution': 16}[key]
  with pytest.raises(jaxgan.ConfigError, match=rf'^{key} cannot vary within one sweep: .*run one sweep per value'):
    jaxgan.sweep(small(), [{key: value}], tmp_path / 'sweep')
  assert not (tmp_path / 'sweep').exists()


def test_a_member_out_of_range_is_refused(tmp_path):
  with pytest.raises(jaxgan.ConfigError, match='game.ema_decay must be in'):
    jaxgan.sweep(small(), [{'game.ema_decay': 1.5}], tmp_path / 'sweep')
  with pytest.raises(jaxgan.ConfigError, match='at least one member'):
    jaxgan.sweep(small(), [], tmp_path / 'sweep')


def test_each_member_equals_its_run_alone():
  """The vmapped step against the step alone, member by member: equal to float32 rounding (1e-5 after 50 steps;
  the game amplifies rounding later on)."""
  varied = [
    {'optim.g_lr': 5e-3, 'game.ema_decay': 0.999, 'optim.b1': 0.5},
    {'optim.g_lr': 1e-3, 'game.ema_decay': 0.9, 'optim.b1': 0.0},
    {'optim.d_lr': 2e-3, 'game.ema_decay': 0.0, 'optim.b2': 0.99, 'optim.final_lr_fraction': 0.5},
  ]
  configs = _member_configs(TOY, varied)
  keys = jnp.stack([jax.random.key(i) for i in range(3)])
  batches = jnp.asarray(make_source(TOY.data, 0).batches(0, 50, 64))
  pop, pop_metrics = step_lib.train_steps(create_population(configs, keys, (1,)), batches)
  for i, c in enumerate(configs):
    alone, metrics = step_lib.train_steps(create_state(c, jax.random.key(i), (1,)), batches)
    np.testing.assert_allclose(pop_metrics['d_loss'][:, i], metrics['d_loss'], atol=1e-5)
    member = member_of(pop, i)
    for a, b in zip(
      jax.tree.leaves((member.generator.params, member.ema_params)),
      jax.tree.leaves((alone.generator.params, alone.ema_params)),
      strict=True,
    ):
      np.testing.assert_allclose(a, b, atol=1e-5)
    assert float(member.hparams['ema_decay']) == np.float32(c.game.ema_decay)


def test_a_lazy_penalty_stays_a_branch_of_the_population_program():
  """The members share their step, so a penalty due every k rounds stays a lax.cond of the vmapped program (a
  batched predicate would compute it every round); the members still equal their runs alone."""
  config = dataclasses.replace(TOY, game=dataclasses.replace(TOY.game, penalty='r1', penalty_every=2))
  configs = _member_configs(config, [{'optim.g_lr': 1e-3, 'game.penalty_weight': 1.0}, {'optim.g_lr': 2e-3}])
  keys = jnp.stack([jax.random.key(0), jax.random.key(1)])
  batches = jnp.asarray(make_source(TOY.data, 0).batches(0, 6, 64))
  population = create_population(configs, keys, (1,))
  program = jax.jit(step_lib._population_round).lower(population, (batches[0], None)).as_text()
  assert program.count('stablehlo.case') == 2  # the penalty's branch and its gradient's (0 under a batched one)
  population, metrics = step_lib.train_steps(population, batches)
  assert np.all(metrics['d_penalty'][1::2] == 0) and np.all(metrics['d_penalty'][::2] > 0)  # rounds 0, 2, 4
  for i, c in enumerate(configs):
    alone, _ = step_lib.train_steps(create_state(c, jax.random.key(i), (1,)), batches)
    for a, b in zip(_leaves(member_of(population, i)), _leaves(alone), strict=True):
      np.testing.assert_allclose(a, b, atol=1e-5)


def test_members_batches_own_or_shared():
  """Each member's own batches [M, B, ...] with equal rows give what one shared batch gives (to rounding)."""
  configs = _member_configs(TOY, [{'optim.g_lr': 1e-3}, {'optim.g_lr': 2e-3}])
  keys = jnp.stack([jax.random.key(0), jax.random.key(1)])
  batch = jnp.asarray(make_source(TOY.data, 0).batches(0, 1, 64)[0])
  shared, _ = step_lib.train_step(create_population(configs, keys, (1,)), batch)
  own, _ = step_lib.train_step(create_population(configs, keys, (1,)), jnp.stack([batch, batch]))
  for a, b in zip(_leaves(shared), _leaves(own), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)  # one program broadcasts, the other batches


def _population(workdir, config, members):
  configs = _member_configs(config, members)
  keys = jnp.stack([jax.random.split(jax.random.key(c.train.seed))[0] for c in configs])
  target = create_population(configs, keys, (1,))
  state, _ = Checkpointer(workdir / 'checkpoints', read_only=True).restore_latest(target)
  return state


def _leaves(state):
  return [
    np.asarray(jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x)
    for x in jax.tree.leaves(state)
  ]


def test_sweep_writes_ranked_members_and_resumes_exactly(tmp_path):
  config = small('optim.schedule=constant', 'eval.member_figures=2')
  summary = jaxgan.sweep(config, MEMBERS, tmp_path / 'whole', progress=False)
  workdir = tmp_path / 'whole'
  # Ranked by JS, best first; each member's folder, metrics rows, pictures.
  results = list(csv.DictReader(open(workdir / 'results.csv')))
  js = [float(r['js_divergence']) for r in results]
  assert js == sorted(js) and [int(r['rank']) for r in results] == [1, 2, 3, 4]
  assert sorted(int(r['member']) for r in results) == [0, 1, 2, 3]
  assert [row['member'] for row in summary['results']] == [int(r['member']) for r in results]
  assert json.loads((workdir / 'members.json').read_text()) == MEMBERS
  rows = [json.loads(line) for line in (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert sorted({(r['step'], r['member']) for r in rows}) == [(s, m) for s in (20, 40) for m in range(4)]
  best = [int(r['member']) for r in results[:2]]  # eval.member_figures=2: the best two drawn, members.png all
  for i in range(4):
    folder = workdir / 'members' / f'{i:03d}'
    member = json.loads((folder / 'summary.json').read_text())
    assert member['member'] == i and member['train.seed'] == MEMBERS[i]['train.seed']
    assert (folder / 'panels.npz').exists()
    for picture in ('panels.png', 'curves.png', 'losses.png'):
      assert (folder / picture).exists() == (i in best), (i, picture)
  assert (workdir / 'members.png').exists()
  # Stopped after 20 steps and resumed: the same population, bit for bit.
  parts = small('optim.schedule=constant', 'eval.member_figures=2', 'train.steps=20')
  jaxgan.sweep(parts, MEMBERS, tmp_path / 'parts', progress=False)
  resumed = jaxgan.sweep(config, MEMBERS, tmp_path / 'parts', progress=False)
  assert [m['js_divergence'] for m in resumed['members']] == [m['js_divergence'] for m in summary['members']]
  for a, b in zip(
    _leaves(_population(workdir, config, MEMBERS)),
    _leaves(_population(tmp_path / 'parts', config, MEMBERS)),
    strict=True,
  ):
    np.testing.assert_array_equal(a, b)
  # Resuming with other members is refused, and so is a single run on a sweep's workdir.
  with pytest.raises(jaxgan.RunError, match='holds a sweep of other members'):
    jaxgan.sweep(config, MEMBERS[:2], workdir, progress=False)
  with pytest.raises(jaxgan.RunError, match='holds a sweep of 4 members'):
    jaxgan.train(config, workdir, progress=False)


def test_a_diverged_member_does_not_stop_the_others(tmp_path):
  config = small('eval.dstar_steps=0')  # panels without the theorem's check (a D fitted to D*)
  summary = jaxgan.sweep(config, [{'optim.d_lr': 1e-3}, {'optim.d_lr': 1e30}], tmp_path / 'sweep', progress=False)
  first, second = summary['members']
  assert 'diverged_at_step' not in first and np.isfinite(first['js_divergence'])
  assert 'mean_abs_d_minus_dstar' not in first and (tmp_path / 'sweep' / 'members' / '000' / 'panels.png').exists()
  assert second['diverged_at_step'] >= 1
  assert summary['results'][-1]['member'] == 1  # ranked last


def test_command_line_sweep(tmp_path):
  from jaxgan import cli

  workdir = tmp_path / 'sweep'
  args = ['--config', 'gaussian1d', '--workdir', str(workdir), *(f'--set={a}' for a in SMALL)]
  assert cli.train_main([*args, '--sweep', 'train.seed=0,1', '--sweep', 'game.ema_decay=0.9,0.99']) == 0
  assert len(list(csv.DictReader(open(workdir / 'results.csv')))) == 4
  assert cli.train_main([*args, '--sweep', 'model.g_hidden=8,16']) == 2
  # Sampling a member: its config and state as jaxgan.load gives them, and the same samples from the CLI.
  member_config, state = jaxgan.load(workdir, member=3)
  assert (member_config.train.seed, member_config.game.ema_decay) == (1, 0.99)
  population_config, population_state = jaxgan.load(workdir)
  assert population_state.step.shape == (4,) and population_config.train.steps == 40
  assert (
    cli.sample_main(['--workdir', str(workdir), '--member', '3', '--num', '9', '--out', str(tmp_path / 's.npz')]) == 0
  )
  np.testing.assert_array_equal(np.load(tmp_path / 's.npz')['samples'], jaxgan.sample(state, 9))
  np.testing.assert_array_equal(jaxgan.sample(population_state, 9, member=3), jaxgan.sample(state, 9))
  assert cli.sample_main(['--workdir', str(workdir), '--num', '9', '--out', str(tmp_path / 's.npz')]) == 1
  with pytest.raises(jaxgan.RunError, match='holds a sweep of 4 members; give a member in 0..3'):
    jaxgan.load(workdir, member=4)


def test_a_sweep_compiles_its_programs_once_whatever_its_size_and_a_second_one_reads_them_all(tmp_path, monkeypatch):
  """jaxgan-train's sweeps as whole processes, with their own compilation cache: 3 members compile as many programs
  as 2 (none per member), and a second sweep of the same shapes (other seeds) compiles none of them."""
  monkeypatch.delenv('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS')  # jaxgan-train's own threshold, not the tests'

  def programs(seeds: str, cache: str) -> dict:
    workdir = tmp_path / f'seeds-{seeds}'
    command = ['--config', 'gaussian1d', '--workdir', str(workdir), *(f'--set={a}' for a in SMALL)]
    env = {**os.environ, 'JAXGAN_COMPILATION_CACHE': str(tmp_path / cache)}
    done = subprocess.run(
      [sys.executable, '-m', 'jaxgan.cli', *command, '--sweep', f'train.seed={seeds}'], capture_output=True, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    timings = json.loads((workdir / 'timings.json').read_text())
    return {k: timings[k] for k in ('programs_compiled', 'programs_from_cache')}

  two, three = programs('0,1', 'cache-a'), programs('2,3,4', 'cache-b')
  assert two == three and two['programs_from_cache'] == 0 and two['programs_compiled'] > 10
  assert programs('5,6,7', 'cache-b') == {'programs_compiled': 0, 'programs_from_cache': three['programs_compiled']}


@pytest.mark.skipif(os.name != 'posix', reason='fake devices in a subprocess')
def test_members_split_over_eight_devices(tmp_path):
  """8 fake CPU devices: a population of 4 on a (members 4, data 2) mesh, each leaf split along the members, the
  same training as on one device; and jaxgan.sweep's loop on that mesh, the same as on one device."""
  script = textwrap.dedent(
    f"""
    import sys, jax, jax.numpy as jnp, numpy as np
    sys.path.insert(0, {str(os.path.dirname(__file__))!r})
    from test_step import TOY
    from jaxgan.data import parallel
    from jaxgan.run import population
    from jaxgan.game import step
    from jaxgan.data import make_source
    from jaxgan.game.state import create_population
    configs = population.member_configs(TOY, [{{'optim.g_lr': lr}} for lr in (1e-3, 2e-3, 3e-3, 4e-3)])
    state = create_population(configs, jnp.stack([jax.random.key(i) for i in range(4)]), (1,))
    batches = np.stack([make_source(TOY.data, i).batches(0, 30, 64) for i in range(4)], axis=1)
    if jax.device_count() > 1:
      mesh = parallel.population_mesh(4)
      assert dict(mesh.shape) == {{'members': 4, 'data': 2}}, mesh.shape
      state = parallel.shard_members(state, mesh)
      batches = parallel.shard_population_batches(batches, mesh, own=True)
    state, metrics = step.train_steps(state, batches)
    leaf = jax.tree.leaves(state.generator.params)[0]
    if jax.device_count() > 1:
      assert leaf.sharding.spec[0] == 'members' and len(leaf.sharding.device_set) == 8, leaf.sharding
    # The training loop: a sweep of 4 members, each member's batch split over the mesh's data axis.
    import jaxgan
    config = jaxgan.get_config('gaussian1d', *{SMALL!r}, eval__panel_fractions=())
    jaxgan.sweep(config, jaxgan.product(train__seed=[0, 1], optim__g_lr=[1e-3, 3e-4]), sys.argv[2], progress=False)
    _, swept = jaxgan.load(sys.argv[2])
    trained = jax.tree.leaves((state.generator.params, swept.generator.params))
    np.savez(sys.argv[1], *[np.asarray(x) for x in trained], d_loss=metrics['d_loss'])
    """
  )
  results = {}
  for devices in (1, 8):
    env = {k: v for k, v in os.environ.items() if not k.startswith('JAX_')}
    env |= {'XLA_FLAGS': f'--xla_force_host_platform_device_count={devices}', 'JAX_PLATFORMS': 'cpu'}
    out = tmp_path / f'{devices}.npz'
    command = [sys.executable, '-c', script, str(out), str(tmp_path / f'sweep{devices}')]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results[devices] = np.load(out)
  for name in results[1].files:
    np.testing.assert_allclose(results[1][name], results[8][name], rtol=2e-4, atol=2e-5, err_msg=name)


@pytest.mark.parametrize('std', [1.0, 4000.0])
def test_members_png_frames_the_real_density_at_any_scale(std):
  import matplotlib

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt

  x = np.linspace(-6 * std, 6 * std, 400)
  density = np.exp(-0.5 * (x / std) ** 2) / (std * np.sqrt(2 * np.pi))  # below 1e-4 everywhere at std 4000
  fig, ax = plt.subplots()
  population._draw_1d(ax, [{'x': x, 'p_real': density, 'p_gen': density, 'd_game': np.full_like(x, 0.5)}])
  low, high = ax.get_xlim()
  plt.close(fig)
  assert -5 * std < low < -3 * std and 3 * std < high < 5 * std

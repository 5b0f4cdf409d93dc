"""Class conditioning end to end: the layers against hand computation, the step's class terms, the labels through
every pipeline, resume and populations, sampling by class, and a conditional run that draws what it is asked."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgan
from checks import leaves
from jaxgan import cli
from jaxgan import config as config_lib
from jaxgan.data import make_source
from jaxgan.data.pipeline import Feed
from jaxgan.game import step as step_lib
from jaxgan.game.state import create_population, create_state, discriminate, generate
from jaxgan.game.state import member as member_of
from jaxgan.models import conditioning
from jaxgan.run.runs import load as load_run

CONDITIONINGS = ['concat', 'projection', 'acgan']
ARCHITECTURES = ['mlp', 'dcgan', 'resnet']
TINY = ['model.g_width=8', 'model.d_width=8', 'train.batch_size=32', 'eval.metrics=()']


def tiny_config(*extra):
  return config_lib.get_config('digits', *TINY, 'model.conditioning=projection', 'model.num_classes=10', *extra)


def test_joined_appends_one_hot_features_and_constant_channels():
  labels = jnp.array([2, 0])
  np.testing.assert_array_equal(conditioning.joined(jnp.ones((2, 1)), labels, 3), [[1, 0, 0, 1], [1, 1, 0, 0]])
  images = conditioning.joined(jnp.zeros((2, 4, 4, 1)), labels, 3)
  assert images.shape == (2, 4, 4, 4)
  np.testing.assert_array_equal(images[1, 3, 2], [0, 1, 0, 0])  # every position holds the class
  assert conditioning.joined(jnp.ones((2, 1)), None, 3).shape == (2, 1)


def test_projection_adds_the_class_embedding_inner_product():
  """D(x, y) = logit + <e_y, phi(x)> (Miyato & Koyama), against the sum written out."""
  module = conditioning.ClassOutput('projection', num_classes=3)
  logits, features, labels = jnp.array([0.5, -1.0]), jnp.array([[1.0, 2.0], [3.0, -1.0]]), jnp.array([2, 0])
  params = module.init(jax.random.key(0), logits, features, labels, False)
  embedding = np.asarray(params['params']['projection']['embedding'])
  want = [0.5 + embedding[2] @ [1.0, 2.0], -1.0 + embedding[0] @ [3.0, -1.0]]
  np.testing.assert_allclose(module.apply(params, logits, features, labels, False), want, rtol=1e-6)


def test_acgan_returns_class_logits_and_the_others_the_logits():
  logits, features, labels = jnp.zeros(2), jnp.ones((2, 5)), jnp.array([1, 2])
  acgan = conditioning.ClassOutput('acgan', num_classes=4)
  out = acgan.apply(acgan.init(jax.random.key(0), logits, features, labels, False), logits, features, labels, False)
  assert out[0].shape == (2,) and out[1].shape == (2, 4)
  concat = conditioning.ClassOutput('concat', num_classes=4)
  assert concat.apply({}, logits, features, labels, False) is logits


def test_conditional_batch_norm_is_batch_norm_scaled_and_shifted_by_the_condition():
  h = jax.random.normal(jax.random.key(0), (4, 2, 2, 3))
  condition = jax.random.normal(jax.random.key(1), (4, 5))
  norm = conditioning.ConditionalBatchNorm()
  variables = norm.init(jax.random.key(2), h, condition, False)
  normalised = (h - h.mean((0, 1, 2))) / jnp.sqrt(h.var((0, 1, 2)) + 1e-5)
  out, _ = norm.apply(variables, h, condition, True, mutable=['batch_stats'])
  np.testing.assert_allclose(out, normalised, atol=1e-5)  # gain 1 and bias 0 at init
  gain, bias = np.full((5, 3), 0.1), np.arange(15.0).reshape(5, 3) / 10
  params = {'gain': {'kernel': gain}, 'bias': {'kernel': bias}}
  out, _ = norm.apply({**variables, 'params': params}, h, condition, True, mutable=['batch_stats'])
  scale, shift = (1 + condition @ gain)[:, None, None], (condition @ bias)[:, None, None]
  np.testing.assert_allclose(out, normalised * scale + shift, atol=1e-5)


def test_the_acgan_step_adds_both_class_cross_entropies():
  """D's class loss metric: CE of its class head on the real labels plus on the classes G drew, computed here
  from D's own outputs on the same batches (an MLP without batch norm, so train mode changes nothing)."""
  config = config_lib.get_config(
    'digits', 'model.architecture=mlp', 'model.conditioning=acgan', 'model.num_classes=10', 'train.batch_size=16'
  )
  state = create_state(config, jax.random.key(0), (8, 8, 1))
  source = make_source(config.data, 0)
  images, labels = source.batches(0, 1, 16)[0], source.labels[source.indices(0, 1, 16)[0]].astype(np.int32)
  d_key, _, _ = step_lib._step_keys(state)
  fake = step_lib._generator_pass(state, jax.random.split(d_key, 1)[0], 16)
  d = state.discriminator

  def class_logits(x, y):
    return d.apply(d.params, d.batch_stats, x, y, train=True)[0][1]

  def cross_entropy(logits, y):
    return -np.mean(np.take_along_axis(np.asarray(jax.nn.log_softmax(logits)), np.asarray(y)[:, None], 1))

  want = cross_entropy(class_logits(images, labels), labels) + cross_entropy(
    class_logits(fake.samples, fake.labels), fake.labels
  )
  _, metrics = step_lib.train_step(state, (jnp.asarray(images), jnp.asarray(labels)))
  np.testing.assert_allclose(metrics['d_class_loss'], want, rtol=1e-5)
  assert 0 <= metrics['d_class_accuracy'] <= 1


def test_the_generator_draws_every_class_uniformly():
  state = create_state(tiny_config(), jax.random.key(0), (8, 8, 1))
  counts = np.bincount(np.asarray(state.sample_labels(jax.random.key(1), 10_000)), minlength=10)
  assert counts.min() > 900 and counts.max() < 1100  # 1000 each, within 3 standard deviations


# Each architecture and each conditioning once by default (each compiles for 20 to 40 s here); all nine with -m slow.
PAIRS = [('mlp', 'concat'), ('dcgan', 'acgan'), ('resnet', 'projection')]
ALL_PAIRS = [
  (a, k) if (a, k) in PAIRS else pytest.param(a, k, marks=pytest.mark.slow)
  for a in ARCHITECTURES
  for k in CONDITIONINGS
]


@pytest.mark.parametrize('architecture,kind', ALL_PAIRS)
def test_every_architecture_and_conditioning_trains_50_steps_at_32x32(architecture, kind):
  """Random 32x32 RGB images with labels: 50 rounds in one scan, every metric finite, the labels used (G's
  samples differ by class)."""
  widths = {'model.g_width': 4, 'model.d_width': 4} if architecture != 'mlp' else {}
  config = config_lib.get_config(
    'digits',
    f'model.architecture={architecture}',
    f'model.conditioning={kind}',
    'model.num_classes=10',
    'model.spectral_norm=true',
    'train.batch_size=8',
    *(f'{k}={v}' for k, v in widths.items()),
  )
  rng = np.random.default_rng(0)
  images = jnp.asarray(rng.integers(0, 256, (50, 8, 32, 32, 3), np.uint8))
  labels = jnp.asarray(rng.integers(0, 10, (50, 8)), jnp.int32)
  state = create_state(config, jax.random.key(0), (32, 32, 3))
  state, metrics = step_lib.train_steps(state, (images, labels))
  assert all(np.all(np.isfinite(v)) for v in metrics.values())
  z = jnp.repeat(state.sample_latent(jax.random.key(1), 1), 2, axis=0)
  two = generate(state, z, jnp.array([0, 1]))
  assert two.shape == (2, 32, 32, 3) and not np.allclose(two[0], two[1])
  assert discriminate(state, two, jnp.array([0, 1])).shape == (2,)


def test_labels_must_come_exactly_where_the_game_is_conditional():
  conditional = create_state(tiny_config(), jax.random.key(0), (8, 8, 1))
  with pytest.raises(ValueError, match=r'class-conditional \(10 classes\): give \(samples, labels\) batches'):
    step_lib.train_step(conditional, jnp.zeros((32, 8, 8, 1)))
  plain = create_state(config_lib.get_config('digits', *TINY), jax.random.key(0), (8, 8, 1))
  with pytest.raises(ValueError, match='not class-conditional'):
    step_lib.train_step(plain, (jnp.zeros((32, 8, 8, 1)), jnp.zeros(32, jnp.int32)))
  with pytest.raises(ValueError, match='give the labels'):
    generate(conditional, conditional.sample_latent(jax.random.key(0), 2))
  with pytest.raises(jaxgan.ConfigError, match='needs model.num_classes'):
    create_state(config_lib.get_config('digits', 'model.conditioning=acgan'), jax.random.key(0), (8, 8, 1))


@pytest.mark.parametrize('pipeline,workers', [('device', 0), ('stream', 0), ('stream', 1)])
def test_labels_reach_the_step_through_every_pipeline(pipeline, workers):
  """The device pool of (images, labels) and the streamed (images, labels) train as host batches do."""
  config = tiny_config(f'data.pipeline={pipeline}', f'data.workers={workers}')
  source = make_source(config.data, 0)
  state, reference = (create_state(config, jax.random.key(0), source.sample_shape) for _ in range(2))
  for t in range(3):
    labels = source.labels[source.indices(t, 1, 32)[0]].astype(np.int32)
    reference, _ = step_lib.train_step(reference, (source.batches(t, 1, 32)[0], labels))
  feed = Feed([source], config.data, 32, None, sweeping=False, labelled=True)
  try:
    batches, pool = feed(0, 3)
    for i in range(3):
      state, _ = step_lib.train_step(state, batches[i], pool)
  finally:
    feed.close()
  for got, want in zip(leaves(state), leaves(reference), strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_conditional_run_on_unlabelled_data_is_one_line(tmp_path, capsys):
  np.savez(tmp_path / 'plain.npz', images=np.zeros((40, 8, 8), np.uint8))
  code = cli.train_main(
    ['--config', 'digits', '--data', str(tmp_path / 'plain.npz'), '--workdir', str(tmp_path / 'run'),
     '--set', 'model.conditioning=projection', '--set', 'eval.metrics=()']
  )  # fmt: skip
  err = capsys.readouterr().err.strip().splitlines()
  assert code != 0 and len(err) == 1
  assert 'has no class labels, which model.conditioning needs' in err[0] and 'model.conditioning=none' in err[0]
  assert not (tmp_path / 'run' / 'config.json').exists()


def test_labels_beyond_num_classes_are_refused(tmp_path):
  with pytest.raises(jaxgan.RunError, match=r'labels in 0..9, not in 0..4: give labels 0..K-1'):
    jaxgan.train(tiny_config('model.num_classes=5', 'train.steps=2'), tmp_path, progress=False)


@pytest.fixture(scope='module')
def conditional_run(tmp_path_factory):
  """A conditional digits run of 40 steps, checkpointed at 20."""
  workdir = tmp_path_factory.mktemp('conditional')
  steps = ['train.steps=40', 'train.log_every=10', 'train.checkpoint_every=20', 'train.sample_every=20']
  config = config_lib.get_config('digits', *TINY, 'model.conditioning=projection', *steps)
  summary = jaxgan.train(config, workdir, progress=False)
  return workdir, config, summary


def test_a_stopped_conditional_run_resumes_bitwise(conditional_run, tmp_path):
  workdir, config, _ = conditional_run
  assert json.loads((workdir / 'config.json').read_text())['model']['num_classes'] == 10  # from the labels
  stopped = jaxgan.train(config_lib.override(config, 'train.max_seconds=0.001'), tmp_path, progress=False)
  assert stopped['step'] < 40
  jaxgan.train(config, tmp_path, progress=False)
  for a, b in zip(leaves(load_run(workdir)[1]), leaves(load_run(tmp_path)[1]), strict=True):
    np.testing.assert_array_equal(a, b)


def test_the_sample_grid_has_one_row_a_class(conditional_run):
  from jaxgan.run.images import read_png

  grid = read_png(conditional_run[0] / 'samples' / 'step_0000040.png')
  # 8x8 digits, 1-pixel gaps, scaled 8x: 10 rows and 8 columns of 8 * 9 + 8 pixels... one row a class.
  assert grid.shape[0] / grid.shape[1] == pytest.approx((10 * 9 + 1) / (8 * 9 + 1), rel=0.02)


def test_sampling_by_class(conditional_run):
  workdir = conditional_run[0]
  sevens = jaxgan.sample(workdir, 4, seed=3, labels=7)
  assert sevens.shape == (4, 8, 8, 1) and sevens.dtype == np.uint8
  np.testing.assert_array_equal(sevens, jaxgan.sample(workdir, 4, seed=3, labels=[7, 7, 7, 7]))
  mixed = jaxgan.sample(workdir, 4, seed=3, labels=[7, 1, 7, 1])
  np.testing.assert_array_equal(mixed[0], sevens[0])  # the same latent, the same class
  assert not np.array_equal(mixed[1], sevens[1])
  np.testing.assert_array_equal(jaxgan.sample(workdir, 3, seed=3), jaxgan.sample(workdir, 3, seed=3, labels=[0, 1, 2]))
  for bad in (10, -1, [1, 2], 'seven', True):
    with pytest.raises(ValueError, match=r'labels must be a class in 0..9 or 4 of them'):
      jaxgan.sample(workdir, 4, labels=bad)


def test_jaxgan_sample_class_writes_one_row_a_class(conditional_run, tmp_path, capsys):
  workdir = conditional_run[0]
  assert (
    cli.sample_main(['--workdir', str(workdir), '--num', '5', '--class', '3', '8', '--out', str(tmp_path / 's.npz')])
    == 0
  )
  with np.load(tmp_path / 's.npz') as saved:
    np.testing.assert_array_equal(saved['labels'], [3] * 5 + [8] * 5)
    np.testing.assert_array_equal(saved['images'][:5], jaxgan.sample(workdir, 5, labels=3))
  assert (
    cli.sample_main(['--workdir', str(workdir), '--num', '5', '--class', '3', '8', '--grid', str(tmp_path / 'g.png')])
    == 0
  )
  capsys.readouterr()
  assert cli.sample_main(['--workdir', str(workdir), '--class', '12', '--out', str(tmp_path / 'x.npz')]) != 0
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and '--class 12: labels must be a class in 0..9' in err[0]
  assert not (tmp_path / 'x.npz').exists()


def test_an_unconditional_run_refuses_labels(tmp_path):
  with pytest.raises(ValueError, match=r'not class-conditional \(model.conditioning=none\); leave out labels'):
    jaxgan.sample(create_state(config_lib.get_config('digits', *TINY), jax.random.key(0), (8, 8, 1)), 2, labels=1)


def test_a_conditional_population_member_equals_its_run_alone():
  configs = [tiny_config(f'optim.g_lr={lr}') for lr in (1e-3, 3e-4)]
  source = make_source(configs[0].data, 0)
  images = jnp.asarray(source.batches(0, 10, 32))
  labels = jnp.asarray(source.labels[source.indices(0, 10, 32)].astype(np.int32))
  keys = jnp.stack([jax.random.key(i) for i in range(2)])
  population, _ = step_lib.train_steps(create_population(configs, keys, (8, 8, 1)), (images, labels))
  for i, config in enumerate(configs):
    alone, _ = step_lib.train_steps(create_state(config, jax.random.key(i), (8, 8, 1)), (images, labels))
    for a, b in zip(leaves(member_of(population, i)), leaves(alone), strict=True):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_conditional_sweep_trains_its_members(tmp_path):
  config = config_lib.get_config('digits', *TINY, 'model.conditioning=acgan', 'train.steps=10', 'train.log_every=5')
  summary = jaxgan.sweep(config, [{'train.seed': 0}, {'train.seed': 1}], tmp_path, progress=False)
  assert len(summary['members']) == 2
  assert (tmp_path / 'members' / '001' / 'samples.png').exists()


def test_class_loss_is_softmax_cross_entropy():
  logits, labels = jnp.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]]), jnp.array([0, 2])
  want = np.mean([-np.log(np.exp(2) / (np.exp(2) + 1 + np.exp(-1))), np.log(3)])
  np.testing.assert_allclose(step_lib._class_loss(logits, labels), want, rtol=1e-6)


def test_the_walk_between_latents_keeps_its_ends_and_a_typical_norm():
  from jaxgan.run.runs import _walk

  start, end = jnp.array([[[3.0, 0.0]]]), jnp.array([[[0.0, 1.0]]])
  t = jnp.linspace(0, 1, 5)[:, None]
  walk = _walk(start, end, t, spherical=True)[0]
  np.testing.assert_allclose(walk[0], [3, 0], atol=1e-5)
  np.testing.assert_allclose(walk[-1], [0, 1], atol=1e-5)
  np.testing.assert_allclose(jnp.linalg.norm(walk, axis=-1), [3, 2.5, 2, 1.5, 1], rtol=1e-5)  # norms in a line
  np.testing.assert_allclose(walk[2] / 2, [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-5)  # half the angle
  np.testing.assert_allclose(_walk(start, end, t, spherical=False)[0, 2], [1.5, 0.5])


def test_interpolation_walks_each_sample_within_its_class(conditional_run, tmp_path):
  workdir = conditional_run[0]
  walks = jaxgan.sample(workdir, 3, seed=2, labels=[4, 5, 6], interpolate=6)
  assert walks.shape == (3, 6, 8, 8, 1)
  assert not np.array_equal(walks[:, 0], walks[:, -1])  # it moves
  np.testing.assert_array_equal(walks[1], jaxgan.sample(workdir, 3, seed=2, labels=5, interpolate=6)[1])
  with pytest.raises(ValueError, match='interpolate must be a number of steps, 2 or more'):
    jaxgan.sample(workdir, 3, interpolate=1)
  common = ['--workdir', str(workdir), '--num', '3', '--interpolate', '6']
  assert cli.sample_main([*common, '--gif', str(tmp_path / 'walk.gif')]) == 0
  from PIL import Image

  with Image.open(tmp_path / 'walk.gif') as gif:
    assert gif.n_frames == 6
  assert cli.sample_main([*common, '--grid', str(tmp_path / 'walk.png')]) == 0
  with pytest.raises(SystemExit):
    cli.sample_main(['--workdir', str(workdir), '--gif', str(tmp_path / 'x.gif')])

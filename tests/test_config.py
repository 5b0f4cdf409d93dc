import json

import pytest

from jaxgan import config as config_lib
from jaxgan.config import Config, ConfigError


def test_override_parses_by_annotation():
  c = Config()
  c = config_lib.override(c, 'optim.g_lr=3e-4')
  c = config_lib.override(c, 'train.steps=7')
  c = config_lib.override(c, 'model.g_hidden=8,16')
  c = config_lib.override(c, 'model.prior=normal')
  c = config_lib.override(c, 'eval.panel_fractions=[0, 0.5]')
  assert (c.optim.g_lr, c.train.steps, c.model.g_hidden, c.model.prior) == (3e-4, 7, (8, 16), 'normal')
  assert c.eval.panel_fractions == (0.0, 0.5)
  assert Config().optim.g_lr != 3e-4  # the original is untouched


@pytest.mark.parametrize(
  'assignment,message',
  [
    ('optim.glr=1', "unknown config key 'optim.glr'; keys in optim: optimizer, g_lr"),
    ('nope.x=1', "unknown config key 'nope.x'; keys in the config: model, data"),
    ('train.steps=1.5', "train.steps expects int, got '1.5'"),
    ('optim.g_lr=fast', "optim.g_lr expects float, got 'fast'"),
    ('model.prior=cauchy', 'model.prior must be one of uniform, normal'),
    ('optim=3', "'optim' is a section; set one of its keys"),
    ('train.steps', 'is not of the form section.key=value'),
    ('train.steps.x=1', "unknown config key 'train.steps.x'"),
  ],
)
def test_bad_overrides(assignment, message):
  with pytest.raises(ConfigError, match=message.replace('(', r'\(').replace('[', r'\[')):
    config_lib.override(Config(), assignment)


@pytest.mark.parametrize(
  'assignment,message',
  [
    ('train.steps=0', 'train.steps must be positive'),
    ('train.batch_size=-1', 'train.batch_size must be positive'),
    ('game.ema_decay=1', r'game.ema_decay must be in \[0, 1\)'),
    ('eval.panel_fractions=0.5,2', 'eval.panel_fractions must be in'),
    ('model.architecture=dcgan', 'model.architecture=dcgan needs image data'),
  ],
)
def test_validate(assignment, message):
  with pytest.raises(ConfigError, match=message):
    config_lib.validate(config_lib.override(Config(), assignment))


def test_json_round_trip():
  c = config_lib.load('gaussian1d')
  assert config_lib.from_dict(Config, json.loads(json.dumps(config_lib.to_dict(c)))) == c
  with pytest.raises(ConfigError, match='unknown config keys'):
    config_lib.from_dict(Config, {'modle': {}})


def test_load_builtin_and_file(tmp_path):
  assert 'gaussian1d' in config_lib.builtin_names()
  assert isinstance(config_lib.load('gaussian1d'), Config)
  with pytest.raises(
    ConfigError,
    match="unknown config 'gaussian2d'; built-in configs: celeba64, cifar10, cifar10_biggan, cifar10_r3gan, "
    'cifar10_stylegan2_ada, digits, digits_conditional, gaussian1d, grid25, mnist, mnist_conditional, ring8',
  ):
    config_lib.load('gaussian2d')
  path = tmp_path / 'mine.py'
  path.write_text('from jaxgan import Config\n\ndef get_config():\n  return Config()\n')
  assert config_lib.load(str(path)) == Config()
  path.write_text('def get_config():\n  return {}\n')
  with pytest.raises(ConfigError, match='must return jaxgan.Config, got dict'):
    config_lib.load(str(path))
  path.write_text('syntax error(')
  with pytest.raises(ConfigError, match='failed to load: SyntaxError'):
    config_lib.load(str(path))
  with pytest.raises(ConfigError, match='does not exist'):
    config_lib.load(str(tmp_path / 'missing.py'))


@pytest.mark.parametrize('name', config_lib.builtin_names())
def test_builtin_configs_build(name):
  """Every recipe validates and its state builds (abstractly) for its data's shape."""
  import jax

  from jaxgan.game.state import create_state

  config = config_lib.load(name)
  if config.model.conditioning != 'none':  # the loop takes it from the data's labels
    config = config_lib.override(config, 'model.num_classes=10')
  if config.model.architecture != 'mlp':
    channels = 3 if name in ('cifar10', 'celeba64') else 1
    resolution = config.data.resolution or 8
    shape = (resolution, resolution, channels)
  else:
    shape = (1,)
  state = jax.eval_shape(lambda: create_state(config, jax.random.key(0), shape))
  assert state.generator.params and state.discriminator.params


@pytest.mark.parametrize(
  'key, message',
  [
    ('train.steps', 'train.steps= has no value; give one, e.g. train.steps=6000$'),
    ('eval.metrics', r'eval.metrics= has no value; give one, e.g. eval.metrics=fid,.*, or eval.metrics=\(\) for none$'),
    ('game.augment', r'game.augment= has no value; give one, e.g. game.augment=\(\)$'),
  ],
)
def test_an_empty_value_is_refused_saying_how_to_give_none(key, message):
  with pytest.raises(config_lib.ConfigError, match=message):
    config_lib.override(config_lib.load('digits'), f'{key}=')
  assert config_lib.override(config_lib.load('digits'), 'eval.metrics=()').eval.metrics == ()

"""The input pipelines (jaxgan.data.pipeline) and the preparation cache (jaxgan.data.prepared)."""

import json

import jax
import numpy as np
import pytest

from checks import leaves
from jaxgan import config as config_lib
from jaxgan import train
from jaxgan.config import DataConfig
from jaxgan.data import make_source
from jaxgan.data import sources as data_lib
from jaxgan.data.pipeline import Feed
from jaxgan.game.state import create_state
from jaxgan.game.step import train_step, train_steps
from jaxgan.run.runs import load as load_run

TINY = ['model.g_width=8', 'model.d_width=8', 'train.batch_size=32', 'game.d_steps=2', 'eval.metrics=()']


def tiny_config(*extra):
  return config_lib.get_config('digits', *TINY, *extra)


@pytest.mark.parametrize('pipeline,workers', [('device', 0), ('stream', 0), ('stream', 1)])
def test_pipelines_train_bitwise_as_host_batches(pipeline, workers):
  """Batches gathered and converted on the device, or streamed as uint8, train exactly as the float batches
  ImageSource.batches makes on the host; in one dispatch (scan) too, for the device pipeline."""
  config = tiny_config(f'data.pipeline={pipeline}', f'data.workers={workers}')
  source = make_source(config.data, 0)
  rows = 64  # batch_size * d_steps
  state, reference = (create_state(config, jax.random.key(0), source.sample_shape) for _ in range(2))
  for t in range(4):
    reference, _ = train_step(reference, source.batches(t, 1, rows)[0])
  feed = Feed([source], config.data, rows, None, sweeping=False)
  assert feed.kind == pipeline
  try:
    batches, pool = feed(0, 2)
    for batch in batches:
      state, _ = train_step(state, batch, pool)
    batches, pool = feed(2, 2)
    assert batches[0].dtype == (np.int32 if pipeline == 'device' else np.uint8)
    state, _ = train_steps(state, jax.numpy.stack(list(batches)), pool)
  finally:
    feed.close()
  for got, want in zip(leaves(state), leaves(reference), strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)  # the last two steps in a scan: XLA fuses anew


def test_device_and_stream_runs_are_bitwise_alike_and_resume_exactly(tmp_path, capsys):
  """jaxgan's loop on the device-resident data, and streamed (chosen by auto under a tiny budget), stopped
  and resumed: the same bits."""
  steps = ['train.steps=40', 'train.log_every=10', 'train.checkpoint_every=20', 'train.sample_every=40']
  resident = train(tiny_config(*steps), tmp_path / 'device', progress=False)
  run = json.loads((tmp_path / 'device' / 'run.json').read_text())
  assert run['data_pipeline'].startswith('data on the device (1797 images 8x8x1')
  streamed = tiny_config(*steps, 'data.device_budget_gb=1e-6', 'data.workers=1')
  stopped = train(config_lib.override(streamed, 'train.max_seconds=0.001'), tmp_path / 'stream', progress=False)
  assert stopped['step'] < 40
  assert 'data streamed by 1 Grain worker processes (1797 images 8x8x1, 0 MiB, over data.device_budget_gb)' in (
    capsys.readouterr().err
  )
  assert train(streamed, tmp_path / 'stream', progress=False)['step'] == 40
  assert resident['d_loss'] == json.loads((tmp_path / 'stream' / 'summary.json').read_text())['d_loss']
  for a, b in zip(leaves(load_run(tmp_path / 'device')[1]), leaves(load_run(tmp_path / 'stream')[1]), strict=True):
    np.testing.assert_array_equal(a, b)


def test_scan_trains_an_image_recipe_from_the_device(tmp_path):
  """train.scan: the host sends a chunk's indices, one dispatch runs its steps; resumed, the same bits."""
  steps = ['train.steps=30', 'train.log_every=10', 'train.checkpoint_every=10', 'train.sample_every=30']
  config = tiny_config(*steps, 'train.scan=True', 'model.architecture=mlp', 'optim.schedule=constant')
  whole = train(config, tmp_path / 'whole', progress=False)
  train(config_lib.override(config, 'train.steps=20'), tmp_path / 'parts', progress=False)
  assert train(config, tmp_path / 'parts', progress=False)['d_loss'] == whole['d_loss']
  for a, b in zip(leaves(load_run(tmp_path / 'whole')[1]), leaves(load_run(tmp_path / 'parts')[1]), strict=True):
    np.testing.assert_array_equal(a, b)


@pytest.fixture
def folder(tmp_path, monkeypatch):
  """A folder of 12 PNGs of 20x30 and its own cache."""
  from PIL import Image

  monkeypatch.setenv('JAXGAN_CACHE', str(tmp_path / 'cache'))
  rng = np.random.default_rng(0)
  images = tmp_path / 'images'
  (images / 'sub').mkdir(parents=True)
  for i in range(12):
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(
      images / ('sub' if i % 2 else '') / f'{i}.png'
    )
  return images


def listing(path):
  return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in path.rglob('*')}


def test_a_folder_is_prepared_once(folder, tmp_path, monkeypatch, capsys):
  before = listing(folder)
  first = make_source(DataConfig(source=str(folder), resolution=16), 0)
  assert f'prepared {folder} (12 images)' in capsys.readouterr().err
  assert isinstance(first.images, np.memmap) and first.images.shape == (12, 16, 16, 3)
  # The first image as the folder read itself gives it (files sorted: 0, 10, 2, ..., sub/1, ...).
  expected = data_lib._decode_file(folder / '0.png', 16, 'RGB')[0]
  np.testing.assert_array_equal(first.images[0], expected)

  def no_decoding(*args, **kwargs):
    raise AssertionError('decoded again')

  with monkeypatch.context() as patch:
    patch.setattr(data_lib, '_decode_file', no_decoding)
    again = make_source(DataConfig(source=str(folder), resolution=16), 0)
  np.testing.assert_array_equal(again.images, first.images)
  assert capsys.readouterr().err == ''
  assert listing(folder) == before  # nothing written beside the user's data
  assert len(list((tmp_path / 'cache' / 'data').glob('*.npy'))) == 1
  # Another resolution, or a changed file, is another entry.
  assert make_source(DataConfig(source=str(folder), resolution=8), 0).sample_shape == (8, 8, 3)
  (folder / '2.png').touch()
  make_source(DataConfig(source=str(folder), resolution=16), 0)
  assert capsys.readouterr().err.count('jaxgan: prepared') == 2


@pytest.mark.parametrize('damage', ['bytes', 'version', 'truncated', 'record'])
def test_a_damaged_cache_entry_is_prepared_again(folder, tmp_path, capsys, damage):
  spec = DataConfig(source=str(folder), resolution=16)
  first = np.array(make_source(spec, 0).images)
  (entry,) = (tmp_path / 'cache' / 'data').glob('*.npy')
  record = entry.with_suffix('.json')
  if damage == 'bytes':
    content = bytearray(entry.read_bytes())
    content[-5] ^= 0xFF
    entry.write_bytes(bytes(content))
  elif damage == 'truncated':
    entry.write_bytes(entry.read_bytes()[:-100])
  elif damage == 'version':
    value = json.loads(record.read_text())
    value['identity']['version'] = 0
    record.write_text(json.dumps(value))
  else:
    record.write_text('{"identity": ')
  capsys.readouterr()
  again = make_source(spec, 0)
  err = capsys.readouterr().err
  assert 'is not usable' in err and 'preparing it again' in err and f'prepared {folder}' in err
  np.testing.assert_array_equal(again.images, first)


def test_tfds_is_prepared_once_with_its_labels(monkeypatch, tmp_path, capsys):
  tfds = pytest.importorskip('tensorflow_datasets')
  monkeypatch.setenv('JAXGAN_CACHE', str(tmp_path))
  with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
    first = make_source(DataConfig(source='tfds:mnist'), 0)
    assert 'prepared tfds:mnist (12 images)' in capsys.readouterr().err
    again = make_source(DataConfig(source='tfds:mnist'), 0)
    assert capsys.readouterr().err == ''
  assert first.labels is not None and first.labels.shape == (12,)
  np.testing.assert_array_equal(again.labels, first.labels)
  np.testing.assert_array_equal(again.images, first.images)

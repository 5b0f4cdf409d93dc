import numpy as np
import pytest

from jaxgan.config import DataConfig
from jaxgan.data import DataError, make_source, subset
from jaxgan.data import sources as data_lib


def source(spec, resolution=0, seed=0):
  return make_source(DataConfig(source=spec, resolution=resolution), seed)


def test_digits():
  s = source('digits')
  assert s.sample_shape == (8, 8, 1) and s.size == 1797
  batches = s.batches(0, 3, 64)
  assert batches.shape == (3, 64, 8, 8, 1) and batches.dtype == np.float32
  assert batches.min() == -1.0 and batches.max() == 1.0
  # The same batches whatever the chunking, and another seed shuffles differently.
  np.testing.assert_array_equal(s.batches(2, 1, 64)[0], batches[2])
  assert not np.array_equal(source('digits', seed=1).batches(0, 1, 64), batches[:1])


def test_each_epoch_is_a_permutation(tmp_path):
  images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1) * 20
  np.savez(tmp_path / 'd.npz', images=images)
  s = source(str(tmp_path / 'd.npz'))
  seen = (s.batches(0, 4, 5)[..., 0, 0, 0] + 1) * 127.5  # 4 batches of 5 = 2 epochs
  for epoch in (seen[:2], seen[2:]):
    assert sorted(np.round(epoch).ravel()) == list(range(0, 200, 20))
  with pytest.raises(DataError, match='larger than the dataset'):
    s.batches(0, 1, 11)


def test_npz_layouts_and_resize(tmp_path):
  rng = np.random.default_rng(0)
  np.savez(tmp_path / 'grey.npz', images=rng.integers(0, 256, (6, 12, 12), dtype=np.uint8), labels=np.arange(6))
  np.savez(tmp_path / 'rgb.npz', images=rng.integers(0, 256, (6, 10, 16, 3), dtype=np.uint8))
  assert source(str(tmp_path / 'grey.npz')).sample_shape == (12, 12, 1)
  assert source(str(tmp_path / 'grey.npz'), resolution=8).sample_shape == (8, 8, 1)
  assert source(str(tmp_path / 'rgb.npz'), resolution=8).sample_shape == (8, 8, 3)  # center crop to 10x10, resize


@pytest.mark.parametrize(
  'images,message',
  [
    (np.zeros((4, 8, 8), np.float32), 'images must be uint8'),
    (np.zeros((4, 8), np.uint8), r'must be \[N, H, W\] or \[N, H, W, C\]'),
    (np.zeros((4, 8, 8, 2), np.uint8), 'C 1 or 3'),
    (np.zeros((0, 8, 8), np.uint8), 'no images'),
  ],
)
def test_bad_npz(tmp_path, images, message):
  np.savez(tmp_path / 'bad.npz', images=images)
  with pytest.raises(DataError, match=message):
    source(str(tmp_path / 'bad.npz'))


def test_unreadable_sources(tmp_path):
  np.savez(tmp_path / 'other.npz', pixels=np.zeros((2, 4, 4), np.uint8))
  with pytest.raises(DataError, match='no array named images'):
    source(str(tmp_path / 'other.npz'))
  (tmp_path / 'corrupt.npz').write_bytes(b'PK\x03\x04 not a zip')
  with pytest.raises(DataError, match=r'not a .npz file \(not a readable zip archive\)'):
    source(str(tmp_path / 'corrupt.npz'))
  with pytest.raises(DataError, match='no such file'):
    source(str(tmp_path / 'missing.npz'))
  with pytest.raises(DataError, match='unknown data source'):
    source('mnist-please')
  (tmp_path / 'empty').mkdir()
  with pytest.raises(DataError, match='no PNG or JPEG files'):
    source(str(tmp_path / 'empty'))


def test_image_folder(tmp_path):
  from PIL import Image

  rng = np.random.default_rng(0)
  for i in range(5):
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(tmp_path / f'{i}.png')
  Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / 'sub.jpg')
  with pytest.raises(DataError, match='different sizes'):
    source(str(tmp_path))
  s = source(str(tmp_path), resolution=16)
  assert s.sample_shape == (16, 16, 3) and s.size == 6
  (tmp_path / 'broken.png').write_bytes(b'\x89PNG nope')
  with pytest.raises(DataError, match='broken.png: not a readable image'):
    source(str(tmp_path), resolution=16)


def test_a_folder_of_sixteen_bit_grey_images_is_scaled_to_eight_bits(tmp_path):
  from PIL import Image

  levels = np.array([[0, 257, 30000], [60000, 65535, 128], [12850, 40000, 1000]], np.uint16)
  Image.fromarray(levels).save(tmp_path / 'deep.png')  # Pillow reads it back as mode I;16
  images = source(str(tmp_path)).images
  assert images.shape == (1, 3, 3, 1)
  np.testing.assert_array_equal(images[0, :, :, 0], np.round(levels / 257).astype(np.uint8))  # 65535 -> 255


def test_tfds_through_its_mock():
  tfds = pytest.importorskip('tensorflow_datasets')
  with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
    s = source('tfds:mnist')
    assert s.sample_shape == (28, 28, 1) and s.size == 12
    batch = s.batches(0, 2, 6)
    assert batch.shape == (2, 6, 28, 28, 1) and -1 <= batch.min() <= batch.max() <= 1
    assert source('tfds:cifar10:test', resolution=16).sample_shape == (16, 16, 3)
    images, labels = subset(s, 5)  # what the domain classifier trains on
    assert images.shape == (5, 28, 28, 1) and labels.shape == (5,) and labels.dtype == np.int64
    assert np.all((0 <= labels) & (labels < 10))


def test_labels_travel_with_their_images(tmp_path):
  images = np.arange(6, dtype=np.uint8)[:, None, None].repeat(4, 1).repeat(4, 2)  # image i is all i
  np.savez(tmp_path / 'labelled.npz', images=images, labels=np.arange(6) % 3)
  chosen, labels = subset(source(str(tmp_path / 'labelled.npz')), 4, seed=1)
  np.testing.assert_array_equal(labels, chosen[:, 0, 0, 0] % 3)
  np.savez(tmp_path / 'unlabelled.npz', images=images)
  assert subset(source(str(tmp_path / 'unlabelled.npz')), 4)[1] is None
  np.savez(tmp_path / 'short.npz', images=images, labels=np.arange(5))
  with pytest.raises(DataError, match=r'labels must be integers \[6\], one per image'):
    source(str(tmp_path / 'short.npz'))
  digits, digit_labels = subset(source('digits'), 1797)
  assert digits.shape == (1797, 8, 8, 1) and np.bincount(digit_labels).tolist()[:2] == [178, 182]


def test_tfds_failure_is_one_line_with_the_way_out(monkeypatch):
  tfds = pytest.importorskip('tensorflow_datasets')

  def offline(*args, **kwargs):
    raise ConnectionError('Failed to establish a new connection\nmore detail')

  monkeypatch.setattr(tfds, 'data_source', offline)
  monkeypatch.setattr(data_lib, '_online', lambda: True)  # a download that fails
  with pytest.raises(DataError) as error:
    source('tfds:mnist')
  message = str(error.value)
  assert '\n' not in message and 'Failed to establish a new connection' in message
  assert '--data FILE.npz' in message


def test_tfds_offline_fails_at_once(monkeypatch):
  """Unprepared data and no network: one line, without tensorflow-datasets' minutes of download retries."""
  tfds = pytest.importorskip('tensorflow_datasets')
  calls = []

  def data_source(name, split, download=True):
    calls.append(download)
    raise AssertionError('not prepared')

  monkeypatch.setattr(tfds, 'data_source', data_source)
  monkeypatch.setattr(data_lib, '_online', lambda: False)
  with pytest.raises(DataError, match='tfds:mnist is not prepared on this machine and there is no network;'):
    source('tfds:mnist')
  assert calls == [False]

"""FIDInceptionV3 against pytorch-fid's own InceptionV3 on the same random weights, and the weights' conversion."""

import hashlib
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from pytorch_fid import inception as fid_inception

from jaxgan import evaluation
from jaxgan.evaluation import inception

pytestmark = pytest.mark.usefixtures('strict_dtypes')


def calibrated_state_dict() -> dict[str, torch.Tensor]:
  """A random state dict of the FID Inception whose activations stay of order one through the network.

  He-initialised convolutions, random batch-norm scales and shifts, running statistics measured on random images
  (resized to 299 as in the tests) and then perturbed: every tensor matters, and differences are relative to
  features of a meaningful size.
  """
  torch.manual_seed(0)
  net = torchvision.models.inception_v3(weights=None, num_classes=1008, aux_logits=False, init_weights=False)
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(fid_inception, 'load_state_dict_from_url', lambda *args, **kwargs: net.state_dict())
    net = fid_inception.fid_inception_v3()  # the FID blocks, loaded with the keys and shapes of the .pth
  bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
  with torch.no_grad():
    for m in net.modules():
      if isinstance(m, torch.nn.Conv2d):
        torch.nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
    for bn in bns:
      bn.weight.uniform_(0.5, 1.5)
      bn.bias.normal_(0.0, 0.3)
      bn.reset_running_stats()
      bn.momentum = None  # running statistics = those of the one batch below
    sizes = [28, 320]  # as in the tests: upsampled images have other statistics than noise
    images = [F.interpolate(torch.rand(1, 3, n, n) * 2 - 1, (299, 299), mode='bilinear') for n in sizes]
    net.train()(torch.cat(images))
    for bn in bns:
      bn.running_mean.add_(0.1 * bn.running_var.sqrt() * torch.randn_like(bn.running_mean))
      bn.running_var.mul_(torch.empty_like(bn.running_var).uniform_(0.8, 1.25))
  return {k: v.clone() for k, v in net.state_dict().items()}


@pytest.fixture(scope='module')
def state_dict() -> dict[str, torch.Tensor]:
  return calibrated_state_dict()


@pytest.fixture(scope='module')
def torch_model(state_dict):
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(fid_inception, 'load_state_dict_from_url', lambda *args, **kwargs: state_dict)
    model = fid_inception.InceptionV3([3], resize_input=True, normalize_input=True, use_fid_inception=True)
  return model.eval()


@pytest.fixture(scope='module')
def variables(state_dict):
  return inception.state_dict_to_variables({k: v.numpy() for k, v in state_dict.items()})


def torch_features(model, state_dict, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """pytorch-fid's pool3 features of images NHWC in [-1, 1] (it wants NCHW, 3 channels, in [0, 1]), and the fc."""
  x = torch.from_numpy(images).permute(0, 3, 1, 2)
  x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
  with torch.no_grad():
    pool3 = model((x + 1) / 2)[0].flatten(1)
    logits = F.linear(pool3, state_dict['fc.weight'], state_dict['fc.bias'])
  return pool3.numpy(), logits.numpy()


def relative_difference(a, b) -> float:
  return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


def random_images(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
  return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


@pytest.mark.parametrize('shape', [(32, 32, 3), (28, 28, 1), (64, 64, 3), (320, 320, 3)])
def test_matches_pytorch_fid(shape, torch_model, state_dict, variables):
  images = random_images((2, *shape))
  pool3, logits = inception.inception_features(variables, images)
  want_pool3, want_logits = torch_features(torch_model, state_dict, images)
  assert pool3.shape == (2, 2048) and logits.shape == (2, 1008)
  # The random weights keep activations of order one: a meaningful relative comparison, images told apart.
  assert 0.05 < np.abs(want_pool3).mean() < 20 and 0.05 < np.abs(want_logits).mean() < 20
  assert relative_difference(want_pool3[0], want_pool3[1]) > 1e-2
  assert relative_difference(pool3, want_pool3) < 1e-4
  assert relative_difference(logits, want_logits) < 1e-4


@pytest.mark.parametrize('size', [(1, 1), (7, 1000), (28, 28), (64, 48), (299, 300), (320, 320), (600, 598)])
def test_resize_matches_torch_interpolate(size):
  images = random_images((2, *size, 3), seed=1)
  want = F.interpolate(torch.from_numpy(images).permute(0, 3, 1, 2), (299, 299), mode='bilinear', align_corners=False)
  got = inception.resize_bilinear(images, (299, 299))
  np.testing.assert_allclose(got, want.permute(0, 2, 3, 1).numpy(), rtol=0, atol=1e-6)


def test_preprocess_repeats_gray_and_checks_shape():
  gray = random_images((2, 28, 28, 1))
  assert inception.preprocess(gray).shape == (2, 299, 299, 3)
  np.testing.assert_array_equal(inception.preprocess(np.repeat(gray, 3, -1)), inception.preprocess(gray))
  with pytest.raises(ValueError, match='C 1 or 3'):
    inception.preprocess(np.zeros((2, 28, 28, 2), np.float32))


def test_state_dict_must_fit_exactly(state_dict):
  arrays = {k: v.numpy() for k, v in state_dict.items()}
  with pytest.raises(inception.InceptionWeightsError, match='AuxLogits'):
    inception.state_dict_to_variables({**arrays, 'AuxLogits.fc.weight': np.zeros((1008, 768), np.float32)})
  with pytest.raises(inception.InceptionWeightsError, match='1 variables missing'):
    inception.state_dict_to_variables({k: v for k, v in arrays.items() if k != 'Mixed_7c.branch_pool.bn.running_var'})
  with pytest.raises(inception.InceptionWeightsError, match='fc/bias'):
    inception.state_dict_to_variables({**arrays, 'fc.bias': np.zeros(1000, np.float32)})


def test_convert_round_trip(tmp_path, state_dict, variables):
  pth = tmp_path / 'fake.pth'
  torch.save(state_dict, pth)
  out = tmp_path / 'cache' / 'inception.npz'
  with pytest.raises(inception.InceptionWeightsError, match=re.escape(str(pth))):
    inception.convert(pth, out)
  assert not out.exists()
  assert inception.convert(pth, out, verify=False) == str(out)
  assert [p.name for p in out.parent.iterdir()] == ['inception.npz']  # no temporary file left

  net = inception.load(out)
  assert net.weights_sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
  assert net.source_sha256 == hashlib.sha256(pth.read_bytes()).hexdigest()
  images = random_images((2, 32, 32, 3), seed=2)
  for got, want in zip(net.features(images), inception.inception_features(variables, images), strict=True):
    np.testing.assert_array_equal(got, want)


def test_missing_or_bad_weights_say_how_to_convert(tmp_path, monkeypatch):
  hint = f'jaxgan-convert-inception {inception.FID_WEIGHTS_FILE}'
  missing = tmp_path / 'missing.npz'
  monkeypatch.setenv('JAXGAN_INCEPTION_WEIGHTS', str(missing))
  assert inception.default_weights_path() == str(missing)
  with pytest.raises(inception.InceptionWeightsError, match=f'{re.escape(str(missing))} not found.*{hint}'):
    inception.load()
  bad = tmp_path / 'bad.npz'
  bad.write_bytes(b'not a zip file')
  with pytest.raises(inception.InceptionWeightsError, match=f'unreadable.*{hint}'):
    inception.load(bad)
  monkeypatch.delenv('JAXGAN_INCEPTION_WEIGHTS')
  monkeypatch.setenv('JAXGAN_CACHE', str(tmp_path / 'cache'))
  assert inception.default_weights_path() == str(tmp_path / 'cache' / 'fid_inception_v3.npz')
  monkeypatch.delenv('JAXGAN_CACHE')
  assert inception.default_weights_path().endswith('.cache/jaxgan/fid_inception_v3.npz')


def test_converted_weights_score_images_end_to_end(tmp_path, monkeypatch, capsys, state_dict):
  """jaxgan-convert-inception, then jaxgan-eval with the inception extractor: the protocol names the weights."""
  from jaxgan import cli

  pth, out = tmp_path / 'random.pth', tmp_path / 'weights' / 'inception.npz'
  torch.save(state_dict, pth)
  assert cli.convert_inception_main([str(pth), '--out', str(out), '--any-weights']) == 0
  digest = hashlib.sha256(out.read_bytes()).hexdigest()
  assert f'sha256 {digest}' in capsys.readouterr().out
  with pytest.raises(SystemExit):  # never overwritten
    cli.convert_inception_main([str(pth), '--out', str(out), '--any-weights'])
  monkeypatch.setenv('JAXGAN_INCEPTION_WEIGHTS', str(out))
  np.savez(tmp_path / 'real.npz', images=(random_images((8, 32, 32, 3), seed=3) * 127.5 + 127.5).astype(np.uint8))
  np.savez(tmp_path / 'fake.npz', images=(random_images((8, 32, 32, 3), seed=4) * 127.5 + 127.5).astype(np.uint8))
  result = evaluation.evaluate_images(tmp_path / 'real.npz', tmp_path / 'fake.npz', metrics=('fid', 'is', 'pr'))
  assert result['protocol']['weights_sha256'] == digest and 'inception' in result['protocol']['extractor']
  assert result['fid'] > 0 and 1 <= result['is'] and 0 <= result['precision'] <= 1
  same = evaluation.evaluate_images(tmp_path / 'real.npz', tmp_path / 'real.npz', metrics=('fid',))
  assert abs(same['fid']) < 1e-3 * result['fid']  # a set against itself

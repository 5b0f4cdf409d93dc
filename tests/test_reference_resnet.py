"""The residual players at 32x32 against torch-mimicry's (Lee & Town, 2020) on the same random weights.

Mimicry's SNGAN networks follow the SNGAN release (chainer) layer for layer: SNGANGenerator32 and
SNGANDiscriminator32 are jaxgan's unconditional ResNet at 32x32 (G width 64, 256 channels; D width 32, 128),
CGANPDGenerator32 and CGANPDDiscriminator32 the conditional pair with the projection discriminator. Two differences
are Mimicry's own and are undone here: its GBlock upsamples bilinearly (its docstring says so), where the SNGAN
release and BigGAN (and jaxgan) repeat pixels; and its ReLUs work in place, so that a DBlock's first ReLU also
rectifies the block's input before the shortcut reads it (a shortcut of relu(x), not the release's x). Its
conditional batch norm looks its gain and bias up per class; jaxgan's are linear in a shared class embedding joined
with z, which holds the lookup exactly (an identity embedding, zero rows for z), the weights mapped so below.

Spectral norm estimates each sigma by one power iteration from a stored vector; both sides start from the exact
singular vectors (computed from each side's own weight layout), where one iteration changes nothing, so that the
networks, not two bookkeepings of the estimate, are compared. Mimicry's package (its TensorFlow metrics) and its
install requirements (TensorFlow) are more than its networks need (torch), so its source distribution is fetched
from the package registry and its network modules imported under a bare package, not installed.
"""

import hashlib
import importlib
import subprocess
import sys
import tarfile
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from jaxgan.models import ResNetDiscriminator, ResNetGenerator

MIMICRY = 'torch-mimicry==0.1.16'
MIMICRY_SHA256 = '12138727ceb1a784c3e40eb7ee56fd950650d636cae5c4d06eda7faf1c4fb0df'
CLASSES, LATENT, BATCH = 10, 128, 8


@pytest.fixture(scope='module')
def mimicry(tmp_path_factory) -> types.SimpleNamespace:
  """Mimicry's SNGAN and cGAN-PD modules, imported from its sdist (pinned by hash) under a bare package."""
  where = tmp_path_factory.mktemp('mimicry')
  pip = [sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', '--no-binary=:all:', '-d', str(where), MIMICRY]
  done = subprocess.run(pip, capture_output=True, text=True, check=False)
  if done.returncode:
    pytest.skip(f'{MIMICRY} could not be fetched from the package registry: {done.stderr.strip()[-300:]}')
  (sdist,) = where.glob('*.tar.gz')
  assert hashlib.sha256(sdist.read_bytes()).hexdigest() == MIMICRY_SHA256
  with tarfile.open(sdist) as tar:
    tar.extractall(where, filter='data')
  package = types.ModuleType('torch_mimicry')
  package.__path__ = [str(where / sdist.name.removesuffix('.tar.gz') / 'torch_mimicry')]
  with pytest.MonkeyPatch.context() as mp:
    mp.setitem(sys.modules, 'torch_mimicry', package)
    resblocks = importlib.import_module('torch_mimicry.modules.resblocks')
    mp.setattr(resblocks.GBlock, '_upsample_conv', lambda self, x, conv: conv(F.interpolate(x, scale_factor=2)))
    yield types.SimpleNamespace(
      sngan=importlib.import_module('torch_mimicry.nets.sngan'),
      cgan_pd=importlib.import_module('torch_mimicry.nets.cgan_pd'),
    )


def randomised(net: torch.nn.Module, seed: int) -> torch.nn.Module:
  """net with ReLUs out of place, random batch-norm affines and statistics and class tables far from their init
  (each matters), and every spectrally normalised weight's u and v its exact top singular vectors."""
  torch.manual_seed(seed)
  with torch.no_grad():
    for name, module in net.named_modules():
      if isinstance(module, torch.nn.ReLU):
        module.inplace = False
      if isinstance(module, torch.nn.BatchNorm2d):
        module.running_mean.normal_(0, 0.3)
        module.running_var.uniform_(0.5, 2)
        if module.affine:
          module.weight.uniform_(0.5, 1.5)
          module.bias.normal_(0, 0.3)
      if name.endswith('.embed'):  # conditional batch norm: [gains | biases] per class
        gains, biases = module.weight.chunk(2, 1)
        gains.uniform_(0.5, 1.5)
        biases.normal_(0, 0.3)
      if hasattr(module, 'weight_orig'):  # torch's spectral_norm
        u, _, vh = torch.linalg.svd(module.weight_orig.reshape(module.weight_orig.shape[0], -1))
        module.weight_u.copy_(u[:, 0])
        module.weight_v.copy_(vh[0])
      if hasattr(module, 'sn_u'):  # Mimicry's own (its SNLinear and SNEmbedding in cGAN-PD)
        module.sn_u.copy_(torch.linalg.svd(module.weight.reshape(module.weight.shape[0], -1))[0][:, 0][None])
  return net


def weight(module: torch.nn.Module) -> np.ndarray:
  return (module.weight_orig if hasattr(module, 'weight_orig') else module.weight).detach().numpy()


def conv(module: torch.nn.Conv2d) -> dict:
  return {'kernel': weight(module).transpose(2, 3, 1, 0), 'bias': module.bias.detach().numpy()}


def batch_norm(module: torch.nn.BatchNorm2d) -> tuple[dict, dict]:
  """A ConditionalBatchNorm's params and batch_stats holding a torch BatchNorm2d (its affine, if it has one)."""
  stats = {'mean': module.running_mean.numpy(), 'var': module.running_var.numpy()}
  affine = {'scale': module.weight.detach().numpy(), 'bias': module.bias.detach().numpy()} if module.affine else {}
  return {'BatchNorm_0': affine}, {'BatchNorm_0': stats}


def channels_last_rows(w: np.ndarray, channels: int) -> np.ndarray:
  """A dense layer's outputs [..., C * 4 * 4], viewed as (C, 4, 4) by torch, reordered to jaxgan's (4, 4, C)."""
  return w.reshape(*w.shape[:-1], channels, 4, 4).swapaxes(-3, -1).swapaxes(-3, -2).reshape(w.shape)


def generator_variables(net: torch.nn.Module, conditional: bool) -> dict:
  """jaxgan's G variables holding Mimicry's G: a conditional G's condition is [z, e_y], e_y one-hot."""
  params, stats = {}, {}
  z_rows = np.zeros((LATENT, net.ngf), np.float32)
  for i in range(3):
    block = getattr(net, f'block{i + 2}')
    p = {f'Conv_{j}': conv(getattr(block, name)) for j, name in enumerate(['c1', 'c2', 'c_sc'])}
    s = {}
    for j, bn in enumerate([block.b1, block.b2]):
      name = f'ConditionalBatchNorm_{j}'
      p[name], s[name] = batch_norm(bn.bn if conditional else bn)
      if conditional:
        gains, biases = bn.embed.weight.detach().numpy().reshape(CLASSES, 2, -1).swapaxes(0, 1)
        p[name] = {
          'gain': {'kernel': np.concatenate([z_rows, gains - 1])},
          'bias': {'kernel': np.concatenate([z_rows, biases])},
        }
    params[f'GeneratorBlock_{i}'], stats[f'GeneratorBlock_{i}'] = p, s
  params['ConditionalBatchNorm_0'], stats['ConditionalBatchNorm_0'] = batch_norm(net.b5)
  params['Conv_0'] = conv(net.c5)
  dense = channels_last_rows(weight(net.l1).T, net.ngf)
  if conditional:
    dense = np.concatenate([dense, np.zeros((CLASSES, dense.shape[1]), np.float32)])
    params['class_embedding'] = {'embedding': np.eye(CLASSES, dtype=np.float32)}
  params['Dense_0'] = {'kernel': dense, 'bias': channels_last_rows(net.l1.bias.detach().numpy(), net.ngf)}
  return {'params': params, 'batch_stats': stats}


def top_singular_u(kernel: np.ndarray) -> np.ndarray:
  """The vector flax's SpectralNorm keeps for a kernel (its matrix [-1, last axis]): the top right singular one."""
  return np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]))[2][:1]


def discriminator_variables(net: torch.nn.Module, conditional: bool) -> dict:
  params, stats = {}, {}
  for i in range(4):
    block = getattr(net, f'block{i + 1}')
    names = [n for n in ['c1', 'c2', 'c_sc'] if hasattr(block, n)]
    params[f'DiscriminatorBlock_{i}'] = {f'Conv_{j}': conv(getattr(block, n)) for j, n in enumerate(names)}
    stats[f'DiscriminatorBlock_{i}'] = {
      f'SpectralNorm_{j}': {f'Conv_{j}/kernel/u': top_singular_u(conv(getattr(block, n))['kernel'])}
      for j, n in enumerate(names)
    }
  params['Dense_0'] = {'kernel': weight(net.l5).T, 'bias': net.l5.bias.detach().numpy()}
  stats['SpectralNorm_0'] = {'Dense_0/kernel/u': top_singular_u(params['Dense_0']['kernel'])}
  if conditional:
    embedding = weight(net.l_y)
    params['ClassOutput_0'] = {'projection': {'embedding': embedding}}
    stats['ClassOutput_0'] = {'SpectralNorm_0': {'projection/embedding/u': top_singular_u(embedding)}}
  return {'params': params, 'batch_stats': stats}


def filled(module, variables: dict, *args) -> dict:
  """variables over the module's own init: every leaf there is given (shapes checked), the sigmas excepted."""
  init = module.init(jax.random.key(0), *args)
  given = {jax.tree_util.keystr(p): v for p, v in jax.tree_util.tree_leaves_with_path(variables)}

  def pick(path, leaf):
    key = jax.tree_util.keystr(path)
    if key.endswith("sigma']"):
      return leaf
    assert given[key].shape == leaf.shape, key
    return jnp.asarray(given.pop(key))

  out = jax.tree_util.tree_map_with_path(pick, init)
  assert not given, f'mapped onto no variable: {sorted(given)}'
  return out


def relative_difference(a, b) -> float:
  return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


@pytest.mark.parametrize('train', [True, False], ids=['batch-stats', 'running-stats'])
@pytest.mark.parametrize('conditional', [False, True], ids=['sngan', 'cgan-pd'])
def test_generator_matches_mimicry(mimicry, conditional, train):
  rng = np.random.default_rng(0)
  z = rng.standard_normal((BATCH, LATENT), np.float32)
  labels = np.arange(BATCH) % CLASSES
  if conditional:
    net = randomised(mimicry.cgan_pd.CGANPDGenerator32(num_classes=CLASSES), seed=1)
    ours = ResNetGenerator(32, 3, 64, num_classes=CLASSES, class_embedding=CLASSES)
  else:
    net, ours = randomised(mimicry.sngan.SNGANGenerator32(), seed=1), ResNetGenerator(32, 3, 64)
  args = (z, labels) if conditional else (z,)
  with torch.no_grad():
    want = net.train(train)(*map(torch.from_numpy, args)).permute(0, 2, 3, 1).numpy()
  variables = filled(ours, generator_variables(net, conditional), *args)
  got = ours.apply(variables, *args, train=train, mutable=['batch_stats'] if train else False)
  got = got[0] if train else got
  assert want.shape == got.shape == (BATCH, 32, 32, 3)
  assert 0.1 < np.abs(want).mean() < 0.9  # tanh neither saturated nor near zero: a meaningful comparison
  if conditional:  # the class tables matter: one z drawn as two classes differs
    with torch.no_grad():
      other = net(torch.from_numpy(z), torch.from_numpy((labels + 1) % CLASSES)).permute(0, 2, 3, 1).numpy()
    assert relative_difference(other, want) > 0.1
  assert relative_difference(got, want) < 1e-4


@pytest.mark.parametrize('conditional', [False, True], ids=['sngan', 'cgan-pd'])
def test_discriminator_matches_mimicry(mimicry, conditional):
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (BATCH, 32, 32, 3)).astype(np.float32)
  labels = np.arange(BATCH) % CLASSES
  if conditional:
    net = randomised(mimicry.cgan_pd.CGANPDDiscriminator32(num_classes=CLASSES), seed=2)
    ours = ResNetDiscriminator(32, 32, conditioning='projection', num_classes=CLASSES)
  else:
    net, ours = randomised(mimicry.sngan.SNGANDiscriminator32(), seed=2), ResNetDiscriminator(32, 32)
  torch_args = (torch.from_numpy(images).permute(0, 3, 1, 2), *([torch.from_numpy(labels)] if conditional else []))
  args = (images, labels) if conditional else (images,)
  with torch.no_grad():
    want = net.eval()(*torch_args)[:, 0].numpy()
  variables = filled(ours, discriminator_variables(net, conditional), *args)
  got, _ = ours.apply(variables, *args, train=True, mutable=['batch_stats'])
  assert want.shape == got.shape == (BATCH,)
  assert np.std(want) > 1e-2 * np.abs(want).max()  # the images are told apart
  assert relative_difference(got, want) < 1e-4

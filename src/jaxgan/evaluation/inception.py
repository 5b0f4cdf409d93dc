"""Inception-v3 as FID uses it: pytorch-fid's network in Flax, and its weights.

`FIDInceptionV3` is pytorch-fid's `InceptionV3(resize_input=True, normalize_input=True, use_fid_inception=True)`,
layer for layer, in float32 at full matmul precision: images NHWC in [-1, 1], any size, 1 or 3 channels, are resized
bilinearly to 299x299 as torch's `F.interpolate(mode='bilinear', align_corners=False)` does, and mapped to the pool3
features [B, 2048] and the 1008-way logits [B, 1008] of the 2015 TensorFlow Inception that FID is defined with.

The weights come once from pytorch-fid's file (`FID_WEIGHTS_FILE`, from `FID_WEIGHTS_URL`): `convert` turns it into
an .npz at `default_weights_path()` (the `jaxgan-convert-inception` command calls it; only it needs torch), and
`load` reads that back as an `Inception` whose `features(images)` is jitted.
"""

import dataclasses
import functools
import hashlib
import io
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

FID_WEIGHTS_FILE = 'pt_inception-2015-12-05-6726825d.pth'
FID_WEIGHTS_URL = f'https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{FID_WEIGHTS_FILE}'
FID_WEIGHTS_SHA256_PREFIX = '6726825d'
INPUT_SIZE = 299

_HIGHEST = jax.lax.Precision.HIGHEST
_CONVERT_HINT = f'run `jaxgan-convert-inception {FID_WEIGHTS_FILE}` once (the file is at {FID_WEIGHTS_URL})'

Variables = dict[str, Any]  # {'params': ..., 'batch_stats': ...}, nested dicts of arrays


class InceptionWeightsError(ValueError):
  """Inception weights that are missing, unreadable or not the FID ones."""


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
  return (v, v) if isinstance(v, int) else v


class _BasicConv2d(nn.Module):
  """torchvision's BasicConv2d: conv without bias, batch norm (running statistics, eps 1e-3), ReLU."""

  features: int
  kernel_size: int | tuple[int, int]
  strides: int | tuple[int, int] = 1
  padding: int | tuple[int, int] = 0  # torch's: symmetric, per spatial dimension

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    ph, pw = _pair(self.padding)
    x = nn.Conv(
      self.features,
      _pair(self.kernel_size),
      _pair(self.strides),
      padding=((ph, ph), (pw, pw)),
      use_bias=False,
      precision=_HIGHEST,
      name='conv',
    )(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name='bn')(x)
    return nn.relu(x)


def _avg_pool_3x3(x: jax.Array) -> jax.Array:
  # TensorFlow's average pool, which pytorch-fid's FID blocks patch in: padded zeros are not counted.
  return nn.avg_pool(x, (3, 3), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_stride2(x: jax.Array) -> jax.Array:
  return nn.max_pool(x, (3, 3), strides=(2, 2), padding='VALID')


class _FIDInceptionA(nn.Module):
  pool_features: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    b1 = _BasicConv2d(64, 1, name='branch1x1')(x)
    b5 = _BasicConv2d(48, 1, name='branch5x5_1')(x)
    b5 = _BasicConv2d(64, 5, padding=2, name='branch5x5_2')(b5)
    b3 = _BasicConv2d(64, 1, name='branch3x3dbl_1')(x)
    b3 = _BasicConv2d(96, 3, padding=1, name='branch3x3dbl_2')(b3)
    b3 = _BasicConv2d(96, 3, padding=1, name='branch3x3dbl_3')(b3)
    bp = _BasicConv2d(self.pool_features, 1, name='branch_pool')(_avg_pool_3x3(x))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class _InceptionB(nn.Module):
  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    b3 = _BasicConv2d(384, 3, strides=2, name='branch3x3')(x)
    bd = _BasicConv2d(64, 1, name='branch3x3dbl_1')(x)
    bd = _BasicConv2d(96, 3, padding=1, name='branch3x3dbl_2')(bd)
    bd = _BasicConv2d(96, 3, strides=2, name='branch3x3dbl_3')(bd)
    return jnp.concatenate([b3, bd, _max_pool_3x3_stride2(x)], axis=-1)


class _FIDInceptionC(nn.Module):
  channels_7x7: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    c7 = self.channels_7x7
    b1 = _BasicConv2d(192, 1, name='branch1x1')(x)
    b7 = _BasicConv2d(c7, 1, name='branch7x7_1')(x)
    b7 = _BasicConv2d(c7, (1, 7), padding=(0, 3), name='branch7x7_2')(b7)
    b7 = _BasicConv2d(192, (7, 1), padding=(3, 0), name='branch7x7_3')(b7)
    bd = _BasicConv2d(c7, 1, name='branch7x7dbl_1')(x)
    bd = _BasicConv2d(c7, (7, 1), padding=(3, 0), name='branch7x7dbl_2')(bd)
    bd = _BasicConv2d(c7, (1, 7), padding=(0, 3), name='branch7x7dbl_3')(bd)
    bd = _BasicConv2d(c7, (7, 1), padding=(3, 0), name='branch7x7dbl_4')(bd)
    bd = _BasicConv2d(192, (1, 7), padding=(0, 3), name='branch7x7dbl_5')(bd)
    bp = _BasicConv2d(192, 1, name='branch_pool')(_avg_pool_3x3(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class _InceptionD(nn.Module):
  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    b3 = _BasicConv2d(192, 1, name='branch3x3_1')(x)
    b3 = _BasicConv2d(320, 3, strides=2, name='branch3x3_2')(b3)
    b7 = _BasicConv2d(192, 1, name='branch7x7x3_1')(x)
    b7 = _BasicConv2d(192, (1, 7), padding=(0, 3), name='branch7x7x3_2')(b7)
    b7 = _BasicConv2d(192, (7, 1), padding=(3, 0), name='branch7x7x3_3')(b7)
    b7 = _BasicConv2d(192, 3, strides=2, name='branch7x7x3_4')(b7)
    return jnp.concatenate([b3, b7, _max_pool_3x3_stride2(x)], axis=-1)


class _FIDInceptionE(nn.Module):
  """FIDInceptionE_1 (`max_pool` False: average pool without padding) or FIDInceptionE_2 (`max_pool` True)."""

  max_pool: bool

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    b1 = _BasicConv2d(320, 1, name='branch1x1')(x)
    b3 = _BasicConv2d(384, 1, name='branch3x3_1')(x)
    b3 = jnp.concatenate(
      [
        _BasicConv2d(384, (1, 3), padding=(0, 1), name='branch3x3_2a')(b3),
        _BasicConv2d(384, (3, 1), padding=(1, 0), name='branch3x3_2b')(b3),
      ],
      axis=-1,
    )
    bd = _BasicConv2d(448, 1, name='branch3x3dbl_1')(x)
    bd = _BasicConv2d(384, 3, padding=1, name='branch3x3dbl_2')(bd)
    bd = jnp.concatenate(
      [
        _BasicConv2d(384, (1, 3), padding=(0, 1), name='branch3x3dbl_3a')(bd),
        _BasicConv2d(384, (3, 1), padding=(1, 0), name='branch3x3dbl_3b')(bd),
      ],
      axis=-1,
    )
    if self.max_pool:  # as the FID network has it (TensorFlow's graph), where the paper averages
      pooled = nn.max_pool(x, (3, 3), padding=((1, 1), (1, 1)))
    else:
      pooled = _avg_pool_3x3(x)
    bp = _BasicConv2d(192, 1, name='branch_pool')(pooled)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


def _interpolation_matrix(in_size: int, out_size: int) -> np.ndarray:
  """[out_size, in_size] weights of torch's 1-D linear interpolation, align_corners=False, no antialiasing.

  In torch's float32 arithmetic (source index by one fused multiply-add, as its CPU kernel computes it): with
  exact arithmetic instead, an image resized from 320 pixels differs from torch's by up to 1e-4.
  """
  f32 = np.float32
  scale = f32(in_size) / f32(out_size)
  src = (np.arange(out_size, dtype=np.float64) + 0.5) * np.float64(scale) - 0.5  # exact, then rounded once
  src = np.maximum(src.astype(f32), f32(0))
  lo = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
  hi = np.minimum(lo + 1, in_size - 1)
  frac = np.clip(src - lo.astype(f32), f32(0), f32(1))
  m = np.zeros((out_size, in_size), f32)
  rows = np.arange(out_size)
  np.add.at(m, (rows, lo), f32(1) - frac)
  np.add.at(m, (rows, hi), frac)
  return m


def resize_bilinear(images: jax.typing.ArrayLike, size: tuple[int, int]) -> jax.Array:
  """Bilinear resize as torch's `F.interpolate(mode='bilinear', align_corners=False)` (no antialiasing).

  Args:
    images: [B, H, W, C].
    size: (height, width) of the output.

  Returns:
    float32 [B, height, width, C]; the images themselves when already that size.
  """
  x = jnp.asarray(images, jnp.float32)
  (h, w), (out_h, out_w) = x.shape[1:3], size
  if (h, w) == (out_h, out_w):
    return x
  x = jnp.einsum('oh,bhwc->bowc', _interpolation_matrix(h, out_h), x, precision=_HIGHEST)
  return jnp.einsum('pw,bowc->bopc', _interpolation_matrix(w, out_w), x, precision=_HIGHEST)


def preprocess(images: jax.typing.ArrayLike) -> jax.Array:
  """What the network sees: images [B, H, W, 1 or 3] in [-1, 1] as float32 [B, 299, 299, 3], channels repeated.

  Raises:
    ValueError: images that are not [B, H, W, C] with C 1 or 3.
  """
  x = jnp.asarray(images, jnp.float32)
  if x.ndim != 4 or x.shape[-1] not in (1, 3):
    raise ValueError(f'Inception wants images [B, H, W, C] with C 1 or 3, got shape {x.shape}')
  x = resize_bilinear(x, (INPUT_SIZE, INPUT_SIZE))
  return jnp.broadcast_to(x, (*x.shape[:3], 3))


class FIDInceptionV3(nn.Module):
  """pytorch-fid's InceptionV3 with resize_input, normalize_input and use_fid_inception, in float32.

  Submodules carry the names of the PyTorch state dict (Conv2d_1a_3x3, Mixed_5b.branch1x1.conv, ..., fc); batch
  norm always uses its running statistics (the batch_stats collection).
  """

  @nn.compact
  def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Pool3 features and logits of images [B, H, W, 1 or 3] in [-1, 1].

    Returns:
      pool3 [B, 2048], the features FID is computed from, and logits [B, 1008] (for the Inception Score).
    """
    x = preprocess(images)  # [B, 299, 299, 3]
    x = _BasicConv2d(32, 3, strides=2, name='Conv2d_1a_3x3')(x)  # [B, 149, 149, 32]
    x = _BasicConv2d(32, 3, name='Conv2d_2a_3x3')(x)  # [B, 147, 147, 32]
    x = _BasicConv2d(64, 3, padding=1, name='Conv2d_2b_3x3')(x)  # [B, 147, 147, 64]
    x = _max_pool_3x3_stride2(x)  # [B, 73, 73, 64]
    x = _BasicConv2d(80, 1, name='Conv2d_3b_1x1')(x)  # [B, 73, 73, 80]
    x = _BasicConv2d(192, 3, name='Conv2d_4a_3x3')(x)  # [B, 71, 71, 192]
    x = _max_pool_3x3_stride2(x)  # [B, 35, 35, 192]
    x = _FIDInceptionA(32, name='Mixed_5b')(x)  # [B, 35, 35, 256]
    x = _FIDInceptionA(64, name='Mixed_5c')(x)  # [B, 35, 35, 288]
    x = _FIDInceptionA(64, name='Mixed_5d')(x)  # [B, 35, 35, 288]
    x = _InceptionB(name='Mixed_6a')(x)  # [B, 17, 17, 768]
    x = _FIDInceptionC(128, name='Mixed_6b')(x)
    x = _FIDInceptionC(160, name='Mixed_6c')(x)
    x = _FIDInceptionC(160, name='Mixed_6d')(x)
    x = _FIDInceptionC(192, name='Mixed_6e')(x)  # [B, 17, 17, 768]
    x = _InceptionD(name='Mixed_7a')(x)  # [B, 8, 8, 1280]
    x = _FIDInceptionE(max_pool=False, name='Mixed_7b')(x)  # [B, 8, 8, 2048]
    x = _FIDInceptionE(max_pool=True, name='Mixed_7c')(x)  # [B, 8, 8, 2048]
    pool3 = jnp.mean(x, axis=(1, 2))  # [B, 2048]
    logits = nn.Dense(1008, precision=_HIGHEST, name='fc')(pool3)  # [B, 1008]
    return pool3, logits


@functools.cache
def _variable_shapes() -> dict[str, tuple[int, ...]]:
  """'params/Mixed_5b/branch1x1/conv/kernel' -> shape, for every variable of FIDInceptionV3."""
  images = jax.ShapeDtypeStruct((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32)
  variables = jax.eval_shape(FIDInceptionV3().init, jax.random.key(0), images)
  return {k: tuple(v.shape) for k, v in traverse_util.flatten_dict(variables, sep='/').items()}


def _check_complete(flat: Mapping[str, np.ndarray], origin: str) -> None:
  shapes = _variable_shapes()
  missing = sorted(set(shapes) - set(flat))
  unknown = sorted(set(flat) - set(shapes))
  if missing or unknown:
    raise InceptionWeightsError(
      f'{origin}: not the FID Inception: {len(missing)} variables missing (first {missing[:3]}), '
      f'{len(unknown)} unknown (first {unknown[:3]})'
    )
  for name, shape in shapes.items():
    if flat[name].shape != shape:
      raise InceptionWeightsError(f'{origin}: {name} has shape {flat[name].shape}, the FID Inception has {shape}')


_BN_NAMES = {
  'weight': 'params/{}/scale',
  'bias': 'params/{}/bias',
  'running_mean': 'batch_stats/{}/mean',
  'running_var': 'batch_stats/{}/var',
}


def _flax_name(key: str) -> tuple[str, bool]:
  """The flat flax name of a torch state dict key, and whether its array is transposed; ('', False) if unknown."""
  *module, leaf = key.split('.')
  path = '/'.join(module)
  if module[-1:] == ['conv'] and leaf == 'weight':
    return f'params/{path}/kernel', True
  if module[-1:] == ['bn'] and leaf in _BN_NAMES:
    return _BN_NAMES[leaf].format(path), False
  if module == ['fc'] and leaf in ('weight', 'bias'):
    return ('params/fc/kernel', True) if leaf == 'weight' else ('params/fc/bias', False)
  return '', False


def state_dict_to_variables(state_dict: Mapping[str, Any]) -> Variables:
  """FIDInceptionV3's variables from the state dict of pytorch-fid's FID Inception (torchvision's names).

  Conv kernels go from OIHW to HWIO, the fc weight is transposed, batch norm weight / bias / running_mean /
  running_var become scale / bias (params) and mean / var (batch_stats); num_batches_tracked is dropped.

  Args:
    state_dict: name -> array (NumPy, or anything np.asarray takes, such as CPU torch tensors).

  Returns:
    {'params': ..., 'batch_stats': ...} as nested dicts of float32 NumPy arrays.

  Raises:
    InceptionWeightsError: a key that is not used, a variable left unfilled, or a shape that does not fit.
  """
  flat = {}
  for key, value in state_dict.items():
    if key.endswith('.num_batches_tracked'):
      continue
    name, transpose = _flax_name(key)
    if not name:
      raise InceptionWeightsError(f'state dict key {key!r} is not a variable of the FID Inception')
    array = np.asarray(value, np.float32)
    if transpose:  # conv OIHW -> HWIO, dense [out, in] -> [in, out]
      array = array.transpose(2, 3, 1, 0) if array.ndim == 4 else array.T
    flat[name] = array
  _check_complete(flat, 'state dict')
  return traverse_util.unflatten_dict(flat, sep='/')


def _sha256(path: str | os.PathLike) -> str:
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def default_weights_path() -> str:
  """$JAXGAN_INCEPTION_WEIGHTS if set, else fid_inception_v3.npz in $JAXGAN_CACHE (default ~/.cache/jaxgan)."""
  cache = os.environ.get('JAXGAN_CACHE') or '~/.cache/jaxgan'
  return os.environ.get('JAXGAN_INCEPTION_WEIGHTS') or str(Path(cache, 'fid_inception_v3.npz').expanduser())


def convert(pth_path: str | os.PathLike, out_path: str | os.PathLike, *, verify: bool = True) -> str:
  """Converts pytorch-fid's weights file to the .npz that `load` reads (needs torch, only here).

  Args:
    pth_path: pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`.
    out_path: where to write the .npz (atomically; parent folders are made).
    verify: refuse a file whose sha256 does not start with 6726825d.

  Returns:
    out_path, as a string.

  Raises:
    InceptionWeightsError: the file is missing, unreadable, not the FID weights (when verify) or not fitting.
  """
  import torch  # only the conversion needs torch

  if not os.path.isfile(pth_path):
    raise InceptionWeightsError(f'{pth_path}: no such file; download {FID_WEIGHTS_URL}')
  source_sha256 = _sha256(pth_path)
  if verify and not source_sha256.startswith(FID_WEIGHTS_SHA256_PREFIX):
    raise InceptionWeightsError(
      f"{pth_path}: sha256 {source_sha256[:8]}... is not pytorch-fid's FID weights ({FID_WEIGHTS_SHA256_PREFIX}...); "
      f'download {FID_WEIGHTS_URL}; to convert this file anyway: verify=False (jaxgan-convert-inception --any-weights)'
    )
  try:
    state_dict = torch.load(pth_path, map_location='cpu', weights_only=True)
  except Exception as e:  # torch raises several kinds on a file that is not a state dict
    raise InceptionWeightsError(f'{pth_path}: cannot be read as a torch state dict ({type(e).__name__}: {e})') from e
  if not isinstance(state_dict, Mapping):
    raise InceptionWeightsError(f'{pth_path}: holds a {type(state_dict).__name__}, not a state dict')
  try:
    variables = state_dict_to_variables({k: v.detach().cpu().numpy() for k, v in state_dict.items()})
  except InceptionWeightsError as e:
    raise InceptionWeightsError(f'{pth_path}: {e}') from None
  arrays = traverse_util.flatten_dict(variables, sep='/')
  out_path = Path(out_path).expanduser()
  out_path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=f'.{out_path.name}.', suffix='.tmp')
  try:
    with os.fdopen(fd, 'wb') as f:
      np.savez(f, source_sha256=np.array(source_sha256), **arrays)
    os.replace(tmp, out_path)
  except BaseException:
    Path(tmp).unlink(missing_ok=True)
    raise
  return str(out_path)


@jax.jit
def _network(variables: Variables, images: jax.Array) -> tuple[jax.Array, jax.Array]:
  return FIDInceptionV3().apply(variables, images)


_preprocess = jax.jit(preprocess)


def inception_features(variables: Variables, images: jax.typing.ArrayLike) -> tuple[jax.Array, jax.Array]:
  """FIDInceptionV3 applied to images [B, H, W, 1 or 3] in [-1, 1]: (pool3 [B, 2048], logits [B, 1008]).

  The resize is jitted per input shape, the network once per batch size (it always sees 299x299x3).
  """
  return _network(variables, _preprocess(images))


@dataclasses.dataclass(frozen=True, eq=False)
class Inception:
  """The FID Inception with its weights, as `load` returns it."""

  variables: Variables  # {'params': ..., 'batch_stats': ...} of FIDInceptionV3, on the device
  weights_sha256: str  # of the .npz file
  source_sha256: str  # of the .pth file it was converted from

  def features(self, images: jax.typing.ArrayLike) -> tuple[jax.Array, jax.Array]:
    """(pool3 [B, 2048], logits [B, 1008]) of images [B, H, W, 1 or 3] in [-1, 1], any size; jitted."""
    return inception_features(self.variables, images)


def load(path: str | os.PathLike | None = None) -> Inception:
  """Reads the weights `convert` wrote (default: `default_weights_path()`).

  Raises:
    InceptionWeightsError: the file is missing, unreadable or not the FID Inception's.
  """
  path = Path(path if path is not None else default_weights_path()).expanduser()
  try:
    data = path.read_bytes()
  except OSError as e:
    reason = 'not found' if isinstance(e, FileNotFoundError) else f'unreadable ({e.strerror})'
    raise InceptionWeightsError(f'Inception weights {path} {reason}: {_CONVERT_HINT}') from e
  try:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
      arrays = {k: npz[k] for k in npz.files}
  except Exception as e:  # a truncated or foreign file: zipfile, pickle or format errors
    raise InceptionWeightsError(f'Inception weights {path} unreadable ({type(e).__name__}): {_CONVERT_HINT}') from e
  source = arrays.pop('source_sha256', None)
  _check_complete(arrays, f'Inception weights {path}')
  variables = traverse_util.unflatten_dict({k: jnp.asarray(v, jnp.float32) for k, v in arrays.items()}, sep='/')
  return Inception(
    variables=variables,
    weights_sha256=hashlib.sha256(data).hexdigest(),
    source_sha256=str(source) if source is not None else '',
  )

"""Convolutions whose gradients XLA's CPU backend computes fast.

`conv` and `conv_transpose` are the functions of `lax.conv_general_dilated`
and `lax.conv_transpose` (NHWC inputs, HWIO kernels), rewritten around one
padded stride-1 convolution: a stride-s convolution reads s x s blocks of its
input as channels (space-to-depth; used for its gradients, XLA's strided
forward is fast already); a stride-s transposed convolution computes its s x s
output phases as channels (depth-to-space), so no multiply touches an inserted
zero. The stride-1 convolution has a custom VJP: its input gradient is a
forward convolution over the input's own extent (not its padding) and its
weight gradient a sum of matrix products, the two forms that XLA's CPU backend
runs near its matmul speed (its own weight gradient of a convolution runs
several times slower).

`impl='auto'` uses these forms on CPU and plain lax (cuDNN) elsewhere.

Below them, the flax layers every convolutional architecture shares: `Conv`
(either convolution through these functions), `batch_norm`, `spectral` (a layer
spectrally normalised on request), DCGAN's weight initialiser, and
`fir_resample`, the 2x up and down with a low-pass filter of R3GAN and StyleGAN2.
"""

import functools
from collections.abc import Sequence
from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

Impl = Literal['auto', 'lax', 'matmul']
Padding = str | Sequence[tuple[int, int]]
_DIMS = ('NHWC', 'HWIO', 'NHWC')


def _use_matmul(impl: Impl) -> bool:
  if impl not in ('auto', 'lax', 'matmul'):
    raise ValueError(f"impl must be 'auto', 'lax' or 'matmul', got {impl!r}")
  return impl == 'matmul' or (impl == 'auto' and jax.default_backend() == 'cpu')


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _correlate(x: jax.Array, w: jax.Array, pads: tuple) -> jax.Array:
  """Stride-1 cross-correlation of x [N, H, W, C] with w [kh, kw, C, F], padded by
  pads ((lo, hi), (lo, hi)); negative entries crop."""
  return _stride1_conv(x, w, pads)


def _stride1_conv(x: jax.Array, w: jax.Array, pads: Sequence[tuple[int, int]]) -> jax.Array:
  """lax's stride-1 convolution. Without any padding, XLA's CPU backend takes a
  path about twice as slow (jax 0.10): pad one row more and drop its output."""
  if any(p for pair in pads for p in pair):
    return lax.conv_general_dilated(x, w, (1, 1), pads, dimension_numbers=_DIMS)
  return lax.conv_general_dilated(x, w, (1, 1), ((0, 1), (0, 0)), dimension_numbers=_DIMS)[:, :-1]


def _correlate_fwd(x, w, pads):
  return _correlate(x, w, pads), (x, w)


def _correlate_bwd(pads, residuals, dy):
  x, w = residuals
  kh, kw, c, f = w.shape
  # The input gradient is the correlation of dy with the flipped kernel, padded
  # to land on x exactly (no work spent on the gradient of the padding).
  w_flipped = jnp.flip(w, (0, 1)).swapaxes(2, 3)
  dx_pads = [(k - 1 - lo, k - 1 - hi) for k, (lo, hi) in zip((kh, kw), pads, strict=True)]
  dx = _stride1_conv(dy, w_flipped, dx_pads)
  # The weight gradient, tap by tap: dw[a, b] = sum over n, i, j of
  # x_padded[n, i + a, j + b]^T dy[n, i, j] = x[n, i, j]^T dy_padded[n, i + k - 1 - a, j + k - 1 - b]
  # (dy padded as for dx). Each product is lhs^T @ window, the operand order
  # XLA's CPU matmul kernels run fastest; the side that copies fewer elements
  # (a padded copy and one window per tap of one operand, the other transposed
  # once) slides.
  (h, w_in), (oh, ow) = x.shape[1:3], dy.shape[1:3]
  copies = kh * kw + 1
  if copies * h * w_in * f + h * w_in * c <= copies * oh * ow * c + oh * ow * f:
    starts = [(kh - 1 - a, kw - 1 - b) for a in range(kh) for b in range(kw)]
    dw = _window_products(x, _pad_hw(dy, dx_pads), starts, (h, w_in)).reshape(w.shape)
  else:
    starts = [(a, b) for a in range(kh) for b in range(kw)]
    dw = _window_products(dy, _pad_hw(x, pads), starts, (oh, ow)).reshape(kh, kw, f, c).swapaxes(2, 3)
  return dx.astype(x.dtype), dw.astype(w.dtype)


_correlate.defvjp(_correlate_fwd, _correlate_bwd)


def _window_products(rows: jax.Array, windows: jax.Array, starts: list, size: tuple[int, int]) -> jax.Array:
  """[rows^T @ windows[:, i : i + size[0], j : j + size[1]] for (i, j) in starts], stacked.

  rows and each window are [N, *size, ...]; rows^T is laid out once (the
  barrier keeps XLA from folding the transpose back into every product).
  """
  rows_t = lax.optimization_barrier(rows.reshape(-1, rows.shape[-1]).T)
  (h, w), c = size, windows.shape[-1]
  return jnp.stack([rows_t @ windows[:, i : i + h, j : j + w].reshape(-1, c) for i, j in starts])


def _pad_hw(x: jax.Array, pads: Sequence[tuple[int, int]]) -> jax.Array:
  """x [N, H, W, C] padded with zeros by ((lo, hi), (lo, hi)); negative entries crop."""
  return lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), *((lo, hi, 0) for lo, hi in pads), (0, 0, 0)))


def _explicit_padding(padding: Padding, size: Sequence[int], kernel: Sequence[int], strides: Sequence[int]):
  if isinstance(padding, str):
    return lax.padtype_to_pads(size, kernel, strides, padding)
  return [tuple(p) for p in padding]


def conv(x: jax.Array, kernel: jax.Array, strides: Sequence[int], padding: Padding, impl: Impl = 'auto') -> jax.Array:
  """lax.conv_general_dilated(x, kernel, strides, padding) for NHWC x and HWIO kernel."""
  if not _use_matmul(impl):
    return lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=_DIMS)
  pads = _explicit_padding(padding, x.shape[1:3], kernel.shape[:2], strides)
  return _strided_conv(x, kernel, tuple(strides), tuple(map(tuple, pads)))


# XLA's own strided forward convolution is fast; its gradients come from the blocked form.
@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _strided_conv(x: jax.Array, kernel: jax.Array, strides: tuple[int, int], pads: tuple) -> jax.Array:
  return lax.conv_general_dilated(x, kernel, strides, pads, dimension_numbers=_DIMS)


def _strided_conv_fwd(x, kernel, strides, pads):
  return _strided_conv(x, kernel, strides, pads), (x, kernel)


def _strided_conv_bwd(strides, pads, residuals, dy):
  # The blocked form's forward output is unused here, and compiled away.
  return jax.vjp(lambda x, k: _blocked_conv(x, k, strides, pads), *residuals)[1](dy)


_strided_conv.defvjp(_strided_conv_fwd, _strided_conv_bwd)


def _blocked_conv(x: jax.Array, kernel: jax.Array, strides: tuple[int, int], pads: tuple) -> jax.Array:
  """The strided convolution as a stride-1 one over s x s blocks of x (space-to-depth)."""
  (kh, kw, c, f), (sh, sw) = kernel.shape, strides
  # Output o reads input rows s*o + j, j < k; with j = s*a + r that is block o + a, phase r.
  out = [(x.shape[1 + i] + sum(pads[i]) - k) // s + 1 for i, (k, s) in enumerate(((kh, sh), (kw, sw)))]
  taps = [-(-k // s) for k, s in ((kh, sh), (kw, sw))]  # ceil(k / s) blocks per axis
  # Padding by lo puts input row i at block (i + lo) // s: pad lo mod s pixels
  # and whole blocks for the rest, so the gradient covers only blocks of x.
  pixel_pads, block_pads = [], []
  for size, (lo, _), o, t, s in zip(x.shape[1:3], pads, out, taps, strides, strict=True):
    pixels = -(-(size + lo % s) // s) * s
    pixel_pads.append((lo % s, pixels - size - lo % s))
    block_pads.append((lo // s, o + t - 1 - lo // s - pixels // s))
  x = _pad_hw(x, pixel_pads)
  n, h, w = x.shape[:3]
  blocks = x.reshape(n, h // sh, sh, w // sw, sw, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h // sh, w // sw, -1)
  kernel = jnp.pad(kernel, ((0, taps[0] * sh - kh), (0, taps[1] * sw - kw), (0, 0), (0, 0)))
  kernel = kernel.reshape(taps[0], sh, taps[1], sw, c, f).transpose(0, 2, 1, 3, 4, 5).reshape(taps[0], taps[1], -1, f)
  return _correlate(blocks, kernel, tuple(block_pads))


def _phases(k: int, s: int, lo: int) -> tuple[np.ndarray, np.ndarray]:
  """For one axis of a stride-s transposed convolution, whose output t reads
  kernel tap j at input (t + j - lo) / s where that is whole, output phase p
  (t = s*q + p) is a stride-1 correlation: y[s*q + p] = sum_a x[q + a + offset[p]] k[tap[a, p]].
  Returns tap [n, s] (-1 where phase p has fewer than n taps) and offset [s].
  """
  residue = [(lo - p) % s for p in range(s)]
  n = max(-(-(k - r) // s) for r in residue)
  tap = np.array([[s * a + r if s * a + r < k else -1 for r in residue] for a in range(n)])
  offset = np.array([(r - lo + p) // s for p, r in enumerate(residue)])
  return tap, offset


def conv_transpose(
  x: jax.Array, kernel: jax.Array, strides: Sequence[int], padding: Padding, impl: Impl = 'auto'
) -> jax.Array:
  """lax.conv_transpose(x, kernel, strides, padding) for NHWC x and HWIO kernel."""
  if not _use_matmul(impl):
    return lax.conv_transpose(x, kernel, strides, padding, dimension_numbers=_DIMS)
  (kh, kw, c, f), (sh, sw) = kernel.shape, strides
  if isinstance(padding, str):
    pads = [_conv_transpose_padding(k, s, padding) for k, s in ((kh, sh), (kw, sw))]
  else:
    pads = [tuple(p) for p in padding]
  # The output length of the input dilated by s, padded and correlated with k.
  out = [(x.shape[1 + i] - 1) * s + 1 + sum(pads[i]) - k + 1 for i, (k, s) in enumerate(((kh, sh), (kw, sw)))]
  (tap_h, off_h), (tap_w, off_w) = (_phases(k, s, lo) for k, s, (lo, _) in zip((kh, kw), strides, pads, strict=True))
  # One kernel for all phases: [a, b, C, (p_h, p_w, F)], zero where a phase has no tap.
  phase_kernel = kernel[np.maximum(tap_h, 0)[:, None, :, None], np.maximum(tap_w, 0)[None, :, None, :]]
  valid = (tap_h >= 0)[:, None, :, None] & (tap_w >= 0)[None, :, None, :]
  phase_kernel = jnp.where(valid[..., None, None], phase_kernel, 0).transpose(0, 1, 4, 2, 3, 5)
  phase_kernel = phase_kernel.reshape(len(tap_h), len(tap_w), c, sh * sw * f)
  # Every phase reads the window starting at q + offset[p]: cover them all, then pick each phase's rows.
  q = [-(-o // s) for o, s in zip(out, strides, strict=True)]
  window_pads = []
  for axis, offset, n, qi in ((1, off_h, len(tap_h), q[0]), (2, off_w, len(tap_w), q[1])):
    start, length = int(offset.min()), qi + int(offset.max() - offset.min()) + n - 1
    window_pads.append((-start, start + length - x.shape[axis]))
  z = _correlate(x, phase_kernel, tuple(window_pads))
  z = z.reshape(*z.shape[:3], sh, sw, f)
  rows = []
  for ph in range(sh):
    dh = int(off_h[ph] - off_h.min())
    cols = [z[:, dh : dh + q[0], int(off_w[pw] - off_w.min()) :, ph, pw][:, :, : q[1]] for pw in range(sw)]
    rows.append(jnp.stack(cols, 3))  # [N, q_h, q_w, s_w, F]
  y = jnp.stack(rows, 2).reshape(x.shape[0], q[0] * sh, q[1] * sw, f)
  return y[:, : out[0], : out[1]]


def _conv_transpose_padding(k: int, s: int, padding: str) -> tuple[int, int]:
  """The (before, after) padding lax.conv_transpose uses for 'SAME' or 'VALID'."""
  if padding == 'SAME':
    total = k + s - 2
    before = k - 1 if s > k - 1 else -(-total // 2)
  elif padding == 'VALID':
    total = k + s - 2 + max(k - s, 0)
    before = k - 1
  else:
    raise ValueError(f"padding must be 'SAME', 'VALID' or explicit pairs, got {padding!r}")
  return before, total - before


DCGAN_INIT = nn.initializers.normal(0.02)  # as Radford et al. (2016)


def grouped_conv(x: jax.Array, kernel: jax.Array, groups: int, padding: Padding, impl: Impl = 'auto') -> jax.Array:
  """A stride-1 convolution in `groups` groups of channels (kernel [kh, kw, C / groups, F]); with the matmul
  forms one `conv` a group (XLA's CPU weight gradient of a grouped convolution runs about 30x slower)."""
  if groups == 1:
    return conv(x, kernel, (1, 1), padding, impl)
  if _use_matmul(impl):
    parts = zip(jnp.split(x, groups, axis=-1), jnp.split(kernel, groups, axis=-1), strict=True)
    return jnp.concatenate([conv(part, weights, (1, 1), padding, impl) for part, weights in parts], axis=-1)
  return lax.conv_general_dilated(x, kernel, (1, 1), padding, dimension_numbers=_DIMS, feature_group_count=groups)


class Conv(nn.Module):
  """A convolution (without bias unless asked) through jaxgan.models.conv (fast gradients on CPU).

  With `transpose`, the transposed convolution that flax's ConvTranspose
  computes (stride-2 4x4 'SAME' upsamples 2x); otherwise a cross-correlation as
  flax's Conv, in `groups` groups of channels if asked (stride 1). Kernels are
  (kh, kw, C_in / groups, features) as in flax.
  """

  features: int
  kernel_size: tuple[int, int]
  strides: tuple[int, int] = (1, 1)
  padding: Padding = 'SAME'
  transpose: bool = False
  impl: Impl = 'auto'
  use_bias: bool = False
  kernel_init: nn.initializers.Initializer = DCGAN_INIT
  groups: int = 1

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param('kernel', self.kernel_init, (*self.kernel_size, x.shape[-1] // self.groups, self.features))
    kernel = kernel.astype(x.dtype)
    if self.groups > 1:
      y = grouped_conv(x, kernel, self.groups, self.padding, self.impl)
    else:
      y = (conv_transpose if self.transpose else conv)(x, kernel, self.strides, self.padding, self.impl)
    return y + self.param('bias', nn.initializers.zeros, (self.features,)).astype(y.dtype) if self.use_bias else y


def fir_resample(x: jax.Array, taps: Sequence[float], up: bool) -> jax.Array:
  """x [N, H, W, C] resampled 2x, up or down, with the separable low-pass filter outer(taps, taps) (normalised),
  channel by channel and zero-padded, as upfirdn2d of StyleGAN2's release: up inserts zeros and filters (gain 4),
  down filters and keeps every other pixel. [N, 2H, 2W, C] or [N, H / 2, W / 2, C]."""
  length = len(taps)
  pads = ((length + 1) // 2, length // 2) if up else ((length - 1) // 2, (length - 2) // 2)
  return fir_filter(x, taps, pads, up=up, stride=1 if up else 2)


def fir_filter(
  x: jax.Array, taps: Sequence[float], pads: tuple[int, int], *, up: bool = False, stride: int = 1
) -> jax.Array:
  """x [N, H, W, C] (with zeros inserted 2x if `up`, and then gain 4) zero-padded by pads on both axes and
  filtered channel by channel with outer(taps, taps) (normalised), keeping every `stride`-th pixel."""
  taps = np.asarray(taps, np.float64)
  fir = np.outer(taps, taps) / taps.sum() ** 2 * (4 if up else 1)
  return lax.conv_general_dilated(
    x,
    jnp.asarray(np.tile(fir[:, :, None, None], (1, 1, 1, x.shape[-1])), x.dtype),
    window_strides=(stride, stride),
    padding=(pads, pads),
    lhs_dilation=(2, 2) if up else (1, 1),
    dimension_numbers=_DIMS,
    feature_group_count=x.shape[-1],
  )


def batch_norm(train: bool) -> nn.BatchNorm:
  """Batch norm as PyTorch's defaults (momentum 0.9 here is PyTorch's momentum 0.1)."""
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)


def spectral(layer: nn.Module, x: jax.Array, spectral_norm: bool, train: bool) -> jax.Array:
  """layer(x), its weights spectrally normalised if asked: one power iteration per call in training, its vector
  and the estimated singular value kept in the batch_stats collection (so in the train state)."""
  return nn.SpectralNorm(layer)(x, update_stats=train) if spectral_norm else layer(x)

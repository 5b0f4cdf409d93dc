import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxgan.game import augment
from jaxgan.game.augment import AUGMENTATIONS, diff_augment, instance_noise, pack

pytestmark = pytest.mark.usefixtures('strict_dtypes')

KEY = jax.random.key(0)
# Compiled once per shape and policy: eager dispatch of every small op is slow on a busy CPU.
augment_jit = jax.jit(diff_augment, static_argnames='policy')


def _images(shape=(4, 8, 8, 3), seed=0):
  return jnp.asarray(np.random.default_rng(seed).uniform(-1, 1, size=shape), jnp.float32)


def _np_translate(x, rows, cols):
  """out[b, i, j] = x[b, i - rows[b], j - cols[b]], zero outside."""
  out = np.zeros_like(x)
  _, h, w, _ = x.shape
  for b, (dy, dx) in enumerate(zip(rows, cols, strict=True)):
    for i in range(h):
      for j in range(w):
        if 0 <= i - dy < h and 0 <= j - dx < w:
          out[b, i, j] = x[b, i - dy, j - dx]
  return out


def _np_cutout_mask(shape, top, left):
  """True inside each example's cutout rectangle, clipped at the borders."""
  b, h, w, _ = shape
  ch, cw = int(h / 2 + 0.5), int(w / 2 + 0.5)
  mask = np.zeros((b, h, w), bool)
  for n in range(b):
    mask[n, max(top[n], 0) : max(top[n] + ch, 0), max(left[n], 0) : max(left[n] + cw, 0)] = True
  return mask


def _np_color(x, brightness, saturation, contrast):
  x = np.asarray(x, np.float64) + brightness[:, None, None, None]
  mean = x.mean(axis=-1, keepdims=True)
  x = (x - mean) * saturation[:, None, None, None] + mean
  mean = x.mean(axis=(1, 2, 3), keepdims=True)
  return (x - mean) * contrast[:, None, None, None] + mean


# DiffAugment: randomness.


def test_same_key_same_result_and_other_keys_differ():
  x = _images()
  a = augment_jit(KEY, x, AUGMENTATIONS)
  np.testing.assert_array_equal(a, augment_jit(KEY, x, AUGMENTATIONS))
  assert not np.allclose(a, augment_jit(jax.random.key(1), x, AUGMENTATIONS))


def test_each_example_gets_its_own_draw():
  x = jnp.broadcast_to(_images((1, 8, 8, 3)), (4, 8, 8, 3))
  out = np.asarray(augment_jit(KEY, x, AUGMENTATIONS))
  assert len({example.tobytes() for example in out}) == 4
  rows, cols = augment._translation_offsets(KEY, 64, 8, 8)
  assert len(set(np.asarray(rows).tolist())) > 1 and len(set(np.asarray(cols).tolist())) > 1


def test_stages_follow_the_policy_order_each_with_its_folded_key():
  x = np.asarray(_images())
  rows, cols = augment._translation_offsets(jax.random.fold_in(KEY, 0), 4, 8, 8)
  factors = augment._color_factors(jax.random.fold_in(KEY, 1), 4)
  shifted = _np_translate(x, np.asarray(rows), np.asarray(cols))
  expected = _np_color(shifted, *(np.asarray(f, np.float64) for f in factors))
  np.testing.assert_allclose(augment_jit(KEY, x, ('translation', 'color')), expected, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(augment_jit(KEY, x, ()), x)


# Translation.


def test_translation_offsets_cover_minus_s_to_s_per_axis():
  # s = int(16 / 8 + 0.5) = 2 for the rows, int(20 / 8 + 0.5) = 3 for the columns.
  rows, cols = augment._translation_offsets(KEY, 2000, 16, 20)
  assert set(np.asarray(rows).tolist()) == set(range(-2, 3))
  assert set(np.asarray(cols).tolist()) == set(range(-3, 4))


def test_translation_moves_a_bright_pixel_by_at_most_s_and_brings_in_zeros():
  b, h, w = 32, 16, 16  # s = 2
  x = np.zeros((b, h, w, 1), np.float32)
  x[:, 7, 9, 0] = 1.0
  out = np.asarray(augment_jit(KEY, jnp.asarray(x), ('translation',)))
  moves = set()
  for example in out:
    (i,), (j,), _ = np.nonzero(example)
    assert abs(i - 7) <= 2 and abs(j - 9) <= 2
    assert example.sum() == 1.0
    moves.add((i - 7, j - 9))
  assert len(moves) > 1


def test_translation_equals_the_numpy_shift_by_the_drawn_offsets():
  x = np.asarray(_images((6, 8, 12, 2)))  # s = 1 for the rows, 2 for the columns
  rows, cols = augment._translation_offsets(jax.random.fold_in(KEY, 0), 6, 8, 12)
  out = augment_jit(KEY, x, ('translation',))
  np.testing.assert_array_equal(out, _np_translate(x, np.asarray(rows), np.asarray(cols)))


# Cutout.


@pytest.mark.parametrize('shape', [(64, 8, 8, 2), (64, 10, 6, 1)])
def test_cutout_zeroes_exactly_a_clipped_rectangle_and_keeps_the_rest(shape):
  b, h, w, _ = shape
  ch, cw = int(h / 2 + 0.5), int(w / 2 + 0.5)
  x = np.asarray(_images(shape)) + 2.0  # no zeros to start with
  out = np.asarray(augment_jit(KEY, x, ('cutout',)))
  top, left = (np.asarray(v) for v in augment._cutout_corners(jax.random.fold_in(KEY, 0), b, h, w))
  mask = _np_cutout_mask(shape, top, left)
  np.testing.assert_array_equal(out, np.where(mask[..., None], 0, x))
  clipped = 0
  for zeros in (out == 0).all(axis=-1):
    rows, cols = np.nonzero(zeros.any(axis=1))[0], np.nonzero(zeros.any(axis=0))[0]
    # One rectangle: its rows and columns are contiguous and it fills their product.
    assert np.array_equal(rows, np.arange(rows[0], rows[-1] + 1))
    assert np.array_equal(cols, np.arange(cols[0], cols[-1] + 1))
    assert zeros.sum() == len(rows) * len(cols)
    # At most the full size, at least half of it (the centre lies in the image).
    assert (ch + 1) // 2 <= len(rows) <= ch and (cw + 1) // 2 <= len(cols) <= cw
    clipped += len(rows) < ch or len(cols) < cw
  assert 0 < clipped < b


def test_cutout_centre_range_follows_the_reference():
  # Even size 4 on 8 rows: centre in [0, 8], top in [-2, 6]. Odd size 5 on 10: centre in [0, 9], top in [-2, 7].
  top, left = augment._cutout_corners(KEY, 2000, 8, 10)
  assert set(np.asarray(top).tolist()) == set(range(-2, 7))
  assert set(np.asarray(left).tolist()) == set(range(-2, 8))


# Colour.


def test_color_with_known_factors():
  x = jnp.array([[[[0.0, 0.3, 0.6], [-0.6, -0.3, 0.0]]]])  # [1, 1, 2, 3]
  grey = augment._adjust_color(x, jnp.array([0.25]), jnp.array([0.0]), jnp.array([1.0]))
  np.testing.assert_allclose(grey, [[[[0.55] * 3, [-0.05] * 3]]], atol=1e-6)
  vivid = augment._adjust_color(x, jnp.array([0.0]), jnp.array([2.0]), jnp.array([0.5]))
  np.testing.assert_allclose(vivid, [[[[-0.15, 0.15, 0.45], [-0.45, -0.15, 0.15]]]], atol=1e-6)


def test_color_matches_numpy_with_the_drawn_factors():
  x = _images()
  factors = augment._color_factors(jax.random.fold_in(KEY, 0), 4)
  brightness, saturation, contrast = (np.asarray(f, np.float64) for f in factors)
  assert np.all(np.abs(brightness) <= 0.5) and np.all((saturation >= 0) & (saturation <= 2))
  assert np.all((contrast >= 0.5) & (contrast <= 1.5))
  expected = _np_color(x, brightness, saturation, contrast)
  np.testing.assert_allclose(augment_jit(KEY, x, ('color',)), expected, rtol=1e-5, atol=1e-6)


# Gradients, jit, vmap, bfloat16.


def test_gradients_of_translation_and_cutout_are_their_masks():
  x = _images()
  # Translation: a pixel gets gradient 1 if it stays in the image, else 0.
  rows, cols = augment._translation_offsets(jax.random.fold_in(KEY, 0), 4, 8, 8)
  grad = jax.jit(jax.grad(lambda x: jnp.sum(diff_augment(KEY, x, ('translation',)))))(x)
  np.testing.assert_array_equal(grad, _np_translate(np.ones(x.shape, np.float32), -np.asarray(rows), -np.asarray(cols)))
  # Cutout: 0 inside the rectangle, 1 elsewhere.
  top, left = augment._cutout_corners(jax.random.fold_in(KEY, 0), 4, 8, 8)
  grad = jax.jit(jax.grad(lambda x: jnp.sum(diff_augment(KEY, x, ('cutout',)))))(x)
  mask = _np_cutout_mask(x.shape, np.asarray(top), np.asarray(left))
  np.testing.assert_array_equal(grad, np.broadcast_to(~mask[..., None], x.shape).astype(np.float32))


def test_check_grads_on_color():
  color = jax.jit(lambda x: diff_augment(KEY, x, ('color',)))
  check_grads(color, (_images((2, 4, 4, 3)),), order=1, modes=('fwd', 'rev'))


def test_jit_equals_eager_and_vmap_equals_a_loop():
  x = _images()
  np.testing.assert_allclose(augment_jit(KEY, x, AUGMENTATIONS), diff_augment(KEY, x, AUGMENTATIONS), atol=1e-6)
  keys = jax.random.split(KEY, 2)
  xs = _images((2, 4, 8, 8, 3))
  looped = np.stack([augment_jit(keys[i], xs[i], AUGMENTATIONS) for i in range(2)])
  vmapped = jax.jit(jax.vmap(functools.partial(diff_augment, policy=AUGMENTATIONS)))(keys, xs)
  np.testing.assert_allclose(vmapped, looped, atol=1e-6)


def test_bfloat16_keeps_its_dtype_draws_and_gradients():
  x = _images()
  out = augment_jit(KEY, x.astype(jnp.bfloat16), AUGMENTATIONS)
  assert out.dtype == jnp.bfloat16
  out = np.asarray(out, np.float32)
  assert np.all(np.isfinite(out))
  np.testing.assert_allclose(out, augment_jit(KEY, x, AUGMENTATIONS), atol=0.1)
  # The gradient of the sum of the whole policy's output, in bfloat16.
  loss = lambda x: jnp.sum(diff_augment(KEY, x, AUGMENTATIONS).astype(jnp.float32))  # noqa: E731
  grad = jax.jit(jax.grad(loss))(x.astype(jnp.bfloat16))
  assert grad.dtype == jnp.bfloat16
  grad = np.asarray(grad, np.float32)
  assert np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_diff_augment_errors():
  with pytest.raises(ValueError, match=r"unknown augmentation 'flip'; choose from color, translation, cutout"):
    diff_augment(KEY, _images(), ('color', 'flip'))
  with pytest.raises(ValueError, match=r'DiffAugment needs images \[B, H, W, C\], got shape \(8, 8, 3\)'):
    diff_augment(KEY, jnp.zeros((8, 8, 3)), ('color',))
  with pytest.raises(ValueError, match='not the string'):
    diff_augment(KEY, _images(), 'color')


# PacGAN packing.


def test_pack_points_and_images():
  points = jnp.array([[1, 2], [3, 4], [5, 6], [7, 8]])
  np.testing.assert_array_equal(pack(points, 2), [[1, 2, 3, 4], [5, 6, 7, 8]])
  np.testing.assert_array_equal(pack(points, 4), [[1, 2, 3, 4, 5, 6, 7, 8]])
  # images[b, i, j, c] = 1000 b + 100 i + 10 j + c
  b, i, j, c = np.meshgrid(np.arange(6), np.arange(2), np.arange(3), np.arange(2), indexing='ij')
  images = 1000 * b + 100 * i + 10 * j + c
  packed = pack(images, 3)
  assert packed.shape == (2, 2, 3, 6)
  np.testing.assert_array_equal(packed[1, 1, 2], [3120, 3121, 4120, 4121, 5120, 5121])
  np.testing.assert_array_equal(packed[0, 0, 0], [0, 1, 1000, 1001, 2000, 2001])
  assert jax.jit(pack, static_argnums=1)(images, 3).shape == (2, 2, 3, 6)


def test_pack_by_one_is_identity_and_bad_sizes_raise():
  x = _images((5, 2, 2, 1))
  np.testing.assert_array_equal(pack(x, 1), x)
  with pytest.raises(ValueError, match='cannot pack a batch of 5 in groups of 2: 5 is not divisible by 2'):
    pack(x, 2)
  with pytest.raises(ValueError, match='m >= 1'):
    pack(x, 0)
  with pytest.raises(ValueError, match=r'\[B, ..., D\]'):
    pack(jnp.zeros(4), 2)


# Instance noise.


def test_instance_noise_zero_std_is_identity():
  x = _images()
  np.testing.assert_array_equal(instance_noise(KEY, x, 0.0), x)
  np.testing.assert_array_equal(jax.jit(instance_noise)(KEY, x, 0.0), x)  # traced std
  with pytest.raises(ValueError, match='std >= 0'):
    instance_noise(KEY, x, -0.1)


def test_instance_noise_has_the_right_std_and_dtype():
  x = jnp.linspace(-1.0, 1.0, 100_000)
  noise = np.asarray(instance_noise(KEY, x, 0.3) - x)
  assert abs(noise.mean()) < 0.005
  assert abs(noise.std() - 0.3) < 0.003
  np.testing.assert_array_equal(instance_noise(KEY, x, 0.3), instance_noise(KEY, x, 0.3))
  assert not np.allclose(instance_noise(KEY, x, 0.3), instance_noise(jax.random.key(1), x, 0.3))
  noisy = instance_noise(KEY, x.astype(jnp.bfloat16), 0.3)
  assert noisy.dtype == jnp.bfloat16 and noisy.shape == x.shape

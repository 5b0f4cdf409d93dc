"""jaxgan.models.conv's matmul forms against lax, values and gradients, in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxgan.models import conv

DIMS = ('NHWC', 'HWIO', 'NHWC')
CASES = [
  # kernel, strides, padding, input [N, H, W, C]
  ((4, 4), (2, 2), 'SAME', (2, 8, 8, 3)),
  ((4, 4), (2, 2), 'SAME', (1, 7, 5, 2)),
  ((3, 3), (1, 1), 'SAME', (2, 5, 6, 3)),
  ((5, 5), (2, 2), 'SAME', (1, 7, 7, 2)),
  ((5, 3), (2, 1), 'VALID', (1, 9, 6, 2)),
  ((3, 3), (3, 2), ((2, 0), (1, 2)), (1, 8, 7, 2)),
  ((1, 1), (2, 2), 'SAME', (1, 4, 4, 3)),
  # Padding wider than the kernel, and negative padding (a crop).
  ((3, 2), (2, 1), ((4, -1), (-1, 3)), (1, 9, 7, 2)),
  ((2, 3), (1, 2), ((-2, 3), (3, 0)), (1, 6, 8, 2)),
]


@pytest.fixture(autouse=True)
def float64():
  with jax.enable_x64(True):
    yield


def _inputs(kernel, shape, features=4):
  rng = np.random.default_rng(0)
  return jnp.asarray(rng.normal(size=shape)), jnp.asarray(rng.normal(size=(*kernel, shape[-1], features)))


def _check(ours, reference, x, w):
  np.testing.assert_allclose(ours(x, w), reference(x, w), atol=1e-12)

  def loss(f):
    return lambda x, w: jnp.sum(jnp.sin(f(x, w)))

  for got, want in zip(jax.grad(loss(ours), (0, 1))(x, w), jax.grad(loss(reference), (0, 1))(x, w), strict=True):
    np.testing.assert_allclose(got, want, atol=1e-12)


REFERENCES = {
  'conv': lambda x, w, s, p: lax.conv_general_dilated(x, w, s, p, dimension_numbers=DIMS),
  'conv_transpose': lambda x, w, s, p: lax.conv_transpose(x, w, s, p, dimension_numbers=DIMS),
}


@pytest.mark.parametrize('op', sorted(REFERENCES))
@pytest.mark.parametrize('kernel, strides, padding, shape', CASES)
def test_matmul_form_equals_lax(op, kernel, strides, padding, shape):
  x, w = _inputs(kernel, shape)
  ours = getattr(conv, op)
  _check(
    lambda x, w: ours(x, w, strides, padding, impl='matmul'),
    lambda x, w: REFERENCES[op](x, w, strides, padding),
    x,
    w,
  )


def test_bad_impl():
  x, w = _inputs((3, 3), (1, 4, 4, 1))
  with pytest.raises(ValueError, match="impl must be 'auto', 'lax' or 'matmul'"):
    conv.conv(x, w, (1, 1), 'SAME', impl='cudnn')

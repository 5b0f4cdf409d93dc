"""Shared test fixtures."""

import jax
import pytest


@pytest.fixture
def strict_dtypes():
  """Strict dtype promotion (as equinox's tests use) for jaxgan's own numerics.

  Not for the train step: optax's Adam itself mixes int32 and float there.
  """
  with jax.numpy_dtype_promotion('strict'):
    yield

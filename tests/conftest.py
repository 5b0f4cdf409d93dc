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


@pytest.fixture(autouse=True, scope='session')
def _cache_of_this_session(tmp_path_factory):
  """Classifiers and reference features cached for this test session only (and shared by its tests and the
  commands they run), never in the user's ~/.cache/jaxgan."""
  with pytest.MonkeyPatch.context() as patch:
    patch.setenv('JAXGAN_CACHE', str(tmp_path_factory.mktemp('jaxgan-cache')))
    # No persistent XLA cache: in-process CLI runs would switch it on for every later compile of the session (and
    # write to ~/.cache); test_cli's own test of the cache turns it on in a subprocess.
    patch.setenv('JAXGAN_COMPILATION_CACHE', 'off')
    yield

"""Shared test fixtures."""

import os

import jax
import pytest

from jaxgan import cli


@pytest.fixture
def strict_dtypes():
  """Strict dtype promotion (as equinox's tests use) for jaxgan's own numerics.

  Not for the train step: optax's Adam itself mixes int32 and float there.
  """
  with jax.numpy_dtype_promotion('strict'):
    yield


def pytest_xdist_auto_num_workers(config):
  """`-n auto` (the default, pyproject.toml): a worker a core, at most 4 (each holds some 5 GB)."""
  return min(os.cpu_count() or 1, 4)


# The modules of whole training runs and subprocesses start first, so that none of them is left running alone at
# the end of a pytest-xdist session (the workers take tests in collection order).
_LONGEST_FIRST = ('test_resume', 'test_parallel', 'test_evaluation', 'test_readme', 'test_sweep', 'test_notebooks')
# The modules whose tests share a costly module-scoped fixture (a trained run, a classifier, converted weights)
# run on one worker each, which builds it once (`--dist loadgroup`, pyproject.toml); the others' tests spread.
_ONE_WORKER = (
  'test_resume',
  'test_parallel',
  'test_evaluation',
  'test_api',
  'test_bad_input',
  'test_classifier',
  'test_inception',
  'test_workdir',
)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook, which reads the xdist_group marks
def pytest_collection_modifyitems(items):
  def module_name(item):
    module = getattr(item, 'module', None)
    return module.__name__ if module else ''

  for item in items:
    if module_name(item) in _ONE_WORKER:
      item.add_marker(pytest.mark.xdist_group(module_name(item)))

  def rank(item):
    name = module_name(item)
    return _LONGEST_FIRST.index(name) if name in _LONGEST_FIRST else len(_LONGEST_FIRST)

  items.sort(key=rank)  # stable: each module keeps its order


@pytest.fixture(autouse=True, scope='session')
def _cache_of_this_session(tmp_path_factory):
  """Classifiers and reference features cached for this test session only (and shared by its tests, its
  pytest-xdist workers and the commands they run), never in the user's ~/.cache/jaxgan."""
  # The workers' temporary folders share a parent; jaxgan writes its cache entries atomically.
  session = tmp_path_factory.getbasetemp()
  session = session.parent if os.environ.get('PYTEST_XDIST_WORKER') else session
  for folder in ('jaxgan-cache', 'xla-cache'):
    (session / folder).mkdir(exist_ok=True)
  with pytest.MonkeyPatch.context() as patch:
    patch.setenv('JAXGAN_CACHE', str(session / 'jaxgan-cache'))
    # The workers and the commands that tests run as subprocesses share one compilation cache of this session:
    # a program that several workers compile (a recipe's step, say) is compiled once.
    patch.setenv('JAXGAN_COMPILATION_CACHE', str(session / 'xla-cache'))
    # Every program, however fast it compiles: the suite's many small runs compile the same small programs.
    patch.setenv('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)
    cli._enable_compilation_cache()  # in this worker too, as jaxgan-train sets it
    yield


_MAPS_BEFORE_RELEASE = 20_000  # of the kernel's 65,530 a process (vm.max_map_count)


@pytest.fixture(autouse=True, scope='module')
def _compiled_programs_released():
  """Releases the compiled programs after a test module once the process holds many memory maps. A session that
  kept all of them crashed twice inside XLA's CPU compiler (SIGSEGV) late in the run, at different tests; each
  program holds memory maps (about three for a small one). Below the threshold they stay: the modules share
  programs, which would otherwise compile again."""
  yield
  with open('/proc/self/maps') as maps:
    if sum(1 for _ in maps) > _MAPS_BEFORE_RELEASE:
      jax.clear_caches()

"""The house: rooms whose imports point one way, readable functions, old names and old workdirs still working."""

import ast
import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxgan
from jaxgan import cli
from jaxgan.run.runs import load as load_run

SRC = Path(jaxgan.__file__).parent
FIXTURES = Path(__file__).parent / 'fixtures' / 'workdirs-0.1'
# Each room's floor: a module may import from its own room and from rooms on lower floors only.
FLOORS = {
  'files': 0,
  'timing': 0,
  'config': 0,
  'configs': 0,
  'models': 1,
  'data': 1,
  'game': 2,
  'evaluation': 3,
  'run': 4,
  'cli': 5,
}
ROOMS = ('game', 'models', 'data', 'evaluation', 'run')
HEAVY = ('tensorflow', 'tensorflow_datasets', 'torch', 'matplotlib')
LONGEST_FUNCTION = 80  # lines


def module_name(path: Path) -> str:
  parts = path.relative_to(SRC.parent).with_suffix('').parts
  return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def room(module: str) -> str | None:
  """The room of jaxgan.ROOM[.x] (None for the package's own __init__, the public API above every room)."""
  parts = module.split('.')
  return None if len(parts) == 1 else 'config' if parts[1] == 'configs' else parts[1]


def is_module(name: str, known: set[str]) -> bool:
  if name in known:
    return True
  path = SRC.parent / name.replace('.', '/')
  return path.with_suffix('.py').exists() or (path / '__init__.py').exists()


def imports(source: str, known: set[str]) -> list[tuple[str, list[str]]]:
  """(the jaxgan module imported, the names taken from it) for every import in `source`, in functions too."""
  found = []
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.Import):
      found += [(alias.name, []) for alias in node.names if alias.name.startswith('jaxgan')]
    elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith('jaxgan'):
      for alias in node.names:
        submodule = f'{node.module}.{alias.name}'
        found.append((submodule, []) if is_module(submodule, known) else (node.module, [alias.name]))
  return found


def violations(sources: dict[str, str]) -> list[str]:
  """What breaks the house's rules among modules {name: source}: upward or sideways imports between rooms,
  private names taken across rooms, and cycles among the modules."""
  found, graph = [], {}
  for module, source in sources.items():
    graph[module] = set()
    for target, names in imports(source, set(sources)):
      graph[module].add(target)
      here, there = room(module), room(target)
      if here is None or there is None or here == there:
        continue
      if FLOORS[there] >= FLOORS[here]:
        found.append(f'{module} imports {target}: {there} is not below {here}')
      found += [f'{module} takes the private {target}.{name}' for name in names if name.startswith('_')]
  found += [f'import cycle: {" -> ".join(cycle)}' for cycle in _cycles(graph)]
  return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
  """One cycle through each module that lies on one (depth-first search over the module graph)."""
  cycles, done, path = [], set(), []

  def visit(node: str) -> None:
    if node in path:
      cycles.append([*path[path.index(node) :], node])
      return
    if node in done:
      return
    path.append(node)
    for target in sorted(graph.get(node, ())):
      visit(target)
    path.pop()
    done.add(node)

  for node in sorted(graph):
    visit(node)
  return cycles


def package_sources() -> dict[str, str]:
  return {module_name(p): p.read_text() for p in sorted(SRC.rglob('*.py'))}


def test_imports_point_down_with_no_cycle_and_no_private_name_across_rooms():
  assert violations(package_sources()) == []


@pytest.mark.parametrize(
  'module, line, broken',
  [
    ('jaxgan.game.losses', 'from jaxgan.run import loop', 'run is not below game'),
    ('jaxgan.data.sources', 'from jaxgan.models import make_models', 'models is not below data'),
    ('jaxgan.run.loop', 'from jaxgan.game.step import _kept', 'private jaxgan.game.step._kept'),
    ('jaxgan.config', 'import jaxgan.cli', 'cli is not below config'),
  ],
)
def test_a_broken_rule_is_found(module, line, broken):
  sources = package_sources()
  sources[module] += f'\n{line}\n'
  assert any(broken in v for v in violations(sources)), violations(sources)


def test_a_cycle_is_found():
  sources = {'jaxgan.game.a': 'from jaxgan.game import b', 'jaxgan.game.b': 'from jaxgan.game.a import x'}
  assert violations(sources) == ['import cycle: jaxgan.game.a -> jaxgan.game.b -> jaxgan.game.a']


def test_every_room_says_what_it_holds_and_may_import():
  for name in ROOMS:
    doc = importlib.import_module(f'jaxgan.{name}').__doc__ or ''
    assert 'import' in doc and len(doc.split()) > 30, name
    for path in (SRC / name).glob('*.py'):
      if path.stem != '__init__':
        assert re.search(rf'\b{path.stem}\b', doc), f'jaxgan.{name} does not describe {path.stem}'


def test_no_function_is_longer_than_a_screen():
  long = []
  for path in SRC.rglob('*.py'):
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        lines = node.end_lineno - node.lineno + 1
        if lines > LONGEST_FUNCTION:
          long.append(f'{module_name(path)}.{node.name}: {lines} lines')
  assert long == []


def test_no_heavy_library_is_imported_with_the_package():
  modules = sorted(module_name(p) for p in SRC.rglob('*.py'))
  code = f'import sys; [__import__(m) for m in {modules}]; print([h for h in {HEAVY} if h in sys.modules])'
  assert subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout == '[]\n'


@pytest.mark.parametrize('old, new', sorted(jaxgan._MOVED.items()))
def test_an_old_module_name_is_the_module_it_moved_to(old, new):
  assert importlib.import_module(old) is importlib.import_module(new)
  assert importlib.import_module(new).__spec__.name == new


def test_old_deep_imports_keep_working():
  from jaxgan.losses import get_objective  # noqa: F401
  from jaxgan.metrics import scores
  from jaxgan.metrics.scores import frechet_distance  # noqa: F401
  from jaxgan.mixtures import MIXTURES  # noqa: F401
  from jaxgan.theory import optimal_discriminator  # noqa: F401

  from jaxgan.models import DCGANGenerator, MLPGenerator  # noqa: F401

  assert scores is importlib.import_module('jaxgan.evaluation.scores')
  for name in jaxgan.__all__:
    assert getattr(jaxgan, name) is not None


def state_leaves(workdir: Path) -> list[np.ndarray]:
  _, state = load_run(workdir)
  return [np.asarray(x) for x in jax.tree.leaves(state.replace(key=jax.random.key_data(state.key)))]


@pytest.mark.parametrize('name', [pytest.param('gaussian1d', marks=pytest.mark.slow), 'digits', 'sweep'])  # CI: two
def test_a_workdir_of_jaxgan_0_1_resumes_to_what_a_fresh_run_gives(name, tmp_path):
  """Written by the flat package and killed after a checkpoint (fixtures/workdirs-0.1/README.md)."""
  resumed, fresh = tmp_path / 'resumed', tmp_path / 'fresh'
  shutil.copytree(FIXTURES / name, resumed)
  command = _command(name)  # the same command line as the run was started with
  assert cli.train_main([*command, '--workdir', str(resumed)]) == 0
  assert cli.train_main([*command, '--workdir', str(fresh)]) == 0
  for a, b in zip(state_leaves(resumed), state_leaves(fresh), strict=True):
    np.testing.assert_array_equal(a, b)
  summaries = [json.loads((w / 'summary.json').read_text()) for w in (resumed, fresh)]
  for summary in summaries:
    summary.pop('wall_seconds')
  assert summaries[0] == summaries[1]


def _command(name: str) -> list[str]:
  """The command line each fixture was started with (fixtures/workdirs-0.1/README.md)."""
  gaussian1d = ['--config', 'gaussian1d', '--steps', '80', '--set', 'train.log_every=20']
  gaussian1d += ['--set', 'train.checkpoint_every=40', '--set', 'eval.panel_fractions=0.25,1']
  digits = ['--config', 'digits', '--steps', '40', '--set', 'train.log_every=10', '--set', 'train.checkpoint_every=20']
  digits += ['--set', 'train.sample_every=20', '--set', 'model.g_width=8', '--set', 'model.d_width=8']
  digits += ['--set', 'eval.metrics=()']
  return {
    'gaussian1d': gaussian1d,
    'sweep': [*gaussian1d, '--sweep', 'train.seed=0,1'],
    'digits': digits,
  }[name]

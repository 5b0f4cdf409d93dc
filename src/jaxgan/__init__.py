"""jaxgan: Generative Adversarial Networks in functional JAX.

The public names below load on first use, so that `import jaxgan` (and the
command line's --help, --version and Ctrl-C during start-up) costs no JAX import.

    config = jaxgan.get_config('gaussian1d', train__steps=600)  # configs
    jaxgan.train(config, 'runs/api')                             # the training loop
    config, state = jaxgan.load('runs/api')                      # a run read back
    samples = jaxgan.sample('runs/api', 1000)                    # its EMA generator's samples

and the pieces of the game: losses and objectives, penalties, augmentation,
models, latent priors, the theory of the original GAN, and metrics.

The package is in rooms (the README's "How the code is laid out"): jaxgan.game,
jaxgan.models, jaxgan.data, jaxgan.evaluation and jaxgan.run, over jaxgan.config
and jaxgan.files. The flat modules of jaxgan 0.1 (jaxgan.losses, jaxgan.loop,
jaxgan.metrics.scores, ...) still import, as aliases of the modules they moved to.
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
from typing import Any

__version__ = '0.1.0'

_PUBLIC = {
  # configs
  'Config': 'jaxgan.config',
  'ConfigError': 'jaxgan.config',
  'get_config': 'jaxgan.config',
  # runs: train, read back, sample
  'Interrupted': 'jaxgan.run.loop',
  'RunError': 'jaxgan.run.loop',
  'train': 'jaxgan.run.loop',
  'sweep': 'jaxgan.run.loop',
  'product': 'jaxgan.run.population',
  'create_population': 'jaxgan.game.state',
  'load': 'jaxgan.run.runs',
  'sample': 'jaxgan.run.runs',
  # the game, step by step
  'GANState': 'jaxgan.game.state',
  'create_state': 'jaxgan.game.state',
  'generate': 'jaxgan.game.state',
  'train_step': 'jaxgan.game.step',
  'train_steps': 'jaxgan.game.step',
  # losses, penalties, augmentation, priors
  'GANObjective': 'jaxgan.game.losses',
  'discriminator_loss': 'jaxgan.game.losses',
  'get_objective': 'jaxgan.game.losses',
  'minimax_generator_loss': 'jaxgan.game.losses',
  'non_saturating_generator_loss': 'jaxgan.game.losses',
  'value_function': 'jaxgan.game.losses',
  'get_penalty': 'jaxgan.game.penalties',
  'diff_augment': 'jaxgan.game.augment',
  'sample_latent': 'jaxgan.game.priors',
  # models
  'MLPGenerator': 'jaxgan.models',
  'MLPDiscriminator': 'jaxgan.models',
  'DCGANGenerator': 'jaxgan.models',
  'DCGANDiscriminator': 'jaxgan.models',
  # theory (Goodfellow et al., 2014) and metrics
  'MINUS_LOG4': 'jaxgan.game.theory',
  'optimal_discriminator': 'jaxgan.game.theory',
  'kl_divergence': 'jaxgan.game.theory',
  'js_divergence': 'jaxgan.game.theory',
  'virtual_training_criterion': 'jaxgan.game.theory',
  'mode_metrics': 'jaxgan.data.mixtures',
  'evaluate_run': 'jaxgan.run.evaluate',
  'evaluate_images': 'jaxgan.evaluation.scoring',
  'EvalError': 'jaxgan.evaluation.scoring',
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
  if name not in _PUBLIC:
    raise AttributeError(f'module jaxgan has no attribute {name!r}')
  value = getattr(importlib.import_module(_PUBLIC[name]), name)
  globals()[name] = value
  return value


def __dir__() -> list[str]:
  return sorted({*globals(), *_PUBLIC})


# jaxgan 0.1's flat modules, and the modules they are now.
_MOVED = {
  **{f'jaxgan.{name}': f'jaxgan.game.{name}' for name in ('augment', 'losses', 'penalties', 'priors', 'theory')},
  **{f'jaxgan.{name}': f'jaxgan.game.{name}' for name in ('state', 'step')},
  'jaxgan.conv': 'jaxgan.models.conv',
  **{f'jaxgan.{name}': f'jaxgan.data.{name}' for name in ('mixtures', 'parallel', 'pipeline', 'prepared')},
  'jaxgan.metrics': 'jaxgan.evaluation',
  'jaxgan.eval1d': 'jaxgan.evaluation.game1d',
  'jaxgan.eval2d': 'jaxgan.evaluation.toys2d',
  **{
    f'jaxgan.{name}': f'jaxgan.run.{name}'
    for name in ('checkpoint', 'images', 'loop', 'population', 'runs', 'samples', 'workdir', 'writer')
  },
}


class _Aliases(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """Imports an old module name (and, under jaxgan.metrics, its submodules) as the module it moved to: the
  same module object, so that `jaxgan.losses is jaxgan.game.losses`."""

  def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
    return importlib.machinery.ModuleSpec(fullname, self) if _moved_to(fullname) else None

  def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
    module = importlib.import_module(_moved_to(spec.name))
    spec.loader_state = module.__spec__  # the import system sets the alias's spec on it: exec_module restores it
    return module

  def exec_module(self, module: Any) -> None:
    module.__spec__ = module.__spec__.loader_state


def _moved_to(name: str) -> str | None:
  if name in _MOVED:
    return _MOVED[name]
  if name.startswith('jaxgan.metrics.'):
    return 'jaxgan.evaluation.' + name.removeprefix('jaxgan.metrics.')
  return None


sys.meta_path.insert(0, _Aliases())  # first: jaxgan.metrics.scores must not load a second copy

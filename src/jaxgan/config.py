"""Run configuration: typed, frozen, nested dataclasses.

A config file is a Python file with `get_config() -> Config`; the built-in ones
live in `jaxgan.configs`. Any leaf can be overridden from text, for example
`optim.g_lr=2e-4`, with its type checked against the field's annotation, or
from Python values: `get_config('digits', optim__g_lr=2e-4)` (jaxgan.get_config).
"""

import dataclasses
import importlib
import importlib.util
import math
import os
import pkgutil
import types
import typing
from pathlib import Path
from typing import Any, Literal

# The names a config may choose between, here (the floor everything else imports from) and checked by the
# modules that implement them.
Prior = Literal['uniform', 'normal']  # jaxgan.game.priors
Activation = Literal['relu', 'leaky_relu', 'tanh', 'elu']  # jaxgan.models.mlp
Objective = Literal[
  'minimax', 'non_saturating', 'least_squares', 'wasserstein', 'hinge', 'relativistic', 'relativistic_average'
]  # jaxgan.game.losses
WITH_LABELS = ('minimax', 'non_saturating', 'least_squares')  # objectives with labels to smooth
PenaltyName = Literal['r1', 'r2', 'r1_r2', 'wgan_gp', 'dragan']  # jaxgan.game.penalties
PENALTIES: tuple[PenaltyName, ...] = typing.get_args(PenaltyName)
Augmentation = Literal['color', 'translation', 'cutout']  # jaxgan.game.augment
Conditioning = Literal['none', 'concat', 'projection', 'acgan']  # jaxgan.models.conditioning


class ConfigError(ValueError):
  """A config, an override or a config name that cannot be used."""


MAX_SEED = 2**32 - 1  # seeds numpy's generators and jax.random.key alike


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """The two players' architectures and the latent prior."""

  architecture: Literal['mlp', 'dcgan', 'resnet', 'r3gan', 'stylegan2'] = 'mlp'
  latent_dim: int = 1
  prior: Prior = 'uniform'
  g_hidden: tuple[int, ...] = (64, 64)  # mlp only
  d_hidden: tuple[int, ...] = (64, 64)  # mlp only
  activation: Activation = 'leaky_relu'  # mlp only
  g_width: int = 64  # dcgan: channels of G's last stage; resnet: of every G block (SNGAN's ch); r3gan: of every stage
  d_width: int = 64  # dcgan: channels of D's first stage; resnet: of every D block; r3gan: of every stage
  blocks: int = 2  # r3gan only: residual blocks a stage (resolution)
  group_channels: int = 16  # r3gan only: channels a group of the blocks' grouped 3x3 convolutions
  extra_layers: int = 0  # dcgan only: 3x3 stride-1 conv layers added to G and to D
  conv_impl: Literal['auto', 'lax', 'matmul'] = 'auto'  # dcgan, resnet: see jaxgan.models.conv
  compute_dtype: Literal['float32', 'bfloat16'] = 'float32'  # parameters and optimizer state stay float32
  spectral_norm: bool = False  # spectral normalisation of D's weight layers (Miyato et al., 2018)
  g_spectral_norm: bool = False  # resnet only: G's too (SAGAN, BigGAN)
  attention: int = 0  # resnet only: a self-attention block (SAGAN) at this feature-map side in G and D; 0: none
  # Class conditioning (jaxgan.models.conditioning): none, concat (cGAN), projection (projection D), acgan.
  conditioning: Conditioning = 'none'
  num_classes: int = 0  # classes of the labels; 0: from the data's labels (the loop sets it)
  class_embedding: int = 128  # resnet only: the shared class embedding's width (BigGAN)
  hierarchical_latent: bool = False  # resnet only: z split over G's blocks with the class embedding (BigGAN)
  # stylegan2 only (jaxgan.models.stylegan2); its widths are the most channels a layer, 512 the release's.
  style_dim: int = 512  # w's width
  mapping_layers: int = 8  # of G's mapping network (the release's CIFAR-10 config: 2)
  style_mixing: float = 0.0  # the probability of mixing two latents' styles in training (the release: 0.9)
  d_residual: bool = True  # D's residual skips (the release's 'resnet'; False: its 'orig', as for CIFAR-10)
  mbstd_group: int = 4  # samples a group of D's minibatch standard deviation


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Where real samples come from."""

  source: str = 'normal'  # normal, ring8, grid25, digits, FILE.npz, DIR or tfds:NAME[:SPLIT] (see jaxgan.data.sources)
  mean: float = 1.0  # normal only
  std: float = 1.0  # normal only
  resolution: int = 0  # images: center-crop and resize to this side; 0 keeps the stored size
  pipeline: Literal['auto', 'device', 'stream'] = 'auto'  # images: on the device or streamed (jaxgan.data.pipeline)
  device_budget_gb: float = 0.0  # the most images that pipeline=auto keeps on the device; 0: a quarter of its memory
  workers: int = -1  # pipeline=stream: Grain worker processes reading batches; -1: one per CPU core, up to 8


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  """Both players' optimizers; the schedule decays to final_lr_fraction * lr."""

  optimizer: Literal['adam', 'sgd'] = 'adam'
  g_lr: float = 2e-4
  d_lr: float = 2e-4
  b1: float = 0.5  # Adam's beta1, or SGD's momentum
  b2: float = 0.999  # Adam only
  schedule: Literal['constant', 'cosine', 'linear'] = 'constant'
  final_lr_fraction: float = 0.0
  # Adam's beta2 after train.steps, reached from b2 by a cosine (R3GAN: 0.9 to 0.99); 0: b2 all along.
  b2_final: float = 0.0


@dataclasses.dataclass(frozen=True)
class GameConfig:
  """The min-max game: objective, regularisers, what D sees, update order and the generator EMA."""

  objective: Objective = 'non_saturating'  # see jaxgan.game.losses.get_objective
  label_smoothing: float = 0.0  # one-sided: real samples labelled 1 - s (minimax, non_saturating, least_squares)
  weight_clip: float = 0.0  # clip D's parameters to [-c, c] after each update (WGAN: 0.01); 0: off
  penalty: Literal[('none', *PENALTIES)] = 'none'  # gradient penalty of D (jaxgan.game.penalties)
  penalty_weight: float = 10.0  # gamma of R1 / R2, lambda of WGAN-GP / DRAGAN
  penalty_every: int = 1  # lazy regularisation: every k rounds, weighted by k (StyleGAN2)
  penalty_final_fraction: float = 1.0  # the weight after train.steps, from penalty_weight by a cosine (R3GAN: 0.1)
  instance_noise: float = 0.0  # std of Gaussian noise added to D's inputs, real and generated
  augment: tuple[Augmentation, ...] = ()  # DiffAugment of D's inputs, e.g. color,translation,cutout (images)
  pack: int = 1  # PacGAN: D judges packs of this many samples
  update_order: Literal['alternating', 'simultaneous'] = 'alternating'
  d_steps: int = 1  # D updates per G update
  reuse_fake: bool = False  # G's update reuses the last D update's latents and G pass (see jaxgan.game.step)
  ema_decay: float = 0.999  # 0 keeps the EMA equal to G
  # Its half-life h (in rounds: 0.5 = ema_decay^h) ramped up from 0: 'linear' at most 0.05 x the rounds so far
  # (StyleGAN2-ADA's ema_rampup), 'cosine' rising to h by a cosine over train.steps (R3GAN).
  ema_rampup: Literal['none', 'linear', 'cosine'] = 'none'
  class_loss_weight: float = 1.0  # model.conditioning=acgan: the weight of both players' class cross-entropy
  # Regularisers of D's outputs (jaxgan.game.regularisers); 0: off.
  lecam_weight: float = 0.0  # LeCam's lambda (Tseng et al., 2021: 0.3 for BigGAN on CIFAR-10)
  lecam_decay: float = 0.99  # of the EMAs of D's mean outputs that LeCam anchors to
  consistency_weight: float = 0.0  # bCR's lambda_real = lambda_fake (Zhao et al., 2021: 10), images only
  # ADA (jaxgan.game.ada): D's inputs augmented with probability p, steered toward ada_target; images only.
  ada_target: float = 0.0  # the E[sign D(x)] that p is steered toward (the paper: 0.6); 0: p stays at ada_p
  ada_p: float = 0.0  # p at the start (all along if ada_target=0); both 0: no ADA
  ada_p_rampup: bool = False  # with ada_target=0: p rises from 0 to ada_p by a cosine over train.steps (R3GAN)
  ada_kimg: float = 500.0  # thousands of real images over which p can go from 0 to 1
  ada_interval: int = 4  # rounds between two adjustments of p
  # StyleGAN2's path-length regularisation of G (model.architecture=stylegan2; the release: 2, every 4 rounds).
  path_length_weight: float = 0.0  # 0: off
  path_length_every: int = 4  # lazy: every k rounds, weighted by k


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """The training loop."""

  steps: int = 5000
  batch_size: int = 64
  seed: int = 0
  log_every: int = 100  # steps per metrics line, and per dispatch when scan is on
  # Run each chunk of steps as one lax.scan dispatch (True) or one dispatch per
  # step. On a 2-core CPU (experiments/bench/dispatch.py) the scan runs the 1-D
  # MLP 1.6x faster, the digits and mnist DCGANs with jaxgan.models.conv at about the
  # same speed, and XLA's own convolution gradients (model.conv_impl=lax) 16x slower.
  scan: bool = True
  checkpoint_every: int = 1000  # also at the end, and on SIGINT / SIGTERM / max_seconds
  sample_every: int = 500  # image GANs: a sample grid every so many steps
  max_seconds: float = 0  # stop (with a checkpoint) after this long, a decaying schedule's steps fitted to it; 0: none
  # Sweeps (jaxgan.sweep): each member draws its own batches, from its own train.seed, or all share this config's.
  member_batches: Literal['own', 'shared'] = 'own'


Score = Literal['fid', 'kid', 'pr', 'dc', 'is', 'classes', 'intra_fid', 'class_accuracy']  # jaxgan.evaluation.scoring
CONDITIONAL_SCORES = ('intra_fid', 'class_accuracy')  # of class-conditional runs
# What each score reports, and whether less is better: the keys eval.best_metric can name.
SCORE_RESULTS = {
  'fid': {'fid': True},
  'kid': {'kid': True},
  'pr': {'precision': False, 'recall': False},
  'dc': {'density': False, 'coverage': False},
  'is': {'is': False},
  'classes': {'classes_covered': False, 'class_kl': True},
  'intra_fid': {'intra_fid': True},
  'class_accuracy': {'class_accuracy': False, 'class_accuracy_min': False},
}


@dataclasses.dataclass(frozen=True)
class EvalConfig:
  """Games whose data density is known: the panels (1-D and 2-D), and the 1-D theory check's settings.
  Image GANs: their scores (jaxgan.evaluation), with the protocol stored beside them, and the best checkpoint."""

  panel_fractions: tuple[float, ...] = ()  # where to draw and check, as fractions of train.steps
  # A sweep's members that get their own final pictures (losses, panels, curves, modes, samples.gif): the best k
  # by its ranking; members.png and results.csv show all of them.
  member_figures: int = 8
  num_samples: int = 1_000_000  # 1-D: generator samples for density estimates
  grid_size: int = 1024  # 1-D
  dstar_steps: int = 1000  # steps to train D to convergence at a panel (the theorem's check); 0: no check
  dstar_lr: float = 1e-2  # decays to 0 over dstar_steps (cosine)
  dstar_batch_size: int = 4096
  metrics: tuple[Score, ...] = ()  # images: scores at the end and every eval.every steps, e.g. fid,kid,pr,dc
  extractor: Literal['auto', 'inception', 'classifier'] = 'auto'  # auto: the classifier where data has labels
  every: int = 0  # steps between scorings, each keeping the best checkpoint by best_metric; 0: at the end only
  best_metric: str = 'fid'  # one of the keys of SCORE_RESULTS' values among the chosen metrics
  num_fake: int = 10_000  # generated images scored (the EMA generator's)
  num_real: int = 10_000  # reference images (all, if the reference holds fewer)
  reference: str = ''  # the reference images' data source, e.g. tfds:mnist:test; '' : the run's data.source


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything a run needs; `train(config, workdir)` reads nothing else."""

  model: ModelConfig = ModelConfig()
  data: DataConfig = DataConfig()
  optim: OptimConfig = OptimConfig()
  game: GameConfig = GameConfig()
  train: TrainConfig = TrainConfig()
  eval: EvalConfig = EvalConfig()


def check_type(config: Any) -> Config:
  """Returns config if it is a jaxgan.Config; raises ConfigError saying how to make one otherwise."""
  if not isinstance(config, Config):
    raise ConfigError(
      f'config must be a jaxgan.Config, got {type(config).__name__}; load one with jaxgan.config.load(NAME)'
      + (' or build it with jaxgan.config.from_dict(jaxgan.Config, VALUES)' if isinstance(config, dict) else '')
    )
  return config


def validate(config: Config) -> Config:
  """Raises ConfigError naming the first value out of range; returns config."""
  check_type(config)
  for ok, message in [*_loop_and_game_checks(config), *_model_data_and_eval_checks(config)]:
    if not ok:
      raise ConfigError(message)
  return config


def _loop_and_game_checks(config: Config) -> list[tuple[bool, str]]:
  """(whether it holds, what to say if not) of train.*, game.* and optim.*."""
  return [
    (config.train.steps > 0, 'train.steps must be positive'),
    (config.train.batch_size > 0, 'train.batch_size must be positive'),
    (config.train.log_every > 0, 'train.log_every must be positive'),
    (config.train.checkpoint_every > 0, 'train.checkpoint_every must be positive'),
    (config.train.sample_every > 0, 'train.sample_every must be positive'),
    (config.train.max_seconds >= 0, 'train.max_seconds must be positive (or 0 for no limit)'),
    (0 <= config.train.seed <= MAX_SEED, f'train.seed must be in [0, {MAX_SEED}]'),
    (config.game.d_steps > 0, 'game.d_steps must be positive'),
    (0 <= config.game.label_smoothing < 1, 'game.label_smoothing must be in [0, 1), e.g. 0.1'),
    (
      not config.game.label_smoothing or config.game.objective in WITH_LABELS,
      f'game.label_smoothing needs an objective with labels ({", ".join(WITH_LABELS)}), '
      f'not {config.game.objective}; set it to 0',
    ),
    (config.game.weight_clip >= 0, 'game.weight_clip must be positive (or 0 for no clipping)'),
    (config.game.penalty_weight >= 0, 'game.penalty_weight must be 0 or more'),
    (config.game.penalty_every > 0, 'game.penalty_every must be positive'),
    (config.game.instance_noise >= 0, 'game.instance_noise must be 0 or more'),
    (config.game.pack > 0, 'game.pack must be positive'),
    (
      config.train.batch_size % config.game.pack == 0,
      f'train.batch_size={config.train.batch_size} must be a multiple of game.pack={config.game.pack}',
    ),
    (
      config.game.pack == 1 or config.data.source != 'normal',
      "game.pack > 1 does not fit the 1-D theory check (it needs D's output on single samples); use game.pack=1",
    ),
    (0 <= config.game.ema_decay < 1, 'game.ema_decay must be in [0, 1)'),
    (config.game.lecam_weight >= 0, 'game.lecam_weight must be 0 or more, e.g. 0.3'),
    (0 <= config.game.lecam_decay < 1, 'game.lecam_decay must be in [0, 1), e.g. 0.99'),
    (config.game.consistency_weight >= 0, 'game.consistency_weight must be 0 or more, e.g. 10'),
    (0 <= config.game.ada_target < 1, 'game.ada_target must be in [0, 1), e.g. 0.6 (0: p fixed at game.ada_p)'),
    (0 <= config.game.ada_p <= 1, 'game.ada_p must be in [0, 1]'),
    (
      not config.game.ada_p_rampup or (config.game.ada_p > 0 and not config.game.ada_target),
      'game.ada_p_rampup raises p from 0 to game.ada_p > 0 on a schedule, which an adaptive p (game.ada_target) '
      'does not follow: set game.ada_target=0 and game.ada_p, or game.ada_p_rampup=false',
    ),
    (config.game.penalty_final_fraction >= 0, 'game.penalty_final_fraction must be 0 or more, e.g. 0.1 (1: constant)'),
    (config.game.ada_kimg > 0 and config.game.ada_interval > 0, 'game.ada_kimg and game.ada_interval must be positive'),
    (config.optim.g_lr > 0 and config.optim.d_lr > 0, 'optim.g_lr and optim.d_lr must be positive'),
    (0 <= config.optim.final_lr_fraction <= 1, 'optim.final_lr_fraction must be in [0, 1]'),
    (0 <= config.optim.b2_final < 1, 'optim.b2_final must be in [0, 1), e.g. 0.99 (0: b2 all along)'),
    (
      not config.optim.b2_final or config.optim.optimizer == 'adam',
      "optim.b2_final schedules Adam's beta2; optim.optimizer=sgd has none: set optim.b2_final=0",
    ),
  ]


def _model_data_and_eval_checks(config: Config) -> list[tuple[bool, str]]:
  """(whether it holds, what to say if not) of model.*, data.* and eval.*."""
  return [
    (config.model.latent_dim > 0, 'model.latent_dim must be positive'),
    (config.model.g_width > 0 and config.model.d_width > 0, 'model.g_width and model.d_width must be positive'),
    (config.model.extra_layers >= 0, 'model.extra_layers must be 0 or more'),
    (
      config.model.blocks > 0 and config.model.group_channels > 0,
      'model.blocks and model.group_channels must be positive',
    ),
    (config.model.num_classes >= 0, "model.num_classes must be 0 or more (0: from the data's labels)"),
    (config.model.attention >= 0, 'model.attention must be a feature-map side, e.g. 32 (or 0 for none)'),
    (config.model.class_embedding > 0, 'model.class_embedding must be positive, e.g. 128'),
    (
      config.model.style_dim > 0 and config.model.mapping_layers > 0 and config.model.mbstd_group > 0,
      'model.style_dim, model.mapping_layers and model.mbstd_group must be positive',
    ),
    (0 <= config.model.style_mixing <= 1, 'model.style_mixing must be a probability in [0, 1], e.g. 0.9'),
    (
      config.model.architecture == 'stylegan2' or not (config.model.style_mixing or config.game.path_length_weight),
      'model.style_mixing and game.path_length_weight need a style-based generator: set '
      'model.architecture=stylegan2, or set them to 0',
    ),
    (
      config.game.path_length_weight >= 0 and config.game.path_length_every > 0,
      'game.path_length_weight must be 0 or more (e.g. 2) and game.path_length_every positive',
    ),
    (config.game.class_loss_weight >= 0, 'game.class_loss_weight must be 0 or more'),
    (
      config.model.conditioning == 'none' or config.game.pack == 1,
      f'model.conditioning={config.model.conditioning} judges single labelled samples; use game.pack=1',
    ),
    (
      all(width > 0 for width in (*config.model.g_hidden, *config.model.d_hidden)),
      'model.g_hidden and model.d_hidden must be positive widths, e.g. 64,64 (or () for none)',
    ),
    (config.data.resolution >= 0, 'data.resolution must be positive (or 0 to keep the stored size)'),
    (config.data.std > 0, 'data.std must be positive'),
    (config.data.device_budget_gb >= 0, 'data.device_budget_gb must be 0 or more (0: a quarter of the device memory)'),
    (config.data.workers >= -1, 'data.workers must be 0 or more (0: read in the training process) or -1 (one a core)'),
    (
      config.model.architecture == 'mlp' or config.data.source not in ('normal', 'ring8', 'grid25'),
      f'model.architecture={config.model.architecture} needs image data; '
      f'data.source={config.data.source} is {"1-D" if config.data.source == "normal" else "2-D"}: use mlp',
    ),
    (all(0 <= f <= 1 for f in config.eval.panel_fractions), 'eval.panel_fractions must be in [0, 1]'),
    (config.eval.member_figures >= 0, "eval.member_figures must be 0 or more (a sweep's members drawn, best first)"),
    (
      config.eval.dstar_steps >= 0 and config.eval.dstar_batch_size > 0,
      'eval.dstar_steps must be 0 or more (0: no check) and eval.dstar_batch_size positive',
    ),
    (config.eval.num_samples > 1 and config.eval.grid_size > 1, 'eval.num_samples and eval.grid_size must be above 1'),
    (
      not config.eval.metrics or config.data.source not in ('normal', 'ring8', 'grid25'),
      f'eval.metrics score images; data.source={config.data.source} has its own figures: set eval.metrics=()',
    ),
    (config.eval.every >= 0, 'eval.every must be 0 or more (0: score at the end only)'),
    (
      config.model.conditioning != 'none' or not set(CONDITIONAL_SCORES) & set(config.eval.metrics),
      f'eval.metrics {" and ".join(CONDITIONAL_SCORES)} score a class-conditional generator; set '
      'model.conditioning (e.g. projection) or leave them out',
    ),
    (
      config.eval.num_fake > 1 and config.eval.num_real > 1,
      'eval.num_fake and eval.num_real must be above 1, e.g. 10000',
    ),
    (
      not config.eval.metrics or config.eval.best_metric in score_results(config.eval.metrics),
      f'eval.best_metric={config.eval.best_metric} is not among the scores of eval.metrics='
      f'{",".join(config.eval.metrics)}: use one of {", ".join(score_results(config.eval.metrics))}',
    ),
  ]


def ramps(config: Config) -> list[str]:
  """The keys of config's ramps over train.steps: the hyperparameters that follow a cosine from their start to
  their end (jaxgan.game.state.cosine_ramp)."""
  optim, game = config.optim, config.game
  on = {
    'optim.b2_final': bool(optim.b2_final),
    'game.penalty_final_fraction': game.penalty_final_fraction != 1 and game.penalty != 'none',
    'game.ada_p_rampup': game.ada_p_rampup,
    'game.ema_rampup': game.ema_rampup == 'cosine',
  }
  return [key for key, value in on.items() if value]


def spans_train_steps(config: Config) -> bool:
  """Whether a schedule runs over train.steps (a decaying learning rate, or a ramp): another train.steps
  re-plans the run."""
  return config.optim.schedule != 'constant' or bool(ramps(config))


def score_results(metrics: tuple[str, ...]) -> dict[str, bool]:
  """The result keys of the chosen scores, each with whether less is better."""
  return {key: lower for metric in metrics for key, lower in SCORE_RESULTS[metric].items()}


def _field_types(cls: type) -> dict[str, Any]:
  return typing.get_type_hints(cls)


def _parse(text: str, hint: Any, key: str) -> Any:
  """Parses override text as the annotated type `hint` of config key `key`."""
  origin = typing.get_origin(hint)
  try:
    if origin is Literal:
      choices = typing.get_args(hint)
      if text not in choices:
        raise ConfigError(f'{key} must be one of {", ".join(map(str, choices))}, got {text!r}')
      return text
    if origin is tuple:
      (item, _) = typing.get_args(hint)
      parts = [p.strip() for p in text.strip('()[] ').split(',') if p.strip()]
      return tuple(_parse(p, item, key) for p in parts)
    if hint is bool:
      if text.lower() not in ('true', 'false'):
        raise ValueError
      return text.lower() == 'true'
    if hint is int:
      return int(text)
    if hint is float:
      if not math.isfinite(value := float(text)):
        raise ConfigError(f'{key} must be a finite number, got {text!r}')
      return value
    if hint is str:
      return text
  except ConfigError:
    raise
  except ValueError:
    raise ConfigError(f'{key} expects {getattr(hint, "__name__", hint)}, got {text!r}') from None
  raise ConfigError(f'{key} cannot be set from the command line')


def _section_keys(cls: type) -> str:
  return ', '.join(f.name for f in dataclasses.fields(cls))


def _example(value: Any) -> str:
  """A value as override text: 64,64 for a tuple, () for an empty one."""
  if isinstance(value, tuple):
    return ','.join(map(str, value)) or '()'
  return str(value)


def _from_value(value: Any, hint: Any, key: str) -> Any:
  """Checks a Python value (or a JSON one) as the annotated type `hint` of config key `key`, through its override text.

  A tuple field takes a tuple or a list, any other field a number, bool or string; the text is then parsed as
  override() parses it, so both check alike.
  """
  value = tuple(value) if isinstance(value, list) else value
  is_tuple = typing.get_origin(hint) is tuple
  if isinstance(value, (dict, set, frozenset, type(None))) or isinstance(value, tuple) != is_tuple:
    if is_tuple:
      expected = 'a tuple or list'
    elif typing.get_origin(hint) is Literal:
      expected = f'one of {", ".join(map(str, typing.get_args(hint)))}'
    else:
      expected = getattr(hint, '__name__', hint)
    raise ConfigError(f'{key} expects {expected}, got {value!r:.40}')
  return _parse(_example(value), hint, key)


def _leaf(config: Config, key: str) -> tuple[list[Any], list[str]]:
  """The dataclasses on the way to the leaf `key` (section.key), then its value; and the key's parts."""
  path = key.split('.')
  nodes = [config]
  for depth, name in enumerate(path):
    node = nodes[-1]
    if not dataclasses.is_dataclass(node) or name not in _field_types(type(node)):
      where = '.'.join(path[:depth]) or 'the config'
      known = _section_keys(type(node)) if dataclasses.is_dataclass(node) else 'none'
      raise ConfigError(f'unknown config key {key!r}; keys in {where}: {known}')
    nodes.append(getattr(node, name))
  if dataclasses.is_dataclass(nodes[-1]):
    raise ConfigError(f'{key!r} is a section; set one of its keys: {_section_keys(type(nodes[-1]))}')
  return nodes, path


def value_of(config: Config, key: str) -> Any:
  """config's value of the leaf `key` (section.key); ConfigError for an unknown key or a section."""
  return _leaf(config, key)[0][-1]


def _replace_leaf(nodes: list[Any], path: list[str], value: Any) -> Config:
  for node, name in zip(reversed(nodes[:-1]), reversed(path), strict=True):
    value = dataclasses.replace(node, **{name: value})
  return value


def override(config: Config, assignment: str) -> Config:
  """Returns config with one `section.key=value` assignment applied."""
  key, sep, text = assignment.partition('=')
  key = key.strip()
  if not sep or not key:
    raise ConfigError(f'override {assignment!r} is not of the form section.key=value')
  nodes, path = _leaf(config, key)
  if not text.strip():
    example = _example(nodes[-1])
    none = f', or {key}=() for none' if isinstance(nodes[-1], tuple) and example != '()' else ''
    raise ConfigError(f'{key}= has no value; give one, e.g. {key}={example}{none}')
  return _replace_leaf(nodes, path, _parse(text.strip(), _field_types(type(nodes[-2]))[path[-1]], key))


def override_value(config: Config, key: str, value: Any) -> Config:
  """Returns config with the leaf `key` (section.key) set to a Python value, checked as override() checks text.

  Args:
    config: the config to change.
    key: a leaf's dotted key, e.g. 'optim.g_lr'.
    value: a number, bool, string, or a tuple or list of them, e.g. 1e-4, True, 'hinge', (32, 32).

  Raises:
    ConfigError: an unknown key, a section, or a value of the wrong type, in one line.
  """
  nodes, path = _leaf(config, key)
  return _replace_leaf(nodes, path, _from_value(value, _field_types(type(nodes[-2]))[path[-1]], key))


def from_dict(cls: type, values: dict[str, Any], prefix: str = '') -> Any:
  """Builds the dataclass `cls` from nested dicts, such as a saved config.json, checking every value's type."""
  if not isinstance(values, dict):
    raise ConfigError(f'{prefix.rstrip(".") or "the config"} must be a mapping of keys to values, got {values!r:.40}')
  hints = _field_types(cls)
  unknown = set(values) - set(hints)
  if unknown:
    raise ConfigError(f'unknown config keys {sorted(prefix + k for k in unknown)}; known: {_section_keys(cls)}')
  kwargs = {}
  for name, value in values.items():
    if dataclasses.is_dataclass(hints[name]):
      kwargs[name] = from_dict(hints[name], value, f'{prefix}{name}.')
    else:
      kwargs[name] = _from_value(value, hints[name], prefix + name)
  return cls(**kwargs)


def to_dict(config: Config) -> dict[str, Any]:
  """The config as nested dicts of JSON-compatible values."""
  return dataclasses.asdict(config)


def builtin_names() -> list[str]:
  """Names of the built-in configs, for `--config NAME`."""
  import jaxgan.configs

  return sorted(m.name for m in pkgutil.iter_modules(jaxgan.configs.__path__))


def load(name_or_path: str) -> Config:
  """Loads a built-in config by name, or `get_config()` from a Python file."""
  if name_or_path.endswith('.py') or '/' in name_or_path:
    path = Path(name_or_path)
    if not path.is_file():
      raise ConfigError(f'config file {name_or_path} does not exist')
    spec = importlib.util.spec_from_file_location(f'_jaxgan_config_{path.stem}', path)
    module = importlib.util.module_from_spec(spec)
    try:
      spec.loader.exec_module(module)
    except Exception as e:  # a user's file: report any failure as one line
      raise ConfigError(f'config file {name_or_path} failed to load: {type(e).__name__}: {e}') from e
  elif name_or_path in builtin_names():
    module = importlib.import_module(f'jaxgan.configs.{name_or_path}')
  else:
    raise ConfigError(
      f'unknown config {name_or_path!r}; built-in configs: {", ".join(builtin_names())}, '
      'or give the path of a .py file with get_config()'
    )
  return _call_get_config(module, name_or_path)


def _call_get_config(module: types.ModuleType, name: str) -> Config:
  if not hasattr(module, 'get_config'):
    raise ConfigError(f'config {name} has no get_config() function')
  try:
    config = module.get_config()
  except Exception as e:  # a user's function: report any failure as one line
    raise ConfigError(f'get_config() of {name} failed: {type(e).__name__}: {e}') from e
  if not isinstance(config, Config):
    raise ConfigError(f'get_config() of {name} must return jaxgan.Config, got {type(config).__name__}')
  return validate(config)


def get_config(name_or_path: str | os.PathLike, *assignments: str, **overrides: Any) -> Config:
  """A built-in config or a config file's, with overrides applied and checked: `jaxgan.get_config`.

  For example `get_config('digits', 'optim.g_lr=1e-4', train__steps=200, model__g_hidden=(32, 32))`.

  Args:
    name_or_path: a built-in config's name (see builtin_names()) or a .py file with get_config().
    *assignments: 'section.key=value' texts, as jaxgan-train's --set takes them, applied in order.
    **overrides: section__key=value, a Python value (number, bool, string, tuple or list) for the leaf
      section.key, applied after the assignments; checked as the text would be.

  Returns:
    The validated config.

  Raises:
    ConfigError: an unknown config, key or section, a value of the wrong type or out of range, in one line.
  """
  config = load(os.fspath(name_or_path))
  for assignment in assignments:
    if not isinstance(assignment, str):
      raise ConfigError(
        f"assignments are texts like 'optim.g_lr=1e-4', got {type(assignment).__name__} {assignment!r:.40}; "
        'give Python values as keywords, e.g. optim__g_lr=1e-4'
      )
    config = override(config, assignment)
  for name, value in overrides.items():
    config = override_value(config, _keyword_key(name, value), value)
  return validate(config)


def _keyword_key(name: str, value: Any) -> str:
  """The dotted key of the keyword override `name` (section__key), or ConfigError saying how to write it."""
  if '__' in name:
    return name.replace('__', '.')
  sections = _field_types(Config)
  if name in sections:
    keys = _section_keys(sections[name])
    raise ConfigError(f'{name!r} is a section; set one of its keys as {name}__KEY=VALUE: {keys}')
  holders = [section for section, cls in sections.items() if name in _field_types(cls)]
  if holders:
    fixes = ' or '.join(f'{section}__{name}={value!r:.40}' for section in holders)
    raise ConfigError(f'keyword {name}={value!r:.40} needs its section: write {fixes}')
  raise ConfigError(
    f'unknown config key {name!r}; keyword overrides are SECTION__KEY=VALUE, sections: {", ".join(sections)}'
  )

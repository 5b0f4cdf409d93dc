"""Mode collapse on the 2-D mixtures (ring8, grid25), scored as VEEGAN and PacGAN do.

At every log step: the mode metrics of jaxgan.data.mixtures (modes covered,
fraction of high-quality samples, reverse KL over the modes) of
NUM_EVAL_SAMPLES EMA-generator samples, drawn from one fixed key so that
the curves follow the generator, not the draw. At chosen steps a panel: the
data density, the generator's samples, D's output, and the optimal
discriminator D* = p_r / (p_r + p_g) for the current generator, with p_g a
kernel density estimate.

Panels are kept in the workdir (panels2d.npz), so a stopped and resumed run
draws the whole run: panels.png, one column per panel, and at the end
modes.png, the final samples over the modes.
"""

import functools
import string
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import timing
from jaxgan.config import EvalConfig
from jaxgan.data import mixtures
from jaxgan.data.mixtures import Mixture
from jaxgan.data.sources import MixtureSource
from jaxgan.files import read_panels, write_panels
from jaxgan.game import theory
from jaxgan.game.losses import PROBABILISTIC
from jaxgan.game.state import GANState, discriminate, each_member, generate, step_of

if TYPE_CHECKING:
  from matplotlib.axes import Axes
  from matplotlib.figure import Figure

_PANELS_FILE = 'panels2d.npz'
_GRID_SIDE = 200  # points per side of the density and D images
_KDE_SAMPLES = 20_000  # generator samples behind the estimate of p_g
# D* is a ratio of densities: drawn where p_r + p_g exceeds this fraction of its maximum (noise elsewhere).
_NEGLIGIBLE = 1e-3
_KDES_AT_ONCE = 8  # members whose p_g is estimated at once: some 100 MB each (jaxgan.data.mixtures.kde_density)


def _window(mixture: Mixture) -> tuple[float, float]:
  """The plotting interval of both axes: the modes' extent and a quarter of it on each side."""
  lo, hi = float(mixture.centers.min()), float(mixture.centers.max())
  margin = (hi - lo) / 4
  return lo - margin, hi + margin


def _grid(mixture: Mixture) -> np.ndarray:
  """The image's points [S * S, 2], row-major with y along the rows."""
  axis = np.linspace(*_window(mixture), _GRID_SIDE)
  return np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2).astype(np.float32)


@functools.partial(jax.jit, static_argnums=2)
def _scores(population: GANState, keys: jax.Array, mixture: Mixture) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Each member's NUM_EVAL_SAMPLES EMA-generator samples [M, N, 2] and their mode metrics [M]."""

  def one(state: GANState, key: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    samples = generate(state, state.sample_latent(key, mixtures.NUM_EVAL_SAMPLES))
    return samples, mixtures.mode_metrics(samples, mixture)

  return each_member(one, population, keys)


@functools.partial(jax.jit, static_argnums=2)
def _maps(population: GANState, keys: jax.Array, mixture: Mixture) -> tuple[jax.Array, jax.Array]:
  """Each member's D and D* [M, S, S] on the plotting grid; D* is NaN where p_r + p_g is negligible."""
  x = jnp.asarray(_grid(mixture))
  p_real = mixtures.density(mixture, x)

  def one(state: GANState, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    d = discriminate(state, x)
    if state.game.objective in PROBABILISTIC:
      d = jax.nn.sigmoid(d)
    samples = generate(state, state.sample_latent(key, _KDE_SAMPLES))
    # A kernel narrower than the modes: it widens a perfect generator's modes by sqrt(1.25), so D* there is
    # 0.56 at a mode's center rather than 1/2, with a few percent of sampling noise.
    p_gen = mixtures.kde_density(samples, x, mixture.std / 2)
    total = p_real + p_gen
    d_star = jnp.where(total > _NEGLIGIBLE * total.max(), theory.optimal_discriminator(p_real, p_gen), jnp.nan)
    return d.reshape(_GRID_SIDE, _GRID_SIDE), d_star.reshape(_GRID_SIDE, _GRID_SIDE)

  return each_member(one, population, keys, at_once=_KDES_AT_ONCE)


class Evaluator2D:
  """Scores the members of a population of 2-D mixture games (a single run: a population of one) by the
  mode-collapse protocol and draws their panels: what runs on the device runs for all members at once."""

  def __init__(
    self, config: EvalConfig, source: MixtureSource, keys: jax.Array, total_steps: int, workdirs: Sequence[Path]
  ):
    """keys [M]: each member's evaluation key; workdirs: where each member's pictures go."""
    self.mixture, self.workdirs = source.mixture, list(workdirs)
    self.scores_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, 0)
    self.kde_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, 1)
    self.panel_steps = {round(f * total_steps) for f in config.panel_fractions}
    self.panels = [read_panels(w / _PANELS_FILE) for w in self.workdirs]  # what an earlier part of this run drew
    self._final: tuple | None = None  # finish's samples, scores, step and whether D is a probability, for draw

  def events(self) -> set[int]:
    """Steps the training loop must stop at: the panels."""
    return self.panel_steps

  def scores(self, population: GANState) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Each member's fixed-key EMA-generator samples [M, NUM_EVAL_SAMPLES, 2] and mode metrics."""
    samples, scores = jax.device_get(_scores(population, self.scores_keys, self.mixture))
    return samples, [{name: float(v[i]) for name, v in scores.items()} for i in range(len(samples))]

  def __call__(self, population: GANState, step: int, members: Sequence[int]) -> dict[int, dict[str, float]]:
    """At a log (or stop) step: each of `members`' mode metrics, and its panel if one is due."""
    samples, scores = self.scores(population)
    if step in self.panel_steps:
      d, d_star = jax.device_get(_maps(population, self.kde_keys, self.mixture))
    for i in members:
      self.panels[i] = [p for p in self.panels[i] if p['step'] < step]  # on resuming at `step`: redone from here
      if step in self.panel_steps:
        self.panels[i].append({'step': step, **scores[i], 'samples': samples[i], 'd': d[i], 'd_star': d_star[i]})
        write_panels(self.workdirs[i] / _PANELS_FILE, self.panels[i])
    return {i: scores[i] for i in members}

  def finish(self, population: GANState, members: Sequence[int]) -> dict[int, dict[str, float]]:
    """Each member's final mode metrics (its samples kept for draw)."""
    samples, scores = self.scores(population)
    self._final = samples, scores, step_of(population), population.game.objective in PROBABILISTIC
    return {i: scores[i] for i in members}

  def draw(self, members: Sequence[int]) -> None:
    """Each of `members`' panels.png and modes.png, of the state finish saw."""
    samples, scores, step, probability = self._final
    for i in members:
      self.save_plots(i, samples[i], scores[i], step, probability)

  @timing.phase('pictures')
  def save_plots(
    self, member: int, samples: np.ndarray, scores: dict[str, float], step: int, probability: bool
  ) -> None:
    """Writes the member's panels.png (samples, D and D* at the panel steps) and modes.png (its final samples)."""
    workdir = self.workdirs[member]
    if self.panels[member]:
      _panels_figure(self.panels[member], self.mixture, probability).savefig(workdir / 'panels.png', dpi=100)
    _modes_figure(samples, scores, self.mixture, step).savefig(workdir / 'modes.png', dpi=120)


def _scores_text(p: dict[str, Any], num_modes: int, separator: str = ', ') -> str:
  """The mode metrics of `p` in words."""
  return separator.join(
    [
      f'{p["modes_covered"]:.0f}/{num_modes} modes',
      f'{p["high_quality_fraction"]:.1%} high quality',
      f'KL {p["mode_kl"]:.3f}',
    ]
  )


def _draw_samples(ax: 'Axes', samples: np.ndarray, mixture: Mixture) -> None:
  """Samples over the modes: high-quality ones (within 3 std of the nearest mode) apart, 3-std circles."""
  from matplotlib.patches import Circle

  high_quality = np.asarray(mixtures.assign_modes(samples, mixture)[1])
  for i, center in enumerate(mixture.centers):
    ax.add_patch(Circle(center, 3 * mixture.std, fill=False, color='k', lw=0.6, label='' if i else 'modes, 3 std'))
  # The high-quality samples on top: they lie inside the circles, under the others' spray.
  for mask, color, label in [(~high_quality, 'tab:orange', 'other'), (high_quality, 'tab:blue', 'high quality')]:
    ax.scatter(*samples[mask].T, s=2, color=color, alpha=0.6, lw=0, label=f'{label} ({mask.sum()})')
  ax.set_aspect('equal')


def _panels_figure(panels: list[dict[str, Any]], mixture: Mixture, probability: bool) -> 'Figure':
  """One column per panel, rows p_r, G's samples, D and D*; the step and the mode metrics above each column."""
  from matplotlib.figure import Figure

  lo, hi = _window(mixture)
  extent = (lo, hi, lo, hi)
  p_real = np.asarray(mixtures.density(mixture, _grid(mixture))).reshape(_GRID_SIDE, _GRID_SIDE)
  d_label = 'D(x) = sigmoid(logit)' if probability else 'critic D(x) (raw output)'
  rows = ['data density $p_r$', 'generator samples', d_label, '$D^* = p_r / (p_r + p_g)$']
  fig = Figure(figsize=(3.4 * len(panels), 12.5))
  axes = fig.subplots(len(rows), len(panels), squeeze=False)
  for i, p in enumerate(panels):
    column = axes[:, i]
    image = column[0].imshow(p_real, origin='lower', extent=extent, cmap='viridis')
    fig.colorbar(image, ax=column[0], fraction=0.046)
    _draw_samples(column[1], p['samples'], mixture)
    d_range = {'vmin': 0.0, 'vmax': 1.0} if probability else {}
    image = column[2].imshow(p['d'], origin='lower', extent=extent, cmap='coolwarm', **d_range)
    fig.colorbar(image, ax=column[2], fraction=0.046)
    image = column[3].imshow(p['d_star'], origin='lower', extent=extent, cmap='coolwarm', vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=column[3], fraction=0.046)
    for ax in column[2:]:
      ax.plot(*mixture.centers.T, 'k+', ms=4)
    for ax in column:
      ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel='$x_1$')
    scores = _scores_text(p, len(mixture.centers), '\n')
    column[0].set_title(f'({string.ascii_lowercase[i]}) step {p["step"]}\n{scores}', fontsize=9)
  for ax, row in zip(axes[:, 0], rows, strict=True):
    ax.set_ylabel(f'{row}\n$x_2$')
  fig.tight_layout()
  return fig


def _modes_figure(samples: np.ndarray, scores: dict[str, float], mixture: Mixture, step: int) -> 'Figure':
  """The final samples over the modes, the mode metrics in the title."""
  from matplotlib.figure import Figure

  fig = Figure(figsize=(6, 6.4))
  ax = fig.subplots()
  _draw_samples(ax, samples, mixture)
  lo, hi = _window(mixture)
  lo, hi = min(lo, samples.min()), max(hi, samples.max())  # samples far off the modes stay in view
  ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel='$x_1$', ylabel='$x_2$')
  ax.set_title(f'{mixture.name}, step {step}: {len(samples)} samples\n{_scores_text(scores, len(mixture.centers))}')
  ax.legend(loc='upper right', fontsize=8, markerscale=4)
  fig.tight_layout()
  return fig

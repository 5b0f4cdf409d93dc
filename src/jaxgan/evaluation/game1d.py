"""Checks the GAN theory on a 1-D game whose data density is known.

At chosen steps it draws the panels of the original paper's figure (real
density, generator density, D) next to the optimal discriminator D* for the
current generator, and verifies the optimal-discriminator theorem: a
discriminator trained to convergence against the frozen generator is compared
with D* = p_r / (p_r + p_g), with p_g estimated from many generator samples.

Panels are kept in the workdir (panels.npz) and the curve points in
metrics.jsonl, so a stopped and resumed run draws the whole run.
"""

import functools
import string
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import timing
from jaxgan.config import EvalConfig
from jaxgan.data.sources import NormalSource
from jaxgan.files import read_panels, write_panels
from jaxgan.game import theory
from jaxgan.game.losses import discriminator_loss
from jaxgan.game.state import GANState, Variables, discriminate, each_member, generate

if TYPE_CHECKING:
  from matplotlib.figure import Figure

_EPS = 1e-7  # D is clipped to [eps, 1 - eps] inside logarithms
# A fitted D counts as converged when its loss is within this many nats of the
# optimum log 4 - 2 JS; what is left is mostly the noise of the p_g estimate.
_CONVERGED_NATS = 0.01
_PANELS_FILE = 'panels.npz'
Curves = dict[str, jax.Array]
# Samples drawn at once, all members together: what bounds the memory of a population's densities.
_SAMPLES_AT_ONCE = 1 << 22


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _curves(population: GANState, keys: jax.Array, source: NormalSource, num_samples: int, grid_size: int) -> Curves:
  """Each member's grid x, p_r and p_g on it (a KDE of num_samples EMA-generator samples), the game's D and
  D*, JS(p_r || p_g), V(D, G) and C(G) = max_D V: every leaf [M, ...], the members vmapped."""

  def one(state: GANState, key: jax.Array) -> Curves:
    samples = generate(state, state.sample_latent(jax.random.fold_in(key, 0), num_samples))[:, 0]
    # Silverman's rule of thumb, halved: the estimate is from many samples, and
    # a narrower kernel blurs the edges of p_g less.
    bandwidth = 0.5 * 1.06 * jnp.std(samples) * num_samples ** (-1 / 5)
    lo, hi = source.support()
    x = jnp.linspace(
      jnp.minimum(lo, samples.min() - 5 * bandwidth), jnp.maximum(hi, samples.max() + 5 * bandwidth), grid_size
    )
    p_real, p_gen = source.density(x), theory.density_from_samples(samples, x, bandwidth)
    d_game = jax.nn.sigmoid(discriminate(state, x[:, None]))
    return {
      'x': x,
      'p_real': p_real,
      'p_gen': p_gen,
      'd_game': d_game,
      'd_star': theory.optimal_discriminator(p_real, p_gen),
      'js_divergence': theory.js_divergence(p_real, p_gen, x),
      'value': theory.value(p_real, p_gen, jnp.clip(d_game, _EPS, 1 - _EPS), x),
      'c_of_g': theory.virtual_training_criterion(p_real, p_gen, x),  # max_D V(D, G) = -log 4 + 2 JS
    }

  return each_member(one, population, keys, at_once=max(1, _SAMPLES_AT_ONCE // num_samples))


@functools.partial(jax.jit, static_argnums=(3, 4, 5, 6))
def _fitted(
  population: GANState, keys: jax.Array, x: jax.Array, source: NormalSource, lr: float, steps: int, batch_size: int
) -> jax.Array:
  """Each member's D trained to convergence against its frozen EMA generator, on its grid x [M, N]: [M, N].

  Starts from the game's D; Adam with a cosine decay to zero over `steps`
  steps of fresh real and generated batches.
  """

  def one(state: GANState, key: jax.Array, x: jax.Array) -> jax.Array:
    d = state.discriminator
    tx = optax.adam(optax.cosine_decay_schedule(lr, steps))

    def loss_fn(params: Variables, k: jax.Array) -> jax.Array:
      real_key, z_key = jax.random.split(k)
      fake = generate(state, state.sample_latent(z_key, batch_size))
      real = source.sample(real_key, batch_size)
      real_logits, _ = d.apply(params, d.batch_stats, real, train=False)
      fake_logits, _ = d.apply(params, d.batch_stats, fake, train=False)
      return discriminator_loss(real_logits, fake_logits).mean()

    def update(carry: tuple[Variables, optax.OptState], k: jax.Array) -> tuple[tuple, None]:
      params, opt_state = carry
      updates, opt_state = tx.update(jax.grad(loss_fn)(params, k), opt_state, params)
      return (optax.apply_updates(params, updates), opt_state), None

    key = jax.random.fold_in(key, 2 + state.step)
    (params, _), _ = jax.lax.scan(update, (d.params, tx.init(d.params)), jax.random.split(key, steps))
    fitted = state.replace(discriminator=d.replace(params=params))
    return jax.nn.sigmoid(discriminate(fitted, x[:, None]))

  return each_member(one, population, keys, x)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _mean_abs_d_minus_half(population: GANState, keys: jax.Array, source: NormalSource, num_samples: int) -> jax.Array:
  """Each member's mean |D(x) - 1/2| over num_samples real samples, [M]."""

  def one(state: GANState, key: jax.Array) -> jax.Array:
    real = source.sample(jax.random.fold_in(key, 1), num_samples)
    return jnp.abs(jax.nn.sigmoid(discriminate(state, real)) - 0.5).mean()

  return each_member(one, population, keys, at_once=max(1, _SAMPLES_AT_ONCE // num_samples))


def _highest_density_mask(weights: np.ndarray, mass: float) -> np.ndarray:
  """Grid points of largest weight that together hold `mass` of the total."""
  order = np.argsort(weights)[::-1]
  cumulative = np.cumsum(weights[order]) / weights.sum()
  mask = np.zeros(weights.shape, bool)
  mask[order[: np.searchsorted(cumulative, mass) + 1]] = True
  return mask


def _member_curves(curves: Curves, i: int) -> dict[str, Any]:
  """Member i's part of _curves' result, on the host: arrays [N] and floats."""
  return {name: np.asarray(v[i]) if v.ndim > 1 else float(v[i]) for name, v in curves.items()}


_POINT = ('js_divergence', 'value')  # what the curves plot follows
_GAPS = ('mean_abs_d_minus_dstar', 'max_abs_d_minus_dstar', 'dstar_excess_loss')  # fitted D against D*


class Evaluator1D:
  """Evaluates the members of a population of 1-D games (a single run: a population of one) against a source
  with a known density: what runs on the device runs for all members at once (vmapped)."""

  def __init__(
    self,
    config: EvalConfig,
    source: NormalSource,
    keys: jax.Array,
    total_steps: int,
    workdirs: Sequence[Path],
    logged: Sequence[list[dict[str, Any]]],
  ):
    """keys [M]: each member's evaluation key; workdirs: where each member's pictures go; logged: each member's
    metrics rows so far (of a resumed run; metrics.jsonl is already cut back to the resumed step)."""
    self.config, self.source, self.keys, self.workdirs = config, source, keys, list(workdirs)
    self.panel_steps = {round(f * total_steps) for f in config.panel_fractions}
    # What an earlier part of this run recorded.
    self.panels = [read_panels(w / _PANELS_FILE) for w in self.workdirs]
    self.curve = [
      [{'step': row['step'], **{k: row[f'eval/{k}'] for k in _POINT}} for row in rows if 'eval/value' in row]
      for rows in logged
    ]

  def events(self) -> set[int]:
    """Steps the training loop must stop at: the panels."""
    return self.panel_steps

  def __call__(self, population: GANState, step: int, members: Sequence[int]) -> dict[int, dict[str, float]]:
    """At a log (or stop) step: JS and V of each of `members` for the curves, and their panels if due."""
    for i in members:  # on resuming at `step`: what was recorded from `step` on is redone now
      self.panels[i] = [p for p in self.panels[i] if p['step'] < step]
      self.curve[i] = [c for c in self.curve[i] if c['step'] < step]
    if step in self.panel_steps:
      self._panels(population, step, members)
    if step == 0:
      return {i: {} for i in members}
    curves = jax.device_get(_curves(population, self.keys, self.source, 100_000, self.config.grid_size))
    points = {i: {k: float(curves[k][i]) for k in _POINT} for i in members}
    for i, point in points.items():
      self.curve[i].append({'step': step, **point})
    return points

  def finish(self, population: GANState, members: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each member's final figures."""
    return self.summary(population, members)

  def draw(self, members: Sequence[int]) -> None:
    """Each of `members`' panels.png and curves.png."""
    for i in members:
      self.save_plots(i)

  def _panels(self, population: GANState, step: int, members: Sequence[int]) -> None:
    """Each member's panel at `step`, with its D checked against D* (with eval.dstar_steps > 0)."""
    c = self.config
    curves = _curves(population, self.keys, self.source, c.num_samples, c.grid_size)
    fitted = None
    if c.dstar_steps:
      fitted = _fitted(population, self.keys, curves['x'], self.source, c.dstar_lr, c.dstar_steps, c.dstar_batch_size)
    curves, fitted = jax.device_get((curves, fitted))
    for i in members:
      panel = {'step': step, **_member_curves(curves, i)}
      if fitted is not None:
        panel |= _against_dstar(panel, fitted[i])
      self.panels[i].append(panel)
      write_panels(self.workdirs[i] / _PANELS_FILE, self.panels[i])

  def summary(self, population: GANState, members: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each member's final figures: JS, V, |D - 1/2| on real data, and the worst panel's D - D* gaps (with
    eval.dstar_steps)."""
    c = self.config
    curves, d_minus_half = jax.device_get(
      (
        _curves(population, self.keys, self.source, c.num_samples, c.grid_size),
        _mean_abs_d_minus_half(population, self.keys, self.source, c.num_samples),
      )
    )
    summaries = {}
    for i in members:
      summary = {
        **{k: float(curves[k][i]) for k in _POINT},
        'minus_log4': theory.MINUS_LOG4,
        'mean_abs_d_minus_half': float(d_minus_half[i]),
      }
      if self.config.dstar_steps:
        panels = self.panels[i]
        summary |= {k: max((p[k] for p in panels), default=float('nan')) for k in _GAPS}  # the worst panel's
        summary['dstar_converged'] = all(p['dstar_converged'] for p in panels)
      summaries[i] = summary
    return summaries

  @timing.phase('pictures')
  def save_plots(self, member: int) -> None:
    """Writes the member's panels.png (the paper's figure, with D*) and curves.png (JS and V)."""
    workdir = self.workdirs[member]
    if self.panels[member]:
      _panels_figure(self.panels[member]).savefig(workdir / 'panels.png', dpi=120)
    if self.curve[member]:
      _curves_figure(self.curve[member]).savefig(workdir / 'curves.png', dpi=120)


def _against_dstar(panel: dict[str, Any], d_fit: np.ndarray) -> dict[str, Any]:
  """A panel's fitted D [N] against its D*: the gaps, weighted by the mixture and at worst where it holds 99%."""
  x, d_star = panel['x'], panel['d_star']
  mixture = (panel['p_real'] + panel['p_gen']) / 2
  gap = np.abs(d_fit - d_star)
  v_fit = float(theory.value(panel['p_real'], panel['p_gen'], np.clip(d_fit, _EPS, 1 - _EPS), x))
  return {
    'd_fit': d_fit,
    'mean_abs_d_minus_dstar': float(np.trapezoid(mixture * gap, x) / np.trapezoid(mixture, x)),
    'max_abs_d_minus_dstar': float(gap[_highest_density_mask(mixture, 0.99)].max()),
    'dstar_excess_loss': panel['c_of_g'] - v_fit,  # >= 0; near 0 when D has converged to D*
    'dstar_converged': panel['c_of_g'] - v_fit < _CONVERGED_NATS,
  }


def _panels_figure(panels: list[dict[str, Any]]) -> 'Figure':
  """The paper's figure, one panel per entry: p_r, p_g, D, D* and the fitted D; JS and |D - D*| in each title."""
  from matplotlib.figure import Figure

  fig = Figure(figsize=(4 * len(panels), 4.2))
  axes = fig.subplots(1, len(panels), squeeze=False)[0]
  for i, (ax, p) in enumerate(zip(axes, panels, strict=True)):
    keep = _highest_density_mask((p['p_real'] + p['p_gen']) / 2, 0.9999)
    lo, hi = p['x'][keep].min(), p['x'][keep].max()
    ax.plot(p['x'], p['p_real'], 'k--', label='data $p_r$')
    ax.plot(p['x'], p['p_gen'], 'g-', label='generator $p_g$')
    ax.plot(p['x'], p['d_game'], 'b--', label='D (game)')
    # D* is a ratio of densities: drawn where they are not both negligible (its estimate is noise there).
    mixture = (p['p_real'] + p['p_gen']) / 2
    d_star = np.where(mixture > 1e-3 * mixture.max(), p['d_star'], np.nan)
    ax.plot(p['x'], d_star, color='tab:orange', ls=':', lw=2, label='$D^* = p_r/(p_r+p_g)$')
    if 'd_fit' in p:
      ax.plot(p['x'], p['d_fit'], color='tab:purple', lw=0.8, label='D trained to convergence')
    ax.axhline(0.5, color='grey', lw=0.5)
    ax.set_xlim(lo - 0.5, hi + 0.5)
    # The statistics go in the title, above the plotting area, where no curve can run over them.
    stats = f'JS {p["js_divergence"]:.3g}'
    if 'mean_abs_d_minus_dstar' in p:
      stats += f'    mean |D converged - D*| {p["mean_abs_d_minus_dstar"]:.3f}'
    ax.set_title(f'({string.ascii_lowercase[i]}) step {p["step"]}\n{stats}', fontsize=10)
    ax.set(xlabel='x', ylabel='density / D(x)')
  fig.legend(*axes[0].get_legend_handles_labels(), loc='lower center', ncol=5, fontsize=8)
  fig.tight_layout(rect=(0, 0.07, 1, 1))
  return fig


def _curves_figure(curve: list[dict[str, Any]]) -> 'Figure':
  """JS(p_r || p_g) and V(D, G) against the step."""
  from matplotlib.figure import Figure

  fig = Figure(figsize=(10, 3.4))
  ax_js, ax_v = fig.subplots(1, 2)
  steps = [c['step'] for c in curve]
  ax_js.semilogy(steps, [max(c['js_divergence'], 1e-6) for c in curve], 'g-')
  ax_js.set(xlabel='step', ylabel='nats', title='JS($p_r$ || $p_g$)')
  ax_v.plot(steps, [c['value'] for c in curve], 'b-', label='V(D, G)')
  ax_v.axhline(theory.MINUS_LOG4, color='k', ls='--', label='$-\\log 4$')
  ax_v.set(xlabel='step', ylabel='V(D, G) (nats)', title='value of the game')
  ax_v.legend()
  fig.tight_layout()
  return fig

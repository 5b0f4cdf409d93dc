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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import theory
from jaxgan.config import EvalConfig
from jaxgan.data import NormalSource
from jaxgan.losses import discriminator_loss
from jaxgan.state import GANState, Variables, discriminate, generate
from jaxgan.writer import read_metrics, read_panels, write_panels

if TYPE_CHECKING:
  from matplotlib.figure import Figure

_EPS = 1e-7  # D is clipped to [eps, 1 - eps] inside logarithms
# A fitted D counts as converged when its loss is within this many nats of the
# optimum log 4 - 2 JS; what is left is mostly the noise of the p_g estimate.
_CONVERGED_NATS = 0.01
_PANELS_FILE = 'panels.npz'


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _densities(
  state: GANState, key: jax.Array, source: NormalSource, num_samples: int, grid_size: int
) -> tuple[jax.Array, ...]:
  """Grid x [N], p_r on it, and a KDE of p_g from num_samples EMA-generator samples."""
  samples = generate(state, state.sample_latent(key, num_samples))[:, 0]
  # Silverman's rule of thumb, halved: the estimate is from many samples, and
  # a narrower kernel blurs the edges of p_g less.
  bandwidth = 0.5 * 1.06 * jnp.std(samples) * num_samples ** (-1 / 5)
  lo, hi = source.support()
  x = jnp.linspace(
    jnp.minimum(lo, samples.min() - 5 * bandwidth), jnp.maximum(hi, samples.max() + 5 * bandwidth), grid_size
  )
  return x, source.density(x), theory.density_from_samples(samples, x, bandwidth)


@jax.jit
def _d_of(state: GANState, x: jax.Array, params: Variables) -> jax.Array:
  """D(x) [N] on a grid x [N], with discriminator parameters `params`."""
  state = state.replace(discriminator=state.discriminator.replace(params=params))
  return jax.nn.sigmoid(discriminate(state, x[:, None]))


def _highest_density_mask(weights: np.ndarray, mass: float) -> np.ndarray:
  """Grid points of largest weight that together hold `mass` of the total."""
  order = np.argsort(weights)[::-1]
  cumulative = np.cumsum(weights[order]) / weights.sum()
  mask = np.zeros(weights.shape, bool)
  mask[order[: np.searchsorted(cumulative, mass) + 1]] = True
  return mask


class Evaluator1D:
  """Evaluates a 1-D game against a source with a known density."""

  def __init__(self, config: EvalConfig, source: NormalSource, key: jax.Array, total_steps: int, workdir: Path):
    self.config, self.source, self.key, self.workdir = config, source, key, workdir
    self.panel_steps = {round(f * total_steps) for f in config.panel_fractions}
    # What an earlier part of this run recorded (metrics.jsonl is already cut back to the resumed step).
    self.panels = read_panels(workdir / _PANELS_FILE)
    self.curve = [
      {'step': row['step'], 'js_divergence': row['eval/js_divergence'], 'value': row['eval/value']}
      for row in read_metrics(workdir / 'metrics.jsonl')
      if 'eval/js_divergence' in row
    ]

  def events(self) -> set[int]:
    """Steps the training loop must stop at: the panels."""
    return self.panel_steps

  def __call__(self, state: GANState, step: int) -> dict[str, float]:
    """At a log (or stop) step: JS and V for the curves, and a panel if one is due."""
    # On resuming at `step`: what was recorded from `step` on is redone now.
    self.panels = [p for p in self.panels if p['step'] < step]
    self.curve = [c for c in self.curve if c['step'] < step]
    if step in self.panel_steps:
      self.panel(state, step)
    return self.track(state, step) if step > 0 else {}

  def finish(self, state: GANState) -> dict[str, Any]:
    """Writes the plots; returns the final figures."""
    self.save_plots(self.workdir)
    return self.summary(state)

  def _densities(self, state: GANState, num_samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid x, p_r on it, and the EMA generator's p_g estimated from num_samples."""
    key = jax.random.fold_in(self.key, 0)
    x, p_real, p_gen = _densities(state, key, self.source, num_samples, self.config.grid_size)
    return np.asarray(x), np.asarray(p_real), np.asarray(p_gen)

  def _value(self, state: GANState, x: np.ndarray, p_real: np.ndarray, p_gen: np.ndarray) -> float:
    d = np.clip(np.asarray(_d_of(state, jnp.asarray(x), state.discriminator.params)), _EPS, 1 - _EPS)
    return float(theory.value(p_real, p_gen, d, x))

  def track(self, state: GANState, step: int, num_samples: int = 100_000) -> dict[str, float]:
    """JS(p_r || p_g) and V(D, G) now, recorded for the curves plot."""
    x, p_real, p_gen = self._densities(state, num_samples)
    point = {
      'js_divergence': float(theory.js_divergence(p_real, p_gen, x)),
      'value': self._value(state, x, p_real, p_gen),
    }
    self.curve.append({'step': step, **point})
    return point

  def fit_discriminator(self, state: GANState) -> Variables:
    """D trained to convergence against the frozen EMA generator.

    Starts from the game's D; Adam with a cosine decay to zero over
    `dstar_steps` steps of fresh real and generated batches.
    """
    c = self.config
    key = jax.random.fold_in(self.key, 2 + int(state.step))
    return _fit(state, key, self.source, c.dstar_lr, c.dstar_steps, c.dstar_batch_size)

  def panel(self, state: GANState, step: int) -> dict[str, Any]:
    """Draws panel data at `step` and checks D against D* (with eval.dstar_steps > 0); returns the figures."""
    x, p_real, p_gen = self._densities(state, self.config.num_samples)
    d_star = np.asarray(theory.optimal_discriminator(p_real, p_gen))
    d_game = np.asarray(_d_of(state, jnp.asarray(x), state.discriminator.params))
    c_of_g = float(theory.virtual_training_criterion(p_real, p_gen, x))
    result = {
      'step': step,
      'js_divergence': float(theory.js_divergence(p_real, p_gen, x)),
      'c_of_g': c_of_g,  # max_D V(D, G) = -log 4 + 2 JS
      'value': self._value(state, x, p_real, p_gen),  # V of the game's D
    }
    curves = {'x': x, 'p_real': p_real, 'p_gen': p_gen, 'd_game': d_game, 'd_star': d_star}
    if self.config.dstar_steps:
      d_fit = np.asarray(_d_of(state, jnp.asarray(x), self.fit_discriminator(state)))
      mixture = (p_real + p_gen) / 2
      gap = np.abs(d_fit - d_star)
      v_fit = float(theory.value(p_real, p_gen, np.clip(d_fit, _EPS, 1 - _EPS), x))
      result |= {
        'mean_abs_d_minus_dstar': float(np.trapezoid(mixture * gap, x) / np.trapezoid(mixture, x)),
        'max_abs_d_minus_dstar': float(gap[_highest_density_mask(mixture, 0.99)].max()),
        'dstar_excess_loss': c_of_g - v_fit,  # >= 0; near 0 when D has converged to D*
        'dstar_converged': c_of_g - v_fit < _CONVERGED_NATS,
      }
      curves['d_fit'] = d_fit
    self.panels.append({**result, **curves})
    write_panels(self.workdir / _PANELS_FILE, self.panels)
    return result

  def summary(self, state: GANState) -> dict[str, float]:
    """Final figures: JS, V, |D - 1/2| on real data, and the worst panel's D - D* gaps (with eval.dstar_steps)."""
    x, p_real, p_gen = self._densities(state, self.config.num_samples)
    real = self.source.sample(jax.random.fold_in(self.key, 1), self.config.num_samples)
    d_real = jax.nn.sigmoid(discriminate(state, real))
    summary = {
      'js_divergence': float(theory.js_divergence(p_real, p_gen, x)),
      'value': self._value(state, x, p_real, p_gen),
      'minus_log4': theory.MINUS_LOG4,
      'mean_abs_d_minus_half': float(jnp.abs(d_real - 0.5).mean()),
    }
    if self.config.dstar_steps:
      worst = lambda key: max((p[key] for p in self.panels), default=float('nan'))  # noqa: E731
      summary |= {
        'mean_abs_d_minus_dstar': worst('mean_abs_d_minus_dstar'),
        'max_abs_d_minus_dstar': worst('max_abs_d_minus_dstar'),
        'dstar_excess_loss': worst('dstar_excess_loss'),
        'dstar_converged': all(p['dstar_converged'] for p in self.panels),
      }
    return summary

  def save_plots(self, workdir: Path) -> None:
    """Writes panels.png (the paper's figure, with D*) and curves.png (JS and V)."""
    if self.panels:
      _panels_figure(self.panels).savefig(workdir / 'panels.png', dpi=120)
    if self.curve:
      _curves_figure(self.curve).savefig(workdir / 'curves.png', dpi=120)


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


@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5))
def _fit(state: GANState, key: jax.Array, source: NormalSource, lr: float, steps: int, batch_size: int) -> Variables:
  d = state.discriminator
  tx = optax.adam(optax.cosine_decay_schedule(lr, steps))

  def loss_fn(params: Variables, k: jax.Array) -> jax.Array:
    real_key, z_key = jax.random.split(k)
    fake = generate(state, state.sample_latent(z_key, batch_size))
    real = source.sample(real_key, batch_size)
    real_logits, _ = d.apply(params, d.batch_stats, real, train=False)
    fake_logits, _ = d.apply(params, d.batch_stats, fake, train=False)
    return discriminator_loss(real_logits, fake_logits).mean()

  def update(carry: tuple[Variables, optax.OptState], k: jax.Array) -> tuple[tuple[Variables, optax.OptState], None]:
    params, opt_state = carry
    updates, opt_state = tx.update(jax.grad(loss_fn)(params, k), opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), None

  (params, _), _ = jax.lax.scan(update, (d.params, tx.init(d.params)), jax.random.split(key, steps))
  return params

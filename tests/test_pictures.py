"""The pictures a run writes: axis labels, statistics clear of the curves, step captions on sample grids."""

import json
import types

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image, ImageSequence

from jaxgan.evaluation import game1d as eval1d
from jaxgan.run import images
from jaxgan.run.finishing import plot_losses
from jaxgan.run.samples import SampleGrids


def fake_panel(step: int) -> dict:
  x = np.linspace(-4, 4, 201)
  p_real = np.exp(-((x + 1) ** 2) / 2) / np.sqrt(2 * np.pi)
  p_gen = np.exp(-((x - 1) ** 2) / 2) / np.sqrt(2 * np.pi)
  d_star = p_real / (p_real + p_gen)
  # D* is near 1 at the top left of the axes: where the statistics used to be drawn.
  return {
    'step': step,
    'x': x,
    'p_real': p_real,
    'p_gen': p_gen,
    'd_game': 0.9 * d_star,
    'd_star': d_star,
    'd_fit': d_star,
    'js_divergence': 0.1234,
    'mean_abs_d_minus_dstar': 0.0456,
  }


def assert_labelled(fig: Figure) -> None:
  for ax in fig.axes:
    assert ax.get_xlabel() and ax.get_ylabel(), ax.get_title()


def test_panels_have_axis_labels_and_statistics_outside_the_plotting_area():
  fig = eval1d._panels_figure([fake_panel(0), fake_panel(100)])
  assert_labelled(fig)
  fig.draw_without_rendering()  # lays the figure out as savefig does
  stats = [t for t in fig.findobj(Text) if 'JS 0.123' in t.get_text() and t.get_visible()]
  assert len(stats) == 2  # one per panel
  for text in stats:
    extent = text.get_window_extent()
    assert not any(extent.overlaps(ax.get_window_extent()) for ax in fig.axes), text.get_text()
  assert '0.046' in stats[0].get_text()


def test_curves_have_axis_labels():
  assert_labelled(eval1d._curves_figure([{'step': s, 'js_divergence': 0.5 / s, 'value': -1.5} for s in (10, 20)]))


def test_losses_plot_has_axis_labels(tmp_path, monkeypatch):
  rows = [
    {'step': s, 'train/d_loss': 1.3, 'train/g_loss': 0.8, 'train/d_real': 0.6, 'train/d_fake': 0.4} for s in (10, 20)
  ]
  (tmp_path / 'metrics.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))
  saved, savefig = [], Figure.savefig
  monkeypatch.setattr(Figure, 'savefig', lambda fig, *a, **k: (saved.append(fig), savefig(fig, *a, **k)))
  plot_losses(tmp_path, rows)
  assert (tmp_path / 'losses.png').exists() and len(saved) == 1
  assert_labelled(saved[0])


@pytest.mark.parametrize('channels', [1, 3])
def test_sample_gif_frames_and_final_grid_show_their_step(tmp_path, channels):
  rng = np.random.default_rng(0)
  digits = rng.integers(0, 256, (2, 4, 8, 8, channels), np.uint8)
  grids = [images.grid(d) for d in digits]  # 8x8 digits, upscaled as a run saves them
  grids_dir = tmp_path / 'samples'
  grids_dir.mkdir()
  for step, grid in zip((0, 1200), grids, strict=True):
    images.save_png(grids_dir / f'step_{step:07d}.png', grid, images.upscale_for(8))
  upscaled = [images.read_png(grids_dir / f'step_{step:07d}.png') for step in (0, 1200)]
  stopped_at_1200 = types.SimpleNamespace(step=np.array([1200]))  # both grids drawn: finish draws none
  grids = SampleGrids([tmp_path], writer=None, keys=None, every=1200, total_steps=1200)
  grids.finish(stopped_at_1200, [0])
  grids.draw([0])

  with Image.open(tmp_path / 'samples.gif') as gif:
    frames = [np.asarray(frame.convert('L')) for frame in ImageSequence.Iterator(gif)]
  assert len(frames) == 2
  grid_height, width = upscaled[0].shape[:2]
  strips = [frame[: frame.shape[0] - grid_height] for frame in frames]  # above the grid
  for frame, strip, grid in zip(frames, strips, upscaled, strict=True):
    assert frame.shape[1] == width and len(strip) > 0
    assert (strip < 128).any() and (strip > 128).any()  # dark text on a light strip
    if channels == 1:  # GIF keeps 256 grey levels exactly, so the grid below the strip is untouched
      np.testing.assert_array_equal(frame[len(strip) :], grid[..., 0])
  assert not np.array_equal(strips[0], strips[1])  # 'step 0' and 'step 1200' read differently
  final = images.read_png(tmp_path / 'samples.png')
  np.testing.assert_array_equal(final, images.caption(upscaled[1], 'step 1200'))

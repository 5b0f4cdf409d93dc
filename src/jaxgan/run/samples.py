"""Sample grids of image GANs from a fixed latent batch, drawn with the generator EMA: a class-conditional
one's one row a class, CLASS_COLUMNS samples each."""

import functools
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import timing
from jaxgan.game.state import GANState, each_member, generate, step_of
from jaxgan.run import images
from jaxgan.run.writer import MetricWriter

CLASS_COLUMNS = 8  # samples a class in a conditional generator's grid


def class_rows(num_classes: int, columns: int) -> jax.Array:
  """The classes of a grid with one row a class, `columns` samples each: [num_classes * columns]."""
  return jnp.repeat(jnp.arange(num_classes, dtype=jnp.int32), columns)


@functools.partial(jax.jit, static_argnums=2)
def _samples(population: GANState, keys: jax.Array, num: int) -> jax.Array:
  """Each member's EMA-generator samples [M, num, ...] of latents drawn from its key (a conditional one's:
  [M, K * CLASS_COLUMNS, ...], class by class)."""

  def one(state: GANState, key: jax.Array) -> jax.Array:
    labels = class_rows(state.num_classes, CLASS_COLUMNS) if state.num_classes else None
    return generate(state, state.sample_latent(key, num if labels is None else len(labels)), labels)

  return each_member(one, population, keys)


class SampleGrids:
  """Every `every` steps: samples/step_NNNNNNN.png and a TensorBoard image of each member of a population (a
  single run: a population of one), from latents fixed per member; GIF and final grid captioned at the end."""

  def __init__(
    self,
    workdirs: Sequence[Path],
    writer: MetricWriter | None,
    keys: jax.Array | None,
    every: int,
    total_steps: int,
    num: int = 64,
    sweep: bool = False,
  ):
    """keys [M]: each member's latents' key; workdirs: where each member's grids go; sweep: the TensorBoard
    images are tagged by member."""
    self.workdirs, self.writer, self.keys, self.num, self.sweep = list(workdirs), writer, keys, num, sweep
    for workdir in self.workdirs:
      (workdir / 'samples').mkdir(exist_ok=True)
    self.steps = {*range(every, total_steps, every), total_steps}
    self._final_step = total_steps  # finish's

  def events(self) -> set[int]:
    return self.steps

  def _draw(self, population: GANState, step: int, members: Sequence[int]) -> None:
    if not members:
      return
    samples = np.asarray(_samples(population, self.keys, self.num))  # the same latents at every step
    self._save_grids(samples, CLASS_COLUMNS if population.num_classes else None, step, members)

  @timing.phase('pictures')
  def _save_grids(self, samples: np.ndarray, columns: int | None, step: int, members: Sequence[int]) -> None:
    for i in members:
      image = images.grid(images.to_uint8(samples[i]), columns)
      images.save_png(self._file(i, step), image, images.upscale_for(image.shape[0] // 8))
      self.writer.image('samples', step, image, i if self.sweep else None)

  def _file(self, member: int, step: int) -> Path:
    return self.workdirs[member] / 'samples' / f'step_{step:07d}.png'

  def __call__(self, population: GANState, step: int, members: Sequence[int]) -> dict[int, dict[str, float]]:
    if step in self.steps or step == 0:
      self._draw(population, step, members)
    return {i: {} for i in members}

  def finish(self, population: GANState, members: Sequence[int]) -> dict[int, dict[str, float]]:
    """The grid of the final (or stopped-at) step of every member."""
    self._final_step = step_of(population)
    self._draw(population, self._final_step, [i for i in members if not self._file(i, self._final_step).exists()])
    return {i: {} for i in members}

  @timing.phase('pictures')
  def draw(self, members: Sequence[int]) -> None:
    """Each of `members`' samples.gif of all its grids up to finish's step and samples.png of the last, each
    captioned with its step."""
    for i in members:
      drawn = sorted((int(f.stem.removeprefix('step_')), f) for f in (self.workdirs[i] / 'samples').glob('step_*.png'))
      pictures = [
        images.caption(images.read_png(f), f'step {drawn_at}')
        for drawn_at, f in drawn
        if drawn_at <= self._final_step  # not those of a later, interrupted part of the run
      ]
      images.save_gif(self.workdirs[i] / 'samples.gif', pictures)
      images.save_png(self.workdirs[i] / 'samples.png', pictures[-1])

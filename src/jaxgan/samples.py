"""Sample grids of image GANs from a fixed latent batch, drawn with the generator EMA."""

from pathlib import Path

import jax
import numpy as np

from jaxgan import images
from jaxgan.state import GANState, generate
from jaxgan.writer import MetricWriter

_generate = jax.jit(generate)


class SampleGrids:
  """Every `every` steps: samples/step_NNNNNNN.png and a TensorBoard image (of a sweep's `member`); GIF and
  final grid captioned at the end."""

  def __init__(
    self,
    workdir: Path,
    writer: MetricWriter,
    key: jax.Array,
    every: int,
    total_steps: int,
    num: int = 64,
    member: int | None = None,
  ):
    self.dir = workdir / 'samples'
    self.dir.mkdir(exist_ok=True)
    self.workdir, self.writer, self.key, self.num, self.member = workdir, writer, key, num, member
    self.steps = {*range(every, total_steps, every), total_steps}

  def events(self) -> set[int]:
    return self.steps

  def grid(self, state: GANState) -> np.ndarray:
    z = state.sample_latent(self.key, self.num)  # the same z at every step
    return images.grid(images.to_uint8(_generate(state, z)))

  def _draw(self, state: GANState, step: int) -> None:
    image = self.grid(state)
    images.save_png(self.dir / f'step_{step:07d}.png', image, images.upscale_for(image.shape[0] // 8))
    self.writer.image('samples', step, image, self.member)

  def __call__(self, state: GANState, step: int) -> dict[str, float]:
    if step in self.steps or step == 0:
      self._draw(state, step)
    return {}

  def finish(self, state: GANState) -> dict[str, float]:
    """The grid of the final (or stopped-at) step, and samples.gif of all grids and samples.png of the last,
    each captioned with its step."""
    step = int(state.step)
    if not (self.dir / f'step_{step:07d}.png').exists():
      self._draw(state, step)
    drawn = sorted((int(f.stem.removeprefix('step_')), f) for f in self.dir.glob('step_*.png'))
    pictures = [
      images.caption(images.read_png(f), f'step {drawn_at}')
      for drawn_at, f in drawn
      if drawn_at <= step  # not those of a later, interrupted part of the run
    ]
    images.save_gif(self.workdir / 'samples.gif', pictures)
    images.save_png(self.workdir / 'samples.png', pictures[-1])
    return {}

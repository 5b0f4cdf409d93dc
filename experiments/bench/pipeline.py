"""Real data end to end: jaxgan-train's own loop on real data against the step on a synthetic batch.

    python experiments/bench/pipeline.py                       # every row, this machine
    python experiments/bench/pipeline.py --recipes celeba64 --batch 128 1024 --steps 200   # a GPU

For each recipe, on the data it names or one of the same shape (no download):

  digits     scikit-learn's digits (8x8x1)
  mnist      an npz of MNIST's size (60,000 x 28x28x1)
  celeba64   an npz of 20,000 images 64x64x3
  cifar10    tfds:cifar10 under tensorflow-datasets' mock (5,000 images 32x32x3), through the preparation cache

it prints, in images/s on this device:

  * synthetic: the recipe's train_step on one float batch already on the device, one dispatch a step, timed
    between two synchronisations (as experiments/bench/bench.py does), the median of ten intervals as long
    as the loop's, five before the pipelines' runs and five after (machine noise hits both);
  * device / stream: `jaxgan.train` on the data with data.pipeline=device and =stream, the loop's own
    perf/images_per_second (metrics.jsonl: training time of each log interval, logging included) as the
    median over the intervals after the first (compilation);
  * host: what the host alone gathers a second, as uint8 images (the stream's work) and as float batches
    (the work of every step of jaxgan-train before the pipelines);

and the ratio of each pipeline to the synthetic step (target: at least 0.95). Whole runs one after another
meet this machine's noise (a few percent between runs of the same code), so `alternating` adds the ratio of
the loop's own stepping on the device pipeline to the synthetic step, timed in alternating rounds in one
process, both compiled first. Then a folder of 2,000 JPEGs of
CelebA's size (178x218) at data.resolution=64: the first start (decoding into the preparation cache) against
the second (target: at least 10x faster). Times are of this machine: compare the ratios (CPU model printed).
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

import jaxgan
from bench import device_name
from jaxgan import config as config_lib
from jaxgan.config import DataConfig
from jaxgan.data import make_source
from jaxgan.data.pipeline import Feed
from jaxgan.game.state import create_state
from jaxgan.game.step import train_step
from jaxgan.run.stepping import step_by_step

SHAPES = {'mnist': (60_000, 28, 28, 1), 'celeba64': (20_000, 64, 64, 3)}
MOCKED = {'cifar10': 5_000}
STEPS = {'digits': 600, 'mnist': 300, 'cifar10': 60, 'celeba64': 36}  # on 2 CPU cores, a minute or two a run


def synthetic_rates(config: config_lib.Config, shape: tuple[int, ...], steps: int, intervals: int = 5) -> list[float]:
  """The rates of `intervals` intervals of `steps` steps, as long as the loop's."""
  rows = config.train.batch_size * config.game.d_steps
  state = create_state(config, jax.random.key(0), shape)
  batch = jax.random.uniform(jax.random.key(1), (rows, *shape), minval=-1, maxval=1)
  state, metrics = train_step(state, batch)  # compiles
  jax.block_until_ready(metrics)
  rates = []
  for _ in range(intervals):
    start = time.perf_counter()
    for _ in range(steps):
      state, metrics = train_step(state, batch)
    jax.block_until_ready((state, metrics))
    rates.append(steps * config.train.batch_size / (time.perf_counter() - start))
  return rates


def alternating_ratio(config: config_lib.Config, steps: int, rounds: int = 5) -> float:
  """The loop's stepping (jaxgan.run.loop's one dispatch a step, its batches from the device pipeline) against the
  synthetic step, in alternating rounds of `steps` steps, both compiled first: the ratio of their medians."""
  source = make_source(config.data, 0)
  rows = config.train.batch_size * config.game.d_steps
  feed = Feed([source], config_lib.override(config, 'data.pipeline=device').data, rows, None, sweeping=False)
  synthetic = create_state(config, jax.random.key(0), source.sample_shape)
  piped = create_state(config, jax.random.key(0), source.sample_shape)
  batch = jax.random.uniform(jax.random.key(1), (rows, *source.sample_shape), minval=-1, maxval=1)
  synthetic, _ = train_step(synthetic, batch)
  piped, _ = step_by_step(piped, *feed(0, 1))
  rates = {'synthetic': [], 'piped': []}
  for r in range(rounds):
    start = time.perf_counter()
    for _ in range(steps):
      synthetic, metrics = train_step(synthetic, batch)
    jax.block_until_ready(metrics)
    rates['synthetic'].append(1 / (time.perf_counter() - start))
    start = time.perf_counter()
    piped, _ = step_by_step(piped, *feed(1 + r * steps, steps))
    rates['piped'].append(1 / (time.perf_counter() - start))
  return statistics.median(rates['piped']) / statistics.median(rates['synthetic'])


def loop_rate(config: config_lib.Config, workdir: Path) -> float:
  jaxgan.train(config, workdir, progress=False)
  rows = [json.loads(line) for line in (workdir / 'metrics.jsonl').read_text().splitlines()]
  return statistics.median(row['perf/images_per_second'] for row in rows[1:])


def host_rates(config: config_lib.Config, seconds: float = 2.0) -> tuple[float, float]:
  """Images/s the host gathers as uint8, and as float batches in [-1, 1]."""
  source = make_source(config.data, 0)
  rows = config.train.batch_size * config.game.d_steps
  rates = []
  for read in (lambda t: source.images[source.indices(t, 1, rows)], lambda t: source.batches(t, 1, rows)):
    start, t = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
      read(t)
      t += 1
    rates.append(t * rows / (time.perf_counter() - start))
  return rates[0], rates[1]


def recipe_config(recipe: str, data: str, batch: int | None, steps: int, log_every: int) -> config_lib.Config:
  sets = [f'data.source={data}', f'train.steps={steps}', f'train.log_every={log_every}', 'eval.metrics=()']
  sets += [f'train.checkpoint_every={steps}', f'train.sample_every={steps}', 'optim.schedule=constant']
  sets += [f'train.batch_size={batch}'] if batch else []
  return config_lib.get_config(recipe, *sets)


def measure(recipe: str, data: str, batch: int | None, steps: int, folder: Path) -> dict:
  log_every = max(1, steps // 6)
  config = recipe_config(recipe, data, batch, steps, log_every)
  shape = make_source(config.data, 0).sample_shape
  row = {'recipe': recipe, 'batch': config.train.batch_size}
  synthetic = synthetic_rates(config, shape, log_every)
  for pipeline in ('device', 'stream'):
    piped = config_lib.override(config, f'data.pipeline={pipeline}')
    row[pipeline] = loop_rate(piped, folder / f'{recipe}-{config.train.batch_size}-{pipeline}')
  row['synthetic'] = statistics.median(synthetic + synthetic_rates(config, shape, log_every))  # before and after
  row['host_uint8'], row['host_float'] = host_rates(config)
  row['alternating'] = alternating_ratio(config, log_every)
  return row


def folder_start(folder: Path, count: int) -> tuple[float, float]:
  """Seconds of the first start on a folder of `count` JPEGs (preparing) and of the second (from the cache)."""
  from PIL import Image

  images = folder / 'jpegs'
  images.mkdir()
  rng = np.random.default_rng(0)
  base = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
  for i in range(count):  # photo-like: smooth, so that JPEG sizes are CelebA's (about 10 KB), not noise's
    image = np.roll(base, i, axis=1) // 2 + np.linspace(0, 127, 178, dtype=np.uint8)[None, :, None]
    Image.fromarray(image).resize((89, 109)).resize((178, 218)).save(images / f'{i:06d}.jpg', quality=90)
  spec = DataConfig(source=str(images), resolution=64)
  times = []
  for _ in range(2):
    start = time.perf_counter()
    make_source(spec, 0)
    times.append(time.perf_counter() - start)
  return times[0], times[1]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--recipes', nargs='+', default=['digits', 'mnist', 'celeba64', 'cifar10'])
  parser.add_argument('--batch', nargs='+', type=int, default=[None], help="batch sizes (default: the recipe's)")
  parser.add_argument('--steps', type=int, help=f'training steps per run, the first sixth compiling (default {STEPS})')
  parser.add_argument('--folder-images', type=int, default=2000)
  args = parser.parse_args()
  print(f'{device_name()}, jax {jax.__version__}, {os.cpu_count()} CPU cores')
  with tempfile.TemporaryDirectory() as scratch:
    folder = Path(scratch)
    os.environ['JAXGAN_CACHE'] = str(folder / 'cache')  # the preparation cache starts empty
    header = f'{"recipe":10} {"batch":>5} {"synthetic":>10} {"device":>9} {"stream":>9} {"host u8":>9} {"host f32":>9}'
    print(f'{header}   device/synthetic  stream/synthetic  alternating   (images/s)')
    for recipe in args.recipes:
      data = 'digits' if recipe == 'digits' else str(folder / f'{recipe}.npz')
      if recipe in SHAPES:
        images = np.random.default_rng(0).integers(0, 256, SHAPES[recipe], dtype=np.uint8)
        np.savez(data, images=images)
      mock = None
      if recipe in MOCKED:
        import tensorflow_datasets as tfds

        data = f'tfds:{recipe}'
        mock = tfds.testing.mock_data(num_examples=MOCKED[recipe], policy=tfds.testing.MockPolicy.USE_CODE)
        mock.__enter__()
      for batch in args.batch:
        row = measure(recipe, data, batch, args.steps or STEPS[recipe], folder)
        print(
          f'{recipe:10} {row["batch"]:5d} {row["synthetic"]:10.0f} {row["device"]:9.0f} {row["stream"]:9.0f} '
          f'{row["host_uint8"]:9.0f} {row["host_float"]:9.0f}   '
          f'{row["device"] / row["synthetic"]:16.3f} {row["stream"] / row["synthetic"]:17.3f} '
          f'{row["alternating"]:12.3f}',
          flush=True,
        )
      if mock:
        mock.__exit__(None, None, None)
    first, second = folder_start(folder, args.folder_images)
    print(
      f'folder of {args.folder_images} JPEGs 178x218 -> 64x64: first start {first:.2f} s (preparing), '
      f'second {second:.3f} s (from the cache): {first / second:.0f}x faster',
      flush=True,
    )


if __name__ == '__main__':
  main()

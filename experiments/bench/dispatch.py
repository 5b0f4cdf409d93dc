"""The host-free loop: K train steps per dispatch (lax.scan) against one, in the same run.

    python experiments/bench/dispatch.py                                   # gaussian1d, digits
    python experiments/bench/dispatch.py --config digits mnist=mnist.npz --steps 50
    python experiments/bench/dispatch.py --config digits --set model.conv_impl=matmul

Each recipe (NAME, or NAME=DATA for another data source) trains from the same
state on the same device-resident batches, once with one dispatch per step and
once with `train_steps` (K steps in one `lax.scan`); rounds alternate between
the two so that machine noise hits both, and the figures are medians over
rounds. Printed: ms per step each way, the scan's speed-up (above 1: the
host-free loop is faster) and compile time (the first round's time beyond a
timed round's). `train.scan` chooses the loop per recipe; both are the loops
jaxgan-train runs.
"""

import argparse
import statistics
import time

import jax

from jaxgan.config import Config, load, override
from jaxgan.data import make_source
from jaxgan.game.state import create_state
from jaxgan.game.step import train_steps
from jaxgan.run.stepping import step_by_step  # jaxgan-train's loop of one dispatch per step


class Loop:
  """One way of running K steps on a recipe's state, timed."""

  def __init__(self, config: Config, sample_shape: tuple[int, ...], run):
    self.state = create_state(config, jax.random.key(config.train.seed), sample_shape)
    self.run = run
    self.times: list[float] = []
    self.compile_seconds = 0.0

  def time(self, batches: jax.Array) -> float:
    start = time.perf_counter()
    self.state, metrics = self.run(self.state, batches)
    jax.block_until_ready(metrics)
    return time.perf_counter() - start


def measure(config: Config, steps: int, rounds: int) -> tuple[Loop, Loop]:
  """(one dispatch per step, K per dispatch), each timed over `rounds` rounds of `steps` steps."""
  source = make_source(config.data, config.train.seed)
  batches = jax.device_put(source.batches(0, steps, config.train.batch_size * config.game.d_steps))
  loops = Loop(config, source.sample_shape, step_by_step), Loop(config, source.sample_shape, train_steps)
  first = [loop.time(batches) for loop in loops]  # compiles
  for _ in range(rounds):
    for loop in loops:
      loop.times.append(loop.time(batches) / steps)
  for loop, seconds in zip(loops, first, strict=True):
    loop.compile_seconds = seconds - statistics.median(loop.times) * steps
  return loops


def main(argv: list[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--config', nargs='+', default=['gaussian1d', 'digits'], help='recipes, NAME or NAME=DATA')
  parser.add_argument('--steps', type=int, default=100, help='steps per dispatch (K) and per timed round')
  parser.add_argument('--rounds', type=int, default=5)
  parser.add_argument(
    '--set', action='append', default=[], metavar='SECTION.KEY=VALUE', help='config override, all recipes'
  )
  args = parser.parse_args(argv)

  print(f'device: {jax.devices()[0].device_kind}; jax {jax.__version__}; {time.strftime("%Y-%m-%d")}; K = {args.steps}')
  header = f'{"recipe":12} {"batch":>5} {"ms/step, 1 per dispatch":>24} {"ms/step, scan":>14} {"scan speed-up":>14}'
  print(header + f' {"compile s (1 / scan)":>21}')
  for spec in args.config:
    name, _, data = spec.partition('=')
    config = load(name)
    for assignment in ([f'data.source={data}'] if data else []) + args.set:
      config = override(config, assignment)
    per_step, scanned = measure(config, args.steps, args.rounds)
    one, scan = statistics.median(per_step.times), statistics.median(scanned.times)
    compiles = f'{per_step.compile_seconds:.1f} / {scanned.compile_seconds:.1f}'
    print(
      f'{name:12} {config.train.batch_size:5} {one * 1e3:24.2f} {scan * 1e3:14.2f} {one / scan:13.2f}x {compiles:>21}',
      flush=True,
    )


if __name__ == '__main__':
  main()

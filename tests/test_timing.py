"""jaxgan.timing: phases counted exclusively, compilation taken out of the phase it happened in, and a run's
timings.json covering its wall time."""

import json
import time

import jax
import jax.numpy as jnp
import pytest

from jaxgan import config as config_lib
from jaxgan import timing
from jaxgan.run.loop import train


def test_phases_count_exclusively_and_the_unphased_goes_to_startup_then_other():
  with timing.recording() as timings:
    time.sleep(0.05)  # startup
    with timing.phase('evaluation'):
      time.sleep(0.05)
      with timing.phase('pictures'):
        time.sleep(0.1)
    timings.opened()
    time.sleep(0.05)  # other
    report = timings.report()
  assert report['pictures_s'] == pytest.approx(0.1, abs=0.03)
  for name in ('startup_s', 'evaluation_s', 'other_s'):
    assert report[name] == pytest.approx(0.05, abs=0.03), name
  assert sum(v for k, v in report.items() if k.endswith('_s') and k != 'wall_s') == pytest.approx(
    report['wall_s'], abs=0.005
  )
  with timing.phase('steps'):  # nothing records: a no-op
    pass


def test_compilation_is_taken_out_of_the_phase_it_happened_in():
  @jax.jit
  def f(x):
    for _ in range(30):
      x = jnp.sin(x) @ x
    return x

  x = jnp.ones((8, 8))
  with timing.recording() as timings:
    with timing.phase('steps'):
      f(x).block_until_ready()  # traced and compiled here
    first = timings.report()
    with timing.phase('steps'):
      f(x).block_until_ready()
    second = timings.report()
  assert first['compile_s'] > 0.01
  assert second['compile_s'] == first['compile_s']  # the second call compiled nothing
  assert first['steps_s'] < first['compile_s']  # the first call's time is mostly its compilation, not a step's


def test_a_run_writes_where_its_time_went(tmp_path):
  config = config_lib.get_config('gaussian1d', 'train.steps=20', 'train.log_every=10', 'eval.dstar_steps=10')
  config = config_lib.override_value(config, 'eval.num_samples', 1000)
  start = time.perf_counter()
  train(config, tmp_path, progress=False)
  wall = time.perf_counter() - start
  timings = json.loads((tmp_path / 'timings.json').read_text())
  for phase in ('startup', 'compile', 'steps', 'evaluation', 'pictures', 'files', 'checkpoints'):
    assert timings[f'{phase}_s'] > 0, phase
  assert sum(v for k, v in timings.items() if k.endswith('_s') and k != 'wall_s') == pytest.approx(
    timings['wall_s'], abs=0.01
  )
  assert timings['wall_s'] <= wall

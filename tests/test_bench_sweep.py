"""experiments/bench/sweep.py's split of a sweep's time and its arithmetic bound, on hand-made timings."""

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
  'sweep_bench', Path(__file__).parent.parent / 'experiments/bench/sweep.py'
)
sweep_bench = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(sweep_bench)


def test_the_bound_is_one_members_fixed_costs_plus_the_sweeps_arithmetic():
  one = {
    'process_s': 20.0,
    'wall_s': 18.0,
    'rounds': 1000,
    'steps_s': 2.0,
    'evaluation_s': 5.0,
    'pictures_s': 1.0,
    'files_s': 0.5,
    'compile_s': 9.0,
    'startup_s': 0.5,
  }
  sweep = {
    'process_s': 200.0,
    'wall_s': 197.0,
    'rounds': 1000,
    'steps_s': 60.0,
    'evaluation_s': 100.0,
    'pictures_s': 10.0,
    'files_s': 3.0,
    'compile_s': 20.0,
    'startup_s': 1.0,
    'programs_compiled': 3,
    'programs_from_cache': 90,
  }
  s = sweep_bench.split(sweep, one, 64)
  fixed = 20.0 - (2.0 + 5.0 + 1.0 + 0.5)  # the one-member process less what grows with N
  assert s['bound_s'] == pytest.approx(fixed + 60.0 + 100.0)
  assert s['sweep_over_bound'] == pytest.approx(200.0 / (fixed + 160.0))
  assert s['process_start_s'] == pytest.approx(3.0)
  assert s['member_step_ms'] == pytest.approx(2.0) and s['n_member_steps_ms'] == pytest.approx(128.0)
  assert s['vmapped_step_ms'] == pytest.approx(60.0)
  assert s['checkpoints'] == 0.0 and s['pictures'] == 10.0  # a phase the sweep did not report counts as 0
  assert s['programs'] == '3 + 90'

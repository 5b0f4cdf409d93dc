"""A population in one program against the same GANs trained one after another.

    python experiments/bench/sweep.py [--configs gaussian1d ring8 digits] [--members 1 8 64]
        [--steps ring8=2000 digits=500] [--baseline-runs 8] [--set SECTION.KEY=VALUE ...] [--no-in-process]

For each config and each N it times, on this machine:

  * the sweep: `jaxgan-train --sweep train.seed=0,...,N-1`, one whole process
    (start-up included), and `jaxgan.sweep` inside one Python process;
  * N runs of `jaxgan-train --seed i`, whole processes one after another, as
    users run a sweep today;
  * N runs of `jaxgan.train` one after another inside one Python process.

and prints the wall times and the speed-ups of the sweep against both. The
baselines' runs are alike but for the seed, so at most --baseline-runs of them
are timed and the rest extrapolated linearly (the table says how many were
timed). Every process uses jaxgan's compilation cache, warmed by one run of each
config first, as a user's repeated runs do. Times are of this machine only:
compare the ratios (CPU model printed).

A second table splits each sweep process's wall time by the phases of its
timings.json (jaxgan.timing): start-up, compilation, the compiled member steps,
the vmapped evaluation, pictures, files, checkpoints, and the process's own
start (imports, jax) with what no phase covers. Against it stands the sweep's
arithmetic bound: what a sweep of N would take if only its members' arithmetic
grew with N, that is a one-member sweep's fixed costs (its whole process less
its steps, evaluation, pictures and files) plus the N-member sweep's own steps
and evaluation. Beside it, N x one member's step time (from the one-member
sweep) against one vmapped step of all N: what vmapping gains on this device;
and the programs the sweep compiled and those the compilation cache served.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IN_PROCESS = """
import json, sys, time
import jaxgan
config_name, workdir, kind, members, steps, *sets = sys.argv[1:]
members, overrides = int(members), ({'train__steps': int(steps)} if int(steps) else {})
config = jaxgan.get_config(config_name, *sets, **overrides)
start = time.perf_counter()
if kind == 'sweep':
  jaxgan.sweep(config, jaxgan.product(train__seed=range(members)), workdir + '/sweep', progress=False)
else:
  for seed in range(members):
    run_config = jaxgan.get_config(config_name, *sets, train__seed=seed, **overrides)
    jaxgan.train(run_config, f'{workdir}/run{seed}', progress=False)
print(json.dumps({'seconds': time.perf_counter() - start}))
"""


def _cpu_model() -> str:
  try:
    for line in Path('/proc/cpuinfo').read_text().splitlines():
      if line.startswith('model name'):
        return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or 'unknown'


def _timed(command: list[str]) -> float:
  start = time.perf_counter()
  done = subprocess.run(command, capture_output=True, text=True)
  if done.returncode:
    raise SystemExit(f'{" ".join(command)} failed:\n{done.stderr[-2000:]}')
  seconds = time.perf_counter() - start
  print(f'  {seconds:.1f} s: {" ".join(command[1:])}', file=sys.stderr, flush=True)
  return seconds


def _in_process(config: str, workdir: str, kind: str, members: int, steps: int, sets: list[str]) -> float:
  done = subprocess.run(
    [sys.executable, '-c', IN_PROCESS, config, workdir, kind, str(members), str(steps), *sets],
    capture_output=True,
    text=True,
  )
  if done.returncode:
    raise SystemExit(f'in-process {kind} of {config} failed:\n{done.stderr[-2000:]}')
  return json.loads(done.stdout.strip().splitlines()[-1])['seconds']


def _train(config: str, workdir: str, steps: int, sets: list[str], *extra: str) -> list[str]:
  options = [*(['--steps', str(steps)] if steps else []), *(f'--set={assignment}' for assignment in sets)]
  return ['jaxgan-train', '--config', config, '--workdir', workdir, *options, *extra]


def sweep_process(config: str, members: int, steps: int, sets: list[str], scratch: str) -> dict:
  """A sweep of `members` seeds as one jaxgan-train process: its wall time, steps and timings.json's phases."""
  seeds = ','.join(map(str, range(members)))
  wall = _timed(_train(config, f'{scratch}/sweep{members}', steps, sets, '--sweep', f'train.seed={seeds}'))
  timings = json.loads(Path(f'{scratch}/sweep{members}/timings.json').read_text())
  rounds = json.loads(Path(f'{scratch}/sweep{members}/summary.json').read_text())['steps']
  return {'process_s': wall, 'rounds': rounds, **timings}


def split(sweep: dict, one: dict, members: int) -> dict:
  """The split of a sweep's time and its arithmetic bound, from its phases and a one-member sweep's."""
  arithmetic = ('steps_s', 'evaluation_s')
  fixed = one['process_s'] - sum(one.get(k, 0.0) for k in (*arithmetic, 'pictures_s', 'files_s'))
  bound = fixed + sum(sweep.get(k, 0.0) for k in arithmetic)
  return {
    **{k: sweep.get(f'{k}_s', 0.0) for k in PHASES},
    'process_start_s': sweep['process_s'] - sweep['wall_s'],
    'bound_s': bound,
    'sweep_over_bound': sweep['process_s'] / bound,
    'member_step_ms': 1e3 * one['steps_s'] / one['rounds'],
    'n_member_steps_ms': 1e3 * members * one['steps_s'] / one['rounds'],
    'vmapped_step_ms': 1e3 * sweep['steps_s'] / sweep['rounds'],
    'programs': f'{sweep.get("programs_compiled", 0)} + {sweep.get("programs_from_cache", 0)}',
  }


PHASES = ('startup', 'compile', 'steps', 'evaluation', 'pictures', 'files', 'checkpoints', 'other')


def measure(
  config: str, members: int, steps: int, sets: list[str], baseline_runs: int, in_process: bool, one: dict | None
) -> dict:
  """The sweep of `members` against the baselines, and its split against the one-member sweep `one` (None: this
  is the one-member sweep)."""
  timed = min(members, baseline_runs)
  with tempfile.TemporaryDirectory() as scratch:
    row = {'config': config, 'set': sets, 'members': members, 'steps': steps, 'baseline_runs_timed': timed}
    sweep = sweep_process(config, members, steps, sets, scratch)
    row |= {'sweep_process_s': sweep['process_s'], 'sweep': sweep, 'split': split(sweep, one or sweep, members)}
    processes = sum(
      _timed(_train(config, f'{scratch}/p{seed}', steps, sets, '--seed', str(seed))) for seed in range(timed)
    )
    row['processes_s'] = processes * members / timed
    if in_process:
      row['sweep_in_process_s'] = _in_process(config, f'{scratch}/in', 'sweep', members, steps, sets)
      row['in_process_s'] = _in_process(config, f'{scratch}/in', 'runs', timed, steps, sets) * members / timed
  row['speedup_vs_processes'] = row['processes_s'] / row['sweep_process_s']
  if in_process:
    row['speedup_vs_in_process'] = row['in_process_s'] / row['sweep_in_process_s']
  return row


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--configs', nargs='+', default=['gaussian1d', 'ring8', 'digits'])
  parser.add_argument('--members', type=int, nargs='+', default=[1, 8, 64])
  parser.add_argument(
    '--steps', nargs='*', default=['ring8=2000', 'digits=500'], help="CONFIG=STEPS; the others run the config's"
  )
  parser.add_argument('--baseline-runs', type=int, default=8, help='runs of each baseline timed (the rest scaled)')
  parser.add_argument('--set', action='append', default=[], help='SECTION.KEY=VALUE for every run of every config')
  parser.add_argument('--no-in-process', action='store_true', help='time the whole-process comparison only')
  parser.add_argument('--out', help='also write the rows to this JSON file')
  args = parser.parse_args()
  steps = {k: int(v) for k, v in (s.split('=') for s in args.steps)}
  print(f'CPU: {_cpu_model()} ({os.cpu_count()} cores); --set {args.set}', flush=True)
  with tempfile.TemporaryDirectory() as warm:
    for config in args.configs:
      _timed(_train(config, f'{warm}/{config}', steps.get(config, 0), args.set))  # fills the compilation cache
  rows = []
  print('| config | steps | N | sweep (process) | N processes | speed-up | sweep, in-process | N runs | speed-up |')
  print('|---|---|---|---|---|---|---|---|---|')
  splits = []  # the split table's rows: every sweep's, and the one-member reference's where it was not asked for
  for config in args.configs:
    one = None
    if 1 not in args.members:
      with tempfile.TemporaryDirectory() as scratch:
        one = sweep_process(config, 1, steps.get(config, 0), args.set, scratch)
      splits.append({'config': config, 'members': 1, 'sweep_process_s': one['process_s'], 'split': split(one, one, 1)})
    for members in sorted(args.members):
      row = measure(config, members, steps.get(config, 0), args.set, args.baseline_runs, not args.no_in_process, one)
      one = one or row['sweep']
      rows.append(row)
      splits.append(row)
      scaled = '' if row['baseline_runs_timed'] == members else f' ({row["baseline_runs_timed"]} timed)'
      print(
        f'| {config} | {row["steps"] or "config"} | {members} | {row["sweep_process_s"]:.1f} s | '
        f'{row["processes_s"]:.1f} s{scaled} | {row["speedup_vs_processes"]:.1f}x | '
        + (
          f'{row["sweep_in_process_s"]:.1f} s | {row["in_process_s"]:.1f} s{scaled} | '
          f'{row["speedup_vs_in_process"]:.1f}x |'
          if 'sweep_in_process_s' in row
          else 'not timed | | |'
        ),
        flush=True,
      )
  print_split(splits)
  if args.out:
    Path(args.out).write_text(json.dumps({'cpu': _cpu_model(), 'rows': rows}, indent=2) + '\n')


def print_split(rows: list[dict]) -> None:
  """Where each sweep's time went (seconds), and the sweep against its arithmetic bound."""
  print()
  print(
    '| config | N | sweep | ' + ' | '.join(PHASES) + ' | process start | bound | sweep / bound | N x member step |'
    ' vmapped step | programs compiled + from cache |'
  )
  print('|---|---|---|' + '---|' * (len(PHASES) + 6))
  for row in rows:
    s = row['split']
    phases = ' | '.join(f'{s[k]:.1f}' for k in PHASES)
    print(
      f'| {row["config"]} | {row["members"]} | {row["sweep_process_s"]:.1f} | {phases} | {s["process_start_s"]:.1f} | '
      f'{s["bound_s"]:.1f} | **{s["sweep_over_bound"]:.2f}x** | {s["n_member_steps_ms"]:.2f} ms | '
      f'{s["vmapped_step_ms"]:.2f} ms | {s["programs"]} |',
      flush=True,
    )


if __name__ == '__main__':
  main()

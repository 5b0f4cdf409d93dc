"""The run around the game: a workdir trained into, resumed, stopped, scored and read back.

  loop        train() and sweep(): the training loop, top to bottom;
  opening     opening a run: the workdir held, the data fed, the state restored or fresh, the steps fitted to time;
  stepping    the stepping: chunks of steps dispatched, stop requests (signals, the deadline), NaN checks;
  periodic    the work at log steps: each member's evaluations, pictures and scores;
  finishing   the end: summaries, loss curves, a sweep's results table, errors in one line;
  evaluate    the loop's scorer of image runs (best checkpoint) and evaluate_run;
  workdir, checkpoint, writer, samples, images   the run's files: lock, orbax checkpoints, metrics, sample grids;
  runs        a run read back: load() and sample();
  population  a sweep's members: their overrides, directories, results table and picture.

Files, signals and host loops live here. It may import everything below it (evaluation, game,
models, data, config, files); nothing but the CLI and the top-level API imports it.
"""

"""Scores of image runs end to end: in training (with the best checkpoint), jaxgan-eval, the stored protocol,
and the run fitted to its time budget."""

import json
import warnings

import numpy as np
import pytest

import jaxgan
from checks import leaves
from jaxgan import cli, evaluation, product, sweep, train
from jaxgan import config as config_lib
from jaxgan.data.sources import _digits
from jaxgan.run.runs import load, sample

SCORED = [
  'train.steps=60',
  'train.log_every=20',
  'train.checkpoint_every=20',
  'train.sample_every=60',
  'model.g_width=8',
  'model.d_width=8',
  'eval.metrics=fid,kid,pr,dc,is,classes',
  'eval.every=20',
  'eval.num_fake=400',
  'eval.num_real=400',
]


@pytest.fixture(scope='module')
def scored_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('scored')
  summary = train(config_lib.get_config('digits', *SCORED), workdir, progress=False)
  return workdir, summary


def test_training_scores_logs_and_keeps_the_best_checkpoint(scored_run):
  workdir, summary = scored_run
  rows = [json.loads(line) for line in (workdir / 'metrics.jsonl').read_text().splitlines()]
  fids = {row['step']: row['eval/fid'] for row in rows if 'eval/fid' in row}
  assert sorted(fids) == [20, 40, 60]
  for key in ['eval/kid', 'eval/precision', 'eval/recall', 'eval/density', 'eval/coverage', 'eval/is']:
    assert all(key in row for row in rows if 'eval/fid' in row)
  assert summary['fid'] == fids[60] and 0 <= summary['classes_covered'] <= 10
  best_step = min(fids, key=fids.get)
  best = json.loads((workdir / 'best.json').read_text())
  assert (best['step'], best['metric'], best['value']) == (best_step, 'fid', fids[best_step])
  assert summary['best'] == {'step': best_step, 'metric': 'fid', 'value': fids[best_step]}
  # The best checkpoint is the state of that step, as the regular checkpoint of that step holds it.
  _, kept = load(workdir, best=True)
  _, regular = load(workdir, step=best_step)
  assert int(kept.step) == best_step
  for a, b in zip(leaves(kept), leaves(regular), strict=True):
    np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(sample(workdir, 8, best=True), sample(regular, 8))


def test_the_protocol_is_stored_with_the_scores(scored_run):
  _, summary = scored_run
  protocol = summary['eval_protocol']
  assert protocol['extractor'].startswith('classifier') and len(protocol['weights_sha256']) == 64
  assert protocol['classifier_accuracy'] > 0.9  # held-out accuracy of the digits classifier
  assert (protocol['num_fake'], protocol['num_real']) == (400, 400)
  assert protocol['reference']['source'] == 'digits' and protocol['dtype'] == 'float32'
  assert protocol['metrics']['kid'] == {'subsets': 100, 'subset_size': 400}  # capped by the 400 images
  assert protocol['jaxgan'] and protocol['resizer']


def test_scores_tell_real_digits_from_bad_ones(tmp_path):
  images, labels = _digits()
  order = np.random.default_rng(0).permutation(len(images))
  first, second = order[:900], order[900:]
  np.savez(tmp_path / 'real.npz', images=images[first], labels=labels[first])
  np.savez(tmp_path / 'held.npz', images=images[second])
  one_digit = images[second][labels[second] == 3]
  np.savez(tmp_path / 'threes.npz', images=one_digit)
  noise = np.random.default_rng(1).integers(0, 256, images[second].shape, dtype=np.uint8)
  np.savez(tmp_path / 'noise.npz', images=noise)
  scores = {
    name: evaluation.evaluate_images(tmp_path / 'real.npz', tmp_path / f'{name}.npz', num_real=900)
    for name in ['held', 'threes']
  }
  scores['noise'] = evaluation.evaluate_images(tmp_path / 'real.npz', noise, num_real=900)  # an array, as sample gives
  held, threes, noise = scores['held'], scores['threes'], scores['noise']
  assert held['classes_covered'] == 10 and held['class_kl'] < 0.05
  assert threes['classes_covered'] <= 2 and threes['class_kl'] > 1.5  # one class: KL near log 10
  assert held['fid'] < threes['fid'] / 5 and held['fid'] < noise['fid'] / 5
  print(scores)
  assert held['precision'] > 0.6 and held['recall'] > 0.6 and noise['precision'] < held['precision'] / 2
  assert threes['recall'] < 0.4 < held['coverage']  # mode dropping shows in recall
  assert held['is'] > 8 and threes['is'] < 2  # classifier Inception Score, of 10 classes


def test_jaxgan_eval_records_results_and_warns_on_other_protocols(scored_run, capsys):
  workdir, _ = scored_run
  args = ['--workdir', str(workdir), '--metrics', 'fid,classes', '--num-fake', '300']
  formatwarning = warnings.formatwarning
  assert cli.eval_main(args) == 0
  assert warnings.formatwarning is formatwarning  # its one-line warnings stay its own, in a caller's process
  assert 'fid' in capsys.readouterr().out
  with pytest.warns(UserWarning, match='different protocols'):
    assert cli.eval_main([*args, '--num-real', '200']) == 0
  results = json.loads((workdir / 'eval.json').read_text())['results']
  assert [r['protocol']['num_real'] for r in results] == [400, 200]
  assert all(r['step'] == 60 and 'fid' in r and 'classes_covered' in r for r in results)
  with pytest.warns(UserWarning, match='different protocols'):  # still beside the one of 200
    assert cli.eval_main([*args, '--best']) == 0
  assert json.loads((workdir / 'eval.json').read_text())['results'][-1]['best'] is True


@pytest.mark.parametrize(
  'args,message',
  [
    (['--real', 'a.npz'], '--real needs --fake'),
    (['--workdir', 'nowhere'], 'holds no run'),
    (['--real', 'digits', '--fake', 'unlabelled.npz', '--extractor', 'classifier'], 'takes 8x8x1'),
    (['--real', 'unlabelled.npz', '--fake', 'unlabelled.npz', '--extractor', 'classifier'], 'has no labels'),
    (['--real', 'digits', '--fake', 'unlabelled.npz', '--extractor', 'inception'], 'jaxgan-convert-inception'),
    (['--real', 'digits', '--fake', 'digits', '--metrics', 'fid,speed'], 'eval.metrics must be one of'),
    (['--real', 'digits', '--fake', 'digits', '--out', 'notes.json'], 'not an eval.json of jaxgan'),
    (['--workdir', 'nowhere', '--out', 'notes.json'], '--out goes with --real'),
  ],
)
def test_jaxgan_eval_bad_input_is_one_line(tmp_path, monkeypatch, capsys, args, message):
  monkeypatch.chdir(tmp_path)
  monkeypatch.setenv('JAXGAN_INCEPTION_WEIGHTS', str(tmp_path / 'none.npz'))
  np.savez('unlabelled.npz', images=np.zeros((20, 16, 16), np.uint8))
  (tmp_path / 'notes.json').write_text('my notes\n')
  parser_error = args[-1] == 'notes.json' and args[0] == '--workdir' or args == ['--real', 'a.npz']
  with pytest.raises(SystemExit) if parser_error else _no_raise() as exit_info:
    code = cli.eval_main(args)
  err = capsys.readouterr().err
  assert message in err and len(err.strip().splitlines()) == 1
  assert (exit_info.value.code if parser_error else code) in (1, 2)
  assert (tmp_path / 'notes.json').read_text() == 'my notes\n'  # never overwritten


class _no_raise:
  value = None

  def __enter__(self):
    return self

  def __exit__(self, *_):
    return False


def test_time_budget_fits_the_decaying_schedule(tmp_path, monkeypatch):
  # pytest-xdist's workers share the cores: a step may take twice as long in the run as when it was timed.
  monkeypatch.setattr('jaxgan.run.opening.TIME_MARGIN', 0.45)
  config = config_lib.get_config(
    'digits',
    'train.steps=100000',
    'train.max_seconds=40',
    'model.g_width=8',
    'model.d_width=8',
    'eval.metrics=()',
    'train.checkpoint_every=100000',  # the time goes to steps: checkpoints and pictures on the way are not timed
    'train.sample_every=100000',
  )
  summary = train(config, tmp_path, progress=False)
  assert 'stopped' not in summary and summary['wall_seconds'] < 40  # finished within its time
  steps = json.loads((tmp_path / 'config.json').read_text())['train']['steps']
  assert steps == summary['step'] < 100000
  fitted = json.loads((tmp_path / 'run.json').read_text())['steps_fitted_to_time']
  assert fitted == {'asked': 100000, 'fitted': steps}
  last = json.loads((tmp_path / 'metrics.jsonl').read_text().splitlines()[-1])
  assert last['optim/g_lr'] < 1e-3 * config.optim.g_lr  # the cosine schedule ran to its end
  assert train(config, tmp_path, progress=False)['step'] == steps  # the same command: finished, not re-planned


def test_a_sweep_ranks_its_members_by_their_scores(tmp_path):
  """The members are scored together (their 200 images each embedded in shared batches of 250, one member's
  split across two), each as it is scored alone."""
  config = config_lib.get_config(
    'digits',
    *SCORED[1:6],
    'train.steps=40',
    'eval.metrics=fid,classes',
    'eval.every=0',
    'eval.num_fake=200',
    'eval.num_real=300',
  )
  summary = sweep(config, product(train__seed=[0, 1], optim__g_lr=[4e-4]), tmp_path, progress=False)
  fids = [member['fid'] for member in summary['members']]
  assert [row['member'] for row in summary['results']] == sorted(range(2), key=fids.__getitem__)
  assert [row['fid'] for row in summary['results']] == sorted(fids)
  for i in range(2):
    best = json.loads((tmp_path / 'members' / f'{i:03d}' / 'best.json').read_text())
    assert best['step'] == 40 and best['value'] == fids[i]
    _, state = load(tmp_path, member=i, best=True)
    assert int(state.step) == 40 and state.step.ndim == 0
  with pytest.raises(evaluation.EvalError, match='holds a sweep of 2 members; score one member at a time'):
    jaxgan.evaluate_run(tmp_path)
  for i in range(2):
    assert jaxgan.evaluate_run(tmp_path, member=i, metrics=('fid',))['fid'] == pytest.approx(fids[i], rel=1e-4)
  # Some members alone (as after a member diverged): gathered from the population, scored as they were with all.
  population_config, population = load(tmp_path)
  alone = evaluation.Evaluation(population_config.eval, population_config.data).score_members(population, [1])
  assert list(alone) == [1] and alone[1]['fid'] == pytest.approx(fids[1], rel=1e-4)


def test_reference_features_are_cached_by_their_images_not_their_name(tmp_path, monkeypatch):
  """The same reference name holding other images (a file rewritten in place) is embedded afresh; a cache that
  cannot be written warns and the features still come back."""
  from jaxgan.data.sources import ImageSource
  from jaxgan.evaluation import scoring

  def mean_colour(x):
    return x.mean(axis=(1, 2)), x.mean(axis=(1, 2, 3))[:, None]

  extractor = scoring.Extractor('mean colour', mean_colour, {'extractor': 'mean colour (test)'})
  reference = {'source': 'ref.npz', 'resolution': 'stored', 'selection': 'seeded'}
  rng = np.random.default_rng(0)
  before, after = rng.integers(0, 128, (30, 4, 4, 3), np.uint8), rng.integers(128, 256, (30, 4, 4, 3), np.uint8)

  def features(images):
    return scoring.reference_features(extractor, ImageSource(images, 0), reference, 30, keep=False)

  first = features(before)
  np.testing.assert_allclose(first['mean'], (before / 127.5 - 1).mean(axis=(0, 1, 2)), rtol=1e-5)
  np.testing.assert_allclose(features(before)['mean'], first['mean'])  # read back
  np.testing.assert_allclose(features(after)['mean'], (after / 127.5 - 1).mean(axis=(0, 1, 2)), rtol=1e-5)
  blocker = tmp_path / 'blocker'
  blocker.write_text('a file where the cache would go')
  monkeypatch.setenv('JAXGAN_CACHE', str(blocker))
  with pytest.warns(UserWarning, match='reference features not cached') as warned:
    unwritten = features(after[::-1].copy())
  assert len(warned) == 1
  np.testing.assert_allclose(unwritten['mean'], (after / 127.5 - 1).mean(axis=(0, 1, 2)), rtol=1e-5)
  assert blocker.read_text() == 'a file where the cache would go'


def test_fewer_images_than_asked_are_all_scored_and_the_protocol_says_so():
  images, _ = _digits()
  scored = evaluation.evaluate_images('digits', images[:8, :, :, None], num_fake=400, metrics=['kid', 'is'])
  assert scored['protocol']['num_fake'] == 8
  assert scored['protocol']['metrics'] == {'kid': {'subsets': 100, 'subset_size': 8}, 'is': {'splits': 8}}

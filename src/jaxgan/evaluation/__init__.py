"""How good a generator is: scores, the networks that embed images, and the evaluators of the toy games.

  scores      FID, KID, Inception Score, precision / recall, density / coverage: pure functions of features;
  inception   pytorch-fid's Inception-v3 in Flax, and the converter of its weights;
  classifier  a small CNN trained on labelled data: the offline extractor for digits and MNIST;
  scoring     scores of image sets with their protocol (Evaluation, evaluate_images, eval.json results);
  game1d      the 1-D game's panels, curves and theory checks (D against D*, JS, V against -log 4);
  toys2d      the 2-D mixtures' panels and mode metrics.

It may import jaxgan.game, jaxgan.models, jaxgan.data, jaxgan.config and jaxgan.files, nothing in
jaxgan.run: scoring a run from its workdir is jaxgan.run.evaluate's (jaxgan.evaluate_run). The
names of `scoring` are re-exported here, as the module jaxgan.evaluation had them.
"""

from jaxgan.evaluation.scoring import (
  FAKE_SEED,
  REFERENCE_SEED,
  EvalError,
  Evaluation,
  Extractor,
  better,
  classifier_extractor,
  compute,
  differences,
  embed,
  evaluate_images,
  generated_batches,
  image_batches,
  inception_extractor,
  protocol,
  read_results,
  record,
  reference_features,
  warn_if_incomparable,
  with_eval_settings,
)

__all__ = [
  'FAKE_SEED',
  'REFERENCE_SEED',
  'EvalError',
  'Evaluation',
  'Extractor',
  'better',
  'classifier_extractor',
  'compute',
  'differences',
  'embed',
  'evaluate_images',
  'generated_batches',
  'image_batches',
  'inception_extractor',
  'protocol',
  'read_results',
  'record',
  'reference_features',
  'warn_if_incomparable',
  'with_eval_settings',
]

"""Real samples and how they reach the device.

  sources    the data sources chosen by data.source (a known 1-D normal, the 2-D mixtures, images);
  mixtures   the 2-D Gaussian mixtures of the mode-collapse protocol and their mode metrics;
  prepared   the preparation cache of decoded, resized image sets;
  pipeline   the device-resident and streamed input pipelines (data.pipeline);
  parallel   the device mesh: batches split over devices, a sweep's members too.

It may import jaxgan.config and jaxgan.files (and jax, numpy), nothing above. The names of
`sources` are re-exported here: `from jaxgan.data import make_source` works as before.
"""

from jaxgan.data.sources import (
  DataError,
  ImageSource,
  MixtureSource,
  NormalSource,
  Source,
  as_nhwc,
  fit_image,
  make_source,
  subset,
  to_unit_range,
)

__all__ = [
  'DataError',
  'ImageSource',
  'MixtureSource',
  'NormalSource',
  'Source',
  'as_nhwc',
  'fit_image',
  'make_source',
  'subset',
  'to_unit_range',
]

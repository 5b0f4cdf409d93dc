"""Scores of generated images and the networks that embed them.

scores       FID, KID, Inception Score, precision / recall, density / coverage:
             pure functions of features, jitted, streaming over batches;
inception    Inception-v3 as FID uses it (pytorch-fid's network) in Flax, and
             the one-time converter of its PyTorch weights;
classifier   a small CNN trained on a labelled dataset: the offline extractor
             for digits and MNIST.
"""

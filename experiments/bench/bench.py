"""jaxgan against the PyTorch references, measured in the same run.

    pip install -e '.[bench]'
    python experiments/bench/bench.py                      # CPU: DCGAN64 b64, MNIST b256
    python experiments/bench/bench.py --arch dcgan64 --batch 128 1024

Trains each reference of torch_reference.py on a synthetic batch already on the
device, and jaxgan with the same architecture, losses, optimizer and update
order (DCGAN64: alternating, D then G; MNIST: simultaneous). Rounds alternate
between the frameworks so that machine noise hits both; the figures are
medians over rounds. Printed per architecture and batch size: steps/s, images/s,
compile time (jaxgan's first call; torch.compile's first step), model FLOP
utilisation on a GPU, and the ratio of each jaxgan row to the fastest PyTorch
row at the same precision and to the fastest overall. Precision: float32 rows
use each framework's default (on NVIDIA GPUs PyTorch convolutions use TF32 by
default, XLA's 'default' precision too); bf16 rows are jaxgan's bfloat16 policy
and PyTorch's bf16 autocast.

Model FLOPs per step count the useful multiply-adds of the reference step:
G forward once, D forward three times (real, fake for D, fake for G), each
backward twice its forward: 2 * 3 * B * (G + 3 D) multiply-adds. The per-layer
count is checked against XLA's cost analysis of the forward passes (plain lax
convolutions, CPU) before any timing.
"""

import argparse
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.config import Config, GameConfig, ModelConfig, OptimConfig, TrainConfig
from jaxgan.game.state import create_state
from jaxgan.game.step import train_step
from jaxgan.models.conv import Conv

# Dense bfloat16 peak of each card, FLOP/s (vendor data sheets, SXM parts).
BF16_PEAK = {'H100': 989e12, 'H200': 989e12}
LATENT = 100


class TFGenerator(nn.Module):
  """The TensorFlow tutorial's MNIST generator (Keras BatchNorm eps 1e-3, LeakyReLU 0.3)."""

  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
    def norm(h):
      bn = nn.BatchNorm(use_running_average=not train, momentum=0.99, epsilon=1e-3)
      return nn.leaky_relu(bn(h), 0.3)

    h = norm(nn.Dense(7 * 7 * 256, use_bias=False)(z)).reshape(-1, 7, 7, 256)
    h = norm(Conv(128, (5, 5), transpose=True, impl=self.conv_impl)(h))
    h = norm(Conv(64, (5, 5), (2, 2), transpose=True, impl=self.conv_impl)(h))
    return jnp.tanh(Conv(1, (5, 5), (2, 2), transpose=True, impl=self.conv_impl)(h))


class TFDiscriminator(nn.Module):
  """The TensorFlow tutorial's MNIST discriminator, without its dropout."""

  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    h = x
    for features in (64, 128):
      h = Conv(features, (5, 5), (2, 2), impl=self.conv_impl)(h)
      h = nn.leaky_relu(h + self.param(f'bias_{features}', nn.initializers.zeros, (features,)), 0.3)
    return nn.Dense(1)(h.reshape(h.shape[0], -1))[:, 0]


ARCHS = {
  # name: (sample shape, config changes, networks or None for jaxgan's DCGAN)
  'dcgan64': ((64, 64, 3), dict(lr=2e-4, b1=0.5, order='alternating'), None),
  'mnist': ((28, 28, 1), dict(lr=1e-4, b1=0.9, order='simultaneous'), (TFGenerator, TFDiscriminator)),
}


def jaxgan_config(arch: str, batch_size: int, dtype: str, conv_impl: str = 'auto') -> Config:
  _, opt, _ = ARCHS[arch]
  return Config(
    model=ModelConfig(
      architecture='dcgan', latent_dim=LATENT, prior='normal', conv_impl=conv_impl, compute_dtype=dtype
    ),
    optim=OptimConfig(g_lr=opt['lr'], d_lr=opt['lr'], b1=opt['b1'], b2=0.999),
    game=GameConfig(objective='non_saturating', update_order=opt['order'], reuse_fake=True, ema_decay=0.999),
    train=TrainConfig(batch_size=batch_size),
  )


def jaxgan_networks(arch: str, conv_impl: str = 'auto') -> tuple[nn.Module, nn.Module] | None:
  networks = ARCHS[arch][2]
  return networks and (networks[0](conv_impl), networks[1](conv_impl))


class JaxTrainer:
  """jaxgan's train_step on a fixed synthetic batch."""

  def __init__(self, arch: str, batch_size: int, dtype: str):
    shape = ARCHS[arch][0]
    config = jaxgan_config(arch, batch_size, dtype)
    self.state = create_state(config, jax.random.key(0), shape, jaxgan_networks(arch))
    self.batch = jax.random.uniform(jax.random.key(1), (batch_size, *shape), minval=-1, maxval=1)
    start = time.perf_counter()
    self.step()
    self.sync()
    self.compile_seconds = time.perf_counter() - start

  def step(self) -> None:
    self.state, self.metrics = train_step(self.state, self.batch)

  def sync(self) -> None:
    jax.block_until_ready(self.metrics)


def _taps(in_side: int, k: int, stride: int, pad: int, out_side: int, transpose: bool) -> int:
  """Kernel taps that land inside the input, summed over one axis' outputs.

  A transposed convolution is counted as the convolution it is the adjoint of
  (out_side -> in_side): its taps pair the same input and output pixels.
  """
  if transpose:
    in_side, out_side = out_side, in_side
  return sum(0 <= stride * o + j - pad < in_side for o in range(out_side) for j in range(k))


def layer_macs(arch: str) -> tuple[float, float]:
  """Multiply-adds per sample of one forward pass of (G, D), from the layer shapes."""

  def conv(in_side, out_side, k, s, pad, c_in, c_out, transpose=False):
    return _taps(in_side, k, s, pad, out_side, transpose) ** 2 * c_in * c_out

  if arch == 'dcgan64':  # 4x4 kernels, stride 2, padding 1
    widths = (512, 256, 128, 64)
    g = LATENT * 4 * 4 * 512 + conv(32, 64, 4, 2, 1, 64, 3, transpose=True)
    g += sum(conv(4 * 2**i, 8 * 2**i, 4, 2, 1, w, w // 2, transpose=True) for i, w in enumerate(widths[:-1]))
    d = conv(64, 32, 4, 2, 1, 3, 64) + 4 * 4 * 512
    d += sum(conv(32 // 2**i, 16 // 2**i, 4, 2, 1, w, 2 * w) for i, w in enumerate(widths[::-1][:-1]))
  else:  # 5x5 kernels, 'SAME' padding: 2 on the low side
    g = LATENT * 7 * 7 * 256 + conv(7, 7, 5, 1, 2, 256, 128, transpose=True)
    g += conv(7, 14, 5, 2, 2, 128, 64, transpose=True) + conv(14, 28, 5, 2, 2, 64, 1, transpose=True)
    d = conv(28, 14, 5, 2, 1, 1, 64) + conv(14, 7, 5, 2, 1, 64, 128) + 7 * 7 * 128
  return float(g), float(d)


def xla_forward_macs(arch: str) -> tuple[float, float]:
  """XLA's cost analysis of each network's forward pass, per sample, in multiply-adds.

  Compiled for the CPU: on a GPU the convolutions are library calls that the cost analysis does not count.
  """
  config = jaxgan_config(arch, 1, 'float32', conv_impl='lax')
  shape = ARCHS[arch][0]
  batch = 8
  out = []
  with jax.default_device(jax.devices('cpu')[0]):
    state = create_state(config, jax.random.key(0), shape, jaxgan_networks(arch, 'lax'))
    players = ((state.generator, jnp.zeros((batch, LATENT))), (state.discriminator, jnp.zeros((batch, *shape))))
    for player, x in players:
      forward = jax.jit(lambda p, x, player=player: player.apply(p, player.batch_stats, x, train=False)[0])
      cost = forward.lower(player.params, x).compile().cost_analysis()
      cost = cost[0] if isinstance(cost, list) else cost
      out.append(cost['flops'] / 2 / batch)
  return out[0], out[1]


def device_name() -> str:
  device = jax.devices()[0]
  return device.device_kind if device.platform != 'cpu' else f'CPU ({jax.device_count()} device, {_cpu_model()})'


def _cpu_model() -> str:
  try:
    with open('/proc/cpuinfo') as f:
      return next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
  except (OSError, StopIteration):
    return 'unknown'


def time_steps(trainer, steps: int) -> float:
  """Seconds per step over `steps` steps (synchronised at both ends)."""
  trainer.sync()
  start = time.perf_counter()
  for _ in range(steps):
    trainer.step()
  trainer.sync()
  return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> None:
  import torch
  from torch_reference import Trainer as TorchTrainer

  gpu = jax.default_backend() == 'gpu'
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--arch', nargs='+', default=['dcgan64', 'mnist'], choices=sorted(ARCHS))
  parser.add_argument('--batch', nargs='+', type=int, help='batch sizes (default: 64 / 256 on CPU)')
  parser.add_argument('--steps', type=int, default=20 if gpu else 3, help='timed steps per round')
  parser.add_argument('--rounds', type=int, default=5 if gpu else 3)
  parser.add_argument('--bf16', action='store_true', default=gpu, help='add the bf16 rows (default on GPU)')
  parser.add_argument('--compile', action='store_true', default=gpu, help='add the torch.compile row (default on GPU)')
  args = parser.parse_args(argv)
  torch_device = 'cuda' if gpu else 'cpu'
  torch.manual_seed(0)

  precision = jax.config.jax_default_matmul_precision or 'default'
  print(
    f'device: {device_name()}; jax {jax.__version__} (float32 precision: {precision}), torch {torch.__version__}, '
    f'{time.strftime("%Y-%m-%d")}'
  )
  for arch in args.arch:
    g_macs, d_macs = layer_macs(arch)
    xla_g, xla_d = xla_forward_macs(arch)
    print(
      f'{arch}: forward multiply-adds per sample G {g_macs / 1e6:.1f}M (XLA {xla_g / 1e6:.1f}M), '
      f'D {d_macs / 1e6:.1f}M (XLA {xla_d / 1e6:.1f}M)'
    )
    step_macs_per_sample = 3 * (g_macs + 3 * d_macs)
    batches = args.batch or ([64] if arch == 'dcgan64' else [256])
    for batch_size in batches:
      rows = {}
      torch_variants = ['eager'] + (['compile'] if args.compile else []) + (['bf16'] if args.bf16 else [])
      for variant in torch_variants:
        rows[f'torch {variant}'] = TorchTrainer(arch, batch_size, torch_device, variant)
      for dtype in ['float32'] + (['bfloat16'] if args.bf16 else []):
        rows[f'jaxgan {dtype}'] = JaxTrainer(arch, batch_size, dtype)
      for name, trainer in list(rows.items()):  # warm-up (and torch.compile's compile)
        start = time.perf_counter()
        try:
          trainer.step()
          trainer.sync()
        except Exception as error:  # a PyTorch variant that breaks on this version: reported, not timed
          if name.startswith('jaxgan'):
            raise
          print(f'{arch} batch {batch_size}: {name} failed, not timed: {str(error).splitlines()[0][:200]}')
          del rows[name]
          continue
        if name.startswith('torch'):
          trainer.compile_seconds = time.perf_counter() - start if name == 'torch compile' else 0.0
      times = {name: [] for name in rows}
      for _ in range(args.rounds):
        for name, trainer in rows.items():
          times[name].append(time_steps(trainer, args.steps))
      seconds = {name: statistics.median(t) for name, t in times.items()}
      _report(arch, batch_size, rows, seconds, step_macs_per_sample, gpu)


def _report(arch, batch_size, rows, seconds, step_macs_per_sample, gpu) -> None:
  fastest_torch = min(s for name, s in seconds.items() if name.startswith('torch'))
  fastest_torch_fp32 = min(s for name, s in seconds.items() if name.startswith('torch') and 'bf16' not in name)
  peak = next((p for card, p in BF16_PEAK.items() if card in device_name()), None)
  print(f'\n{arch} batch {batch_size}')
  print(
    f'{"row":18} {"steps/s":>9} {"img/s":>10} {"compile s":>10} {"MFU":>6} {"vs torch same prec.":>20} {"vs best":>8}'
  )
  for name, s in seconds.items():
    flops = 2 * step_macs_per_sample * batch_size / s
    mfu = f'{flops / peak:.1%}' if gpu and peak else '-'
    ratio, best = '', ''
    if name.startswith('jaxgan'):
      same = fastest_torch_fp32 if name.endswith('float32') else seconds.get('torch bf16', fastest_torch)
      ratio, best = f'{same / s:.2f}x', f'{fastest_torch / s:.2f}x'
    print(
      f'{name:18} {1 / s:9.2f} {batch_size / s:10.0f} {rows[name].compile_seconds:10.1f} {mfu:>6} {ratio:>20} {best:>8}'
    )
  print(f'model GFLOP per step: {2 * step_macs_per_sample * batch_size / 1e9:.1f}', flush=True)


if __name__ == '__main__':
  main()

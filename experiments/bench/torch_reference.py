"""The two reference GANs, in PyTorch as their authors' code trains them.

* DCGAN64: pytorch/examples/dcgan (netG, netD, weights_init, BCE, Adam 2e-4,
  betas 0.5/0.999); per step D on a real batch and on the detached fake batch,
  then G against the updated D, reusing the same fake batch.
* MNIST: the TensorFlow DCGAN tutorial's generator and discriminator, written
  in PyTorch; both players' gradients from one forward pass, then both updates
  (the tutorial's two GradientTapes); Adam 1e-4. Its discriminator's dropout
  is left out here and in jaxgan's copy alike.
"""

import torch
from torch import nn
from torch._functorch import config as functorch_config


def _weights_init(m: nn.Module) -> None:
  # pytorch/examples/dcgan's weights_init.
  if 'Conv' in type(m).__name__:
    nn.init.normal_(m.weight, 0.0, 0.02)
  elif 'BatchNorm' in type(m).__name__:
    nn.init.normal_(m.weight, 1.0, 0.02)
    nn.init.zeros_(m.bias)


def dcgan64(nz: int = 100, ngf: int = 64, ndf: int = 64, nc: int = 3) -> tuple[nn.Module, nn.Module]:
  g = nn.Sequential(
    nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
    nn.BatchNorm2d(ngf * 8),
    nn.ReLU(True),
    nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
    nn.BatchNorm2d(ngf * 4),
    nn.ReLU(True),
    nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
    nn.BatchNorm2d(ngf * 2),
    nn.ReLU(True),
    nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
    nn.BatchNorm2d(ngf),
    nn.ReLU(True),
    nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
    nn.Tanh(),
  )
  d = nn.Sequential(
    nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
    nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
    nn.BatchNorm2d(ndf * 2),
    nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
    nn.BatchNorm2d(ndf * 4),
    nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
    nn.BatchNorm2d(ndf * 8),
    nn.LeakyReLU(0.2, inplace=True),
    nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
    nn.Sigmoid(),
  )
  g.apply(_weights_init)
  d.apply(_weights_init)
  return g, d


class _Reshape(nn.Module):
  def __init__(self, *shape: int):
    super().__init__()
    self.shape = shape

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    return x.view(x.shape[0], *self.shape)


def tf_mnist(nz: int = 100) -> tuple[nn.Module, nn.Module]:
  """The tutorial's Keras layers: BatchNormalization(eps 1e-3), LeakyReLU(0.3), 'same' padding."""
  g = nn.Sequential(
    nn.Linear(nz, 7 * 7 * 256, bias=False),
    nn.BatchNorm1d(7 * 7 * 256, eps=1e-3),
    nn.LeakyReLU(0.3),
    _Reshape(256, 7, 7),
    nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False),
    nn.BatchNorm2d(128, eps=1e-3),
    nn.LeakyReLU(0.3),
    nn.ConvTranspose2d(128, 64, 5, 2, 2, output_padding=1, bias=False),
    nn.BatchNorm2d(64, eps=1e-3),
    nn.LeakyReLU(0.3),
    nn.ConvTranspose2d(64, 1, 5, 2, 2, output_padding=1, bias=False),
    nn.Tanh(),
  )
  d = nn.Sequential(
    nn.Conv2d(1, 64, 5, 2, 2),
    nn.LeakyReLU(0.3),
    nn.Conv2d(64, 128, 5, 2, 2),
    nn.LeakyReLU(0.3),
    nn.Flatten(),
    nn.Linear(7 * 7 * 128, 1),
  )
  return g, d


def _probability_bce(p: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
  # nn.BCELoss refuses to run under autocast: compute it in float32 outside.
  with torch.autocast(p.device.type, enabled=False):
    return nn.functional.binary_cross_entropy(p.float(), target)


class Trainer:
  """One reference train step at a time on a fixed synthetic batch."""

  def __init__(self, arch: str, batch_size: int, device: str, variant: str):
    self.arch, self.device, self.variant = arch, device, variant
    self.nz = 100
    if arch == 'dcgan64':
      self.g, self.d = dcgan64()
      lr, betas, shape = 2e-4, (0.5, 0.999), (3, 64, 64)
    else:
      self.g, self.d = tf_mnist()
      lr, betas, shape = 1e-4, (0.9, 0.999), (1, 28, 28)
    self.g.to(device)
    self.d.to(device)
    if variant == 'compile':
      # The simultaneous step takes two gradients through one graph
      # (retain_graph), which compiled backward passes with donated buffers refuse.
      functorch_config.donated_buffer = False
      # Static shapes: D is called on inputs that differ in requires_grad, and
      # the dynamic-shape recompile that follows fails in inductor (torch 2.13).
      self.g, self.d = torch.compile(self.g, dynamic=False), torch.compile(self.d, dynamic=False)
    self.opt_g = torch.optim.Adam(self.g.parameters(), lr=lr, betas=betas)
    self.opt_d = torch.optim.Adam(self.d.parameters(), lr=lr, betas=betas)
    self.real = torch.rand(batch_size, *shape, device=device) * 2 - 1
    self.ones = torch.ones(batch_size, device=device)
    self.zeros = torch.zeros(batch_size, device=device)

  def step(self) -> None:
    autocast = torch.autocast(self.device, torch.bfloat16, enabled=self.variant == 'bf16')
    with autocast:
      if self.arch == 'dcgan64':
        self._dcgan_step()
      else:
        self._simultaneous_step()

  def _dcgan_step(self) -> None:
    bce = _probability_bce
    self.d.zero_grad()
    err_real = bce(self.d(self.real).view(-1), self.ones)
    err_real.backward()
    noise = torch.randn(self.real.shape[0], self.nz, 1, 1, device=self.device)
    fake = self.g(noise)
    err_fake = bce(self.d(fake.detach()).view(-1), self.zeros)
    err_fake.backward()
    self.opt_d.step()
    self.g.zero_grad()
    err_g = bce(self.d(fake).view(-1), self.ones)
    err_g.backward()
    self.opt_g.step()

  def _simultaneous_step(self) -> None:
    bce = nn.functional.binary_cross_entropy_with_logits
    noise = torch.randn(self.real.shape[0], self.nz, device=self.device)
    fake = self.g(noise)
    real_out = self.d(self.real).view(-1).float()
    fake_out = self.d(fake).view(-1).float()
    g_loss = bce(fake_out, self.ones)
    d_loss = bce(real_out, self.ones) + bce(fake_out, self.zeros)
    g_params, d_params = list(self.g.parameters()), list(self.d.parameters())
    g_grads = torch.autograd.grad(g_loss, g_params, retain_graph=True)
    d_grads = torch.autograd.grad(d_loss, d_params)
    for p, grad in zip(g_params + d_params, g_grads + d_grads, strict=True):
      p.grad = grad
    self.opt_g.step()
    self.opt_d.step()

  def sync(self) -> None:
    if self.device == 'cuda':
      torch.cuda.synchronize()

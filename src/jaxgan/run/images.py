"""Image grids, PNGs and GIFs for samples in [-1, 1]."""

import math
from pathlib import Path

import numpy as np


def to_uint8(images: np.ndarray) -> np.ndarray:
  """Maps [-1, 1] floats to uint8 [0, 255]."""
  return np.round((np.clip(np.asarray(images, np.float32), -1, 1) + 1) * 127.5).astype(np.uint8)


def grid(images: np.ndarray, columns: int | None = None, pad: int = 1) -> np.ndarray:
  """Tiles uint8 images [N, H, W, C] into one [rows*(H+pad)+pad, ..., C] image."""
  n, h, w, c = images.shape
  columns = columns or math.ceil(math.sqrt(n))
  rows = math.ceil(n / columns)
  out = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255 if c == 3 else 64, np.uint8)
  for i, image in enumerate(images):
    r, col = divmod(i, columns)
    out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = image
  return out


def _pil(image: np.ndarray, scale: int):
  from PIL import Image

  pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
  return pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST) if scale > 1 else pil


def upscale_for(image_side: int) -> int:
  """An integer zoom that makes small images (8x8 digits) visible."""
  return max(1, 64 // image_side)


def save_png(path: Path, image: np.ndarray, scale: int = 1) -> None:
  _pil(image, scale).save(path)


def read_png(path: Path) -> np.ndarray:
  """A PNG as uint8 [H, W, C]."""
  from PIL import Image

  with Image.open(path) as image:
    array = np.asarray(image)
  return array if array.ndim == 3 else array[..., None]


def caption(image: np.ndarray, text: str) -> np.ndarray:
  """uint8 `image` [H, W, C] below a white strip with `text` in black, sized to stay legible at any width."""
  from PIL import Image, ImageDraw, ImageFont

  _, width, channels = image.shape
  size = max(12, width // 24)
  strip = Image.new('L', (width, size * 3 // 2), 255)
  ImageDraw.Draw(strip).text(
    (size // 2, strip.height // 2), text, fill=0, font=ImageFont.load_default(size), anchor='lm'
  )
  return np.concatenate([np.repeat(np.asarray(strip)[..., None], channels, axis=-1), image])


def save_gif(path: Path, frames: list[np.ndarray], scale: int = 1, milliseconds: int = 300) -> None:
  """An animated GIF of uint8 frames [H, W, C], the last one held longer."""
  pils = [_pil(frame, scale) for frame in frames]
  durations = [milliseconds] * (len(pils) - 1) + [milliseconds * 5]
  pils[0].save(path, save_all=True, append_images=pils[1:], duration=durations, loop=0)

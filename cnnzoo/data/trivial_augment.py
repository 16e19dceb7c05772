"""TrivialAugment (Müller & Hutter 2021) on uint8 images, with Pillow.

One op drawn uniformly per image, at a magnitude drawn uniformly from 31 bins,
with torchvision's `TrivialAugmentWide` op set, magnitudes and signs, and its
PIL code path (nearest-neighbour geometry, fill 0). Also home to the numpy <->
PIL conversions the other augmentations share.
"""

import grain
import numpy as np
from PIL import Image, ImageEnhance, ImageOps

NUM_BINS = 31


def to_pil(image: np.ndarray) -> Image.Image:
  """uint8 HxWx1 or HxWx3 array -> an 'L' or 'RGB' PIL image."""
  return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def from_pil(pil: Image.Image) -> np.ndarray:
  """PIL image -> writable uint8 HxWxC array ('L' gives C = 1)."""
  image = np.array(pil)
  return image[..., None] if image.ndim == 2 else image


def _affine(pil, coefficients):
  # PIL maps each output pixel (x, y) to the input pixel (a x + b y + c,
  # d x + e y + f): these are the inverse matrices torchvision computes.
  return pil.transform(pil.size, Image.AFFINE, coefficients, Image.NEAREST)


def _enhance(enhancer):
  return lambda pil, m: enhancer(pil).enhance(1.0 + m)


# name -> (magnitude per bin, or None for ops without one; signed; op).
# Shear magnitudes are tangents, as in torchvision (0.99: ~44.7 degrees).
_OPS = {
    'Identity': (None, False, lambda pil, m: pil),
    'ShearX': (np.linspace(0.0, 0.99, NUM_BINS), True,
               lambda pil, m: _affine(pil, (1, m, 0, 0, 1, 0))),
    'ShearY': (np.linspace(0.0, 0.99, NUM_BINS), True,
               lambda pil, m: _affine(pil, (1, 0, 0, m, 1, 0))),
    # torchvision truncates the shift to whole pixels: int(magnitude).
    'TranslateX': (np.linspace(0.0, 32.0, NUM_BINS), True,
                   lambda pil, m: _affine(pil, (1, 0, -int(m), 0, 1, 0))),
    'TranslateY': (np.linspace(0.0, 32.0, NUM_BINS), True,
                   lambda pil, m: _affine(pil, (1, 0, 0, 0, 1, -int(m)))),
    'Rotate': (np.linspace(0.0, 135.0, NUM_BINS), True,
               lambda pil, m: pil.rotate(m, Image.NEAREST)),
    'Brightness': (np.linspace(0.0, 0.99, NUM_BINS), True,
                   _enhance(ImageEnhance.Brightness)),
    'Color': (np.linspace(0.0, 0.99, NUM_BINS), True,
              _enhance(ImageEnhance.Color)),
    'Contrast': (np.linspace(0.0, 0.99, NUM_BINS), True,
                 _enhance(ImageEnhance.Contrast)),
    'Sharpness': (np.linspace(0.0, 0.99, NUM_BINS), True,
                  _enhance(ImageEnhance.Sharpness)),
    'Posterize': (8 - np.round(np.arange(NUM_BINS) / ((NUM_BINS - 1) / 6)),
                  False, lambda pil, m: ImageOps.posterize(pil, int(m))),
    'Solarize': (np.linspace(255.0, 0.0, NUM_BINS), False,
                 ImageOps.solarize),
    'AutoContrast': (None, False, lambda pil, m: ImageOps.autocontrast(pil)),
    'Equalize': (None, False, lambda pil, m: ImageOps.equalize(pil)),
}
OP_NAMES = tuple(_OPS)


def apply_op(image: np.ndarray, name: str, magnitude: float) -> np.ndarray:
  """Applies op `name` of `OP_NAMES` at `magnitude` to a uint8 HxWxC image."""
  return from_pil(_OPS[name][2](to_pil(image), magnitude))


class TrivialAugment(grain.transforms.RandomMap):
  """Applies one random TrivialAugmentWide op to `element['image']` (uint8)."""

  def random_map(self, element, rng: np.random.Generator):
    name = OP_NAMES[rng.integers(len(OP_NAMES))]
    magnitudes, signed, _ = _OPS[name]
    magnitude = 0.0
    if magnitudes is not None:
      magnitude = float(magnitudes[rng.integers(NUM_BINS)])
      if signed and rng.integers(2):
        magnitude = -magnitude
    return {**element, 'image': apply_op(element['image'], name, magnitude)}


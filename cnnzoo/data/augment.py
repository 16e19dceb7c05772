"""Training-time augmentation as grain transforms, following torchvision/timm.

Random transforms are `grain.transforms.RandomMap`s: grain hands each record an
rng derived from the sampler seed and the record's index, so augmentation is
reproducible and a resumed run continues exactly where it stopped. Per-image
transforms take and return `{'image': uint8 HxWxC, 'label', ...}` (C = 1 or 3,
other keys pass through); `RandomErasing` runs after normalization and
`MixBatch` on whole batches. `train_transforms`, `erasing_transform` and
`mix_transform` turn the `config.augment` section into these transforms.
"""

import math

import grain
import ml_collections
import numpy as np
from PIL import Image, ImageEnhance

from cnnzoo import errors
from cnnzoo.data.trivial_augment import TrivialAugment, from_pil, to_pil

__all__ = [
    'RandomResizedCrop', 'PadAndRandomCrop', 'HorizontalFlip', 'ColorJitter',
    'TrivialAugment', 'RandomErasing', 'MixBatch', 'train_transforms',
    'erasing_transform', 'mix_transform']


def _candidate_sizes(rng, area, scale, ratio):
  """torchvision's 10 tries: yields (round(sqrt(a r)), round(sqrt(a / r))) for
  a = area * uniform(scale) and r log-uniform in `ratio`."""
  log_ratio = np.log(ratio)
  for _ in range(10):
    target = area * rng.uniform(*scale)
    aspect = math.exp(rng.uniform(*log_ratio))
    yield (int(round(math.sqrt(target * aspect))),
           int(round(math.sqrt(target / aspect))))


class RandomResizedCrop(grain.transforms.RandomMap):
  """Crops a random area fraction `scale` with aspect (w/h) in `ratio` and
  resizes it, bilinearly, to (height, width): torchvision's algorithm."""

  def __init__(self, height: int, width: int,
               scale: tuple[float, float] = (0.08, 1.0),
               ratio: tuple[float, float] = (3 / 4, 4 / 3)):
    self.height, self.width = height, width
    self.scale, self.ratio = tuple(scale), tuple(ratio)

  def random_map(self, element, rng: np.random.Generator):
    image = element['image']
    height, width = image.shape[:2]
    sizes = _candidate_sizes(rng, height * width, self.scale, self.ratio)
    for box_w, box_h in sizes:  # Aspect here is w/h.
      if 0 < box_w <= width and 0 < box_h <= height:
        top = rng.integers(height - box_h + 1)
        left = rng.integers(width - box_w + 1)
        break
    else:  # Fall back to the central crop, aspect clipped to ratio.
      box_h, box_w = height, width
      if width / height < min(self.ratio):
        box_h = int(round(width / min(self.ratio)))
      elif width / height > max(self.ratio):
        box_w = int(round(height * max(self.ratio)))
      top, left = (height - box_h) // 2, (width - box_w) // 2
    crop = to_pil(image).crop((left, top, left + box_w, top + box_h))
    resized = crop.resize((self.width, self.height), Image.BILINEAR)
    return {**element, 'image': from_pil(resized)}


class PadAndRandomCrop(grain.transforms.RandomMap):
  """Zero-pads each side by `padding` pixels, then crops the original size
  back at a random offset (torchvision's RandomCrop(size, padding))."""

  def __init__(self, padding: int):
    self.padding = padding

  def random_map(self, element, rng: np.random.Generator):
    image, p = element['image'], self.padding
    height, width = image.shape[:2]
    padded = np.pad(image, ((p, p), (p, p), (0, 0)))
    top, left = rng.integers(2 * p + 1), rng.integers(2 * p + 1)
    return {**element, 'image': padded[top:top + height, left:left + width]}


class HorizontalFlip(grain.transforms.RandomMap):
  """Mirrors the image left to right with probability 0.5."""

  def random_map(self, element, rng: np.random.Generator):
    if rng.random() < 0.5:
      return {**element, 'image': element['image'][:, ::-1].copy()}
    return element


class ColorJitter(grain.transforms.RandomMap):
  """Brightness, contrast and saturation, each by a factor uniform in
  [max(0, 1 - strength), 1 + strength], in random order (torchvision's PIL
  path). Saturation leaves 1-channel images unchanged."""

  _ENHANCERS = (ImageEnhance.Brightness, ImageEnhance.Contrast,
                ImageEnhance.Color)

  def __init__(self, strength: float):
    self.strength = strength

  def random_map(self, element, rng: np.random.Generator):
    if self.strength == 0:  # torchvision skips factors fixed at 1.
      return element
    order = rng.permutation(len(self._ENHANCERS))
    factors = rng.uniform(max(0.0, 1 - self.strength), 1 + self.strength,
                          len(self._ENHANCERS))
    pil = to_pil(element['image'])
    for i in order:
      pil = self._ENHANCERS[i](pil).enhance(factors[i])
    return {**element, 'image': from_pil(pil)}


class RandomErasing(grain.transforms.RandomMap):
  """With `probability`, sets one random rectangle of the normalized float
  image to `value` in every channel (Zhong et al. 2017; torchvision's
  RandomErasing: `scale` is the area fraction, `ratio` its aspect h/w)."""

  def __init__(self, probability: float,
               scale: tuple[float, float] = (0.02, 0.33),
               ratio: tuple[float, float] = (0.3, 3.3), value: float = 0.0):
    self.probability = probability
    self.scale, self.ratio, self.value = tuple(scale), tuple(ratio), value

  def random_map(self, element, rng: np.random.Generator):
    if rng.random() >= self.probability:
      return element
    image = element['image']
    height, width = image.shape[:2]
    sizes = _candidate_sizes(rng, height * width, self.scale, self.ratio)
    for box_h, box_w in sizes:  # Aspect here is h/w.
      if box_h < height and box_w < width:
        top = rng.integers(height - box_h + 1)
        left = rng.integers(width - box_w + 1)
        image = image.copy()
        image[top:top + box_h, left:left + box_w] = self.value
        return {**element, 'image': image}
    return element  # No box fit in 10 tries: torchvision leaves it as is.


class MixBatch(grain.transforms.RandomMap):
  """Mixup or CutMix over a batch, as timm's `Mixup` (no label smoothing).

  Takes `{'image': float32 (B, H, W, C), 'label': int32 (B,), ...}` and pairs
  example i with example B-1-i (the batch reversed, timm's pairing; records
  arrive shuffled, so this is a random pairing). Returns the batch with mixed
  images, 'label' unchanged and 'label_probs' float32 (B, num_classes) =
  lam * onehot(label) + (1 - lam) * onehot(reversed label). With both alphas
  set, each batch uses mixup or CutMix with probability 0.5. CutMix pastes a
  box of area 1 - lam, centred uniformly and clipped to the image; lam is then
  the area actually kept.
  """

  def __init__(self, num_classes: int, mixup_alpha: float = 0.0,
               cutmix_alpha: float = 0.0):
    if mixup_alpha <= 0 and cutmix_alpha <= 0:
      raise ValueError('MixBatch needs mixup_alpha or cutmix_alpha above 0.')
    self.num_classes = num_classes
    self.mixup_alpha, self.cutmix_alpha = mixup_alpha, cutmix_alpha

  def random_map(self, batch, rng: np.random.Generator):
    images, labels = batch['image'], batch['label']
    use_cutmix = self.mixup_alpha <= 0 or (
        self.cutmix_alpha > 0 and rng.random() < 0.5)
    alpha = self.cutmix_alpha if use_cutmix else self.mixup_alpha
    lam = float(rng.beta(alpha, alpha))
    if use_cutmix:
      top, bottom, left, right = _cutmix_box(rng, *images.shape[1:3], lam)
      mixed = images.copy()
      mixed[:, top:bottom, left:right] = images[::-1, top:bottom, left:right]
      lam = 1 - (bottom - top) * (right - left) / (
          images.shape[1] * images.shape[2])
    else:
      mixed = images * np.float32(lam) + images[::-1] * np.float32(1 - lam)
    onehot = np.eye(self.num_classes, dtype=np.float32)[labels]
    label_probs = (onehot * np.float32(lam)
                   + onehot[::-1] * np.float32(1 - lam))
    return {**batch, 'image': mixed.astype(images.dtype, copy=False),
            'label_probs': label_probs}


def _cutmix_box(rng, height, width, lam):
  """timm's rand_bbox: (top, bottom, left, right) of area ~(1 - lam)."""
  cut_h = int(height * math.sqrt(1 - lam))
  cut_w = int(width * math.sqrt(1 - lam))
  center_y, center_x = rng.integers(height), rng.integers(width)
  return (int(np.clip(center_y - cut_h // 2, 0, height)),
          int(np.clip(center_y + cut_h // 2, 0, height)),
          int(np.clip(center_x - cut_w // 2, 0, width)),
          int(np.clip(center_x + cut_w // 2, 0, width)))


def train_transforms(augment: ml_collections.ConfigDict, height: int,
                     width: int) -> list[grain.transforms.RandomMap]:
  """Returns the per-image uint8 transforms `augment` enables, in order.

  `height`, `width`: the training input size. With `random_resized_crop`
  the first transform crops and resizes any image to that size; without it
  the caller must resize images to (height, width) *before* these transforms,
  which all keep the image size. Then come PadAndRandomCrop, HorizontalFlip,
  ColorJitter and TrivialAugment. Normalization follows them, then
  `erasing_transform`'s. Defaults (everything off) give [].
  """
  _check(augment)
  transforms = []
  if augment.random_resized_crop:
    transforms.append(RandomResizedCrop(height, width, augment.crop_scale))
  if augment.crop_padding:
    transforms.append(PadAndRandomCrop(augment.crop_padding))
  if augment.horizontal_flip:
    transforms.append(HorizontalFlip())
  if augment.color_jitter:
    transforms.append(ColorJitter(augment.color_jitter))
  if augment.trivial_augment:
    transforms.append(TrivialAugment())
  return transforms


def erasing_transform(augment: ml_collections.ConfigDict
                      ) -> RandomErasing | None:
  """Returns RandomErasing for normalized float images, or None when off."""
  _check(augment)
  if not augment.random_erasing:
    return None
  return RandomErasing(augment.random_erasing)


def mix_transform(augment: ml_collections.ConfigDict,
                  num_classes: int) -> MixBatch | None:
  """Returns the batch-level MixBatch, or None when both alphas are 0.

  It goes after batching; the loss must then use 'label_probs'.
  """
  _check(augment)
  if not (augment.mixup_alpha or augment.cutmix_alpha):
    return None
  return MixBatch(num_classes, augment.mixup_alpha, augment.cutmix_alpha)


def _check(augment):
  low, high = augment.crop_scale
  problems = [
      (not 0 < low <= high <= 1, 'crop_scale must be (low, high) with '
       f'0 < low <= high <= 1, not {augment.crop_scale}'),
      (augment.crop_padding < 0, 'crop_padding must be 0 or more'),
      (augment.color_jitter < 0, 'color_jitter must be 0 or more'),
      (not 0 <= augment.random_erasing <= 1,
       'random_erasing is a probability, from 0 to 1'),
      (augment.mixup_alpha < 0 or augment.cutmix_alpha < 0,
       'mixup_alpha and cutmix_alpha must be 0 (off) or more'),
  ]
  for failed, message in problems:
    if failed:
      raise errors.ConfigError(f'augment.{message}. Fix the config.')

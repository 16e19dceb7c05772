"""Augmentation transforms: what each does to pixels and labels, and that grain
seeds them reproducibly."""

import grain
import numpy as np
import pytest
from absl import flags

from cnnzoo import errors
from cnnzoo.config import defaults
from cnnzoo.data import augment, trivial_augment


def _image(height=12, width=16, channels=3, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (height, width, channels), dtype=np.uint8)


def _apply(transform, element, seed):
  return transform.random_map(dict(element), np.random.default_rng(seed))


IMAGE_TRANSFORMS = [
    augment.RandomResizedCrop(8, 10),
    augment.PadAndRandomCrop(2),
    augment.HorizontalFlip(),
    augment.ColorJitter(0.4),
    augment.TrivialAugment(),
]


@pytest.mark.parametrize('channels', [1, 3])
@pytest.mark.parametrize('transform', IMAGE_TRANSFORMS,
                         ids=lambda t: type(t).__name__)
def test_image_transforms_are_seeded_and_keep_dtype_and_keys(
    transform, channels):
  element = {'image': _image(channels=channels), 'label': np.int32(4),
             'extra': 'kept'}
  expected_shape = ((8, 10, channels) if isinstance(
      transform, augment.RandomResizedCrop) else element['image'].shape)
  outputs = [_apply(transform, element, seed)['image'] for seed in range(12)]
  for out in outputs:
    assert out.shape == expected_shape and out.dtype == np.uint8
  again = _apply(transform, element, 5)
  np.testing.assert_array_equal(again['image'], outputs[5])
  assert again['label'] == 4 and again['extra'] == 'kept'
  assert len({out.tobytes() for out in outputs}) > 1  # Seeds matter.


def test_horizontal_flip_mirrors_about_half_the_time():
  image = _image()
  flipped = 0
  for seed in range(200):
    out = _apply(augment.HorizontalFlip(), {'image': image}, seed)['image']
    if np.array_equal(out, image[:, ::-1]):
      flipped += 1
    else:
      np.testing.assert_array_equal(out, image)
  assert 70 <= flipped <= 130  # Binomial(200, 0.5): sd ~7.


def test_pad_and_random_crop_is_a_window_of_the_zero_padded_image():
  image, padding = _image(6, 7, 1), 2
  padded = np.pad(image, ((2, 2), (2, 2), (0, 0)))
  offsets = set()
  for seed in range(150):
    out = _apply(augment.PadAndRandomCrop(padding), {'image': image},
                 seed)['image']
    matches = [(top, left) for top in range(5) for left in range(5)
               if np.array_equal(out, padded[top:top + 6, left:left + 7])]
    assert len(matches) == 1
    offsets.add(matches[0])
  assert len(offsets) == 25  # Every offset in 0..2*padding, both axes.


def test_random_resized_crop_of_full_scale_and_square_aspect_is_a_resize():
  image = _image(12, 12)
  crop = augment.RandomResizedCrop(5, 5, scale=(1, 1), ratio=(1, 1))
  expected = np.asarray(trivial_augment.to_pil(image).resize((5, 5), 2))
  for seed in range(3):
    np.testing.assert_array_equal(
        _apply(crop, {'image': image}, seed)['image'], expected)


def test_random_resized_crop_falls_back_to_the_central_crop():
  # Aspect 4 never fits a 12x12 image: the fallback takes the central 12x3.
  image = _image(12, 12)
  crop = augment.RandomResizedCrop(3, 12, scale=(1, 1), ratio=(4, 4))
  np.testing.assert_array_equal(
      _apply(crop, {'image': image}, 0)['image'], image[4:7])


def test_color_jitter_of_zero_is_identity_and_otherwise_changes_colours():
  element = {'image': _image()}
  unchanged = _apply(augment.ColorJitter(0.0), element, 1)['image']
  assert unchanged is element['image']
  changed = _apply(augment.ColorJitter(0.5), element, 1)['image']
  assert np.abs(changed.astype(int) - element['image']).mean() > 1


@pytest.mark.parametrize('channels', [1, 3])
def test_trivial_augment_changes_most_images_and_keeps_uint8(channels):
  image = _image(channels=channels)
  outputs = [_apply(augment.TrivialAugment(), {'image': image},
                    seed)['image'] for seed in range(200)]
  assert all(o.shape == image.shape and o.dtype == np.uint8 for o in outputs)
  unchanged = sum(np.array_equal(o, image) for o in outputs)
  # Identity, AutoContrast of a full-range image and, on grey, Color leave
  # it as is: 2 or 3 ops of 14, ~29 or ~43 of 200 draws (sd ~5 and ~6).
  assert unchanged < 70


@pytest.mark.parametrize('channels', [1, 3])
def test_trivial_augment_ops_match_torchvision_conventions(channels):
  image = _image(channels=channels)
  for name in trivial_augment.OP_NAMES:
    out = trivial_augment.apply_op(image, name, 0.5 if name != 'Posterize'
                                   else 4)
    assert out.shape == image.shape and out.dtype == np.uint8, name
  # Positive translation moves content right / down; the rest is filled 0.
  right = trivial_augment.apply_op(image, 'TranslateX', 3.7)
  np.testing.assert_array_equal(right[:, 3:], image[:, :-3])
  assert not right[:, :3].any()
  down = trivial_augment.apply_op(image, 'TranslateY', 2.0)
  np.testing.assert_array_equal(down[2:], image[:-2])
  np.testing.assert_array_equal(
      trivial_augment.apply_op(image, 'Solarize', 0.0), 255 - image)
  np.testing.assert_array_equal(
      trivial_augment.apply_op(image, 'Posterize', 2), image & 0b11000000)


def test_random_erasing_zeroes_one_rectangle():
  image = np.ones((20, 30, 3), np.float32)
  erased = 0
  for seed in range(30):
    out = _apply(augment.RandomErasing(1.0), {'image': image}, seed)['image']
    assert out.dtype == np.float32 and out.shape == image.shape
    zeros = out == 0
    if not zeros.any():
      continue  # No box fitted in torchvision's 10 tries.
    erased += 1
    rows, cols = np.nonzero(zeros.all(-1))
    box = zeros[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    assert box.all() and zeros.sum() == box.size  # One solid rectangle.
    assert 0.01 <= box[..., 0].size / 600 <= 0.35  # Scale (0.02, 0.33).
  assert erased >= 25
  assert image.min() == 1  # The input is not erased in place.
  assert _apply(augment.RandomErasing(0.0), {'image': image},
                0)['image'] is image


def _batch(size=6, num_classes=8):
  rng = np.random.default_rng(0)
  return {'image': rng.normal(size=(size, 4, 5, 3)).astype(np.float32),
          'label': np.arange(size, dtype=np.int32),
          'mask': np.ones(size, np.float32)}


def test_mixup_mixes_images_and_labels_with_the_same_weight():
  batch, mix = _batch(), augment.MixBatch(8, mixup_alpha=0.4)
  for seed in range(5):
    out = _apply(mix, batch, seed)
    probs = out['label_probs']
    assert probs.shape == (6, 8) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-6)
    np.testing.assert_array_equal(out['label'], batch['label'])
    np.testing.assert_array_equal(out['mask'], batch['mask'])
    lam = probs[np.arange(6), batch['label']]
    np.testing.assert_allclose(lam, lam[0], rtol=1e-6)  # One lam per batch.
    np.testing.assert_allclose(probs[np.arange(6), batch['label'][::-1]],
                               1 - lam, atol=1e-6)
    np.testing.assert_allclose(
        out['image'], lam[0] * batch['image'] + (1 - lam[0]) *
        batch['image'][::-1], rtol=1e-5, atol=1e-6)


def test_cutmix_pastes_the_pair_and_weights_labels_by_area():
  batch, mix = _batch(), augment.MixBatch(8, cutmix_alpha=1.0)
  pasted_any = False
  for seed in range(8):
    out = _apply(mix, batch, seed)
    from_pair = np.all(out['image'] == batch['image'][::-1], axis=-1)
    from_self = np.all(out['image'] == batch['image'], axis=-1)
    assert np.all(from_pair | from_self)
    pair_weight = out['label_probs'][np.arange(6), batch['label'][::-1]]
    np.testing.assert_allclose(from_pair.mean(axis=(1, 2)), pair_weight,
                               atol=1e-6)
    np.testing.assert_allclose(out['label_probs'].sum(1), 1, rtol=1e-6)
    pasted_any |= bool(from_pair.any())
  assert pasted_any


def test_mix_batch_switches_between_mixup_and_cutmix():
  batch, mix = _batch(), augment.MixBatch(8, 0.4, 1.0)
  cutmix = 0
  for seed in range(60):
    image = _apply(mix, batch, seed)['image']
    cutmix += np.all((image == batch['image']) |
                     (image == batch['image'][::-1]))
  assert 15 <= cutmix <= 45  # Binomial(60, 0.5): sd ~4.


def test_train_transforms_follow_the_config():
  config = defaults.get_config().augment
  assert augment.train_transforms(config, 32, 32) == []
  assert augment.erasing_transform(config) is None
  assert augment.mix_transform(config, 10) is None
  config.update(random_resized_crop=True, crop_padding=4, horizontal_flip=True,
                color_jitter=0.4, trivial_augment=True, random_erasing=0.25,
                mixup_alpha=0.2, cutmix_alpha=1.0)
  transforms = augment.train_transforms(config, 24, 32)
  assert [type(t) for t in transforms] == [
      augment.RandomResizedCrop, augment.PadAndRandomCrop,
      augment.HorizontalFlip, augment.ColorJitter, augment.TrivialAugment]
  assert (transforms[0].height, transforms[0].width) == (24, 32)
  assert transforms[0].scale == (0.08, 1.0) and transforms[1].padding == 4
  assert augment.erasing_transform(config).probability == 0.25
  mix = augment.mix_transform(config, 10)
  assert (mix.num_classes, mix.mixup_alpha, mix.cutmix_alpha) == (10, 0.2, 1.0)
  config.random_erasing = 1.5
  with pytest.raises(errors.ConfigError, match='random_erasing'):
    augment.erasing_transform(config)


def _records(count=12):
  return [{'image': _image(10, 10, 3, seed=i), 'label': np.int32(i % 4)}
          for i in range(count)]


def test_map_dataset_random_maps_are_reproducible():
  config = defaults.get_config().augment
  config.update(crop_padding=2, horizontal_flip=True, trivial_augment=True)

  def images(seed):
    dataset = grain.MapDataset.source(_records()).seed(seed)
    for transform in augment.train_transforms(config, 10, 10):
      dataset = dataset.random_map(transform)
    return np.stack([dataset[i]['image'] for i in range(len(dataset))])

  np.testing.assert_array_equal(images(1), images(1))
  assert not np.array_equal(images(1), images(2))


def test_data_loader_augmentation_is_reproducible_and_resumable():
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()
  config = defaults.get_config().augment
  config.update(random_resized_crop=True, horizontal_flip=True,
                color_jitter=0.3, mixup_alpha=0.4, cutmix_alpha=1.0)

  def loader():
    sampler = grain.samplers.IndexSampler(
        num_records=12, shuffle=True, num_epochs=None, seed=3,
        shard_options=grain.sharding.NoSharding())
    operations = augment.train_transforms(config, 8, 8) + [
        grain.transforms.Batch(4, drop_remainder=True),
        augment.mix_transform(config, num_classes=4)]
    return iter(grain.DataLoader(
        data_source=_records(), sampler=sampler, operations=operations,
        worker_count=0, read_options=grain.ReadOptions(num_threads=0)))

  first, second = loader(), loader()
  batches = [next(first) for _ in range(5)]
  for batch in batches:
    again = next(second)
    assert batch['image'].shape == (4, 8, 8, 3)
    assert batch['label_probs'].shape == (4, 4)
    for key in batch:
      np.testing.assert_array_equal(batch[key], again[key])
  resumed = loader()
  resumed.set_state(first.get_state())
  expected, actual = next(first), next(resumed)
  for key in expected:
    np.testing.assert_array_equal(expected[key], actual[key])

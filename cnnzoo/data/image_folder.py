"""A user's folder of images, one sub-folder per class, as a TFDS dataset.

Two layouts (class names are the sorted class folder names; images may sit in
nested folders under their class folder; hidden files and folders are skipped):

  A: PATH/<class>/<image>: each class is split at random, with `SPLIT_SEED`,
     into train, validation (val_fraction) and test (test_fraction), at least
     one image of each class in every split; it depends on that class's files
     alone.
  B: PATH/train/<class>/<image>, plus optional PATH/val/ (or validation/) and
     PATH/test/ laid out alike: given splits are kept as they are; a missing one
     is carved out of train/ the same way, as that fraction of each class.

Images are .jpg .jpeg .png .bmp .gif (GIF: first frame); other files are
ignored. Every image becomes RGB (or L when every image of the folder is
grayscale; palette images count as colour), transparency over white, EXIF
rotation applied, and is stored as PNG: lossless, so a JPEG is not compressed
a second time, and one format decodes the same way everywhere. An image keeps
its own size unless its longer side is above max_image_size (0: never): then
it is downscaled to it (LANCZOS, aspect kept), so one huge file cannot swell
the memory of training, and a JPEG is decoded at reduced scale, so preparing
it stays small too; their count lands in `metadata['downscaled_images']`.
Preparation first opens and decodes every file: an unreadable one stops it
unless skip_bad_images is set, and the count of skipped files lands in
`builder.info.metadata['skipped_bad_images']`. Each example also holds its
'file', relative to PATH, for error analysis.

On disk: DATA_DIR/image_folder/<slug>-<path hash>-<content hash>/1.0.0, the
slug and path hash from the folder's real path, the content hash from every
image's relative name, size and mtime plus the two fractions and
max_image_size. A folder whose files change (or a new fraction or size)
therefore gets a new directory and is prepared anew (with a warning naming the
stale copy, which can be deleted), never read stale. skip_bad_images is left
out of the hash: the files it skipped are counted in the metadata, and a run
without it reuses that preparation.
"""

import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import os
import re
import zlib

import numpy as np
from PIL import Image, ImageOps
import tensorflow_datasets as tfds

from cnnzoo import errors

log = logging.getLogger('cnnzoo')

SPLIT_SEED = 20261124  # With the class name, seeds each class's split.
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.gif')
SPLITS = ('train', 'validation', 'test')
_SPLIT_FOLDERS = {'train': 'train', 'val': 'validation',
                  'validation': 'validation', 'test': 'test'}
_GRAY_MODES = ('1', 'L', 'LA', 'I', 'F')  # And 'I;16' and kin.
_LAYOUTS = ('one sub-folder of images per class (PATH/<class>/<image>, at '
            'least two classes), or PATH/train/<class>/<image> with optional '
            'PATH/val/<class>/ and PATH/test/<class>/')


# repr=False keeps BuilderConfig's short repr: TFDS logs it, file lists and all.
@dataclasses.dataclass(eq=False, repr=False)
class FolderConfig(tfds.core.BuilderConfig):
  """One image folder: what was found in it and how to split it."""
  root: str = ''
  # Split -> class -> sorted image paths relative to root, as found on disk.
  given: dict = dataclasses.field(default_factory=dict)
  class_names: tuple = ()
  ignored: tuple = ()  # Non-image files, relative to root.
  val_fraction: float = 0.15
  test_fraction: float = 0.15
  skip_bad_images: bool = False
  max_image_size: int = 1024  # Longer sides above it are downscaled; 0: never.


class ImageFolder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Images of a folder, labelled by the name of their class folder."""

  name = 'image_folder'
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'PNG images, stratified seeded splits.'}

  def _info(self) -> tfds.core.DatasetInfo:
    config = self.builder_config
    if os.path.exists(os.path.join(self.data_dir, 'features.json')):
      # Prepared: no need to open every image again.
      features = tfds.features.FeatureConnector.from_config(self.data_dir)
    else:
      channels = 1 if _all_grayscale(config) else 3
      features = tfds.features.FeaturesDict({
          'image': tfds.features.Image(shape=(None, None, channels),
                                       encoding_format='png'),
          'label': tfds.features.ClassLabel(names=config.class_names),
          'file': tfds.features.Text(),
      })
    return tfds.core.DatasetInfo(
        builder=self, description=f'The images of {config.root}.',
        features=features, supervised_keys=('image', 'label'),
        metadata=tfds.core.MetadataDict())

  def _split_generators(self, dl_manager):
    del dl_manager  # The images are local.
    config = self.builder_config
    if config.ignored:
      log.info('Ignoring %d files in %s that are not %s images (e.g. %s).',
               len(config.ignored), config.root, '/'.join(IMAGE_SUFFIXES),
               ', '.join(config.ignored[:3]))
    given, skipped = _drop_bad_images(config)
    splits = _complete_splits(config, given)
    downscaled = _count_oversized(config, given)
    if downscaled:
      log.info('Downscaling %d images of %s to a longer side of %d pixels '
               '(dataset.max_image_size).', downscaled, config.root,
               config.max_image_size)
    self.info.metadata.update(skipped_bad_images=len(skipped),
                              skipped_files=skipped[:20],
                              ignored_files=len(config.ignored),
                              downscaled_images=downscaled)
    gray = self.info.features['image'].shape[-1] == 1
    return {split: self._generate_examples(by_class, gray)
            for split, by_class in splits.items()}

  def _generate_examples(self, by_class, gray):
    root = self.builder_config.root
    max_size = self.builder_config.max_image_size
    for class_name, files in by_class.items():
      for file in files:
        yield file, {'image': _load(os.path.join(root, file), gray, max_size),
                     'label': class_name, 'file': file}


def builder(path: str, data_dir: str, *, skip_bad_images: bool = False,
            val_fraction: float = 0.15, test_fraction: float = 0.15,
            max_image_size: int = 1024):
  """Returns the TFDS builder (not yet prepared) of the image folder `path`; its
  data lives under data_dir in a directory derived from the folder's absolute path
  (readable slug + short hash), so two folders never share a prepared dataset and
  the same folder is prepared once.

  Raises DatasetError for a missing path or a layout it cannot read, and
  ConfigError for fractions that leave no room for training or a negative
  max_image_size.
  """
  if not (0 < val_fraction and 0 < test_fraction
          and val_fraction + test_fraction < 1):
    raise errors.ConfigError(
        f'dataset.val_fraction ({val_fraction}) and dataset.test_fraction '
        f'({test_fraction}) must be above 0 and sum to less than 1.')
  if max_image_size < 0:
    raise errors.ConfigError(
        f'dataset.max_image_size ({max_image_size}) must be a number of '
        f'pixels: images whose longer side is above it are downscaled to it '
        f'when the folder is prepared. Set it to 0 to keep every image at '
        f'its own size.')
  root = os.path.realpath(os.path.expanduser(path))
  if not os.path.isdir(root):
    raise errors.DatasetError(
        f'dataset.path {path} is not an existing folder. Point it at '
        f'a folder holding {_LAYOUTS}.')
  given, ignored = _scan(root)
  fingerprint = _fingerprint(root, given, val_fraction, test_fraction,
                             max_image_size)
  folder_id = f'{_slug(root)}-{_short_hash(root)}-{fingerprint}'
  config = FolderConfig(
      name=folder_id, root=root, given=given, class_names=tuple(sorted(given['train'])),
      ignored=tuple(ignored), val_fraction=val_fraction,
      test_fraction=test_fraction, skip_bad_images=skip_bad_images,
      max_image_size=max_image_size)
  dataset = ImageFolder(data_dir=data_dir, config=config,
                        file_format='array_record')
  if not dataset.is_prepared():
    _warn_if_stale(dataset, folder_id.rsplit('-', 1)[0])
  return dataset


def _scan(root):
  """Returns ({split: {class: [relative files]}}, [ignored files])."""
  folders, ignored = _subfolders(root), []
  if 'train' not in folders:  # Layout A.
    given = {'train': _classes(root, '', ignored)}
  elif set(folders) - set(_SPLIT_FOLDERS) or {'val', 'validation'} <= set(
      folders):
    raise errors.DatasetError(
        f'{root} has a train/ folder, so its other folders must be val/ (or '
        f'validation/) and test/, but it has {", ".join(folders)}.')
  else:  # Layout B.
    given = {_SPLIT_FOLDERS[f]: _classes(root, f, ignored) for f in folders}
    for folder in folders:
      if folder != 'train' and not given[_SPLIT_FOLDERS[folder]]:
        raise errors.DatasetError(
            f'{os.path.join(root, folder)} has no class folders. Add them, or '
            f'remove it to carve {_SPLIT_FOLDERS[folder]} out of train/.')
    strangers = set().union(*given.values()) - set(given['train'])
    if strangers:
      raise errors.DatasetError(
          f'Class folders {", ".join(sorted(strangers))} in the val/ or test/ '
          f'folder of {root} are not in its train/ folder. Add their training '
          f'images under train/ or remove them.')
  if len(given['train']) < 2:
    where = os.path.join(root, 'train') if 'train' in folders else root
    raise errors.DatasetError(
        f'{where} has {len(given["train"])} class folders; a classifier needs '
        f'two or more. dataset.path must hold {_LAYOUTS}.')
  return given, ignored


def _subfolders(folder):
  return sorted(entry.name for entry in os.scandir(folder)
                if entry.is_dir() and not entry.name.startswith('.'))


def _classes(root, split_folder, ignored):
  """Lists the images of each class folder of root/split_folder."""
  by_class = {}
  for class_name in _subfolders(os.path.join(root, split_folder)):
    class_folder = os.path.join(root, split_folder, class_name)
    files = []
    for folder, subfolders, names in os.walk(class_folder, followlinks=True):
      subfolders[:] = [s for s in subfolders if not s.startswith('.')]
      for name in names:
        relative = os.path.relpath(os.path.join(folder, name), root)
        is_image = name.lower().endswith(IMAGE_SUFFIXES)
        (files if is_image and name[0] != '.' else ignored).append(relative)
    if not files:
      raise errors.DatasetError(
          f'Class folder {class_folder} holds no images '
          f'({" ".join(IMAGE_SUFFIXES)}). Add images or remove the folder.')
    by_class[class_name] = sorted(files)
  # Files beside the class folders belong to no class.
  ignored.extend(os.path.join(split_folder, entry.name)
                 for entry in os.scandir(os.path.join(root, split_folder))
                 if entry.is_file())
  return by_class


def _slug(root):
  return re.sub(r'[^a-z0-9]+', '_', os.path.basename(root).lower()).strip(
      '_')[:40] or 'root'


def _short_hash(text):
  return hashlib.sha256(text.encode()).hexdigest()[:8]


def _fingerprint(root, given, val_fraction, test_fraction, max_image_size):
  files = sorted(_all_files(given))
  stats = [os.stat(os.path.join(root, f)) for f in files]
  listing = [(f, s.st_size, s.st_mtime_ns) for f, s in zip(files, stats)]
  return _short_hash(json.dumps(
      [listing, val_fraction, test_fraction, max_image_size]))


def _all_files(given):
  return [f for by_class in given.values() for names in by_class.values()
          for f in names]


def _warn_if_stale(dataset, path_id):
  config_dir = os.path.dirname(dataset.data_dir)  # Above the version dir.
  parent = os.path.dirname(config_dir)
  if not os.path.isdir(parent):
    return
  stale = [os.path.join(parent, name) for name in sorted(os.listdir(parent))
           if name.startswith(path_id + '-')
           and os.path.join(parent, name) != config_dir]
  if stale:
    log.warning('The images of %s (or the split fractions or '
                'max_image_size) changed since it was prepared in %s; it will '
                'be prepared anew. Delete the old copy to free the space.',
                dataset.builder_config.root, ', '.join(stale))


def _all_grayscale(config):
  """Whether every image's header says grayscale (unreadable ones aside)."""
  for file in _all_files(config.given):
    try:
      with Image.open(os.path.join(config.root, file)) as image:
        if not (image.mode in _GRAY_MODES or image.mode.startswith('I;')):
          return False
    except Exception:  # pylint: disable=broad-except  (Reported later.)
      pass
  return True


def _problem(path):
  """Returns why the image at path cannot be decoded, or None."""
  try:
    with Image.open(path) as image:
      image.load()
  except Exception as e:  # pylint: disable=broad-except  (Any: it is bad.)
    return f'{type(e).__name__}: {e}'
  return None


def _drop_bad_images(config):
  """Decodes every image; returns (given without bad files, bad files)."""
  files = _all_files(config.given)
  # Pillow decodes outside the GIL: threads use every core.
  with concurrent.futures.ThreadPoolExecutor() as pool:
    problems = dict(zip(files, pool.map(
        _problem, [os.path.join(config.root, f) for f in files])))
  bad = [f for f in files if problems[f]]
  if bad and not config.skip_bad_images:
    named = '; '.join(f'{os.path.join(config.root, f)} ({problems[f]})'
                      for f in bad[:5])
    raise errors.DatasetError(
        f'{len(bad)} image files in {config.root} cannot be read: {named}'
        f'{" ..." if len(bad) > 5 else ""}. Delete (or repair) them, or set '
        f'dataset.skip_bad_images=True to leave them out.')
  if bad:
    log.warning('Skipping %d unreadable images of %s: %s%s', len(bad),
                config.root, ', '.join(bad[:5]),
                ' ...' if len(bad) > 5 else '')
  given = {split: {c: [f for f in names if not problems[f]]
                   for c, names in by_class.items()}
           for split, by_class in config.given.items()}
  return given, bad


def _count_oversized(config, given):
  """How many images of given have a longer side above max_image_size."""
  if not config.max_image_size:
    return 0
  count = 0
  for file in _all_files(given):
    with Image.open(os.path.join(config.root, file)) as image:  # Header only.
      count += max(image.size) > config.max_image_size
  return count


def _complete_splits(config, given):
  """Returns {split: {class: files}} for all SPLITS, carving missing ones."""
  missing = [s for s in SPLITS if s not in given]
  fractions = {'validation': config.val_fraction,
               'test': config.test_fraction}
  splits = {split: {} for split in SPLITS}
  for split, by_class in given.items():
    splits[split].update(by_class)
  for class_name, files in given['train'].items():
    if len(files) < 1 + len(missing):  # One for train and each carved split.
      raise errors.DatasetError(
          f'Class {class_name!r} has {len(files)} readable training images in '
          f'{config.root}, fewer than the {1 + len(missing)} it takes to keep '
          f'one in {", ".join(["train"] + missing)}. Add images to it.')
    rng = np.random.default_rng([SPLIT_SEED, zlib.crc32(class_name.encode())])
    order = [files[i] for i in rng.permutation(len(files))]
    for i, split in enumerate(missing):
      later = len(missing) - 1 - i  # Each later split and train keep one.
      take = min(max(1, round(len(files) * fractions[split])),
                 len(order) - 1 - later)
      splits[split][class_name], order = sorted(order[:take]), order[take:]
    splits['train'][class_name] = sorted(order)
  return splits


def _load(path, gray, max_size):
  """Returns the image at path as HxWx3 (or HxWx1 if gray) uint8, its longer
  side downscaled to max_size if above it (0: never)."""
  with Image.open(path) as image:  # A GIF opens on its first frame.
    if max_size and max(image.size) > max_size:
      # A JPEG decodes at 1/2, 1/4 or 1/8 scale, to at least twice the final
      # size (as Image.thumbnail does), so a huge one never fills memory.
      image.draft(None, _fitted(image.size, 2 * max_size))
    image = ImageOps.exif_transpose(image)  # Upright, as viewers show it.
  if image.mode.startswith('I'):  # 16-bit: scale, where convert would clip.
    image = Image.fromarray(
        np.round(np.asarray(image, np.float64) / 257).clip(0, 255).astype(
            np.uint8))
  if image.mode in ('RGBA', 'LA', 'PA') or 'transparency' in image.info:
    rgba = image.convert('RGBA')
    image = Image.alpha_composite(
        Image.new('RGBA', rgba.size, (255, 255, 255, 255)), rgba)
  image = image.convert('L' if gray else 'RGB')
  if max_size and max(image.size) > max_size:
    # Resized last, in L or RGB: a palette or 1-bit image would get NEAREST.
    image.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
  array = np.asarray(image)
  return array[..., None] if gray else array


def _fitted(size, longer_side):
  """Returns size scaled, aspect kept, to the given longer side."""
  scale = longer_side / max(size)
  return tuple(max(1, round(side * scale)) for side in size)

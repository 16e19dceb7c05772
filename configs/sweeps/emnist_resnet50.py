"""The EMNIST team study's one-knob-at-a-time tuning of ResNet-50: each
variant changes one thing from the baseline (`configs/resnet50_emnist.py`:
batch 256, SGD 0.05, reduce-on-plateau, early stopping).

  python -m cnnzoo.main --config configs/sweeps/emnist_resnet50.py:leaky_relu \
      --workdir runs/emnist_resnet50/leaky_relu

Variants (add ",smoke" for 2 epochs): baseline, batch_2048, constant_lr (no
reduce-on-plateau), leaky_relu, dropout (0.5 before the classifier), augment
(2-pixel padded random crops), adam (1e-3), zero_pad (28x28 centred on
zeros in a 32x32 input instead of the 28x28 input).
"""

import pathlib

from cnnzoo.config import loader, recipes

VARIANTS = {
    'baseline': {},
    'batch_2048': {'batch_size': 2048},
    'constant_lr': {'reduce_on_plateau.enabled': False},
    'leaky_relu': {'model.activation': 'leaky_relu'},
    'dropout': {'model.dropout_rate': 0.5},
    'augment': {'augment.crop_padding': 2},
    'adam': {'optimizer.name': 'adam', 'optimizer.learning_rate': 1e-3,
             'optimizer.weight_decay': 0.0},
    'zero_pad': {'input_shape': (32, 32, 1), 'dataset.fit': 'pad'},
}


def get_config(arg: str | None = None):
  arg = recipes.parse_arg(arg, __file__, {
      name: ', '.join(f'{k}={v!r}' for k, v in changes.items()) or 'as is'
      for name, changes in VARIANTS.items()})
  config = loader.load(str(pathlib.Path(__file__).parent.parent /
                           'resnet50_emnist.py'))
  for key, value in VARIANTS[arg.variant or 'baseline'].items():
    section, _, field = key.rpartition('.')
    (config[section] if section else config)[field] = value
  return recipes.apply_smoke(config, arg)

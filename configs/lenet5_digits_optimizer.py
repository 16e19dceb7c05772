"""LeNet-5 on digits with another optimizer: the embedded default's run with
`:sgd`, `:adam`, `:adamw` or `:rmsprop` (add `,smoke` for 2 epochs).

  python -m cnnzoo.main --config configs/lenet5_digits_optimizer.py:adam

Each optimizer keeps its usual defaults: Adam and AdamW at 1e-3 (Kingma & Ba;
Loshchilov & Hutter, with decoupled decay 0.05 as timm's default), RMSprop at
1e-3 with rho 0.9 (Keras's default rate), SGD as in lenet5_digits.py. All
warm up for an epoch and decay by cosine.
"""

import importlib.util
import pathlib

from cnnzoo import errors

_OPTIMIZERS = {
    'sgd': {},
    'adam': dict(name='adam', learning_rate=1e-3, weight_decay=0.0),
    'adamw': dict(name='adamw', learning_rate=1e-3, weight_decay=0.05),
    'rmsprop': dict(name='rmsprop', learning_rate=1e-3, weight_decay=0.0,
                    momentum=0.0),
}


def _default_config():
  path = pathlib.Path(__file__).with_name('lenet5_digits.py')
  spec = importlib.util.spec_from_file_location('lenet5_digits', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def get_config(arg: str | None = None):
  parts = set((arg or '').split(',')) - {''}
  unknown = parts - set(_OPTIMIZERS) - {'smoke'}
  chosen = parts & set(_OPTIMIZERS)
  if unknown or len(chosen) > 1:
    raise errors.ConfigError(
        f'lenet5_digits_optimizer.py takes one of {", ".join(_OPTIMIZERS)}, '
        f'optionally with ",smoke" (as config.py:adam,smoke), not {arg!r}.')
  config = _default_config()
  config.optimizer.update(_OPTIMIZERS[chosen.pop() if chosen else 'sgd'])
  if 'smoke' in parts:
    config.num_epochs = 2
  return config

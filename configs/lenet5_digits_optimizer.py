"""LeNet-5 on digits with another optimizer: the embedded default's run with
`:sgd`, `:adam`, `:adamw` or `:rmsprop` (add `,smoke` for 2 epochs).

  python -m cnnzoo.main --config configs/lenet5_digits_optimizer.py:adam

Each optimizer keeps its usual defaults: Adam and AdamW at 1e-3 (Kingma & Ba;
Loshchilov & Hutter, with decoupled decay 0.05 as timm's default), RMSprop at
1e-3 with rho 0.9 (Keras's default rate), SGD as in lenet5_digits.py. All
warm up for an epoch and decay by cosine.
"""

import pathlib

from cnnzoo.config import loader, recipes

_OPTIMIZERS = {
    'sgd': {},
    'adam': dict(name='adam', learning_rate=1e-3, weight_decay=0.0),
    'adamw': dict(name='adamw', learning_rate=1e-3, weight_decay=0.05),
    'rmsprop': dict(name='rmsprop', learning_rate=1e-3, weight_decay=0.0,
                    momentum=0.0),
}
_VARIANTS = {'sgd': "lenet5_digits.py's SGD", 'adam': 'Adam at 1e-3',
             'adamw': 'AdamW at 1e-3, decay 0.05',
             'rmsprop': 'RMSprop at 1e-3'}


def get_config(arg: str | None = None):
  arg = recipes.parse_arg(arg, __file__, _VARIANTS)
  config = loader.load(str(pathlib.Path(__file__).with_name(
      'lenet5_digits.py')))
  config.optimizer.update(_OPTIMIZERS[arg.variant or 'sgd'])
  return recipes.apply_smoke(config, arg)

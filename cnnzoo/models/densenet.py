"""DenseNet-BC (Huang, Liu, van der Maaten & Weinberger 2017).

Follows torchvision's `densenet.py`: a 7x7 stride-2 stem conv, BatchNorm,
ReLU and a 3x3 stride-2 max-pool; four dense blocks whose layers each add
`growth_rate` maps (BN-ReLU-1x1 conv to `bn_size * growth_rate` maps,
BN-ReLU-3x3 conv to `growth_rate` maps, optional dropout) and concatenate
them onto their input; between blocks a transition (BN-ReLU-1x1 conv halving
the maps, 2x2 average pool); then BN, ReLU, global average pool and a linear
classifier. `densenet121/169/201` have growth 32, bn_size 4, 64 stem maps and
blocks of (6, 12, 24, 16), (6, 12, 32, 32) and (6, 12, 48, 32) layers:
7,978,856, 14,149,480 and 20,013,928 parameters at 1000 classes, as in
torchvision.

Knobs beyond torchvision's (`block_config`, a tuple or, from a config, a
list; `growth_rate`, `bn_size`, `drop_rate`...): `activation` (a name of
`layers.ACTIVATIONS`, for every ReLU) and `dropout_rate` (dropout before the
classifier in training; 0, none, as in torchvision).

`small_input=True` is the CIFAR variant: the stem conv is 3x3 with stride 1
and padding 1 (still 64 maps) and the stem max-pool is dropped, so a 32x32
image reaches the blocks at 32x32 (and the last block at 4x4) instead of 8x8.

Layers are named after torchvision's state_dict paths with '.' as '_': the
Flax path features_denseblock1/denselayer1/norm1 is torchvision's
`features.denseblock1.denselayer1.norm1`, `features_transition1/conv` is
`features.transition1.conv`, the head is `classifier`.
"""

import dataclasses
import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from cnnzoo.models import layers
from cnnzoo.models.conv import Conv

# torchvision initializes convs with kaiming_normal_ (fan_in, gain sqrt 2).
_conv_init = nn.initializers.he_normal()


class _LayerFields(nn.Module):
  """A dense layer's fields, which a dense block passes on to its layers."""

  growth_rate: int
  bn_size: int
  drop_rate: float
  dtype: Any = jnp.float32
  activation: Callable = nn.relu


class DenseLayer(_LayerFields):
  """BN-ReLU-1x1 conv-BN-ReLU-3x3 conv: returns the `growth_rate` new maps."""

  @nn.compact
  def __call__(self, x, train: bool):
    norm = functools.partial(nn.BatchNorm, use_running_average=not train,
                             momentum=0.9, epsilon=1e-5, dtype=self.dtype)
    x = self.activation(norm(name='norm1')(x))
    x = Conv(self.bn_size * self.growth_rate, (1, 1), use_bias=False,
             kernel_init=_conv_init, dtype=self.dtype, name='conv1')(x)
    x = self.activation(norm(name='norm2')(x))
    x = Conv(self.growth_rate, (3, 3), padding=((1, 1), (1, 1)),
             use_bias=False, kernel_init=_conv_init, dtype=self.dtype,
             name='conv2')(x)
    return nn.Dropout(self.drop_rate, deterministic=not train)(x)


class DenseBlock(_LayerFields):
  """`num_layers` dense layers, each seeing all the maps before it."""

  # Keyword-only: it follows the layer fields' defaults.
  num_layers: int = dataclasses.field(kw_only=True)

  @nn.compact
  def __call__(self, x, train: bool):
    for i in range(self.num_layers):
      new = DenseLayer(self.growth_rate, self.bn_size, self.drop_rate,
                       self.dtype, self.activation,
                       name=f'denselayer{i + 1}')(x, train)
      x = jnp.concatenate([x, new], axis=-1)
    return x


class Transition(nn.Module):
  """BN-ReLU-1x1 conv to `features` maps, then a 2x2 stride-2 average pool."""

  features: int
  dtype: Any = jnp.float32
  activation: Callable = nn.relu

  @nn.compact
  def __call__(self, x, train: bool):
    x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                     epsilon=1e-5, dtype=self.dtype, name='norm')(x)
    x = Conv(self.features, (1, 1), use_bias=False,
             kernel_init=_conv_init, dtype=self.dtype,
             name='conv')(self.activation(x))
    return nn.avg_pool(x, (2, 2), strides=(2, 2))


class DenseNet(layers.TupleFields):
  """Returns class logits; see the module docstring."""

  tuple_fields = ('block_config',)

  block_config: Sequence[int] = (6, 12, 24, 16)
  growth_rate: int = 32
  num_init_features: int = 64
  bn_size: int = 4
  compression: float = 0.5  # Transitions keep this fraction of the maps.
  drop_rate: float = 0.0  # Dropout on each dense layer's new maps.
  dropout_rate: float = 0.0  # Dropout before the classifier, in training.
  activation: str = 'relu'  # Every ReLU's place: stem, layers, head.
  num_classes: int = 1000
  small_input: bool = False  # CIFAR stem: 3x3 stride-1 conv, no max-pool.
  dtype: Any = jnp.float32  # Compute dtype; parameters stay float32.

  @nn.compact
  def __call__(self, x, train: bool = False):
    activation = layers.activation_fn(self.activation)
    x = layers.stem(x.astype(self.dtype), self.num_init_features, 7,
                    small_input=self.small_input, train=train,
                    names=('features_conv0', 'features_norm0'),
                    dtype=self.dtype, activation=activation,
                    kernel_init=_conv_init)

    for i, num_layers in enumerate(self.block_config):
      x = DenseBlock(self.growth_rate, self.bn_size, self.drop_rate,
                     self.dtype, activation, num_layers=num_layers,
                     name=f'features_denseblock{i + 1}')(x, train)
      if i != len(self.block_config) - 1:
        features = int(x.shape[-1] * self.compression)
        x = Transition(features, self.dtype, activation,
                       name=f'features_transition{i + 1}')(x, train)

    x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                     epsilon=1e-5, dtype=self.dtype, name='features_norm5')(x)
    return layers.classifier_head(activation(x), self.num_classes,
                                  dropout_rate=self.dropout_rate, train=train,
                                  dtype=self.dtype, name='classifier')


DenseNet121 = functools.partial(DenseNet, block_config=(6, 12, 24, 16))
DenseNet169 = functools.partial(DenseNet, block_config=(6, 12, 32, 32))
DenseNet201 = functools.partial(DenseNet, block_config=(6, 12, 48, 32))

MODELS = {
    'densenet121': (DenseNet121, (224, 224, 3)),
    'densenet169': (DenseNet169, (224, 224, 3)),
    'densenet201': (DenseNet201, (224, 224, 3)),
}

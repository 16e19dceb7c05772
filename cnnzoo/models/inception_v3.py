"""Inception v3 (Szegedy, Vanhoucke, Ioffe, Shlens & Wojna 2015, "Rethinking
the Inception Architecture for Computer Vision").

Follows torchvision's `inception.py` (Inception3), designed for 299x299: every
convolution is a BasicConv2d (conv without bias, BatchNorm with epsilon
0.001, ReLU). A stem of 3x3/2, 3x3, 3x3 (padded) convs, a 3x3/2 max-pool, a
1x1 and a 3x3 conv and another 3x3/2 max-pool (35x35x192 at 299x299); three
InceptionA blocks (Mixed_5b-5d, 35x35), the grid reduction InceptionB
(Mixed_6a, 17x17), four InceptionC blocks with factorized 1x7/7x1 convs
(Mixed_6b-6e), the reduction InceptionD (Mixed_7a, 8x8), two InceptionE
blocks with split 1x3/3x1 outputs (Mixed_7b-7c, 2048 maps); global average
pool, dropout 0.5, linear. Pools inside the blocks: 3x3/1 average pools
padded by 1 that count the padding, 3x3/2 max-pools, as in torchvision.

The auxiliary classifier (`aux_logits=True`, the default, as torchvision
trains) sits after Mixed_6e: 5x5/3 average pool, 1x1 conv to 128 maps, 5x5
conv to 768, global average pool, linear to the classes. It runs only in
training, where it records its float32 logits as `aux_logits/AuxLogits/logits`;
the train step adds its loss. It is built at init whatever `train` is, so
its parameters always exist. 27,161,264 parameters at 1000 classes with it,
23,834,568 without, as in torchvision. Initialization as torchvision's:
normal with std 0.1 for convs and the classifier, 0.001 for the auxiliary
classifier's linear layer.

`activation` (a name of `layers.ACTIVATIONS`; 'relu' as torchvision) is
the function of every BasicConv2d, the auxiliary classifier's included.

`small_input=True` keeps 28x28 and 32x32 inputs from vanishing: it changes
strides and pools only, so every parameter has torchvision's shape.
  - Conv2d_1a_3x3 has stride 1 instead of 2;
  - maxpool1 (after Conv2d_2b_3x3) and maxpool2 (after Conv2d_4a_3x3) are
    dropped;
  - the auxiliary head's 5x5/3 average pool becomes an adaptive average pool
    to 5x5, so that its 5x5 conv still sees a 5x5 map.
The unpadded stem convs still trim 2 pixels each, so 32x32 (28x28) reaches
Mixed_5b at 26x26 (22x22), the auxiliary head at 12x12 (10x10) and Mixed_7b
at 5x5 (4x4).

Layers are named after torchvision's state_dict paths with '.' as '_':
Mixed_6b/branch7x7_2/conv is torchvision's `Mixed_6b.branch7x7_2.conv`,
AuxLogits/conv1/bn is `AuxLogits.conv1.bn`, the head is `fc`.
"""

import dataclasses
import functools
from typing import Any, Callable

import flax.linen as nn
import jax.numpy as jnp

from cnnzoo.models.googlenet import BasicConv2d
from cnnzoo.models import layers, pooling
from cnnzoo.models.layers import adaptive_avg_pool

# torchvision initializes every conv (the auxiliary ones too) with std 0.1.
_Conv = functools.partial(BasicConv2d, init_std=0.1)


def _avg_pool_3x3(x):
  """F.avg_pool2d(x, 3, stride=1, padding=1): the zero padding counts."""
  return nn.avg_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)),
                     count_include_pad=True)


def _max_pool_3x3_stride_2(x):
  return pooling.max_pool(x, (3, 3), (2, 2))


class _Block(nn.Module):
  """What the blocks share: the compute dtype, the activation, and convs
  made with them. A block's own fields are keyword-only, as they follow
  these defaults."""

  dtype: Any = jnp.float32
  activation: Callable = nn.relu

  def conv(self, *spec, **fields):
    """A _Conv of spec (features, kernel_size[, strides[, padding]])."""
    return _Conv(*spec, dtype=self.dtype, activation=self.activation,
                 **fields)

  def chain(self, x, train, prefix, *specs):
    """Runs convs of `specs` named prefix_1, prefix_2, ... in sequence."""
    for i, spec in enumerate(specs):
      x = self.conv(*spec, name=f'{prefix}_{i + 1}')(x, train)
    return x


class InceptionA(_Block):
  """35x35 block: 1x1, 1x1-5x5, 1x1-3x3-3x3 and pool-1x1 branches."""

  pool_features: int = dataclasses.field(kw_only=True)

  @nn.compact
  def __call__(self, x, train: bool):
    return jnp.concatenate([
        self.conv(64, 1, name='branch1x1')(x, train),
        self.chain(x, train, 'branch5x5', (48, 1), (64, 5, 1, 2)),
        self.chain(x, train, 'branch3x3dbl', (64, 1), (96, 3, 1, 1),
                   (96, 3, 1, 1)),
        self.conv(self.pool_features, 1,
                  name='branch_pool')(_avg_pool_3x3(x), train),
    ], axis=-1)


class InceptionB(_Block):
  """Grid reduction 35x35 -> 17x17: strided 3x3, 1x1-3x3-3x3/2, max-pool."""

  @nn.compact
  def __call__(self, x, train: bool):
    return jnp.concatenate([
        self.conv(384, 3, 2, name='branch3x3')(x, train),
        self.chain(x, train, 'branch3x3dbl', (64, 1), (96, 3, 1, 1),
                   (96, 3, 2)),
        _max_pool_3x3_stride_2(x),
    ], axis=-1)


# The factorized 7x7: (kernel_size, strides, padding) of a 1x7 and a 7x1 conv.
_ROW, _COLUMN = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))


class InceptionC(_Block):
  """17x17 block with 7x7 convs factorized into 1x7 and 7x1."""

  channels_7x7: int = dataclasses.field(kw_only=True)

  @nn.compact
  def __call__(self, x, train: bool):
    c7 = self.channels_7x7
    return jnp.concatenate([
        self.conv(192, 1, name='branch1x1')(x, train),
        self.chain(x, train, 'branch7x7', (c7, 1), (c7, *_ROW),
                   (192, *_COLUMN)),
        self.chain(x, train, 'branch7x7dbl', (c7, 1), (c7, *_COLUMN),
                   (c7, *_ROW), (c7, *_COLUMN), (192, *_ROW)),
        self.conv(192, 1, name='branch_pool')(_avg_pool_3x3(x), train),
    ], axis=-1)


class InceptionD(_Block):
  """Grid reduction 17x17 -> 8x8: 1x1-3x3/2, 1x1-1x7-7x1-3x3/2, max-pool."""

  @nn.compact
  def __call__(self, x, train: bool):
    return jnp.concatenate([
        self.chain(x, train, 'branch3x3', (192, 1), (320, 3, 2)),
        self.chain(x, train, 'branch7x7x3', (192, 1), (192, *_ROW),
                   (192, *_COLUMN), (192, 3, 2)),
        _max_pool_3x3_stride_2(x),
    ], axis=-1)


class InceptionE(_Block):
  """8x8 block whose 3x3 branches end in parallel 1x3 and 3x1 convs."""

  @nn.compact
  def __call__(self, x, train: bool):
    def split(prefix, y):  # Parallel 1x3 and 3x1 convs, concatenated.
      return jnp.concatenate([
          self.conv(384, (1, 3), padding=(0, 1), name=f'{prefix}a')(y, train),
          self.conv(384, (3, 1), padding=(1, 0), name=f'{prefix}b')(y, train),
      ], axis=-1)

    branch3x3 = self.conv(384, 1, name='branch3x3_1')(x, train)
    branch3x3dbl = self.chain(x, train, 'branch3x3dbl', (448, 1),
                              (384, 3, 1, 1))
    return jnp.concatenate([
        self.conv(320, 1, name='branch1x1')(x, train),
        split('branch3x3_2', branch3x3),
        split('branch3x3dbl_3', branch3x3dbl),
        self.conv(192, 1, name='branch_pool')(_avg_pool_3x3(x), train),
    ], axis=-1)


class InceptionAux(_Block):
  """The auxiliary classifier; records its logits in training."""

  num_classes: int = dataclasses.field(kw_only=True)
  adaptive_pool: bool = False  # Pool to 5x5 whatever the input (small_input).

  @nn.compact
  def __call__(self, x, train: bool):
    if self.adaptive_pool:
      x = adaptive_avg_pool(x, (5, 5))
    else:
      x = nn.avg_pool(x, (5, 5), (3, 3))
    x = self.conv(128, 1, name='conv0')(x, train)
    x = self.conv(768, 5, name='conv1')(x, train)
    x = jnp.mean(x, axis=(1, 2))
    logits = nn.Dense(self.num_classes, dtype=self.dtype,
                      kernel_init=nn.initializers.normal(0.001),
                      name='fc')(x).astype(jnp.float32)
    if train:
      self.sow('aux_logits', 'logits', logits)


class Inception3(nn.Module):
  """Returns the main head's logits; see the module docstring."""

  num_classes: int = 1000
  aux_logits: bool = True  # The auxiliary classifier after Mixed_6e.
  dropout_rate: float = 0.5  # Before the classifier.
  small_input: bool = False  # Stride-1 first conv, no stem max-pools.
  activation: str = 'relu'  # In every BasicConv2d, the auxiliary ones too.
  dtype: Any = jnp.float32  # Compute dtype; parameters stay float32.

  @nn.compact
  def __call__(self, x, train: bool = False):
    # Every conv and block shares the compute dtype and the activation.
    shared = dict(dtype=self.dtype,
                  activation=layers.activation_fn(self.activation))
    conv = functools.partial(_Conv, **shared)
    x = x.astype(self.dtype)
    x = conv(32, 3, 1 if self.small_input else 2,
             name='Conv2d_1a_3x3')(x, train)
    x = conv(32, 3, name='Conv2d_2a_3x3')(x, train)
    x = conv(64, 3, padding=1, name='Conv2d_2b_3x3')(x, train)
    if not self.small_input:
      x = _max_pool_3x3_stride_2(x)
    x = conv(80, 1, name='Conv2d_3b_1x1')(x, train)
    x = conv(192, 3, name='Conv2d_4a_3x3')(x, train)
    if not self.small_input:
      x = _max_pool_3x3_stride_2(x)

    for name, pool_features in (('5b', 32), ('5c', 64), ('5d', 64)):
      x = InceptionA(**shared, pool_features=pool_features,
                     name=f'Mixed_{name}')(x, train)
    x = InceptionB(**shared, name='Mixed_6a')(x, train)
    for name, c7 in (('6b', 128), ('6c', 160), ('6d', 160), ('6e', 192)):
      x = InceptionC(**shared, channels_7x7=c7, name=f'Mixed_{name}')(x, train)
    # At init as well, so the head's parameters exist for training.
    if self.aux_logits and (train or self.is_initializing()):
      InceptionAux(**shared, num_classes=self.num_classes,
                   adaptive_pool=self.small_input, name='AuxLogits')(x, train)
    x = InceptionD(**shared, name='Mixed_7a')(x, train)
    x = InceptionE(**shared, name='Mixed_7b')(x, train)
    x = InceptionE(**shared, name='Mixed_7c')(x, train)

    return layers.classifier_head(x, self.num_classes,
                                  dropout_rate=self.dropout_rate, train=train,
                                  dtype=self.dtype, name='fc',
                                  kernel_init=nn.initializers.normal(0.1))


MODELS = {
    'inception_v3': (Inception3, (299, 299, 3)),
}

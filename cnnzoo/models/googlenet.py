"""GoogLeNet, Inception v1 (Szegedy, Liu, Jia, Sermanet, Reed, Anguelov,
Erhan, Vanhoucke & Rabinovich 2014, "Going deeper with convolutions").

Follows torchvision's `googlenet.py`: every convolution is a BasicConv2d (conv
without bias, BatchNorm with epsilon 0.001, ReLU; the paper had no
BatchNorm); a 7x7/2 conv, 3x3/2 max-pool, 1x1 and 3x3 convs and a 3x3/2
max-pool; inception blocks 3a-3b, max-pool, 4a-4e, 2x2/2 max-pool, 5a-5b,
with max-pools in ceil mode; global average pool, dropout 0.2, linear.
Each inception block concatenates a 1x1 conv, a 1x1-3x3 pair, a second
1x1-3x3 pair and a 3x3/1 max-pool followed by a 1x1 conv. Deviation from the
paper, kept for torchvision's weights: that second pair's conv is 3x3 where
the paper has 5x5 (torchvision calls it a known bug).

Auxiliary classifiers (`aux_logits=True`, the default, as torchvision trains):
after 4a and 4d, adaptive average pool to 4x4, 1x1 conv to 128 maps, linear
2048 -> 1024, ReLU, dropout 0.7, linear to the classes. They run only in
training, where each records its float32 logits as
`aux_logits/<head>/logits` (heads `aux1`, `aux2`); the train step adds their
losses. They are built at init whatever `train` is, so their parameters
always exist. 6,624,904 parameters at 1000 classes without them, 13,004,888
with them, as in torchvision.

`activation` (a name of `layers.ACTIVATIONS`; 'relu' as torchvision) is
the function of every BasicConv2d and of the auxiliary heads' hidden layer.

`small_input=True` is the CIFAR variant of kuangliu/pytorch-cifar: a single
3x3 stride-1 BasicConv2d to 192 maps (named `conv1`) replaces conv1, maxpool1,
conv2, conv3 and maxpool2, so a 32x32 (28x28) image reaches 3a at 32x32
(28x28), 4a at 16x16 (14x14) and 5a at 8x8 (7x7). The auxiliary heads need
no change: their adaptive pool makes 4x4 from 16x16 and 14x14 alike.

Layers are named after torchvision's state_dict paths with '.' as '_':
inception4a/branch2_1/conv is torchvision's `inception4a.branch2.1.conv`,
aux1/fc1 is `aux1.fc1`, the head is `fc`.
"""

import functools
from typing import Any, Callable

import flax.linen as nn
import jax.numpy as jnp

from cnnzoo.models.conv import Conv
from cnnzoo.models import layers, pooling
from cnnzoo.models.layers import adaptive_avg_pool, max_pool_ceil


def _pair(value):
  return (value, value) if isinstance(value, int) else tuple(value)


class BasicConv2d(nn.Module):
  """Conv without bias, BatchNorm (epsilon 0.001), ReLU: torchvision's."""

  features: int
  kernel_size: int | tuple[int, int]
  strides: int = 1
  padding: int | tuple[int, int] = 0  # Symmetric, per spatial axis.
  init_std: float = 0.01  # torchvision's truncated normal; +-2 never binds.
  dtype: Any = jnp.float32
  activation: Callable = nn.relu

  @nn.compact
  def __call__(self, x, train: bool):
    x = Conv(self.features, _pair(self.kernel_size), _pair(self.strides),
             padding=[(p, p) for p in _pair(self.padding)], use_bias=False,
             kernel_init=nn.initializers.normal(self.init_std),
             dtype=self.dtype, name='conv')(x)
    x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                     epsilon=1e-3, dtype=self.dtype, name='bn')(x)
    return self.activation(x)


class Inception(nn.Module):
  """Four parallel branches, concatenated along the channels."""

  ch1x1: int
  ch3x3red: int
  ch3x3: int
  ch5x5red: int
  ch5x5: int  # Made by a 3x3 conv, as in torchvision.
  pool_proj: int
  dtype: Any = jnp.float32
  activation: Callable = nn.relu

  @nn.compact
  def __call__(self, x, train: bool):
    conv = functools.partial(BasicConv2d, dtype=self.dtype,
                             activation=self.activation)
    branch1 = conv(self.ch1x1, 1, name='branch1')(x, train)
    branch2 = conv(self.ch3x3red, 1, name='branch2_0')(x, train)
    branch2 = conv(self.ch3x3, 3, padding=1, name='branch2_1')(branch2, train)
    branch3 = conv(self.ch5x5red, 1, name='branch3_0')(x, train)
    branch3 = conv(self.ch5x5, 3, padding=1, name='branch3_1')(branch3, train)
    branch4 = pooling.max_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)))
    branch4 = conv(self.pool_proj, 1, name='branch4_1')(branch4, train)
    return jnp.concatenate([branch1, branch2, branch3, branch4], axis=-1)


class InceptionAux(nn.Module):
  """An auxiliary classifier; records its logits in training."""

  num_classes: int
  dropout_rate: float = 0.7
  dtype: Any = jnp.float32
  activation: Callable = nn.relu

  @nn.compact
  def __call__(self, x, train: bool):
    x = adaptive_avg_pool(x, (4, 4))
    x = BasicConv2d(128, 1, dtype=self.dtype, activation=self.activation,
                    name='conv')(x, train)
    # Flattened channel-major like torchvision, so fc1 imports by transposing.
    x = jnp.transpose(x, (0, 3, 1, 2)).reshape((x.shape[0], -1))
    dense = functools.partial(nn.Dense, dtype=self.dtype,
                              kernel_init=nn.initializers.normal(0.01))
    x = self.activation(dense(1024, name='fc1')(x))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    logits = dense(self.num_classes, name='fc2')(x).astype(jnp.float32)
    if train:
      self.sow('aux_logits', 'logits', logits)


# (ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) per block, as in
# torchvision and the paper's Table 1.
BLOCKS = {
    '3a': (64, 96, 128, 16, 32, 32),
    '3b': (128, 128, 192, 32, 96, 64),
    '4a': (192, 96, 208, 16, 48, 64),
    '4b': (160, 112, 224, 24, 64, 64),
    '4c': (128, 128, 256, 24, 64, 64),
    '4d': (112, 144, 288, 32, 64, 64),
    '4e': (256, 160, 320, 32, 128, 128),
    '5a': (256, 160, 320, 32, 128, 128),
    '5b': (384, 192, 384, 48, 128, 128),
}


class GoogLeNet(nn.Module):
  """Returns the main head's logits; see the module docstring."""

  num_classes: int = 1000
  aux_logits: bool = True  # Auxiliary classifiers after 4a and 4d.
  dropout_rate: float = 0.2  # Before the classifier.
  aux_dropout_rate: float = 0.7  # In the auxiliary classifiers.
  small_input: bool = False  # CIFAR stem: one 3x3 stride-1 conv, no pools.
  activation: str = 'relu'  # In every BasicConv2d and the aux heads' fc1.
  dtype: Any = jnp.float32  # Compute dtype; parameters stay float32.

  def _auxiliary(self, name, x, train):
    # At init as well, so the heads' parameters exist for training.
    if self.aux_logits and (train or self.is_initializing()):
      InceptionAux(self.num_classes, self.aux_dropout_rate, self.dtype,
                   layers.activation_fn(self.activation),
                   name=name)(x, train)

  @nn.compact
  def __call__(self, x, train: bool = False):
    activation = layers.activation_fn(self.activation)
    conv = functools.partial(BasicConv2d, dtype=self.dtype,
                             activation=activation)
    block = lambda key: Inception(  # noqa: E731
        *BLOCKS[key], dtype=self.dtype, activation=activation,
        name=f'inception{key}')
    x = x.astype(self.dtype)
    if self.small_input:
      x = conv(192, 3, padding=1, name='conv1')(x, train)
    else:
      x = conv(64, 7, 2, 3, name='conv1')(x, train)
      x = max_pool_ceil(x, 3, 2)
      x = conv(64, 1, name='conv2')(x, train)
      x = conv(192, 3, padding=1, name='conv3')(x, train)
      x = max_pool_ceil(x, 3, 2)

    x = block('3b')(block('3a')(x, train), train)
    x = max_pool_ceil(x, 3, 2)
    x = block('4a')(x, train)
    self._auxiliary('aux1', x, train)
    for key in ('4b', '4c', '4d'):
      x = block(key)(x, train)
    self._auxiliary('aux2', x, train)
    x = block('4e')(x, train)
    x = max_pool_ceil(x, 2, 2)
    x = block('5b')(block('5a')(x, train), train)

    return layers.classifier_head(x, self.num_classes,
                                  dropout_rate=self.dropout_rate, train=train,
                                  dtype=self.dtype, name='fc',
                                  kernel_init=nn.initializers.normal(0.01))


MODELS = {
    'googlenet': (GoogLeNet, (224, 224, 3)),
}

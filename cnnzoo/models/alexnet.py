"""AlexNet (Krizhevsky, Sutskever & Hinton 2012): torchvision's and as published.

`alexnet` follows torchvision's `alexnet.py`, the single-tower "one weird
trick" version (Krizhevsky 2014): convs of 64 11x11/4 (padding 2), 192 5x5,
384, 256 and 256 3x3, each with ReLU; 3x3 stride-2 max pools after the 1st,
2nd and 5th conv; AdaptiveAvgPool2d((6, 6)); then dropout 0.5, 9216 -> 4096,
ReLU, dropout 0.5, 4096 -> 4096, ReLU, 4096 -> classes. 61,100,840 parameters
at 1000 classes, torchvision's count. Design input 224x224x3.

`alexnet_2012`: the network of the paper (Section 3, Figure 2), design input
227x227x3 (the paper's "224" does not give its 55x55 conv1 maps; 227 does):
  conv1 96 11x11/4, no padding (55x55), ReLU, LRN, max pool 3x3/2 (27x27);
  conv2 256 5x5, padding 2, two groups (feature_group_count=2), ReLU, LRN,
    max pool 3x3/2 (13x13);
  conv3 384 3x3, padding 1, one group (it sees both GPUs' maps), ReLU;
  conv4 384 3x3, padding 1, two groups, ReLU;
  conv5 256 3x3, padding 1, two groups, ReLU, max pool 3x3/2 (6x6);
  fc6 9216 -> 4096, ReLU, dropout 0.5; fc7 4096 -> 4096, ReLU, dropout 0.5;
  fc8 4096 -> classes.
The groups reproduce the two-GPU split: conv2, conv4 and conv5 see only the
maps on their own GPU. LRN is PyTorch's LocalResponseNorm(size=5, alpha=1e-4,
beta=0.75, k=2), which divides alpha by the size (as Caffe does; the paper's
formula has no 1/size). Pools overlap (3x3 windows, stride 2, as in the paper).
Dropout follows fc6 and fc7 ("the first two fully-connected layers"), so it
acts on their outputs. fc6 flattens whatever conv5 leaves; there is no
adaptive pool, so other input sizes give fc6 another width. Weights start
from N(0, 0.01), biases from 1 in conv2, conv4, conv5, fc6 and fc7 and 0
elsewhere, as in Section 5 of the paper.
Parameters at 1000 classes (weights + biases):
  conv1 11*11*3*96 + 96     =     34,944
  conv2 5*5*48*256 + 256    =    307,456   (48 = 96 / 2 groups)
  conv3 3*3*256*384 + 384   =    885,120
  conv4 3*3*192*384 + 384   =    663,936   (192 = 384 / 2 groups)
  conv5 3*3*192*256 + 256   =    442,624
  fc6   6*6*256*4096 + 4096 = 37,752,832
  fc7   4096*4096 + 4096    = 16,781,312
  fc8   4096*1000 + 1000    =  4,097,000
  total                     = 60,965,224
(about 61.0M; the paper itself only says "60 million parameters").

`small_input=True` (both presets), the CIFAR variant: conv1 (`features_0`)
becomes 3x3 stride 1 with padding 1 (same number of maps) and the first max
pool is dropped; the later pools stay. A 32x32 image reaches conv5 at 15x15
and the classifier at 7x7 (28x28: 13x13 and 6x6). In `alexnet` the adaptive
pool then brings that to 6x6, so its classifier keeps its 9216 inputs; in
`alexnet_2012`, fc6 takes the flattened 7x7x256 (32x32) or 6x6x256 (28x28).

`alexnet` has three more knobs; at their defaults it is torchvision's:
`activation` (a name of layers.ACTIVATIONS, for every ReLU),
`use_batchnorm` (a BatchNorm after each conv, before its activation, as the
reference Keras AlexNet has; named after its conv: `features_0_bn`, ...)
and `width_multiplier` (scales the five convs' maps, rounded, at least 1;
the 4096-unit dense layers stay). `alexnet_2012` keeps the paper's design.

Layers are named after torchvision's state_dict paths with '.' as '_'
(`features_0`, ..., `classifier_6`), and maps are flattened in PyTorch's
(C, H, W) order, so torchvision's weights load with plain transposes.
`alexnet_2012` uses the indices an nn.Sequential of its layers would have
(conv, ReLU, LRN, pool, ...): features_0 conv1, features_4 conv2,
features_8/10/12 conv3/4/5, classifier_0/3/6 fc6/7/8.
"""

import functools
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from cnnzoo.models import layers, pooling
from cnnzoo.models.conv import Conv
from cnnzoo.models.layers import adaptive_avg_pool, flatten_chw

# PyTorch's default conv/linear kernel init, kaiming_uniform_(a=sqrt(5)):
# U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
_torch_default_init = nn.initializers.variance_scaling(1 / 3, 'fan_in',
                                                       'uniform')


def local_response_norm(x, size: int = 5, alpha: float = 1e-4,
                        beta: float = 0.75, k: float = 2.0):
  """PyTorch's LocalResponseNorm over the channels (last axis) of NHWC x.

  b_c = a_c / (k + alpha / size * sum of a_j^2 over the `size` channels
  centred on c)^beta; the window is cut at the first and last channel.
  """
  channels = x.shape[-1]
  squares = jnp.pad(jnp.square(x), [(0, 0)] * (x.ndim - 1)
                    + [(size // 2, (size - 1) // 2)])
  window_sum = sum(squares[..., i:i + channels] for i in range(size))
  return x / (k + alpha / size * window_sum) ** beta


def _max_pool(x):
  return pooling.max_pool(x, (3, 3), strides=(2, 2))


class AlexNet(nn.Module):
  """torchvision's AlexNet; returns class logits (see the module docstring)."""

  num_classes: int = 1000
  dropout_rate: float = 0.5  # Before each of the first two dense layers.
  small_input: bool = False  # 3x3 stride-1 conv1, no first max pool.
  activation: str = 'relu'  # After each conv and hidden dense layer.
  use_batchnorm: bool = False  # BatchNorm after each conv, before activation.
  width_multiplier: float = 1.0  # Scales the conv maps; not the 4096 units.
  dtype: Any = jnp.float32  # Compute dtype; parameters stay float32.

  @nn.compact
  def __call__(self, x, train: bool = False):
    activation = layers.activation_fn(self.activation)
    dense = functools.partial(nn.Dense, kernel_init=_torch_default_init,
                              dtype=self.dtype)

    def conv(x, features, kernel, strides=(1, 1), *, padding, name):
      x = Conv(layers.scaled_width(features, self.width_multiplier), kernel,
               strides, padding=padding, kernel_init=_torch_default_init,
               dtype=self.dtype, name=name)(x)
      if self.use_batchnorm:
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                         epsilon=1e-5, dtype=self.dtype, name=f'{name}_bn')(x)
      return activation(x)

    x = x.astype(self.dtype)
    if self.small_input:
      x = conv(x, 64, (3, 3), padding=((1, 1), (1, 1)), name='features_0')
    else:
      x = conv(x, 64, (11, 11), (4, 4), padding=((2, 2), (2, 2)),
               name='features_0')
      x = _max_pool(x)
    x = conv(x, 192, (5, 5), padding=((2, 2), (2, 2)), name='features_3')
    x = _max_pool(x)
    for index, features in ((6, 384), (8, 256), (10, 256)):
      x = conv(x, features, (3, 3), padding=((1, 1), (1, 1)),
               name=f'features_{index}')
    x = _max_pool(x)
    x = adaptive_avg_pool(x, (6, 6))
    x = flatten_chw(x)

    for index in (1, 4):
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
      x = activation(dense(4096, name=f'classifier_{index}')(x))
    x = dense(self.num_classes, name='classifier_6')(x)
    return x.astype(jnp.float32)


class AlexNet2012(nn.Module):
  """AlexNet as published; returns class logits (see the module docstring)."""

  num_classes: int = 1000
  dropout_rate: float = 0.5  # After fc6 and fc7.
  small_input: bool = False  # 3x3 stride-1 conv1, no first max pool.
  dtype: Any = jnp.float32  # Compute dtype; parameters stay float32.

  @nn.compact
  def __call__(self, x, train: bool = False):
    # Section 5: weights N(0, 0.01); biases 1 where ReLUs follow conv2, conv4,
    # conv5 and the hidden dense layers (to feed them positive inputs early).
    init = nn.initializers.normal(0.01)
    conv = functools.partial(Conv, kernel_init=init, dtype=self.dtype)
    ones = nn.initializers.ones
    x = x.astype(self.dtype)
    if self.small_input:
      x = conv(96, (3, 3), padding=((1, 1), (1, 1)), name='features_0')(x)
    else:
      x = conv(96, (11, 11), (4, 4), padding='VALID', name='features_0')(x)
    x = local_response_norm(nn.relu(x))
    if not self.small_input:
      x = _max_pool(x)
    x = conv(256, (5, 5), padding=((2, 2), (2, 2)), feature_group_count=2,
             bias_init=ones, name='features_4')(x)
    x = _max_pool(local_response_norm(nn.relu(x)))
    for index, features, groups in ((8, 384, 1), (10, 384, 2), (12, 256, 2)):
      x = nn.relu(conv(features, (3, 3), padding=((1, 1), (1, 1)),
                       feature_group_count=groups,
                       bias_init=ones if groups == 2 else nn.initializers.zeros,
                       name=f'features_{index}')(x))
    x = _max_pool(x)
    x = flatten_chw(x)

    for index in (0, 3):
      x = nn.relu(nn.Dense(4096, kernel_init=init, bias_init=ones,
                           dtype=self.dtype, name=f'classifier_{index}')(x))
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    x = nn.Dense(self.num_classes, kernel_init=init, dtype=self.dtype,
                 name='classifier_6')(x)
    return x.astype(jnp.float32)


MODELS = {
    'alexnet': (AlexNet, (224, 224, 3)),
    'alexnet_2012': (AlexNet2012, (227, 227, 3)),
}

"""MobileNet V1, V2 and V3.

  mobilenet_v1: Howard et al. 2017, "MobileNets" (Table 1, 1.0x, 224).
    torchvision has none; this follows the paper: a 3x3 stride-2 conv to
    32 maps, 13 depthwise-separable blocks (3x3 depthwise, 1x1 pointwise),
    each conv followed by BatchNorm (eps 1e-5) and ReLU, a global average
    pool and a 1024 -> classes linear layer. Table 1 lists the 13th
    depthwise conv as stride 2 on a 7x7 map but gives its output as 7x7
    too; we use stride 1, as the TF-slim reference does. 4,231,976
    parameters at 1000 classes, counted from this module: 3,185,088 conv
    weights (no biases), 21,888 BatchNorm scales and biases and 1,025,000
    in the linear layer; the paper's tables give 4.2M for 1.0 MobileNet-224.
    Dropout before the classifier defaults to 0 (the paper describes
    none); width_multiplier scales every conv's maps, rounded to a
    multiple of 8 with torchvision's _make_divisible, as in V2 and V3.
  mobilenet_v2: Sandler et al. 2018; torchvision's `mobilenetv2.py`
    (ReLU6, BatchNorm eps 1e-5, dropout 0.2): 3,504,872 parameters.
  mobilenet_v3_small / mobilenet_v3_large: Howard et al. 2019; torchvision's
    `mobilenetv3.py` (hardswish, squeeze-excitation with a hardsigmoid gate
    and 1x1 convs with bias, BatchNorm eps 1e-3, dropout 0.2):
    2,542,856 and 5,483,032 parameters.

All counts are at 1000 classes and equal torchvision's for V2 and V3.

`activation` (a name of `layers.ACTIVATIONS`) replaces every ReLU of V1
('relu') and every ReLU6 of V2 ('relu6'). V3 has no such knob: where it
uses ReLU and where hardswish came out of its architecture search, and
one name for both would undo that design.
Every conv pads (k - 1) // 2 on all sides, as torchvision does.

`small_input=True`, the CIFAR variant, changes strides only (no shapes of
parameters change):
  - mobilenet_v1: the stem conv has stride 1 (kuangliu/pytorch-cifar's
    MobileNet); a 32x32 image reaches the last block at 2x2, not 1x1.
  - mobilenet_v2: the stem conv and the first block of the 24-map stage
    (torchvision's features.2) have stride 1 (kuangliu/pytorch-cifar's
    MobileNetV2); 32x32 ends at 4x4, not 1x1.
  - mobilenet_v3_*: the stem conv has stride 1; 32x32 ends at 2x2, not 1x1.

Layers are named after torchvision's state_dict paths with '.' as '_':
e.g. V2's `features.2.conv.1.0` is features_2/conv_1_0 and V3's
`features.4.block.2.fc1` is features_4/block_2/fc1; V1 uses the same
scheme (features_0_0 stem, features_i/conv_0_0 depthwise, .../conv_1_0
pointwise, classifier_1).
"""

import dataclasses
import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from cnnzoo.models import layers
from cnnzoo.models.conv import Conv
from cnnzoo.models.layers import make_divisible

# torchvision: kaiming_normal_(mode='fan_out') for convs, N(0, 0.01) linears.
_conv_init = layers.conv_init
_dense_init = nn.initializers.normal(0.01)


def conv_bn(x, features: int, kernel: int = 1, stride: int = 1,
            groups: int = 1, *, names: tuple[str, str], train: bool,
            epsilon: float, dtype: Any):
  """Bias-free conv then BatchNorm (torchvision's Conv2dNormActivation).

  Creates the two layers in the calling module under `names`.
  """
  pad = (kernel - 1) // 2
  x = Conv(features, (kernel, kernel), (stride, stride),
           padding=((pad, pad), (pad, pad)), feature_group_count=groups,
           use_bias=False, kernel_init=_conv_init, dtype=dtype,
           name=names[0])(x)
  return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                      epsilon=epsilon, dtype=dtype, name=names[1])(x)


def _conv_bn_in(module, train):
  return functools.partial(conv_bn, train=train, epsilon=module.epsilon,
                           dtype=module.dtype)


def _classifier(x, num_classes, dtype, name):
  return nn.Dense(num_classes, kernel_init=_dense_init, dtype=dtype,
                  name=name)(x)


class _MobileNet(nn.Module):
  """The fields of every version, its stem, and V1's and V2's head."""

  num_classes: int = 1000
  width_multiplier: float = 1.0  # Scales every conv's maps (multiples of 8).
  dropout_rate: float = 0.0  # Before the classifier; V1's paper has none.
  small_input: bool = False  # Stride-1 stem (V2: and first 24-map block).
  epsilon: float = 1e-5  # BatchNorm's.
  dtype: Any = jnp.float32  # Compute dtype; parameters stay float32.

  def stem(self, x, train, activation, features):
    """features_0: the input in the compute dtype, then a 3x3
    conv-BN-`activation` to `features` maps times the width multiplier,
    stride 2 (1 with small_input)."""
    return activation(_conv_bn_in(self, train)(
        x.astype(self.dtype), make_divisible(features * self.width_multiplier),
        3, 1 if self.small_input else 2,
        names=('features_0_0', 'features_0_1')))

  def head(self, x, train):
    """V1's and V2's: pool, dropout, `classifier_1`; float32 logits."""
    return layers.classifier_head(x, self.num_classes,
                                  dropout_rate=self.dropout_rate, train=train,
                                  dtype=self.dtype, name='classifier_1',
                                  kernel_init=_dense_init)


class _Block(nn.Module):
  """The fields of V1's and V2's blocks."""

  features: int
  stride: int
  epsilon: float = 1e-5
  dtype: Any = jnp.float32
  activation: Callable = nn.relu


# ---------------------------------------------------------------- V1


class DepthwiseSeparable(_Block):
  """3x3 depthwise conv-BN-ReLU, then 1x1 pointwise conv-BN-ReLU."""

  @nn.compact
  def __call__(self, x, train: bool = False):
    conv = _conv_bn_in(self, train)
    x = self.activation(conv(x, x.shape[-1], 3, self.stride,
                             groups=x.shape[-1],
                             names=('conv_0_0', 'conv_0_1')))
    return self.activation(conv(x, self.features,
                                names=('conv_1_0', 'conv_1_1')))


# (pointwise maps, depthwise stride) of the 13 blocks of Table 1.
V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
             (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2),
             (1024, 1))


class MobileNetV1(_MobileNet):
  """Returns class logits; see the module docstring."""

  activation: str = 'relu'  # After every conv.

  @nn.compact
  def __call__(self, x, train: bool = False):
    activation = layers.activation_fn(self.activation)
    x = self.stem(x, train, activation, 32)
    for i, (features, stride) in enumerate(V1_BLOCKS, start=1):
      x = DepthwiseSeparable(make_divisible(features * self.width_multiplier),
                             stride, self.epsilon, self.dtype, activation,
                             name=f'features_{i}')(x, train)
    return self.head(x, train)


# ---------------------------------------------------------------- V2


class InvertedResidual(_Block):
  """1x1 expand, 3x3 depthwise (both ReLU6), linear 1x1 project; residual
  when the stride is 1 and the maps match."""

  activation: Callable = nn.relu6
  # Keyword-only: it follows _Block's defaults.
  expand_ratio: int = dataclasses.field(kw_only=True)

  @nn.compact
  def __call__(self, x, train: bool = False):
    conv = _conv_bn_in(self, train)
    inputs, hidden = x.shape[-1], int(round(x.shape[-1] * self.expand_ratio))
    y, i = x, 0
    if self.expand_ratio != 1:
      y = self.activation(conv(y, hidden, names=('conv_0_0', 'conv_0_1')))
      i = 1
    y = self.activation(conv(y, hidden, 3, self.stride, groups=hidden,
                             names=(f'conv_{i}_0', f'conv_{i}_1')))
    y = conv(y, self.features, names=(f'conv_{i + 1}', f'conv_{i + 2}'))
    return x + y if self.stride == 1 and inputs == self.features else y


# (expand ratio t, maps c, repeats n, first stride s) as in the paper.
V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


class MobileNetV2(_MobileNet):
  """Returns class logits; see the module docstring."""

  dropout_rate: float = 0.2  # Before the classifier.
  activation: str = 'relu6'  # After every conv but the projections.

  @nn.compact
  def __call__(self, x, train: bool = False):
    activation = layers.activation_fn(self.activation)
    x = self.stem(x, train, activation, 32)
    index = 1
    for stage, (t, c, n, s) in enumerate(V2_STAGES):
      if self.small_input and stage == 1:
        s = 1
      for repeat in range(n):
        x = InvertedResidual(make_divisible(c * self.width_multiplier),
                             s if repeat == 0 else 1, self.epsilon,
                             self.dtype, activation, expand_ratio=t,
                             name=f'features_{index}')(x, train)
        index += 1
    last = make_divisible(1280 * max(1.0, self.width_multiplier))
    x = activation(_conv_bn_in(self, train)(
        x, last, names=(f'features_{index}_0', f'features_{index}_1')))
    return self.head(x, train)


# ---------------------------------------------------------------- V3


class InvertedResidualV3(nn.Module):
  """V2's block with a kxk depthwise conv, optional squeeze-excitation
  after it, and ReLU or hardswish; no expand conv when nothing expands."""

  kernel: int
  expanded: int
  features: int
  use_se: bool
  use_hardswish: bool
  stride: int
  epsilon: float = 1e-3
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    conv = _conv_bn_in(self, train)
    activation = nn.hard_swish if self.use_hardswish else nn.relu
    y, i = x, 0
    if self.expanded != x.shape[-1]:
      y = activation(conv(y, self.expanded, names=('block_0_0', 'block_0_1')))
      i = 1
    y = activation(conv(y, self.expanded, self.kernel, self.stride,
                        groups=self.expanded,
                        names=(f'block_{i}_0', f'block_{i}_1')))
    if self.use_se:
      i += 1
      y = layers.SqueezeExcitation(make_divisible(self.expanded // 4),
                                   self.dtype, nn.relu, nn.hard_sigmoid,
                            name=f'block_{i}')(y)
    y = conv(y, self.features, names=(f'block_{i + 1}_0', f'block_{i + 1}_1'))
    return x + y if self.stride == 1 and x.shape[-1] == self.features else y


# (kernel, expanded maps, out maps, squeeze-excitation, hardswish, stride):
# Tables 1 and 2 of the MobileNetV3 paper, as in torchvision. Both stems
# give 16 maps.
V3_LARGE = (
    (3, 16, 16, False, False, 1), (3, 64, 24, False, False, 2),
    (3, 72, 24, False, False, 1), (5, 72, 40, True, False, 2),
    (5, 120, 40, True, False, 1), (5, 120, 40, True, False, 1),
    (3, 240, 80, False, True, 2), (3, 200, 80, False, True, 1),
    (3, 184, 80, False, True, 1), (3, 184, 80, False, True, 1),
    (3, 480, 112, True, True, 1), (3, 672, 112, True, True, 1),
    (5, 672, 160, True, True, 2), (5, 960, 160, True, True, 1),
    (5, 960, 160, True, True, 1))
V3_SMALL = (
    (3, 16, 16, True, False, 2), (3, 72, 24, False, False, 2),
    (3, 88, 24, False, False, 1), (5, 96, 40, True, True, 2),
    (5, 240, 40, True, True, 1), (5, 240, 40, True, True, 1),
    (5, 120, 48, True, True, 1), (5, 144, 48, True, True, 1),
    (5, 288, 96, True, True, 2), (5, 576, 96, True, True, 1),
    (5, 576, 96, True, True, 1))


class MobileNetV3(_MobileNet):
  """Returns class logits; see the module docstring."""

  dropout_rate: float = 0.2  # Between the two classifier layers.
  epsilon: float = 1e-3  # torchvision's MobileNetV3 BatchNorm eps.
  blocks: Sequence[tuple] = V3_LARGE  # V3_LARGE or V3_SMALL.
  last_channel: int = 1280  # 1280 large, 1024 small; times width_multiplier.

  @nn.compact
  def __call__(self, x, train: bool = False):
    conv = _conv_bn_in(self, train)

    def scaled(maps):
      return make_divisible(maps * self.width_multiplier)

    x = self.stem(x, train, nn.hard_swish, 16)
    for i, (kernel, expanded, out, se, hs, stride) in enumerate(
        self.blocks, start=1):
      x = InvertedResidualV3(kernel, scaled(expanded), scaled(out), se, hs,
                             stride, self.epsilon, self.dtype,
                             name=f'features_{i}')(x, train)
    last = len(self.blocks) + 1
    x = nn.hard_swish(conv(x, 6 * x.shape[-1], names=(f'features_{last}_0',
                                                     f'features_{last}_1')))
    x = jnp.mean(x, axis=(1, 2))
    x = nn.hard_swish(_classifier(x, scaled(self.last_channel), self.dtype,
                                  'classifier_0'))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    x = _classifier(x, self.num_classes, self.dtype, 'classifier_3')
    return x.astype(jnp.float32)


MobileNetV3Large = functools.partial(MobileNetV3, blocks=V3_LARGE,
                                     last_channel=1280)
MobileNetV3Small = functools.partial(MobileNetV3, blocks=V3_SMALL,
                                     last_channel=1024)

MODELS = {
    'mobilenet_v1': (MobileNetV1, (224, 224, 3)),
    'mobilenet_v2': (MobileNetV2, (224, 224, 3)),
    'mobilenet_v3_small': (MobileNetV3Small, (224, 224, 3)),
    'mobilenet_v3_large': (MobileNetV3Large, (224, 224, 3)),
}

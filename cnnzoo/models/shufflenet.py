"""ShuffleNet V1 (Zhang, Zhou, Lin & Sun 2017) and V2 (Ma, Zhang, Zheng &
Sun 2018).

V2 follows torchvision's `shufflenetv2.py`: a 3x3 stride-2 stem conv (24
maps, no bias), BatchNorm, ReLU and a 3x3 stride-2 max-pool (padding 1);
three stages of 4, 8 and 4 units; a 1x1 conv (`conv5`), global average pool
and a linear classifier. A stride-1 unit splits its maps in two halves,
keeps the first and sends the second through 1x1 conv-BN-ReLU, 3x3
depthwise conv-BN, 1x1 conv-BN-ReLU (`branch2`); a stride-2 unit instead
feeds the whole input to both `branch2` and `branch1` (3x3 stride-2
depthwise conv-BN, 1x1 conv-BN-ReLU). The two halves are concatenated and
channel-shuffled with 2 groups. Parameters at 1000 classes, equal to
torchvision's: shufflenet_v2_x0_5 1,366,792; shufflenet_v2_x1_0 2,278,604;
shufflenet_v2_x1_5 3,503,624; shufflenet_v2_x2_0 7,393,996.

`shufflenet_v1` is the paper's g=3, 1x network (Table 1: 140 MFLOPs), laid
out like the authors' code (megvii-model/ShuffleNet-Series): the same stem
and max-pool, then stages of 4, 8 and 4 units with 240, 480 and 960 maps and
global average pooling into a linear classifier without bias. A unit is a
grouped 1x1 conv to out/4 maps-BN-ReLU, a 3x3 depthwise conv-BN, a channel
shuffle, a grouped 1x1 conv-BN. Stride-1 units add the input, then ReLU;
stride-2 units (each stage's first) concatenate a 3x3 stride-2 average pool
of the input (padding 1, padding counted) with the ReLU'd branch, whose
last conv therefore has out - in maps. The first 1x1 conv of stage 2 is not
grouped (its input has only 24 maps). The paper draws the shuffle before the
depthwise conv; the authors' code (and this one) shuffles after it and its
BatchNorm, which act per map, so the two compute the same family of
functions. The shuffle is the authors' too: maps (C/g, g) -> (g, C/g), the
inverse of torchvision's. 1,864,728 parameters at 1000 classes and 137.5M
multiply-adds at 224x224 (counted here), against the paper's 140 MFLOPs and
the commonly cited ~1.9M parameters (the authors' repository: 1.9M, 138M).

Knobs of both (defaults as published): `stages_repeats` and
`stages_out_channels` (tuples or, from a config, lists), `activation` (a
name of `layers.ACTIVATIONS`, for every ReLU) and `dropout_rate` (dropout
before the classifier in training; 0, none).

`small_input=True` is the CIFAR stem of kuangliu/pytorch-cifar: the stem
conv keeps its 3x3 kernel, padding 1 and 24 maps but has stride 1, and the
max-pool is dropped; everything after the stem is unchanged. A 32x32 image
thus enters stage 2 at 32x32 and leaves stage 4 at 4x4 (a 28x28 one at 4x4
too) where the ImageNet stem would give 8x8 and 1x1; 224x224 gives 56x56
and 7x7. The parameter count does not change.

Layers are named after the PyTorch state_dict paths with '.' as '_'. V2
(torchvision): the Flax path stage2_0/branch1_0 is `stage2.0.branch1.0`, the
stem is conv1_0 and conv1_1, then conv5_0, conv5_1 and `fc`. V1 (authors'
code): first_conv_0 and first_conv_1, features_0 ... features_15 holding
branch_main_1_0, _1, _3, _4 and branch_main_2_0, _1, then classifier_0.
"""

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from cnnzoo.models import layers
from cnnzoo.models.conv import Conv


def channel_shuffle(x, groups: int):
  """torchvision's channel_shuffle on NHWC: maps (groups, C/groups) ->
  (C/groups, groups), so each group's maps are spread over all groups."""
  *leading, channels = x.shape
  x = x.reshape(*leading, groups, channels // groups)
  return jnp.swapaxes(x, -1, -2).reshape(*leading, channels)


class _Unit(nn.Module):
  """Conv and BatchNorm factories shared by the V1 and V2 units."""

  features: int  # Output maps of the unit.
  strides: int = 1
  dtype: Any = jnp.float32
  activation: Callable = nn.relu  # Where the published units have ReLU.

  def conv(self, features, kernel=1, strides=1, groups=1, name=None):
    pad = kernel // 2
    return Conv(features, (kernel, kernel), (strides, strides),
                padding=((pad, pad), (pad, pad)), feature_group_count=groups,
                use_bias=False, dtype=self.dtype, name=name)

  def norm(self, train, name):
    return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                        epsilon=1e-5, dtype=self.dtype, name=name)


class InvertedResidual(_Unit):
  """The ShuffleNet V2 unit (torchvision's name): split or branch, concat,
  shuffle with 2 groups."""

  @nn.compact
  def __call__(self, x, train: bool):
    half = self.features // 2
    if self.strides == 1:
      kept, x = jnp.split(x, 2, axis=-1)
    else:
      kept = self.conv(x.shape[-1], 3, self.strides, x.shape[-1],
                       name='branch1_0')(x)
      kept = self.norm(train, 'branch1_1')(kept)
      kept = self.conv(half, name='branch1_2')(kept)
      kept = self.activation(self.norm(train, 'branch1_3')(kept))
    x = self.activation(self.norm(train, 'branch2_1')(
        self.conv(half, name='branch2_0')(x)))
    x = self.norm(train, 'branch2_4')(
        self.conv(half, 3, self.strides, half, name='branch2_3')(x))
    x = self.activation(self.norm(train, 'branch2_6')(
        self.conv(half, name='branch2_5')(x)))
    return channel_shuffle(jnp.concatenate([kept, x], axis=-1), 2)


class ShuffleV1Block(_Unit):
  """The ShuffleNet V1 unit (the authors' name); see the module docstring."""

  groups: int = 3
  first_group: bool = False  # Stage 2's first unit: ungrouped first conv.

  @nn.compact
  def __call__(self, x, train: bool):
    mid = self.features // 4
    branch = self.features - (x.shape[-1] if self.strides == 2 else 0)
    y = self.conv(mid, groups=1 if self.first_group else self.groups,
                  name='branch_main_1_0')(x)
    y = self.activation(self.norm(train, 'branch_main_1_1')(y))
    y = self.conv(mid, 3, self.strides, mid, name='branch_main_1_3')(y)
    y = self.norm(train, 'branch_main_1_4')(y)
    y = channel_shuffle(y, mid // self.groups)  # The authors' (C/g, g).
    y = self.conv(branch, groups=self.groups, name='branch_main_2_0')(y)
    y = self.norm(train, 'branch_main_2_1')(y)
    if self.strides == 1:
      return self.activation(x + y)
    shortcut = nn.avg_pool(x, (3, 3), (2, 2), padding=((1, 1), (1, 1)),
                           count_include_pad=True)
    return jnp.concatenate([shortcut, self.activation(y)], axis=-1)


class _ShuffleNet(layers.TupleFields):
  """The knobs of both networks (see the module docstring), their stem and
  their head."""

  tuple_fields = ('stages_repeats', 'stages_out_channels')

  stages_repeats: Sequence[int] = (4, 8, 4)
  # Stem and stage maps, V2's conv5 last; each network sets its default.
  stages_out_channels: Sequence[int] = ()
  activation: str = 'relu'  # Every ReLU's place: stem, units, V2's conv5.
  dropout_rate: float = 0.0  # Before the classifier, in training.
  num_classes: int = 1000
  small_input: bool = False  # CIFAR stem: stride-1 conv, no max-pool.
  dtype: Any = jnp.float32  # Compute dtype; parameters stay float32.

  def stem(self, x, train, names, activation):
    """The input in the compute dtype through the 3x3 stem (layers.stem)."""
    return layers.stem(x.astype(self.dtype), self.stages_out_channels[0], 3,
                       small_input=self.small_input, train=train, names=names,
                       dtype=self.dtype, activation=activation)

  def head(self, x, train, name, **dense_fields):
    """layers.classifier_head: pool, dropout, the linear layer `name`."""
    return layers.classifier_head(x, self.num_classes,
                                  dropout_rate=self.dropout_rate, train=train,
                                  dtype=self.dtype, name=name, **dense_fields)


class ShuffleNetV2(_ShuffleNet):
  """Returns class logits; see the module docstring."""

  # torchvision's stages_out_channels: stem, stages 2-4, conv5.
  stages_out_channels: Sequence[int] = (24, 116, 232, 464, 1024)

  @nn.compact
  def __call__(self, x, train: bool = False):
    activation = layers.activation_fn(self.activation)
    x = self.stem(x, train, ('conv1_0', 'conv1_1'), activation)
    for stage, (repeats, features) in enumerate(
        zip(self.stages_repeats, self.stages_out_channels[1:-1]), start=2):
      for i in range(repeats):
        x = InvertedResidual(features, 2 if i == 0 else 1, self.dtype,
                             activation, name=f'stage{stage}_{i}')(x, train)
    x = Conv(self.stages_out_channels[-1], (1, 1), use_bias=False,
             dtype=self.dtype, name='conv5_0')(x)
    x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                     epsilon=1e-5, dtype=self.dtype, name='conv5_1')(x)
    return self.head(activation(x), train, 'fc')


class ShuffleNetV1(_ShuffleNet):
  """Returns class logits; see the module docstring."""

  # Stem and stages 2-4 maps; the paper's Table 1 for g=3 at 1x.
  stages_out_channels: Sequence[int] = (24, 240, 480, 960)
  groups: int = 3

  @nn.compact
  def __call__(self, x, train: bool = False):
    activation = layers.activation_fn(self.activation)
    x = self.stem(x, train, ('first_conv_0', 'first_conv_1'), activation)
    index = 0
    for stage, (repeats, features) in enumerate(
        zip(self.stages_repeats, self.stages_out_channels[1:])):
      for i in range(repeats):
        x = ShuffleV1Block(features, 2 if i == 0 else 1, self.dtype,
                           activation, groups=self.groups,
                           first_group=stage == 0 and i == 0,
                           name=f'features_{index}')(x, train)
        index += 1
    return self.head(x, train, 'classifier_0', use_bias=False)


ShuffleNetV2X0_5 = functools.partial(
    ShuffleNetV2, stages_out_channels=(24, 48, 96, 192, 1024))
ShuffleNetV2X1_0 = functools.partial(
    ShuffleNetV2, stages_out_channels=(24, 116, 232, 464, 1024))
ShuffleNetV2X1_5 = functools.partial(
    ShuffleNetV2, stages_out_channels=(24, 176, 352, 704, 1024))
ShuffleNetV2X2_0 = functools.partial(
    ShuffleNetV2, stages_out_channels=(24, 244, 488, 976, 2048))

MODELS = {
    'shufflenet_v1': (ShuffleNetV1, (224, 224, 3)),
    'shufflenet_v2_x0_5': (ShuffleNetV2X0_5, (224, 224, 3)),
    'shufflenet_v2_x1_0': (ShuffleNetV2X1_0, (224, 224, 3)),
    'shufflenet_v2_x1_5': (ShuffleNetV2X1_5, (224, 224, 3)),
    'shufflenet_v2_x2_0': (ShuffleNetV2X2_0, (224, 224, 3)),
}

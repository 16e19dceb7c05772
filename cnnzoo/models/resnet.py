"""ResNet (He, Zhang, Ren & Sun 2015, "Deep Residual Learning for Image
Recognition").

Follows torchvision's `resnet.py`: a 7x7 stride-2 stem conv (64 maps, no
bias), BatchNorm, ReLU and a 3x3 stride-2 max-pool (padding 1); four stages
of residual blocks with 64, 128, 256 and 512 planes, the last three starting
with stride 2; global average pool and a linear classifier. A block's
shortcut is a 1x1 conv (with the block's stride) plus BatchNorm where the
shape changes, the identity elsewhere.

  - `BasicBlock` (resnet18, resnet34): two 3x3 convs.
  - `Bottleneck` (resnet50, resnet101, resnet152): 1x1 conv to `planes`,
    3x3 conv, 1x1 conv to 4 * `planes`. The stride sits on the 3x3 conv, as
    in torchvision ("ResNet v1.5"); the paper put it on the first 1x1 conv.

Parameters at 1000 classes, equal to torchvision's: resnet18 11,689,512;
resnet34 21,797,672; resnet50 25,557,032; resnet101 44,549,160; resnet152
60,192,808.

Knobs: `stage_sizes` (blocks per stage; a tuple or, from a config, a list),
`width` (maps of the stem and of the first stage's planes, doubling per
stage; 64 as published), `width_multiplier` (scales the stem and every
stage's planes, rounded, at least 1), `zero_init_residual` (torchvision's
option: the last BatchNorm scale of every block starts at zero, so each
block starts as the identity), `activation` (a name of
`layers.ACTIVATIONS`, for every ReLU) and `dropout_rate` (dropout before
`fc` in training; 0, none, as published).

`small_input=True` is the CIFAR stem of kuangliu/pytorch-cifar: the stem
conv is 3x3 with stride 1 and padding 1 (still `width` maps) and the stem
max-pool is dropped; everything after the stem is unchanged. A 32x32 image
thus reaches the first stage at 32x32 (and the last at 4x4) instead of 8x8
(and 1x1).

Layers are named after torchvision's state_dict paths with '.' as '_': the
Flax path layer1_0/conv1 is torchvision's `layer1.0.conv1`, layer2_0/
downsample_0 and downsample_1 are `layer2.0.downsample.0` and `.1`, the
stem is `conv1` and `bn1`, the head is `fc`.
"""

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from cnnzoo.models import layers
from cnnzoo.models.conv import Conv

# torchvision: kaiming_normal_(mode='fan_out', nonlinearity='relu').
_conv_init = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')


class _Block(nn.Module):
  """Shared fields and the shortcut of the two residual blocks."""

  planes: int
  strides: int = 1
  zero_init_residual: bool = False
  dtype: Any = jnp.float32
  activation: Callable = nn.relu  # Where torchvision has ReLU.

  def conv(self, features, kernel, strides=1, name=None):
    pad = kernel // 2
    return Conv(features, (kernel, kernel), (strides, strides),
                padding=((pad, pad), (pad, pad)), use_bias=False,
                kernel_init=_conv_init, dtype=self.dtype, name=name)

  def norm(self, train, name, zero_scale=False):
    scale_init = (nn.initializers.zeros if zero_scale
                  else nn.initializers.ones)
    return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                        epsilon=1e-5, scale_init=scale_init,
                        dtype=self.dtype, name=name)

  def shortcut(self, x, features, train):
    """The identity, or 1x1 conv + BN where the stride or maps change."""
    if self.strides == 1 and x.shape[-1] == features:
      return x
    x = self.conv(features, 1, self.strides, name='downsample_0')(x)
    return self.norm(train, 'downsample_1')(x)


class BasicBlock(_Block):
  """3x3 conv-BN-ReLU-3x3 conv-BN, plus the shortcut, then ReLU."""

  expansion = 1

  @nn.compact
  def __call__(self, x, train: bool):
    y = self.conv(self.planes, 3, self.strides, name='conv1')(x)
    y = self.activation(self.norm(train, 'bn1')(y))
    y = self.conv(self.planes, 3, name='conv2')(y)
    y = self.norm(train, 'bn2', self.zero_init_residual)(y)
    return self.activation(y + self.shortcut(x, self.planes, train))


class Bottleneck(_Block):
  """1x1 conv-BN-ReLU, 3x3 conv (strided)-BN-ReLU, 1x1 conv to 4x planes-BN,
  plus the shortcut, then ReLU."""

  expansion = 4

  @nn.compact
  def __call__(self, x, train: bool):
    features = self.planes * self.expansion
    y = self.conv(self.planes, 1, name='conv1')(x)
    y = self.activation(self.norm(train, 'bn1')(y))
    y = self.conv(self.planes, 3, self.strides, name='conv2')(y)
    y = self.activation(self.norm(train, 'bn2')(y))
    y = self.conv(features, 1, name='conv3')(y)
    y = self.norm(train, 'bn3', self.zero_init_residual)(y)
    return self.activation(y + self.shortcut(x, features, train))


class ResNet(layers.TupleFields):
  """Returns class logits; see the module docstring."""

  tuple_fields = ('stage_sizes',)

  stage_sizes: Sequence[int] = (2, 2, 2, 2)
  block_cls: type[_Block] = BasicBlock
  width: int = 64  # Stem maps and first-stage planes; doubled per stage.
  width_multiplier: float = 1.0  # Scales the stem and every stage's planes.
  zero_init_residual: bool = False  # Zero each block's last BN scale.
  activation: str = 'relu'  # Every ReLU's place: stem, blocks, block outputs.
  dropout_rate: float = 0.0  # Before fc, in training; none as published.
  num_classes: int = 1000
  small_input: bool = False  # CIFAR stem: 3x3 stride-1 conv, no max-pool.
  dtype: Any = jnp.float32  # Compute dtype; parameters stay float32.

  @nn.compact
  def __call__(self, x, train: bool = False):
    activation = layers.activation_fn(self.activation)

    def width(maps):
      return layers.scaled_width(maps, self.width_multiplier)

    x = layers.stem(x.astype(self.dtype), width(self.width), 7,
                    small_input=self.small_input, train=train,
                    names=('conv1', 'bn1'), dtype=self.dtype,
                    activation=activation, kernel_init=_conv_init)

    for i, num_blocks in enumerate(self.stage_sizes):
      for j in range(num_blocks):
        strides = 2 if i > 0 and j == 0 else 1
        x = self.block_cls(width(self.width * 2**i), strides,
                           self.zero_init_residual, self.dtype, activation,
                           name=f'layer{i + 1}_{j}')(x, train)

    return layers.classifier_head(x, self.num_classes,
                                  dropout_rate=self.dropout_rate, train=train,
                                  dtype=self.dtype, name='fc')


ResNet18 = functools.partial(ResNet, stage_sizes=(2, 2, 2, 2),
                             block_cls=BasicBlock)
ResNet34 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3),
                             block_cls=BasicBlock)
ResNet50 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3),
                             block_cls=Bottleneck)
ResNet101 = functools.partial(ResNet, stage_sizes=(3, 4, 23, 3),
                              block_cls=Bottleneck)
ResNet152 = functools.partial(ResNet, stage_sizes=(3, 8, 36, 3),
                              block_cls=Bottleneck)

MODELS = {
    'resnet18': (ResNet18, (224, 224, 3)),
    'resnet34': (ResNet34, (224, 224, 3)),
    'resnet50': (ResNet50, (224, 224, 3)),
    'resnet101': (ResNet101, (224, 224, 3)),
    'resnet152': (ResNet152, (224, 224, 3)),
}

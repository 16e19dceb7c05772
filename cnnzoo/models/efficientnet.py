"""EfficientNet B0-B7 (Tan & Le 2019, "EfficientNet: Rethinking Model Scaling
for Convolutional Neural Networks").

Follows torchvision's `efficientnet.py`: a 3x3 stride-2 stem conv, seven
stages of MBConv blocks (the paper's Table 1), a 1x1 conv to 4x the last
stage's maps, global average pool, dropout and a linear classifier. Each
conv is followed by BatchNorm and SiLU (the projection conv only by
BatchNorm). An MBConv block is a 1x1 expansion conv (left out where the
expansion ratio is 1), a depthwise conv carrying the stride, squeeze-and-
excitation (squeezing to a quarter of the block's input maps, SiLU, then a
sigmoid gate) and a 1x1 projection conv; blocks whose input and output shapes
agree add their input back, after stochastic depth on the branch.

The presets scale B0 by torchvision's (width, depth) multipliers: channels
are rounded to multiples of 8 by `make_divisible`, block counts rounded up.
Stochastic depth grows linearly from 0 at the first block to
`stochastic_depth_rate` * (n - 1) / n at the last of n blocks, as in
torchvision. Classifier dropout: 0.2 (b0, b1), 0.3 (b2, b3), 0.4 (b4, b5),
0.5 (b6, b7). BatchNorm is torchvision's too, which differs by variant:
b0-b4 use PyTorch's defaults (epsilon 1e-5, momentum 0.1, i.e. flax 0.9),
b5-b7 use epsilon 1e-3 and momentum 0.01 (flax 0.99).

Parameters at 1000 classes, equal to torchvision's: b0 5,288,548;
b1 7,794,184; b2 9,109,994; b3 12,233,232; b4 19,341,616; b5 30,389,784;
b6 43,040,704; b7 66,347,960. Design inputs are the crop sizes of
torchvision's weights: 224, 240, 288, 300, 380, 456, 528 and 600.

`activation` (a name of `layers.ACTIVATIONS`; 'silu' as torchvision)
replaces every SiLU, the one inside squeeze-and-excitation included; the
sigmoid gate stays. `width_multiplier` and `depth_mult` are the knobs the
presets set.

`small_input=True` gives the stem conv stride 1 instead of 2 (same 3x3
kernel, padding 1 and maps); nothing else changes. The total stride drops
from 32 to 16, so a 32x32 (or 28x28) image ends at 2x2 instead of 1x1.

Layers are named after torchvision's state_dict paths with '.' as '_': the
stem is features_0_0 (conv) and features_0_1 (BatchNorm), block j of stage i
is features_{i}_{j} holding block_0_0, block_0_1, ... (its Sequential) with
the squeeze-and-excitation at block_{k}/fc1 and fc2, the last conv is
features_8_0 and features_8_1, and the classifier is classifier_1.
"""

import functools
import math
from typing import Any, Callable

import flax.linen as nn
import jax.numpy as jnp

from cnnzoo.models import layers
from cnnzoo.models.conv import Conv
from cnnzoo.models.layers import make_divisible

# torchvision: kaiming_normal_(mode='fan_out') for convs; linear weights
# uniform in +-1/sqrt(out_features); biases zero.
_conv_init = layers.conv_init
_dense_init = nn.initializers.variance_scaling(1 / 3, 'fan_out', 'uniform')

# B0 (the paper's Table 1): expand ratio, kernel, stride, input maps,
# output maps, blocks.
B0_STAGES = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)


def conv_norm_act(x, features: int, kernel: int, *, norm: Callable,
                  name: str, dtype: Any, strides: int = 1, groups: int = 1,
                  activation: Callable | None = nn.silu):
  """torchvision's Conv2dNormActivation: conv `{name}_0` (no bias, padding
  kernel // 2), BatchNorm `{name}_1`, then `activation` unless None."""
  pad = kernel // 2
  x = Conv(features, (kernel, kernel), (strides, strides),
           padding=((pad, pad), (pad, pad)), feature_group_count=groups,
           use_bias=False, kernel_init=_conv_init, dtype=dtype,
           name=f'{name}_0')(x)
  x = norm(name=f'{name}_1')(x)
  return x if activation is None else activation(x)


class MBConv(nn.Module):
  """Expand (1x1), depthwise (k x k, strided), squeeze-excite, project (1x1);
  plus the input, after stochastic depth, where the shapes agree."""

  features: int
  kernel: int
  strides: int
  expand_ratio: float
  stochastic_depth_rate: float = 0.0
  norm_epsilon: float = 1e-5
  norm_momentum: float = 0.9
  dtype: Any = jnp.float32
  activation: Callable = nn.silu

  @nn.compact
  def __call__(self, x, train: bool):
    norm = functools.partial(nn.BatchNorm, use_running_average=not train,
                             momentum=self.norm_momentum,
                             epsilon=self.norm_epsilon, dtype=self.dtype)
    layer = functools.partial(conv_norm_act, norm=norm, dtype=self.dtype,
                              activation=self.activation)
    in_features = x.shape[-1]
    expanded = make_divisible(in_features * self.expand_ratio)
    index = 0  # Position in torchvision's `block` Sequential.
    y = x
    if expanded != in_features:
      y = layer(y, expanded, 1, name='block_0')
      index = 1
    y = layer(y, expanded, self.kernel, strides=self.strides,
              groups=expanded, name=f'block_{index}')
    y = layers.SqueezeExcitation(max(1, in_features // 4), self.dtype,
                                 self.activation, nn.sigmoid,
                          name=f'block_{index + 1}')(y)
    y = layer(y, self.features, 1, activation=None,
              name=f'block_{index + 2}')
    if self.strides != 1 or in_features != self.features:
      return y
    # Stochastic depth: drop the whole branch per sample.
    y = nn.Dropout(self.stochastic_depth_rate, broadcast_dims=(1, 2, 3),
                   deterministic=not train)(y)
    return x + y


class EfficientNet(nn.Module):
  """Returns class logits; see the module docstring."""

  width_multiplier: float = 1.0  # Channel multiplier on B0's stages.
  depth_mult: float = 1.0  # Block-count multiplier on B0's stages.
  dropout_rate: float = 0.2  # Before the classifier.
  stochastic_depth_rate: float = 0.2  # Reached (almost) at the last block.
  norm_epsilon: float = 1e-5  # torchvision: 1e-5 for b0-b4, 1e-3 for b5-b7.
  norm_momentum: float = 0.9  # Flax convention: 1 - PyTorch's momentum.
  num_classes: int = 1000
  small_input: bool = False  # Stride-1 stem: 32x32 ends at 2x2, not 1x1.
  activation: str = 'silu'  # After every conv but the projections.
  dtype: Any = jnp.float32  # Compute dtype; parameters stay float32.

  @nn.compact
  def __call__(self, x, train: bool = False):
    activation = layers.activation_fn(self.activation)
    x = x.astype(self.dtype)
    norm = functools.partial(nn.BatchNorm, use_running_average=not train,
                             momentum=self.norm_momentum,
                             epsilon=self.norm_epsilon, dtype=self.dtype)
    layer = functools.partial(conv_norm_act, norm=norm, dtype=self.dtype,
                              activation=activation)
    stages = [(expand, kernel, stride,
               make_divisible(in_maps * self.width_multiplier),
               make_divisible(out_maps * self.width_multiplier),
               math.ceil(blocks * self.depth_mult))
              for expand, kernel, stride, in_maps, out_maps, blocks
              in B0_STAGES]
    total_blocks = sum(stage[-1] for stage in stages)

    x = layer(x, stages[0][3], 3, strides=1 if self.small_input else 2,
              name='features_0')
    block_id = 0
    for i, (expand, kernel, stride, _, features, blocks) in enumerate(stages):
      for j in range(blocks):
        x = MBConv(features, kernel, stride if j == 0 else 1, expand,
                   self.stochastic_depth_rate * block_id / total_blocks,
                   self.norm_epsilon, self.norm_momentum, self.dtype,
                   activation, name=f'features_{i + 1}_{j}')(x, train)
        block_id += 1
    x = layer(x, 4 * stages[-1][4], 1, name=f'features_{len(stages) + 1}')

    return layers.classifier_head(x, self.num_classes,
                                  dropout_rate=self.dropout_rate, train=train,
                                  dtype=self.dtype, name='classifier_1',
                                  kernel_init=_dense_init)


# torchvision's B5-B7: BatchNorm2d(eps=0.001, momentum=0.01).
_b5_norm = dict(norm_epsilon=1e-3, norm_momentum=0.99)

EfficientNetB0 = functools.partial(EfficientNet, width_multiplier=1.0,
                                   depth_mult=1.0, dropout_rate=0.2)
EfficientNetB1 = functools.partial(EfficientNet, width_multiplier=1.0,
                                   depth_mult=1.1, dropout_rate=0.2)
EfficientNetB2 = functools.partial(EfficientNet, width_multiplier=1.1,
                                   depth_mult=1.2, dropout_rate=0.3)
EfficientNetB3 = functools.partial(EfficientNet, width_multiplier=1.2,
                                   depth_mult=1.4, dropout_rate=0.3)
EfficientNetB4 = functools.partial(EfficientNet, width_multiplier=1.4,
                                   depth_mult=1.8, dropout_rate=0.4)
EfficientNetB5 = functools.partial(EfficientNet, width_multiplier=1.6,
                                   depth_mult=2.2, dropout_rate=0.4,
                                   **_b5_norm)
EfficientNetB6 = functools.partial(EfficientNet, width_multiplier=1.8,
                                   depth_mult=2.6, dropout_rate=0.5,
                                   **_b5_norm)
EfficientNetB7 = functools.partial(EfficientNet, width_multiplier=2.0,
                                   depth_mult=3.1, dropout_rate=0.5,
                                   **_b5_norm)

MODELS = {
    'efficientnet_b0': (EfficientNetB0, (224, 224, 3)),
    'efficientnet_b1': (EfficientNetB1, (240, 240, 3)),
    'efficientnet_b2': (EfficientNetB2, (288, 288, 3)),
    'efficientnet_b3': (EfficientNetB3, (300, 300, 3)),
    'efficientnet_b4': (EfficientNetB4, (380, 380, 3)),
    'efficientnet_b5': (EfficientNetB5, (456, 456, 3)),
    'efficientnet_b6': (EfficientNetB6, (528, 528, 3)),
    'efficientnet_b7': (EfficientNetB7, (600, 600, 3)),
}

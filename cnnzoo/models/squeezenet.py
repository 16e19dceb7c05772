"""SqueezeNet (Iandola, Han, Moskewicz, Ashraf, Dally & Keutzer 2016).

Follows torchvision's `squeezenet.py`. A Fire module squeezes with a 1x1 conv
and ReLU, then expands with a 1x1 and a 3x3 conv (each with ReLU) whose maps
are concatenated. Max pools are 3x3 stride 2 with ceil_mode (the right and
bottom are padded with -inf so that partial windows count). The head is
dropout (0.5), a 1x1 conv to the classes, ReLU and a global average pool.

  squeezenet1_0: 7x7 stride-2 conv to 96 maps, pool, 3 Fires, pool,
    4 Fires, pool, 1 Fire; 1,248,424 parameters at 1000 classes.
  squeezenet1_1: 3x3 stride-2 conv to 64 maps, pool, 2 Fires, pool,
    2 Fires, pool, 4 Fires; 1,235,496 parameters at 1000 classes.

`activation` (a name of `layers.ACTIVATIONS`; 'relu' as torchvision)
replaces the ReLUs of the stem and the Fires. The ReLU after the classifier
conv stays: it belongs to the head, and a bounded function there (tanh)
would bound the logits. `layers` (the depth: V1_0, V1_1 or a list from a
config) is a field too.

Both stem convs are unpadded, as in torchvision. `small_input=True` is the
CIFAR variant: the stem conv becomes 3x3 with stride 1 and padding 1 (same
number of maps) and the first max pool is dropped, so a 32x32 image reaches
the last Fires at 8x8 rather than vanishing to 1x1.

Layers are named after torchvision's state_dict paths with '.' as '_': the
stem conv is `features_0`, a Fire at `features.3` is `features_3` holding
`squeeze`, `expand1x1` and `expand3x3`, and the classifier conv is
`classifier_1`.
"""

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from cnnzoo.models.conv import Conv
from cnnzoo.models.layers import activation_fn, max_pool_ceil, TupleFields

# Entries of `features` after the stem conv and its ReLU (torchvision's
# features.0 and features.1): 'M' is a max pool, a triple is a Fire's
# (squeeze, expand1x1, expand3x3) maps. Position i is features.{i + 2}.
V1_0 = ('M', (16, 64, 64), (16, 64, 64), (32, 128, 128), 'M',
        (32, 128, 128), (48, 192, 192), (48, 192, 192), (64, 256, 256), 'M',
        (64, 256, 256))
V1_1 = ('M', (16, 64, 64), (16, 64, 64), 'M', (32, 128, 128),
        (32, 128, 128), 'M', (48, 192, 192), (48, 192, 192), (64, 256, 256),
        (64, 256, 256))

# torchvision: kaiming_uniform_ (fan_in, gain sqrt 2) for convs, zero biases,
# and N(0, 0.01) for the classifier conv.
_conv_init = nn.initializers.he_uniform()


class Fire(nn.Module):
  """Squeeze 1x1 -> ReLU -> [expand 1x1, expand 3x3] -> ReLU, concatenated."""

  squeeze_planes: int
  expand1x1_planes: int
  expand3x3_planes: int
  dtype: Any = jnp.float32
  activation: Callable = nn.relu

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(Conv, kernel_init=_conv_init,
                             dtype=self.dtype)
    x = self.activation(conv(self.squeeze_planes, (1, 1), name='squeeze')(x))
    expand1x1 = conv(self.expand1x1_planes, (1, 1), name='expand1x1')(x)
    expand3x3 = conv(self.expand3x3_planes, (3, 3), padding=((1, 1), (1, 1)),
                     name='expand3x3')(x)
    return jnp.concatenate([self.activation(expand1x1),
                            self.activation(expand3x3)], axis=-1)


class SqueezeNet(TupleFields):
  """Returns class logits; see the module docstring."""

  tuple_fields = ('layers',)

  layers: Sequence[Any] = V1_0  # V1_0 or V1_1.
  stem_features: int = 96
  stem_kernel: int = 7
  num_classes: int = 1000
  dropout_rate: float = 0.5  # Before the classifier conv.
  small_input: bool = False  # 3x3 stride-1 padded stem, no first max pool.
  activation: str = 'relu'  # Stem and Fires; the head keeps its ReLU.
  dtype: Any = jnp.float32  # Compute dtype; parameters stay float32.

  @nn.compact
  def __call__(self, x, train: bool = False):
    activation = activation_fn(self.activation)
    x = x.astype(self.dtype)
    if self.small_input:
      kernel, stride, padding = 3, 1, ((1, 1), (1, 1))
    else:
      kernel, stride, padding = self.stem_kernel, 2, 'VALID'
    x = Conv(self.stem_features, (kernel, kernel), (stride, stride),
             padding=padding, kernel_init=_conv_init, dtype=self.dtype,
             name='features_0')(x)
    x = activation(x)
    for i, layer in enumerate(self.layers):
      if layer == 'M':
        if not (self.small_input and i == 0):  # i == 0: the first pool.
          x = max_pool_ceil(x)
      else:
        x = Fire(*layer, dtype=self.dtype, activation=activation,
                 name=f'features_{i + 2}')(x)

    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    x = Conv(self.num_classes, (1, 1),
             kernel_init=nn.initializers.normal(0.01), dtype=self.dtype,
             name='classifier_1')(x)
    x = jnp.mean(nn.relu(x), axis=(1, 2))
    return x.astype(jnp.float32)


SqueezeNet1_0 = functools.partial(SqueezeNet, layers=V1_0, stem_features=96,
                                  stem_kernel=7)
SqueezeNet1_1 = functools.partial(SqueezeNet, layers=V1_1, stem_features=64,
                                  stem_kernel=3)

MODELS = {
    'squeezenet1_0': (SqueezeNet1_0, (224, 224, 3)),
    'squeezenet1_1': (SqueezeNet1_1, (224, 224, 3)),
}

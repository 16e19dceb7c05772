"""VGG (Simonyan & Zisserman 2014), configurations A, B, D and E.

Follows torchvision's `vgg.py`: 3x3 convs with padding 1 and ReLU (with
BatchNorm between conv and ReLU in the `_bn` presets), 2x2 stride-2 max
pools, AdaptiveAvgPool2d((7, 7)), then 25088 -> 4096, ReLU, dropout 0.5,
4096 -> 4096, ReLU, dropout 0.5, 4096 -> classes. Init as torchvision:
kaiming normal (fan_out) convs, N(0, 0.01) dense kernels, zero biases.
Parameters at 1000 classes, equal to torchvision's:

  vgg11 132,863,336   vgg11_bn 132,868,840
  vgg13 133,047,848   vgg13_bn 133,053,736
  vgg16 138,357,544   vgg16_bn 138,365,992
  vgg19 143,667,240   vgg19_bn 143,678,248

`small_input=True` is the CIFAR VGG of kuangliu/pytorch-cifar: the conv
stack is unchanged except that its last max pool takes the maximum over the
whole remaining map (2x2 at 32x32 input, the same as the 2x2 pool there;
1x1 at 28x28, where a 2x2 pool would leave nothing), giving 512 features;
the adaptive pool and the 4096-4096 MLP are replaced by one Dense
512 -> classes (named `classifier_6`, torchvision's last layer), so there
is no dropout. vgg11 with small_input has 9,225,610 parameters at 10
classes (32x32x3 input).

Knobs beyond the presets: `layers` (the depth: a torchvision cfg, a list
from a config works too), `use_batchnorm`, `activation` (a name of
`layers.ACTIVATIONS`, for every ReLU) and `width_multiplier` (scales every
conv's maps, rounded, at least 1; the 4096-unit dense layers stay).

Layers are named after torchvision's state_dict paths with '.' as '_': the
convs and BatchNorms are `features_<index in torchvision's Sequential>`
(vgg11: features_0, features_3, ...; vgg11_bn: features_0 and features_1,
features_4 and features_5, ...), the dense layers `classifier_0`,
`classifier_3` and `classifier_6`. The 7x7x512 maps are flattened in
PyTorch's (C, H, W) order, so torchvision's weights load with plain
transposes.
"""

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from cnnzoo.models import pooling
from cnnzoo.models.conv import Conv
from cnnzoo.models.layers import (activation_fn, adaptive_avg_pool,
                                  flatten_chw, scaled_width, TupleFields)

# torchvision's cfgs: conv output channels, 'M' for a max pool.
CFG_A = (64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M')
CFG_B = (64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512,
         'M')
CFG_D = (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M',
         512, 512, 512, 'M')
CFG_E = (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512,
         512, 'M', 512, 512, 512, 512, 'M')

_conv_init = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')
_dense_init = nn.initializers.normal(0.01)


class VGG(TupleFields):
  """Returns class logits; see the module docstring."""

  tuple_fields = ('layers',)

  layers: Sequence[Any] = CFG_A  # CFG_A, CFG_B, CFG_D or CFG_E.
  use_batchnorm: bool = False  # BatchNorm after every conv (the _bn presets).
  num_classes: int = 1000
  dropout_rate: float = 0.5  # After each hidden dense layer.
  small_input: bool = False  # Global last pool, one Dense 512 -> classes.
  activation: str = 'relu'  # After each conv and hidden dense layer.
  width_multiplier: float = 1.0  # Scales the conv maps; not the 4096 units.
  dtype: Any = jnp.float32  # Compute dtype; parameters stay float32.

  @nn.compact
  def __call__(self, x, train: bool = False):
    activation = activation_fn(self.activation)
    x = x.astype(self.dtype)
    index = 0  # Position in torchvision's `features` Sequential.
    for i, layer in enumerate(self.layers):
      if layer == 'M':
        if self.small_input and i == len(self.layers) - 1:
          x = jnp.max(x, axis=(1, 2), keepdims=True)
        else:
          x = pooling.max_pool(x, (2, 2), strides=(2, 2))
        index += 1
        continue
      x = Conv(scaled_width(layer, self.width_multiplier), (3, 3),
               padding=((1, 1), (1, 1)), kernel_init=_conv_init,
               dtype=self.dtype, name=f'features_{index}')(x)
      if self.use_batchnorm:
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                         epsilon=1e-5, dtype=self.dtype,
                         name=f'features_{index + 1}')(x)
      x = activation(x)
      index += 3 if self.use_batchnorm else 2

    dense = functools.partial(nn.Dense, kernel_init=_dense_init,
                              dtype=self.dtype)
    if self.small_input:
      x = x.reshape((x.shape[0], -1))  # 1x1x512.
    else:
      x = flatten_chw(adaptive_avg_pool(x, (7, 7)))
      for index in (0, 3):
        x = activation(dense(4096, name=f'classifier_{index}')(x))
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    x = dense(self.num_classes, name='classifier_6')(x)
    return x.astype(jnp.float32)


VGG11 = functools.partial(VGG, layers=CFG_A)
VGG13 = functools.partial(VGG, layers=CFG_B)
VGG16 = functools.partial(VGG, layers=CFG_D)
VGG19 = functools.partial(VGG, layers=CFG_E)
VGG11BN = functools.partial(VGG, layers=CFG_A, use_batchnorm=True)
VGG13BN = functools.partial(VGG, layers=CFG_B, use_batchnorm=True)
VGG16BN = functools.partial(VGG, layers=CFG_D, use_batchnorm=True)
VGG19BN = functools.partial(VGG, layers=CFG_E, use_batchnorm=True)

MODELS = {
    'vgg11': (VGG11, (224, 224, 3)),
    'vgg13': (VGG13, (224, 224, 3)),
    'vgg16': (VGG16, (224, 224, 3)),
    'vgg19': (VGG19, (224, 224, 3)),
    'vgg11_bn': (VGG11BN, (224, 224, 3)),
    'vgg13_bn': (VGG13BN, (224, 224, 3)),
    'vgg16_bn': (VGG16BN, (224, 224, 3)),
    'vgg19_bn': (VGG19BN, (224, 224, 3)),
}

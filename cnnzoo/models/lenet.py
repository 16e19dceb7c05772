"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998), modern and as published.

`lenet5`: the paper's layer sizes (conv 6@5x5 -> pool -> conv 16@5x5 -> pool
-> 120 -> 84 -> classes) with today's ReLU and max-pooling: 61,706 parameters
at 10 classes. Its knobs: `activation` (any name of layers.ACTIVATIONS),
`width_multiplier` (scales the 6, 16, 120 and 84 maps and units, rounded,
at least 1), `use_batchnorm` and `dropout_rate`.

`lenet5_1998`: as published (Section II.B and Appendix A of the paper):
  - every layer squashes with the scaled tanh 1.7159 * tanh(2/3 * a);
  - S2 and S4 subsample: the sum of each 2x2 block times a trainable
    per-map coefficient plus a trainable per-map bias;
  - C3 connects its 16 maps to subsets of S2's 6 maps (the paper's Table I);
  - C5 is a 5x5 convolution to 120 maps, F6 has 84 units;
  - the output layer is Euclidean RBF units: logit_i = -||x - c_i||^2.
    The paper's centers are hand-drawn 7x12 bitmaps of the characters; we
    use a documented stand-in, fixed +-1 codes drawn from PRNGKey(1998),
    kept fixed as in the paper (so they are no parameters), and train with
    softmax cross-entropy on these logits instead of the paper's MAP loss.
  It has no knobs: its squashing function and RBF outputs are the design.
  Trainable parameters: 156 + 12 + 1,516 + 32 + 48,120 + 10,164 = 60,000,
  the paper's "60,000". Inputs smaller than 32x32 (MNIST's 28x28) are
  zero-padded to 32x32, as the paper did with its images.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from cnnzoo.models import layers, pooling
from cnnzoo.models.conv import Conv


class LeNet5(nn.Module):
  """Returns class logits; softmax lives in the loss and in prediction."""

  num_classes: int = 10
  dropout_rate: float = 0.0  # Before each hidden dense layer; 0 as published.
  use_batchnorm: bool = False  # After each convolution.
  activation: str = 'relu'  # After each conv and hidden dense layer.
  width_multiplier: float = 1.0  # Scales the conv maps and hidden units.
  dtype: Any = jnp.float32  # Compute dtype; parameters stay float32.

  @nn.compact
  def __call__(self, x, train: bool = False):
    activation = layers.activation_fn(self.activation)

    def width(features):
      return layers.scaled_width(features, self.width_multiplier)

    x = x.astype(self.dtype)
    for features in (6, 16):
      x = Conv(width(features), (5, 5), padding='VALID', dtype=self.dtype)(x)
      if self.use_batchnorm:
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                         dtype=self.dtype)(x)
      x = activation(x)
      x = pooling.max_pool(x, (2, 2), strides=(2, 2))
    x = x.reshape((x.shape[0], -1))
    for features in (120, 84):
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
      x = activation(nn.Dense(width(features), dtype=self.dtype)(x))
    x = nn.Dense(self.num_classes, dtype=self.dtype)(x)
    return x.astype(jnp.float32)


def scaled_tanh(x):
  """The paper's squashing function, f(a) = A tanh(S a) (Appendix A)."""
  return 1.7159 * jnp.tanh(2 / 3 * x)


# Table I: the S2 maps each C3 map sees.
C3_CONNECTIONS = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5),
    (0, 1, 2, 5), (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class Subsample(nn.Module):
  """2x2 sum times a trainable coefficient plus a bias, per feature map."""

  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    channels = x.shape[-1]
    coefficient = self.param('coefficient', nn.initializers.ones, (channels,))
    bias = self.param('bias', nn.initializers.zeros, (channels,))
    summed = 4 * nn.avg_pool(x, (2, 2), strides=(2, 2))
    return summed * coefficient.astype(self.dtype) + bias.astype(self.dtype)


class LeNet5_1998(nn.Module):  # pylint: disable=invalid-name
  """LeNet-5 as published; see the module docstring."""

  num_classes: int = 10
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train  # No dropout or BatchNorm in the 1998 network.
    x = x.astype(self.dtype)
    pad_h, pad_w = max(32 - x.shape[1], 0), max(32 - x.shape[2], 0)
    x = jnp.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2),
                    (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    conv = lambda features, name: Conv(  # noqa: E731
        features, (5, 5), padding='VALID', dtype=self.dtype, name=name)
    x = scaled_tanh(conv(6, 'C1')(x))
    x = scaled_tanh(Subsample(self.dtype, name='S2')(x))
    x = jnp.concatenate(
        [conv(1, f'C3_{i}')(x[..., list(maps)])
         for i, maps in enumerate(C3_CONNECTIONS)], axis=-1)
    x = scaled_tanh(x)
    x = scaled_tanh(Subsample(self.dtype, name='S4')(x))
    x = scaled_tanh(conv(120, 'C5')(x))
    x = x.reshape((x.shape[0], -1))
    x = scaled_tanh(nn.Dense(84, dtype=self.dtype, name='F6')(x))
    centers = jnp.where(jax.random.bernoulli(
        jax.random.PRNGKey(1998), 0.5, (self.num_classes, x.shape[-1])),
                        1.0, -1.0).astype(self.dtype)
    distances = jnp.sum((x[:, None, :] - centers[None]) ** 2, axis=-1)
    return (-distances).astype(jnp.float32)


MODELS = {
    'lenet5': (LeNet5, (32, 32, 1)),
    'lenet5_1998': (LeNet5_1998, (32, 32, 1)),
}

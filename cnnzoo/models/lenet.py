"""LeNet-5 (LeCun et al. 1998), in its modern form: ReLU and max-pooling.

Input 32x32x1 NHWC. conv 6@5x5 -> pool -> conv 16@5x5 -> pool -> 120 -> 84 ->
classes: 61,706 parameters at 10 classes, as in the paper's layer sizes.
"""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp


class LeNet5(nn.Module):
  """Returns class logits; softmax lives in the loss and in prediction."""

  num_classes: int = 10
  dropout_rate: float = 0.0  # Before each hidden dense layer; 0 as published.
  use_batchnorm: bool = False  # After each convolution.
  dtype: Any = jnp.float32  # Compute dtype; parameters stay float32.

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = x.astype(self.dtype)
    for features in (6, 16):
      x = nn.Conv(features, (5, 5), padding='VALID', dtype=self.dtype)(x)
      if self.use_batchnorm:
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                         dtype=self.dtype)(x)
      x = nn.relu(x)
      x = nn.max_pool(x, (2, 2), strides=(2, 2))
    x = x.reshape((x.shape[0], -1))
    for features in (120, 84):
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
      x = nn.relu(nn.Dense(features, dtype=self.dtype)(x))
    x = nn.Dense(self.num_classes, dtype=self.dtype)(x)
    return x.astype(jnp.float32)


MODELS = {
    'lenet5': (LeNet5, (32, 32, 1)),
}

"""Converted torchvision weights give torchvision's logits (needs torch).

Runs where torch and torchvision are importable (`pip install torch==2.14.1
torchvision==0.29.1` on the development machine); skipped elsewhere, CI
included. Running statistics are randomized so that BatchNorm is checked too.
"""

import numpy as np
import pytest

from cnnzoo import models
from cnnzoo.runs import weights

torch = pytest.importorskip('torch', reason='torch is not installed')
torchvision = pytest.importorskip('torchvision',
                                  reason='torchvision is not installed')

SHARED = [name for name in models.available()
          if hasattr(torchvision.models, name)]
pytestmark = pytest.mark.slow


@pytest.mark.parametrize('name', SHARED)
def test_logits_match_torchvision(name):
  torch.manual_seed(0)
  reference = getattr(torchvision.models, name)(weights=None).eval()
  for module in reference.modules():
    if isinstance(module, torch.nn.BatchNorm2d):
      module.running_mean.normal_(0.0, 0.1)
      module.running_var.uniform_(0.5, 1.5)
  state_dict = {k: v.numpy() for k, v in reference.state_dict().items()}
  variables = weights.from_torchvision(name, state_dict)

  height, width, _ = models.input_shape(name)
  images = np.random.default_rng(0).normal(
      size=(1, height, width, 3)).astype(np.float32)
  with torch.no_grad():
    expected = reference(torch.from_numpy(images.transpose(0, 3, 1, 2)))
  got = np.asarray(models.create(name, num_classes=1000).apply(variables,
                                                               images))
  error = np.linalg.norm(got - expected.numpy()) / np.linalg.norm(expected)
  assert error < 1e-4, f'{name}: relative error {error:.2e}'

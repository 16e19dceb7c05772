"""A fast ResNet-18 recipe for CIFAR-10, after Page's "How to train your
ResNet" (DAWNBench 2018: 94% in 24 epochs): batch 512, SGD with Nesterov
momentum 0.9, weight decay 5e-4, a one-cycle learning rate peaking at 0.4,
label smoothing 0.2, padded crops and flips. Page's network was a smaller
ResNet; this runs torchvision's ResNet-18 with the CIFAR stem. Not measured
here: CIFAR-10 cannot be downloaded on the development machine.

  python -m cnnzoo.main --config configs/resnet18_cifar10_fast.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.cifar10('resnet18')
  config.num_epochs = 24
  config.batch_size = 512
  config.optimizer.update(learning_rate=0.4, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
  config.schedule.update(name='onecycle', warmup_epochs=0.0, pct_start=0.25)
  config.label_smoothing = 0.2
  return recipes.shorten_for_smoke(config, arg, __file__)

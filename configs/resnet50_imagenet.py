"""ResNet-50 on ImageNet, the recipe of flax's examples/imagenet (76.3-76.7%
top-1 after 100 epochs): batch 1024, learning rate 0.1 per 256 images, 5
warm-up epochs, cosine decay, weight decay 1e-4.

  python -m cnnzoo.main --config configs/resnet50_imagenet.py
"""

from cnnzoo import recipes


def get_config(arg: str | None = None):
  config = recipes.imagenet('resnet50')
  config.num_epochs = 100
  config.batch_size = 1024
  config.eval_batch_size = 1024
  config.optimizer.learning_rate = 0.1 * 1024 / 256
  config.schedule.name = 'cosine'
  config.schedule.warmup_epochs = 5.0
  return recipes.shorten_for_smoke(config, arg)

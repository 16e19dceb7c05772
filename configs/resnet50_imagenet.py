"""ResNet-50 on ImageNet, the recipe of flax's examples/imagenet (76.3-76.7%
top-1 after 100 epochs): batch 1024, learning rate 0.1 per 256 images
(Goyal et al.'s linear scaling), 5 warm-up epochs, cosine decay, weight
decay 1e-4. He et al. (2016) used batch 256 with the rate divided by 10 at
epochs 30, 60 and 80: `recipes.imagenet`'s schedule, and `:paper` here.

  python -m cnnzoo.main --config configs/resnet50_imagenet.py
  python -m cnnzoo.main --config configs/resnet50_imagenet.py:paper
"""

from cnnzoo.config import recipes


_PAPER = {'paper': "He et al.'s batch 256 and step decay"}


def get_config(arg: str | None = None):
  arg = recipes.parse_arg(arg, __file__, _PAPER)
  config = recipes.imagenet('resnet50')
  if arg.variant != 'paper':
    config.num_epochs = 100
    config.batch_size = 1024
    config.eval_batch_size = 1024
    config.optimizer.scale_by_batch_size = True
    config.schedule.name = 'cosine'
    config.schedule.warmup_epochs = 5.0
  return recipes.apply_smoke(config, arg)

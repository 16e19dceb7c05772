"""ResNet-50 fine-tuned on tf_flowers from ImageNet weights: the reference
transfer-learning project (>= 85% test accuracy asked).

Convert torchvision's ImageNet weights once (needs torch, or use the
.safetensors file from Hugging Face, which does not):
  python -m cnnzoo.convert --model resnet50 --source resnet50-11ad3fa6.pth --out weights/resnet50
then
  python -m cnnzoo.main --config configs/resnet50_flowers.py
The fc layer is re-initialised for the 5 flower classes.
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.flowers('resnet50')
  config.init_from = 'weights/resnet50'
  return recipes.shorten_for_smoke(config, arg, __file__)

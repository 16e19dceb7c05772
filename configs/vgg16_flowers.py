"""VGG-16 fine-tuned on tf_flowers from ImageNet weights: the reference
transfer-learning project (>= 85% test accuracy asked).

Convert torchvision's ImageNet weights once (needs torch, or use the
.safetensors file from Hugging Face, which does not):
  python -m cnnzoo.convert --model vgg16 --source vgg16-397923af.pth --out weights/vgg16
then
  python -m cnnzoo.main --config configs/vgg16_flowers.py
The classifier's last layer is re-initialised for the 5 flower classes.
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.flowers('vgg16')
  config.init_from = 'weights/vgg16'
  return recipes.shorten_for_smoke(config, arg, __file__)

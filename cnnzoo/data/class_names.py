"""Class names where TFDS stores only numbers, in TFDS's label order.

Reports and predictions print these words, not label indices.
"""

import importlib.resources
import string

DIGITS = tuple(string.digits)

# EMNIST balanced and bymerge merge the 15 lowercase letters that look like
# their capitals (Cohen et al. 2017, Table II): 47 classes.
EMNIST_BALANCED = DIGITS + tuple(string.ascii_uppercase) + tuple('abdefghnqrt')
EMNIST_BYCLASS = (DIGITS + tuple(string.ascii_uppercase)
                  + tuple(string.ascii_lowercase))
# TFDS's letters labels run 1..26 (a/A .. z/Z); 0 and 27..36 never occur.
EMNIST_LETTERS = (('unused',) + tuple(f'{c}/{c.upper()}'
                                      for c in string.ascii_lowercase)
                  + ('unused',) * 10)

CIFAR10 = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
           'horse', 'ship', 'truck')

CIFAR100 = tuple("""
apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy
bridge bus butterfly camel can castle caterpillar cattle chair chimpanzee clock
cloud cockroach couch crab crocodile cup dinosaur dolphin elephant flatfish
forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion
lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree
orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy
porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk
skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table
tank telephone television tiger tractor train trout tulip turtle wardrobe whale
willow_tree wolf woman worm
""".split())

# Imagenette's ten ImageNet synsets (n01440764, n02102040, ...), in order.
IMAGENETTE = ('tench', 'English springer', 'cassette player', 'chain saw',
              'church', 'French horn', 'garbage truck', 'gas pump',
              'golf ball', 'parachute')

# ImageNet's 1,000, one a line in the order of its labels (sorted WordNet
# ids: TFDS's imagenet2012 labels and torchvision's weights). The list is
# torchvision's (torchvision/models/_meta.py, BSD-3-Clause).
IMAGENET = tuple(importlib.resources.files(__package__)
                 .joinpath('imagenet_classes.txt').read_text().splitlines())

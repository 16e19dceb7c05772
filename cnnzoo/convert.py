"""`python -m cnnzoo.convert`: torchvision weights to a cnnzoo checkpoint.

  python -m cnnzoo.convert --model resnet50 --source resnet50.safetensors --out weights/resnet50
  python -m cnnzoo.convert --model resnet50 --source resnet50-0676ba61.pth --out weights/resnet50

Then start a run from it with `--config.init_from=weights/resnet50`; a head
for another number of classes is initialized afresh. `.safetensors` files
need no PyTorch; `.pth` files need it and are read with
`torch.load(weights_only=True)`, which refuses pickled code.
"""

from absl import flags

from cnnzoo.config import command_line
from cnnzoo.models import torch_weights
from cnnzoo.runs import weights


def _define_flags(flag_values: flags.FlagValues) -> None:
  define = dict(flag_values=flag_values)
  flags.DEFINE_string('model', None, 'The cnnzoo model the weights are of.',
                      **define)
  flags.DEFINE_string('source', None, 'The torchvision weights: a '
                      '.safetensors or .pth file.', **define)
  flags.DEFINE_string('out', None, 'The folder to write the checkpoint to.',
                      **define)


def _convert(arguments: command_line.Arguments) -> None:
  model, source, out = (arguments.flags.model, arguments.flags.source,
                        arguments.flags.out)
  variables = weights.from_torchvision(
      model, torch_weights.read_state_dict(source))
  weights.save(out, model, variables, source)
  print(f'Wrote {model} weights to {out}; train from them with '
        f'--config.init_from={out}')


COMMAND_LINE = command_line.CommandLine(
    'cnnzoo.convert', __doc__, _define_flags, _convert,
    required=('model', 'source', 'out'), stray_flag='source')


if __name__ == '__main__':
  COMMAND_LINE.main()

"""The typed pieces a run's config turns into, read from the ConfigDict once.

`cnnzoo.runs.train` builds them when a run starts; the epoch loop, the
resume logic and the callbacks take these, not the config.
"""

from typing import Iterator, NamedTuple

import jax

from cnnzoo.data import catalog, pipeline

ROLES = ('train', 'validation', 'test')  # A run's three splits.


class DataPlan(NamedTuple):
  """The run's splits and how batches are read from them."""
  splits: dict[str, pipeline.Split]  # By role: train, validation, test.
  preprocessing: pipeline.Preprocessing
  step_batch_size: int  # Global images of one train step.
  eval_batch_size: int  # Global images of one evaluation step.
  seed: int  # Orders the training data.
  num_workers: int  # grain worker processes.
  prefetch: int  # Batches each worker keeps ready.
  read_threads: int  # Per process.

  @property
  def class_names(self) -> tuple[str, ...]:
    return self.splits['train'].class_names

  def train_batches(self, start_batch: int = 0) -> Iterator[dict]:
    """This process's part of each training batch from global batch
    `start_batch` on; a grain iterator whose position checkpoints keep."""
    return iter(pipeline.train_loader(
        self.splits['train'], self.preprocessing, self.step_batch_size,
        self.seed, self.num_workers, self.prefetch, self.read_threads,
        start_batch))

  def eval_batches(self, role: str) -> Iterator[dict]:
    """Padded, masked batches of split `role`, each example once."""
    return pipeline.eval_batches(self.splits[role], self.preprocessing,
                                 self.eval_batch_size, self.num_workers,
                                 self.read_threads)

  def layout(self) -> dict:
    """What grain's saved data position depends on."""
    return data_layout(self.num_workers)


class EpochPlan(NamedTuple):
  """How long the run trains, in what steps, and how often it looks."""
  num_epochs: int
  steps_per_epoch: int  # Optimizer updates.
  accumulation_steps: int  # Train steps (batches) per update.
  batch_size: int  # Global images per update.
  log_every_steps: int  # Progress-bar refresh and NaN check.
  learning_rate: float  # Named in the advice after a non-finite loss.

  @property
  def batches_per_epoch(self) -> int:
    return self.steps_per_epoch * self.accumulation_steps

  def finished(self, progress: dict) -> bool:
    return finished(progress, self.num_epochs)


def data_plan(config, input_shape: tuple[int, int, int]) -> DataPlan:
  """Opens the config's three splits; raises the dataset's errors."""
  options = catalog.Options.from_config(config.dataset)
  dataset = config.dataset
  splits = {role: pipeline.open_split(dataset.name, dataset[f'{role}_split'],
                                      options) for role in ROLES}
  num_classes = len(splits['train'].class_names)
  return DataPlan(
      splits, pipeline.preprocessing_for(config, input_shape, num_classes),
      step_batch_size(config), eval_batch_size(config), config.seed,
      dataset.num_workers, dataset.prefetch, dataset.read_threads)


def epoch_plan(config, num_train_examples: int) -> EpochPlan:
  return EpochPlan(
      config.num_epochs,
      pipeline.steps_per_epoch(num_train_examples, config.batch_size),
      config.optimizer.accumulation_steps, config.batch_size,
      config.log_every_steps, config.optimizer.learning_rate)


def step_batch_size(config) -> int:
  """The global batch of one train step: batch_size, or its share of an
  update accumulated over several steps."""
  return config.batch_size // config.optimizer.accumulation_steps


def eval_batch_size(config) -> int:
  return config.eval_batch_size or config.batch_size


def finished(progress: dict, num_epochs: int) -> bool:
  """Whether a run with this progress record has nothing left to train."""
  return progress['stopped_early'] or progress['epoch'] >= num_epochs


def data_layout(num_workers: int) -> dict:
  """What grain's saved iterator position depends on."""
  return {'num_workers': num_workers, 'num_processes': jax.process_count()}

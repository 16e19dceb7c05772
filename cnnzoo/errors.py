"""Errors a user can act on: `cnnzoo.main` prints their message, no traceback."""


class UserError(Exception):
  """A problem with the run's input (config, dataset, workdir) or its course.

  The message is one paragraph that says what was wrong and what to do.
  """


class ConfigError(UserError):
  """The config has an unknown key or a value cnnzoo cannot use."""


def choose(choices: dict, name: str, key: str,
           error: type[UserError] = ConfigError):
  """choices[name], or `error` saying that `name` is unknown and which names
  the config key `key` takes."""
  if name not in choices:
    raise error(f'Unknown {key.split(".")[0]} {name!r}. Set {key} to one '
                f'of: {", ".join(sorted(choices))}.')
  return choices[name]


class DatasetError(UserError):
  """The dataset is unknown, missing, or cannot be prepared."""


class WorkdirError(UserError):
  """The workdir holds a run that this config must not continue."""


class DamagedCheckpointError(WorkdirError):
  """A checkpoint does not restore, or its arrays differ from what was saved."""


class DamagedFileError(WorkdirError):
  """One of a run's files (summary.json, config.json, ...) is not readable."""


class WorkdirBusyError(WorkdirError):
  """Another training run holds the workdir."""


class NonFiniteLossError(UserError):
  """The training loss became NaN or infinite."""


class DistributedError(UserError):
  """The processes of a multi-process run could not meet."""


class Preempted(Exception):
  """SIGTERM stopped training; the run was saved and resumes when re-run.

  Not a UserError: nothing was wrong, and the exit status differs:
  75 (EX_TEMPFAIL, "try again") after SIGTERM, 130 after Ctrl-C.
  """

  def __init__(self, message: str, exit_code: int):
    super().__init__(message)
    self.exit_code = exit_code

"""Exceptions that name the problem (which layer, which shape, which file).

Each is also a standard exception type (ValueError, RuntimeError, ...) so that
generic ``except ValueError`` code keeps working.
"""


class MLPError(Exception):
    """Base class of mlp's own errors; the CLI prints these as one line."""


class DataError(MLPError, ValueError):
    """A data file is missing, corrupt (checksum) or malformed (IDX header, counts); names the file."""


class DownloadError(DataError):
    """A data set could not be downloaded; says which files are missing, where to put them and MLP_DATA_DIR."""


class CheckpointError(MLPError, ValueError):
    """A checkpoint file is unreadable, not safetensors, or disagrees with its own metadata; names the file."""


class DivergenceError(MLPError, FloatingPointError):
    """The training loss became NaN or Inf; names the epoch and step. The model keeps its last finite weights."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped :func:`mlp.fit` between two steps.

    The model and optimizer are consistent: exactly ``step`` steps of epoch ``epoch``
    (0-based) are done, so a checkpoint saved now resumes to the same result.
    A KeyboardInterrupt, so ``except Exception`` does not swallow it.
    """

    def __init__(self, epoch: int, step: int, history=None):
        super().__init__(f"training interrupted at epoch {epoch + 1}, after step {step}")
        self.epoch, self.step, self.history = epoch, step, history

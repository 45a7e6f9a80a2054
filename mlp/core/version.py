"""The package version, in one place (metadata, checkpoints and ``mlp --version`` read it)."""

__version__ = "0.1.0"

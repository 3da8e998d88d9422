"""oaedu: a Jupyter-first course on object-aware inductive biases for patch-based vision models."""

__version__ = "0.1.0"

from . import check, checkpoints, config, notebook, utils  # noqa: E402  (the modules every notebook uses)

__all__ = ["__version__", "check", "checkpoints", "config", "notebook", "utils"]

"""Reference implementations of every processing stage (methods are peers of user plugins).

Look a method up with :func:`get`, e.g. ``reference_impls.get("recon", "zero-filled")``.
"""

from reference_impls.registry import available, get, register

# Importing the stage packages runs their @register decorators (the registry imports neither).
from reference_impls import mapping, recon, segmentation  # noqa: E402,F401  isort: skip

__all__ = ["get", "available", "register"]

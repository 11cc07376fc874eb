"""Reference implementations of every processing stage (methods are peers of user plugins).

Look a method up with :func:`get`, e.g. ``reference_impls.get("recon", "zero-filled")``.
"""

from reference_impls.registry import available, get, register

__all__ = ["get", "available", "register"]

"""Reference reconstruction methods: ``method(case) -> complex images (slice, frame, y, x)``."""

from reference_impls.recon.zero_filled import ZeroFilled

__all__ = ["ZeroFilled"]

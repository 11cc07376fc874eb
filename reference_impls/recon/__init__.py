"""Reference reconstruction methods: ``method(case) -> complex images (slice, frame, y, x)``."""

from reference_impls.recon.cg_sense import CGSense, cg_sense, conjugate_gradient
from reference_impls.recon.coil_maps import espirit_maps, estimate_coil_maps, lowres_maps
from reference_impls.recon.kt_cs import KtCS
from reference_impls.recon.lowrank_sparse import LowRankSparse
from reference_impls.recon.unrolled import Unrolled, UnrolledSSDU
from reference_impls.recon.zero_filled import ZeroFilled

__all__ = ["ZeroFilled", "CGSense", "KtCS", "LowRankSparse", "Unrolled", "UnrolledSSDU", "cg_sense", "conjugate_gradient", "espirit_maps",
           "lowres_maps", "estimate_coil_maps"]

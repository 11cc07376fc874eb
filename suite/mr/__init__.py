"""Shared MR operators: FFT, coil combination, SENSE and sampling masks (torch, CPU/CUDA), and
the intra-op thread policy of the solvers built on them (:mod:`suite.mr.threads`)."""

from suite.mr.coils import combine_coils, rss
from suite.mr.compression import coil_compression_matrix, compress_coils
from suite.mr.fft import centring_signs, fft2c, ifft2c
from suite.mr.sampling import (
    PATTERNS,
    Sampling,
    equispaced_mask,
    kt_gaussian_mask,
    kt_interleaved_mask,
    make_mask,
    variable_density_mask,
)
from suite.mr.sense import SenseOperator, sense_adjoint, sense_forward
from suite.mr.threads import (default_threads, intra_op_threads, native_thread_limits,
                              set_default_threads)

__all__ = [
    "fft2c", "ifft2c", "rss", "combine_coils", "SenseOperator", "sense_forward",
    "sense_adjoint", "Sampling", "PATTERNS", "make_mask", "equispaced_mask",
    "variable_density_mask", "kt_interleaved_mask", "kt_gaussian_mask", "centring_signs",
    "intra_op_threads", "default_threads", "set_default_threads", "native_thread_limits",
    "coil_compression_matrix", "compress_coils",
]

"""Shared MR operators: FFT, coil combination, SENSE and sampling masks (torch, CPU/CUDA)."""

from suite.mr.coils import combine_coils, rss
from suite.mr.compression import coil_compression_matrix, compress_coils
from suite.mr.fft import fft2c, ifft2c
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

__all__ = [
    "fft2c", "ifft2c", "rss", "combine_coils", "SenseOperator", "sense_forward",
    "sense_adjoint", "Sampling", "PATTERNS", "make_mask", "equispaced_mask",
    "variable_density_mask", "kt_interleaved_mask", "kt_gaussian_mask",
    "coil_compression_matrix", "compress_coils",
]

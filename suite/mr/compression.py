"""Coil compression: multi-coil k-space reduced to a few virtual coils (one for single-coil
methods).

For one slice with k-space ``y`` ``(frame, coil, ky, kx)``, the coil covariance over every
sample, ``C = Y Yᴴ`` with ``Y`` the ``(coil, samples)`` matrix, has eigenvectors ``U`` (the left
singular vectors of ``Y``, by decreasing singular value). The ``n`` virtual coils are
``Uₙᴴ y``: the orthonormal combinations that keep the most signal energy (Buehrer et al.,
MRM 2007; Huang et al., MRI 2008, "software channel compression"). The compression is linear
and per slice, so it applies to undersampled k-space exactly as to fully sampled k-space, and
with ``n`` = the number of coils it is a unitary change of basis (energy and RSS preserved).
One virtual coil is a single-coil acquisition of the same object ("emulated single coil",
Tygert & Zbontar, arXiv:2004.06688, used for fastMRI's single-coil track).
"""

from __future__ import annotations

import numpy as np

__all__ = ["coil_compression_matrix", "compress_coils"]


def coil_compression_matrix(kspace: np.ndarray, n_virtual: int) -> np.ndarray:
    """The compression matrix ``Uₙᴴ`` ``(n_virtual, coil)`` of one slice's k-space.

    Parameters
    ----------
    kspace : ndarray, complex, ``(frame, coil, ky, kx)``
        The slice's fully sampled (or acquired) k-space; every sample enters the covariance.
    n_virtual : int
        Virtual coils, 1 ≤ n ≤ coils.

    Returns
    -------
    ndarray, complex128, ``(n_virtual, coil)`` with orthonormal rows. The sign/phase of each row
    is fixed so that its largest-magnitude entry is real and positive (deterministic output).

    Examples
    --------
    >>> y = np.zeros((1, 2, 4, 4), complex); y[0, 0] = 1; y[0, 1] = 1j
    >>> m = coil_compression_matrix(y, 1)
    >>> np.round(np.abs(m), 6).tolist()
    [[0.707107, 0.707107]]
    """
    k = np.asarray(kspace)
    if k.ndim != 4:
        raise ValueError(f"coil_compression_matrix: `kspace` must be (frame, coil, ky, kx); got "
                         f"shape {k.shape}")
    nc = k.shape[1]
    if not 1 <= int(n_virtual) <= nc:
        raise ValueError(f"coil_compression_matrix: `n_virtual` must be in [1, {nc}] (the "
                         f"coils of the data); got {n_virtual}")
    y = np.moveaxis(k, 1, 0).reshape(nc, -1).astype(np.complex128)
    cov = y @ y.conj().T
    w, v = np.linalg.eigh(cov)  # ascending
    u = v[:, ::-1][:, :int(n_virtual)]  # (coil, n)
    lead = u[np.argmax(np.abs(u), axis=0), np.arange(u.shape[1])]
    u = u * (np.abs(lead) / lead)[None, :]
    return u.conj().T


def compress_coils(kspace: np.ndarray, n_virtual: int,
                   matrices: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Compress ``kspace`` ``(slice, frame, coil, ky, kx)`` to ``n_virtual`` coils per slice.

    Parameters
    ----------
    kspace : ndarray, complex
    n_virtual : int
    matrices : ndarray ``(slice, n_virtual, coil)``, optional
        Compression matrices to apply (e.g. computed on the fully sampled data and applied to
        an undersampled copy); default: :func:`coil_compression_matrix` of each slice of
        ``kspace``.

    Returns
    -------
    (compressed, matrices)
        ``compressed`` complex64 ``(slice, frame, n_virtual, ky, kx)``; ``matrices`` as used.
    """
    k = np.asarray(kspace)
    if k.ndim != 5:
        raise ValueError(f"compress_coils: `kspace` must be (slice, frame, coil, ky, kx); got "
                         f"shape {k.shape}")
    if matrices is None:
        matrices = np.stack([coil_compression_matrix(k[s], n_virtual) for s in range(k.shape[0])])
    out = np.einsum("svc,sfcyx->sfvyx", matrices, k, optimize=True).astype(np.complex64)
    return out, matrices

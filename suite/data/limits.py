"""Input limits: how much data a file may declare before a reader reads or allocates it.

A header states shapes and types; a reader trusts them to allocate arrays. A damaged or
hostile header can ask for far more memory than the file could ever fill (a NIfTI header
declaring 30000³ voxels in 1 KB; an ISMRMRD header whose matrix and encoding limits ask for
24 GiB of k-space from a 9 MB file; a 195 KB MATLAB v5 file decompressing to 200 MB). Every
reader therefore checks the **declared** size from the header against these limits *before*
reading data (docs/input-safety.md lists where each reader checks):

==========================  ===========  ==================================================
limit                       default      meaning
==========================  ===========  ==================================================
``max_array_bytes``         16 GiB       largest array a file may declare (decoded bytes):
                                         a Case's k-space or images, one MATLAB variable,
                                         one NIfTI volume, one HDF5 dataset or chunk
``max_expansion``           1100         largest ratio of declared bytes to the file's size
                                         on disk; deflate (gzip, zlib: ``.nii.gz``,
                                         compressed v5 ``.mat``, HDF5 ``gzip``) cannot
                                         exceed 1032:1, so a larger ratio is a header that
                                         lies or a bomb
``expansion_floor_bytes``   64 MiB       arrays up to this size are never refused for their
                                         ratio (tiny files with fill values, masks)
``max_hdf5_links``          100 000      links an HDF5 file may hold (all are visited at
                                         open, :mod:`suite.data.hdf5_safe`)
``max_header_bytes``        16 MiB       largest header blob read whole (ISMRMRD XML)
==========================  ===========  ==================================================

Readers take ``limits=InputLimits(...)`` to raise or lower them (``suite.data.load(path,
limits=...)`` passes it to every reader); ``None`` means :data:`DEFAULT_LIMITS`. A refusal is
a :class:`~suite.data.errors.TooLargeError` naming the file, what was declared, the limit,
and how to raise it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from suite.data.errors import TooLargeError

__all__ = ["InputLimits", "DEFAULT_LIMITS", "MAX_ARRAY_BYTES", "MAX_EXPANSION",
           "EXPANSION_FLOOR_BYTES", "MAX_HDF5_LINKS", "MAX_HEADER_BYTES", "DEFLATE_MAX_RATIO",
           "resolve_limits", "check_declared", "format_bytes"]

#: Largest array a file may declare, bytes after decoding (16 GiB).
MAX_ARRAY_BYTES = 16 * 2**30
#: The largest compression ratio deflate can reach (RFC 1951: a 258-byte match per ~2 bits).
DEFLATE_MAX_RATIO = 1032
#: Largest ratio of declared bytes to file bytes (above :data:`DEFLATE_MAX_RATIO`).
MAX_EXPANSION = 1100.0
#: Arrays up to this size (64 MiB) are never refused for their ratio.
EXPANSION_FLOOR_BYTES = 64 * 2**20
#: Most links an HDF5 file may hold.
MAX_HDF5_LINKS = 100_000
#: Largest header blob read whole (16 MiB).
MAX_HEADER_BYTES = 16 * 2**20


@dataclass(frozen=True)
class InputLimits:
    """Size limits checked from headers before data are read (module docstring).

    Attributes
    ----------
    max_array_bytes : int
        Largest declared array, bytes after decoding.
    max_expansion : float
        Largest ratio of declared bytes to the file's size on disk (arrays above
        ``expansion_floor_bytes`` only).
    expansion_floor_bytes : int
        Arrays up to this many bytes are not ratio-checked.
    max_hdf5_links : int
        Most links in one HDF5 file.
    max_header_bytes : int
        Largest header blob (ISMRMRD XML) read whole.

    Examples
    --------
    >>> InputLimits(max_array_bytes=2**30).max_array_bytes
    1073741824
    """

    max_array_bytes: int = MAX_ARRAY_BYTES
    max_expansion: float = MAX_EXPANSION
    expansion_floor_bytes: int = EXPANSION_FLOOR_BYTES
    max_hdf5_links: int = MAX_HDF5_LINKS
    max_header_bytes: int = MAX_HEADER_BYTES

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not value > 0:
                raise ValueError(f"InputLimits: {name} must be positive; got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"arrays up to {format_bytes(self.max_array_bytes)} and at most "
                f"{self.max_expansion:g} x the file size (above "
                f"{format_bytes(self.expansion_floor_bytes)}); up to {self.max_hdf5_links} "
                f"HDF5 links; headers up to {format_bytes(self.max_header_bytes)}")


#: The limits readers use when the caller gives none.
DEFAULT_LIMITS = InputLimits()


def resolve_limits(limits: InputLimits | None) -> InputLimits:
    """``limits``, or :data:`DEFAULT_LIMITS` for ``None``.

    Raises
    ------
    TypeError
        ``limits`` is neither None nor an :class:`InputLimits`.
    """
    if limits is None:
        return DEFAULT_LIMITS
    if not isinstance(limits, InputLimits):
        raise TypeError(f"limits must be a suite.data.InputLimits; got {type(limits).__name__}")
    return limits


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units, e.g. ``"24.0 GiB"``.

    Examples
    --------
    >>> format_bytes(512), format_bytes(3 * 2**20), format_bytes(24 * 2**30)
    ('512 B', '3.0 MiB', '24.0 GiB')
    """
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover - the loop always returns


def check_declared(path, what: str, nbytes: int, limits: InputLimits | None, *,
                   file_bytes: int | None = None) -> None:
    """Refuse an array a header declares when it exceeds the limits.

    Parameters
    ----------
    path : path-like
        The file, for the message.
    what : str
        What the header declares, e.g. ``"k-space (slice, frame, coil, ky, kx) = (...)
        complex64"``.
    nbytes : int
        Declared size in bytes after decoding.
    limits : InputLimits or None
    file_bytes : int, optional
        Size of the file on disk; when given, the ratio ``nbytes / file_bytes`` is checked
        against ``max_expansion`` (arrays above ``expansion_floor_bytes`` only).

    Raises
    ------
    TooLargeError
        The declaration exceeds ``max_array_bytes`` or ``max_expansion``.
    """
    lim = resolve_limits(limits)
    nbytes = int(nbytes)
    if file_bytes is not None and nbytes > lim.expansion_floor_bytes and \
            nbytes > lim.max_expansion * max(int(file_bytes), 1):
        raise TooLargeError(
            path, f"the header declares {what}: {format_bytes(nbytes)} from a file of "
            f"{format_bytes(file_bytes)} ({nbytes / max(int(file_bytes), 1):.0f}-fold; no valid "
            f"file expands more than {lim.max_expansion:g}-fold), so the header is damaged or "
            "hostile", "check the file's header; if it is genuine, raise the limit with "
            "limits=InputLimits(max_expansion=...)")
    if nbytes > lim.max_array_bytes:
        raise TooLargeError(
            path, f"the header declares {what}: {format_bytes(nbytes)}, above the limit of "
            f"{format_bytes(lim.max_array_bytes)} per array",
            "if the file is genuine, raise it with limits=InputLimits(max_array_bytes=...)")

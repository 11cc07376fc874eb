"""Readers and writers: files → Case (ISMRMRD raw data, NIfTI images/labels, ACDC, M&Ms,
fastMRI volumes, CMRxRecon MATLAB v7.3 k-space).

Entry points: :func:`load` / :func:`iter_cases` (format sniffed from content),
:func:`inspect` (header summary), the writers :func:`write_ismrmrd`,
:func:`write_labels_nifti`, :func:`write_image_nifti`, and the dataset cards
(:func:`list_cards`, :func:`load_card`, :func:`verify`, :func:`write_manifest`).
Every reader failure is a :class:`CaseReadError` subclass naming the file, the problem and
the fix (STYLE R7); hostile inputs (HDF5 links out of the file, decompression bombs, headers
larger than their file) are refused before data are read, within :class:`InputLimits`.
Conventions: docs/datasets.md; input safety: docs/input-safety.md.
"""

from suite.data.acdc import read_acdc_patient
from suite.data.cards import (
    CardError,
    DatasetCard,
    VerifyReport,
    list_cards,
    load_card,
    verify,
    write_manifest,
)
from suite.data.cmrxrecon import (  # CMRxRecon 2023/2024/2025 (docs/recon-formats.md)
    CmrxReconSource,
    open_cmrxrecon,
    read_cmrxrecon,
)
from suite.data.cmrxrecon_submission import write_cmrxrecon_submission
from suite.data.errors import (
    CaseReadError,
    CorruptFileError,
    LayoutError,
    TooLargeError,
    UnexpectedReadError,
    UnknownFormatError,
    UnsafeFileError,
)
from suite.data.fastmri import (  # fastMRI volumes (docs/recon-formats.md)
    FastMRISource,
    open_fastmri,
    read_fastmri,
    write_fastmri_reconstruction,
)
from suite.data.hashing import sha256_file
from suite.data.inspect import inspect
from suite.data.ismrmrd_io import IsmrmrdSource, open_ismrmrd, read_ismrmrd, write_ismrmrd
from suite.data.limits import DEFAULT_LIMITS, InputLimits
from suite.data.loader import CaseIterator, ReadFailure, iter_cases, load, sniff
from suite.data.matv73 import open_mat, read_mat_variable, write_mat_v73
from suite.data.mnms import MNMS_TO_ACDC, read_mnms_case
from suite.data.nifti_io import (
    read_nifti,
    read_nifti_header,
    write_image_nifti,
    write_labels_nifti,
)

__all__ = [
    "load", "iter_cases", "sniff", "CaseIterator", "ReadFailure", "inspect",
    "CaseReadError", "CorruptFileError", "LayoutError", "UnknownFormatError",
    "UnsafeFileError", "TooLargeError", "UnexpectedReadError", "InputLimits", "DEFAULT_LIMITS",
    "write_ismrmrd", "read_ismrmrd", "open_ismrmrd", "IsmrmrdSource",
    "write_labels_nifti", "write_image_nifti", "read_nifti", "read_nifti_header",
    "read_acdc_patient", "read_mnms_case", "MNMS_TO_ACDC",
    "DatasetCard", "CardError", "VerifyReport", "list_cards", "load_card", "verify",
    "write_manifest", "sha256_file",
    # fastMRI, CMRxRecon and MATLAB v7.3 (docs/recon-formats.md)
    "read_fastmri", "open_fastmri", "FastMRISource", "write_fastmri_reconstruction",
    "read_cmrxrecon", "open_cmrxrecon", "CmrxReconSource", "write_cmrxrecon_submission",
    "open_mat", "read_mat_variable", "write_mat_v73",
]

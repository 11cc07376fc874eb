"""cmrsuite: validation, benchmarking and regulatory evidence for AI in cardiovascular MR."""

from suite.case import Case, CaseMeta, LABELS_ACDC

__version__ = "0.1.0"
__all__ = ["Case", "CaseMeta", "LABELS_ACDC", "__version__"]

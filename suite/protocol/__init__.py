"""Protocols: the pre-specified evaluation plan of a run (schema in :mod:`suite.protocol.validate`).

:func:`load_protocol` reads a YAML file with ``yaml.safe_load`` and validates it key by key;
every error (:class:`ProtocolError`) names the file, the key path and what was expected. The
``robustness`` section is validated by :mod:`suite.protocol.robustness`.
"""

from suite.protocol.model import Protocol, canonical_json, method_label, normalise_method
from suite.protocol.validate import ProtocolError, load_protocol, validate_protocol

__all__ = ["Protocol", "ProtocolError", "load_protocol", "validate_protocol",
           "method_label", "normalise_method", "canonical_json"]

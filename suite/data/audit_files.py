"""``cmrsuite audit PATH...``: the data-crime audit of files and dataset folders.

Every path is discovered like a dataset root (:func:`suite.data.loader.discover`: ISMRMRD,
fastMRI, CMRxRecon, DICOM series, NIfTI, ACDC/M&Ms and phantom folders), each unit is read
through its reader and audited with :func:`suite.data.audit.audit_case`. A unit that cannot be
read is reported with its reader's error, never skipped silently.

Exit status of the command: 0 when every unit was read and none is flagged, 1 when any unit is
flagged, 2 when nothing is flagged but some input could not be read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from suite.data.audit import AuditResult, audit_case
from suite.data.errors import CaseReadError
from suite.data.loader import discover, read_unit

__all__ = ["audit_paths", "FileAudit"]


@dataclass
class FileAudit:
    """The audits of the units under some paths, and the inputs that could not be read."""

    results: list = field(default_factory=list)  # (unit path, AuditResult)
    unreadable: list = field(default_factory=list)  # (path, message)

    @property
    def flagged(self) -> list:
        return [(p, r) for p, r in self.results if r.flagged]

    @property
    def exit_code(self) -> int:
        if self.flagged:
            return 1
        return 2 if self.unreadable else 0

    def to_dict(self) -> dict:
        return {"audited": [{"path": str(p), **r.to_dict()} for p, r in self.results],
                "unreadable": [{"path": str(p), "error": m} for p, m in self.unreadable],
                "n_flagged": len(self.flagged), "exit_code": self.exit_code}

    def summary(self) -> str:
        lines = []
        for path, res in self.results:
            crimes = ", ".join(res.suspected_crimes) if res.flagged else "no crime fingerprint"
            lines.append(f"{'FLAGGED' if res.flagged else 'ok':8s} {path}: {crimes}")
        lines += [f"{'UNREAD':8s} {p}: {m}" for p, m in self.unreadable]
        lines.append(f"{len(self.results)} audited, {len(self.flagged)} flagged, "
                     f"{len(self.unreadable)} unreadable")
        return "\n".join(lines)


def audit_paths(paths: Iterable[str | os.PathLike], **reader_options) -> FileAudit:
    """Audit every unit under ``paths`` (module docstring)."""
    out = FileAudit()
    for path in paths:
        try:
            units = discover(path)
        except CaseReadError as exc:
            out.unreadable.append((Path(path), str(exc)))
            continue
        if not units:
            out.unreadable.append((Path(path), f"{path}: holds no file a reader recognises"))
        for unit in units:
            try:
                result: AuditResult = audit_case(read_unit(unit, **reader_options))
            except CaseReadError as exc:
                out.unreadable.append((unit.path, str(exc)))
                continue
            out.results.append((unit.path, result))
    return out

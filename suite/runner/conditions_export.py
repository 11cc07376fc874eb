"""``cmrsuite conditions export``: the exact inputs every method of a protocol sees, on disk.

A user who scores a folder of predictions must make them from the same undersampled, noisy
k-space the suite's methods see. :func:`export_conditions` applies each condition of the
protocol to each case with the public seeding rule (:mod:`suite.conditions.seeding`) and writes,
per (case, condition)::

    OUT/<dataset>/<subject>/<condition>.h5     the conditioned k-space in the dataset's own
                                               raw format (ISMRMRD for the phantom and ISMRMRD
                                               data: one acquisition per sampled line, so the
                                               file's lines are the mask)
    OUT/<dataset>/<subject>/<condition>.json   what was applied: the condition, the seeding
                                               inputs, the condition's info (effective and
                                               nominal acceleration, noise level), the source
                                               file and its SHA-256, the exported file's
                                               SHA-256 and the inputs' fingerprint

Reconstruct each ``<condition>.h5`` with your method (read it with
:func:`suite.data.read_ismrmrd` or any ISMRMRD reader) and save the images as
``PRED/<dataset>/<subject>/<condition>.npy`` (``(slice, frame, y, x)``): a protocol entry
``{predictions: PRED}`` then scores them on exactly these inputs. Fully sampled conditions are
exported too (the k-space as read). Cases without k-space (image datasets) have nothing to
export for their conditions and are listed as skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


from suite._atomic import atomic_write_text
from suite._validation import check_path_component
from suite.conditions import input_fingerprint, make_condition
from suite.data.hashing import sha256_file
from suite.conditions.seeding import condition_rng, stable_int

__all__ = ["export_conditions", "ExportResult", "SEEDING_RULE"]

#: The seeding rule in words (stored in every export's JSON).
SEEDING_RULE = ("numpy.random.default_rng(numpy.random.SeedSequence([seed, "
                "stable_int(case_id), stable_int(condition)])); stable_int(text) = first 4 "
                "bytes of SHA-256(text, UTF-8), little-endian")

#: Reader formats whose Cases the export writes as ISMRMRD.
_ISMRMRD_FORMATS = ("ismrmrd", "phantom", "phantom-mapping")


@dataclass
class ExportResult:
    """What :func:`export_conditions` wrote."""

    out_dir: Path
    files: list = field(default_factory=list)
    skipped: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"out_dir": str(self.out_dir), "files": [str(f) for f in self.files],
                "skipped": self.skipped}

    def summary(self) -> str:
        lines = [f"exported {len(self.files)} (case, condition) inputs to {self.out_dir}"]
        lines += [f"  skipped {s['case_id']} {s['condition']}: {s['reason']}" for s in self.skipped]
        return "\n".join(lines)


def export_conditions(protocol, out_dir, *, datasets: list[str] | None = None) -> ExportResult:
    """Write the conditioned inputs of every (case, condition) of ``protocol`` (module
    docstring). Phantom datasets are generated into ``out_dir/data`` exactly as a run
    generates them into its run folder.

    Raises
    ------
    ValueError
        A dataset name that the protocol does not have.
    """
    from suite.data.ismrmrd_io import write_ismrmrd
    from suite.runner.execute import load_case
    from suite.runner.run import discover_cases

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    known = [d["name"] for d in protocol.datasets]
    for name in datasets or []:
        if name not in known:
            raise ValueError(f"export_conditions: the protocol has no dataset {name!r}; it has "
                             f"{known}")
    result = ExportResult(out_dir=out)
    for ref in discover_cases(protocol, out / "data"):
        if datasets and ref.dataset not in datasets:
            continue
        case = load_case(ref)
        for entry in protocol.conditions_of(ref.dataset):
            item = {"case_id": ref.case_id, "condition": entry["name"]}
            if case.kspace is None:
                result.skipped.append(item | {"reason": "the case has no k-space"})
                continue
            if ref.format not in _ISMRMRD_FORMATS:
                result.skipped.append(item | {"reason": f"writing {ref.format!r} files is not "
                                              "supported yet; only ISMRMRD datasets export"})
                continue
            condition = make_condition(entry)
            rng = condition_rng(protocol.seed, ref.case_id, entry["name"])
            conditioned, info = condition.apply(case, rng)
            # names from the protocol and the data file become folders: never outside `out`
            folder = out / check_path_component(ref.dataset, "dataset name") / \
                check_path_component(str(case.meta.subject), "subject (from the data file)")
            folder.mkdir(parents=True, exist_ok=True)
            path = write_ismrmrd(folder / f"{entry['name']}.h5", conditioned)
            record = {
                "case_id": ref.case_id, "dataset": ref.dataset, "subject": case.meta.subject,
                "condition": entry, "applied": info,
                "seeding": {"rule": SEEDING_RULE, "seed": protocol.seed,
                            "case_id": ref.case_id, "condition": entry["name"],
                            "entropy": [protocol.seed, stable_int(ref.case_id),
                                        stable_int(entry["name"])]},
                "source_file": case.meta.source_file, "source_sha256": case.meta.source_sha256,
                "file": path.name, "format": "ismrmrd", "sha256": sha256_file(path),
                "input_fingerprint": input_fingerprint(conditioned),
                "protocol": {"name": protocol.name, "sha256": protocol.sha256}}
            atomic_write_text(folder / f"{entry['name']}.json",
                              json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
            result.files.append(path)
    return result

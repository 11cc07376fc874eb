"""Audit of a challenge's reference procedure: score against the map it would have made.

A mapping challenge scores submissions against reference maps that are themselves fits of the
fully sampled images (CMRxRecon 2023: a three-parameter MOLLI fit with its own polarity rule,
``calc_t1value`` in CmrxRecon/CMRxRecon ``Mapping/CalEvalMap.py``). A score against such a map
measures agreement with its errors as well as with the tissue. On the phantom the truth is
known, so the suite can show both sides:

``metrics.mapping.challenge_reference: {name: molli-3p, params: {polarity: cmrxrecon2023}}``
    a reference method entry (built-in methods only); on every series whose timing the method
    fits, the stage fits the **fully sampled** images with it and scores the job's map against
    that map, per region and AHA segment, with ``profile = "challenge-reference"``.

List the same entry under ``methods.mapping`` (e.g. with ``label: cmrxrecon2023-reference``)
to get the reference procedure's own error against truth per region and segment (its
``profile = "truth"`` rows under the fully sampled condition): the rows where the challenge
reference departs from truth. Docs: docs/mapping-stage.md, "Audit of challenge reference maps".
"""

from __future__ import annotations

import functools
import json
from typing import Any, Mapping

__all__ = ["CHALLENGE_PROFILE", "challenge_method", "validate_challenge_reference",
           "challenge_reference_map"]

#: ``profile`` of the rows scored against the challenge reference map.
CHALLENGE_PROFILE = "challenge-reference"


@functools.lru_cache(maxsize=16)
def _method(name: str, params_json: str):
    import reference_impls

    return reference_impls.get("mapping", name, **json.loads(params_json))


def challenge_method(entry: Mapping[str, Any]):
    """The reference mapping method of a ``challenge_reference`` entry (``{name, params}``).

    Raises
    ------
    ValueError
        Not a built-in mapping method, or parameters it does not take.
    """
    try:
        return _method(str(entry["name"]), json.dumps(dict(entry.get("params") or {}),
                                                      sort_keys=True))
    except TypeError as exc:
        raise ValueError(f"{entry.get('name')!r} does not take params "
                         f"{dict(entry.get('params') or {})} ({exc})") from None


def validate_challenge_reference(v, cfg: Mapping[str, Any], key: str) -> None:
    """Check ``metrics.mapping.challenge_reference`` with the protocol validator ``v``."""
    entry = cfg.get("challenge_reference")
    if entry is None:
        return
    where = f"{key}.challenge_reference"
    v.mapping(entry, where)
    v.unknown_keys(entry, {"name", "params"}, where)
    v.string(entry, "name", required=True, prefix=where)
    if entry.get("params") is not None:
        v.mapping(entry["params"], f"{where}.params")
    try:
        challenge_method(entry)
    except ValueError as exc:
        v.fail(where, f"is not a built-in mapping method: {exc}")


def _same_method(job_entry: Mapping[str, Any], entry: Mapping[str, Any]) -> bool:
    """True when the job runs the challenge procedure itself (its rows against its own map
    would be trivially perfect)."""
    return (job_entry.get("name") == entry.get("name")
            and dict(job_entry.get("params") or {}) == dict(entry.get("params") or {}))


def challenge_reference_map(call, entry: Mapping[str, Any], timing: str, check_output):
    """The challenge reference map of the job's case: ``entry``'s method on the fully sampled
    images, ``(slice, y, x)`` ms (NaN where the fit failed); None when the method does not fit
    this series' ``timing``, the job runs that same method, or the case has no fully sampled
    images.

    ``check_output(call, output, label)`` is the stage's conversion of a method output to the
    map (failed pixels NaN, shape checked).
    """
    from suite.stages.mapping.refit import reference_fit
    from suite.stages.recon.reference import reference_magnitude

    method = challenge_method(entry)
    if getattr(method, "timing", timing) != timing or _same_method(call.entry, entry):
        return None
    images = reference_magnitude(call.condition.reference_case(call.case))
    if images is None:
        return None
    return reference_fit(method, entry, images, call.case,
                         lambda out: check_output(call, out,
                                                  f"challenge_reference {entry['name']}"))

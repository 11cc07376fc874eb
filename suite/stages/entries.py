"""Method entries of a protocol: their normal form and their labels.

A protocol names a method as ``"cg-sense"``, ``{name, params}``, ``{plugin: "module:Class",
params}``, ``{entry_point: name}`` or ``{predictions: DIR}``; :func:`normalise_method` gives the
dict form and :func:`method_label` the short label a run stores in its method columns.
"""

from __future__ import annotations

from typing import Any

__all__ = ["normalise_method", "method_label"]


def normalise_method(entry: Any) -> dict:
    """A method entry as a dict with ``params`` (``"cg-sense"`` → ``{"name": "cg-sense",
    "params": {}}``)."""
    if isinstance(entry, str):
        return {"name": entry, "params": {}}
    out = dict(entry)
    out.setdefault("params", {})
    return out


def method_label(entry: dict) -> str:
    """A short, stable label of a method entry: ``label`` if given, else the name / plugin /
    entry point, or ``predictions:<folder name>``.

    Examples
    --------
    >>> method_label({"name": "cg-sense"}), method_label({"predictions": "out/my-net/"})
    ('cg-sense', 'predictions:my-net')
    """
    if entry.get("label"):
        return entry["label"]
    for key in ("name", "plugin", "entry_point"):
        if key in entry:
            return str(entry[key])
    if "predictions" in entry:
        return "predictions:" + str(entry["predictions"]).rstrip("/").split("/")[-1]
    return "unknown"

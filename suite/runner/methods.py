"""Resolving the methods a protocol names: reference methods, plugins, entry points, predictions.

Four ways to bring a method, all evaluated alike (a user's method is a peer of ours):

* ``name: cg-sense`` — a reference method, ``reference_impls.get(stage, name, **params)``;
* ``plugin: "package.module:Class"`` — imported (``plugin_paths`` of the protocol are put on
  ``sys.path`` first) and instantiated with ``params``, only if the user allowed it
  (:mod:`suite.trust`);
* ``entry_point: name`` — a Python entry point in the group ``cmrsuite.methods``;
* ``predictions: DIR`` — a folder of precomputed outputs, read per case and condition:

  - reconstruction: ``DIR/<dataset>/<subject>/<condition>.npy`` complex or real images
    ``(slice, frame, y, x)``;
  - segmentation: ``DIR/<dataset>/<subject>/<condition>__<recon>.npy`` uint8 labels
    ``(slice, frame, y, x)`` (ACDC convention), or ``DIR/<dataset>/<subject>.nii.gz`` for
    image-only datasets.

The contract of a method object: ``name``, ``version``, ``stage`` attributes, optional
``params()``; reconstruction ``method(case) -> (slice, frame, y, x)`` images; segmentation
``method(images, spacing_mm) -> uint8 labels``. A method missing the contract raises a
``MethodError`` that names what is missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from suite._validation import check_path_component
from suite.trust import import_plugin

__all__ = ["MethodError", "resolve_method", "PredictionsMethod", "method_identity"]


class MethodError(ValueError):
    """A method that cannot be loaded or does not satisfy the stage contract."""


def resolve_method(entry: dict, stage: str, *, base_dir: Path = Path("."),
                   plugin_paths: list[str] | None = None, allow=None):
    """An instantiated method for a normalised protocol entry (see module docstring).

    A ``plugin`` is imported only when ``allow`` (a :class:`suite.trust.AllowList`) allows it
    and every folder of ``plugin_paths`` (:func:`suite.trust.import_plugin`); otherwise
    :class:`suite.trust.PluginNotAllowedError` is raised and nothing is imported.
    """
    params = entry.get("params") or {}
    if "name" in entry:
        import reference_impls

        return reference_impls.get(stage, entry["name"], **params)
    if "plugin" in entry:
        factory = import_plugin(entry["plugin"], base_dir=base_dir, plugin_paths=plugin_paths,
                                allow=allow, error=MethodError, key=f"methods.{stage}.plugin")
        return _check(factory(**params), stage, entry["plugin"])
    if "entry_point" in entry:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group="cmrsuite.methods") if ep.name == entry["entry_point"]]
        if not found:
            raise MethodError(f"entry point {entry['entry_point']!r} not found in group "
                              "'cmrsuite.methods'; is the package that provides it installed?")
        return _check(found[0].load()(**params), stage, entry["entry_point"])
    if "predictions" in entry:
        folder = Path(entry["predictions"])
        folder = folder if folder.is_absolute() else base_dir / folder
        return PredictionsMethod(stage, folder)
    raise MethodError(f"method entry {entry!r} names no method")


def _check(method, stage: str, label: str):
    missing = [a for a in ("name", "version") if not hasattr(method, a)]
    if not callable(method):
        missing.append("__call__")
    if missing:
        raise MethodError(f"method {label!r} does not satisfy the {stage} method contract: "
                          f"missing {missing} (see docs/plugins.md)")
    declared = getattr(method, "stage", stage)
    if declared != stage:
        raise MethodError(f"method {label!r} declares stage {declared!r} but is listed under {stage!r}")
    return method


def method_identity(method) -> dict:
    """Name, version and parameters of a method (what the cache key and provenance record)."""
    params = method.params() if hasattr(method, "params") else {}
    return {"name": getattr(method, "name", type(method).__name__),
            "version": str(getattr(method, "version", "unknown")),
            "params": params}


class PredictionsMethod:
    """A folder of precomputed outputs behaving as a method (black box, not differentiable)."""

    version = "predictions"
    needs_case = True

    def __init__(self, stage: str, folder: Path):
        self.stage = stage
        self.folder = Path(folder)
        self.name = f"predictions:{self.folder.name}"
        if not self.folder.is_dir():
            raise MethodError(f"{self.folder}: predictions folder does not exist")

    def params(self) -> dict:
        return {"folder": str(self.folder)}

    def predict(self, case, condition: str, recon: str | None = None) -> np.ndarray:
        """Load the prediction of ``case`` under ``condition`` (and ``recon`` for segmentation).

        Raises
        ------
        MethodError
            Missing file, wrong shape or dtype, or non-finite values; the message names the file.
        """
        subject, dataset = case.meta.subject, case.meta.dataset
        for name, what in ((subject, "subject"), (dataset, "dataset"), (condition, "condition"),
                           (recon, "recon label")):
            if name is not None:  # names become paths: never read outside the folder
                check_path_component(str(name), what)
        base = self.folder / dataset / subject
        if self.stage == "recon":
            path = base / f"{condition}.npy"
        else:
            path = base / f"{condition}__{recon}.npy"
            nifti = self.folder / dataset / f"{subject}.nii.gz"
            if not path.exists() and nifti.exists():
                from suite.data.nifti_io import read_nifti

                return read_nifti(nifti, kind="labels", allowed_labels=(0, 1, 2, 3)).data
        if not path.exists():
            raise MethodError(f"{path}: prediction missing for case {case.case_id!r} under "
                              f"condition {condition!r}")
        arr = np.load(path, allow_pickle=False)
        expected = case.image_shape
        if arr.shape != expected:
            raise MethodError(f"{path}: shape {arr.shape} does not match the case's "
                              f"(slice, frame, y, x) = {expected}")
        if self.stage == "segmentation":
            if arr.dtype.kind not in "ui" or arr.min() < 0 or arr.max() > 3:
                raise MethodError(f"{path}: labels must be integers 0..3 (ACDC convention)")
            return arr.astype(np.uint8)
        if arr.dtype.kind not in "fc" or not np.isfinite(arr).all():
            raise MethodError(f"{path}: images must be finite float or complex values")
        return arr

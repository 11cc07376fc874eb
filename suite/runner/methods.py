"""Resolving the methods a protocol names: reference methods, plugins, entry points, predictions.

Four ways to bring a method, all evaluated alike (a user's method is a peer of ours):

* ``name: cg-sense`` — a reference method, ``reference_impls.get(stage, name, **params)``;
* ``plugin: "package.module:Class"`` — imported (``plugin_paths`` of the protocol are put on
  ``sys.path`` first) and instantiated with ``params``, only if the user allowed it
  (:mod:`suite.trust`);
* ``entry_point: name`` — a Python entry point in the group ``cmrsuite.methods``;
* ``predictions: DIR`` — a folder of precomputed outputs, read per case and condition
  (see :class:`PredictionsMethod` for how the inputs they were made from are verified):

  - reconstruction: ``DIR/<dataset>/<subject>/<condition>.npy`` complex or real images
    ``(slice, frame, y, x)``;
  - segmentation: ``DIR/<dataset>/<subject>/<condition>__<recon>.npy`` uint8 labels
    ``(slice, frame, y, x)`` (ACDC convention), or ``DIR/<dataset>/<subject>.nii.gz`` for
    image-only datasets.

The contract of a method object: ``name``, ``version``, ``stage`` attributes, optional
``params()``; reconstruction ``method(case) -> (slice, frame, y, x)`` images; segmentation
``method(images, spacing_mm) -> uint8 labels``. A method missing the contract raises a
``MethodError`` that names what is missing.

Relative paths in a plugin's or entry point's ``params`` resolve against the protocol file's
folder, like ``plugin_paths`` and ``predictions`` (:mod:`suite.runner.method_files`); the files
they name are hashed into the method's identity (cache key) and the run's manifest.
"""

from __future__ import annotations

from pathlib import Path

import json

import numpy as np

from suite._validation import check_path_component
from suite.runner.method_files import PATH_KINDS, file_digests, resolve_params
from suite.trust import import_plugin

__all__ = ["MethodError", "resolve_method", "PredictionsMethod", "method_identity",
           "entry_identity"]

#: Largest export record read beside a prediction (bytes): the export writes about 2 kB.
MAX_RECORD_BYTES = 1 << 20


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
    if any(k in entry for k in PATH_KINDS):
        params = resolve_params(params, base_dir)
    if "name" in entry:
        import reference_impls

        return reference_impls.get(stage, entry["name"], **params)
    if "plugin" in entry:
        factory = import_plugin(entry["plugin"], base_dir=base_dir, plugin_paths=plugin_paths,
                                allow=allow, error=MethodError, key=f"methods.{stage}.plugin")
        return _check(_construct(factory, params, entry["plugin"], base_dir), stage,
                      entry["plugin"])
    if "entry_point" in entry:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group="cmrsuite.methods") if ep.name == entry["entry_point"]]
        if not found:
            raise MethodError(f"entry point {entry['entry_point']!r} not found in group "
                              "'cmrsuite.methods'; is the package that provides it installed?")
        return _check(_construct(found[0].load(), params, entry["entry_point"], base_dir), stage,
                      entry["entry_point"])
    if "predictions" in entry:
        folder = Path(entry["predictions"])
        folder = folder if folder.is_absolute() else base_dir / folder
        inputs = entry.get("inputs")
        if inputs is not None:
            inputs = Path(inputs) if Path(inputs).is_absolute() else base_dir / inputs
        return PredictionsMethod(stage, folder, inputs=inputs,
                                 verify_inputs=entry.get("verify_inputs", True))
    raise MethodError(f"method entry {entry!r} names no method")


def _construct(factory, params: dict, label: str, base_dir: Path):
    """``factory(**params)``; a missing file becomes a MethodError naming the ``params`` key."""
    try:
        return factory(**params)
    except FileNotFoundError as exc:
        missing = str(exc.filename or "")
        keys = [k for k, v in params.items() if isinstance(v, str) and missing
                and (v == missing or v.endswith(missing) or missing.endswith(v))]
        which = f"params.{keys[0]} = {params[keys[0]]!r}" if keys else f"a file ({exc})"
        raise MethodError(
            f"method {label!r}: {which} not found; relative paths in params resolve against "
            f"the protocol's folder {Path(base_dir).resolve()} (an existing file or folder "
            "there), otherwise they are passed unchanged and the plugin opens them from the "
            f"working directory {Path.cwd()}") from None


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


def entry_identity(method, entry: dict, base_dir: Path = Path("."), *, case=None,
                   condition: str | None = None, recon: str | None = None) -> dict:
    """:func:`method_identity` plus what the outputs depend on beyond it: the SHA-256 of the
    files a plugin's or entry point's ``params`` name (``"files"``), and for a folder of
    predictions the SHA-256 of the prediction file of this case (``"prediction_sha256"``), so
    that changed weights or predictions under the same names are never served from a cache."""
    identity = method_identity(method)
    if any(k in entry for k in PATH_KINDS):
        files = file_digests(resolve_params(entry.get("params"), base_dir))
        if files:
            identity["files"] = {k: v["sha256"] for k, v in sorted(files.items())}
    if isinstance(method, PredictionsMethod) and case is not None:
        identity["prediction_sha256"] = method.prediction_sha256(case, condition, recon)
    return identity


class PredictionsMethod:
    """A folder of precomputed outputs behaving as a method (black box, not differentiable).

    Reconstructions are scored only on the inputs they were made from. Before a prediction
    ``<condition>.npy`` of a k-space case is read, the export record ``<condition>.json`` that
    ``cmrsuite conditions export`` wrote for that case and condition is looked up, in the folder
    ``inputs`` (the export's ``--out`` folder) or, by default, beside the prediction; its
    ``input_fingerprint`` (SHA-256 of the k-space and sampled lines,
    :func:`suite.conditions.input_fingerprint`) must equal the fingerprint of the
    inputs the suite gives every other method for that case and condition. A mismatch (other
    masks, another seed, noise or protocol) is refused with a :class:`MethodError` naming the
    record. A missing record is refused too, unless the protocol entry says
    ``verify_inputs: false``: the protocol then states, in its hashed content, that these
    predictions are scored on inputs nobody checked.

    Parameters
    ----------
    stage : str
        ``"recon"`` or ``"segmentation"``.
    folder : Path
        The predictions folder.
    inputs : Path, optional
        The folder ``cmrsuite conditions export`` wrote (default: ``folder``).
    verify_inputs : bool
        Refuse reconstructions without an export record (default True).
    """

    version = "predictions"
    needs_case = True

    def __init__(self, stage: str, folder: Path, *, inputs: Path | None = None,
                 verify_inputs: bool = True):
        self.stage = stage
        self.folder = Path(folder)
        self.inputs = Path(inputs) if inputs is not None else None
        self.verify_inputs = bool(verify_inputs)
        self.name = f"predictions:{self.folder.name}"
        if not self.folder.is_dir():
            raise MethodError(f"{self.folder}: predictions folder does not exist")
        if self.inputs is not None and not self.inputs.is_dir():
            raise MethodError(f"{self.inputs}: the exported inputs folder (`inputs`) does not "
                              "exist; write it with `cmrsuite conditions export PROTOCOL --out "
                              "DIR`")

    def params(self) -> dict:
        out = {"folder": str(self.folder)}
        if self.inputs is not None:
            out["inputs"] = str(self.inputs)
        if not self.verify_inputs:
            out["verify_inputs"] = False
        return out

    def _where(self, case, condition: str, recon: str | None) -> tuple[Path, Path]:
        """(subject folder under ``folder``, dataset folder), names checked as path parts."""
        subject, dataset = case.meta.subject, case.meta.dataset
        for name, what in ((subject, "subject"), (dataset, "dataset"), (condition, "condition"),
                           (recon, "recon label")):
            if name is not None:  # names become paths: never read outside the folder
                check_path_component(str(name), what)
        return self.folder / dataset / subject, self.folder / dataset

    def prediction_path(self, case, condition: str, recon: str | None = None) -> Path:
        """The file holding the prediction of ``case`` under ``condition`` (module docstring)."""
        base, dataset_dir = self._where(case, condition, recon)
        if self.stage == "recon":
            return base / f"{condition}.npy"
        path = base / f"{condition}__{recon}.npy"
        nifti = dataset_dir / f"{case.meta.subject}.nii.gz"
        return nifti if not path.exists() and nifti.exists() else path

    def prediction_sha256(self, case, condition: str, recon: str | None = None) -> str | None:
        """SHA-256 of the prediction file (None when it is missing: reading it then fails)."""
        from suite.data.hashing import remembered_sha256

        path = self.prediction_path(case, condition, recon)
        return remembered_sha256(path) if path.is_file() else None

    def check_inputs(self, case, condition: str) -> Path | None:
        """Verify that the reconstruction of ``case`` (the conditioned Case a method sees)
        under ``condition`` was made from these inputs (class docstring); returns the record
        checked, or None when unverified inputs are allowed and no record exists.

        Raises
        ------
        MethodError
            No record (and ``verify_inputs`` is on), an unreadable record, or a fingerprint
            that differs; the message names the record and the prediction.
        """
        from suite.conditions import input_fingerprint

        base, _ = self._where(case, condition, None)
        root = self.inputs if self.inputs is not None else self.folder
        record_path = root / base.relative_to(self.folder) / f"{condition}.json"
        prediction = base / f"{condition}.npy"
        if not record_path.is_file():
            if not self.verify_inputs:
                return None
            raise MethodError(
                f"{prediction}: no export record {record_path} to verify the inputs this "
                f"prediction was made from (case {case.case_id!r}, condition {condition!r}); "
                "make predictions from `cmrsuite conditions export PROTOCOL --out DIR` and give "
                "`inputs: DIR` in the predictions entry (or export into the predictions folder), "
                "or set `verify_inputs: false` to score them on inputs nobody checked")
        if record_path.stat().st_size > MAX_RECORD_BYTES:
            raise MethodError(f"{record_path}: export record larger than {MAX_RECORD_BYTES} bytes")
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            expected = record["input_fingerprint"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise MethodError(f"{record_path}: not an export record with an input_fingerprint "
                              f"({type(exc).__name__}: {exc})") from None
        found = input_fingerprint(case)
        if expected != found:
            raise MethodError(
                f"{record_path}: the prediction {prediction} was made from other inputs than the "
                f"suite's for case {case.case_id!r} under condition {condition!r} (input "
                f"fingerprint {str(expected)[:12]}… in the record, {found[:12]}… here): other "
                "masks, noise, seed or protocol; export the inputs again with this protocol")
        return record_path

    def predict(self, case, condition: str, recon: str | None = None) -> np.ndarray:
        """Load the prediction of ``case`` under ``condition`` (and ``recon`` for segmentation);
        reconstructions of k-space cases after :meth:`check_inputs`.

        Raises
        ------
        MethodError
            Missing file, unverified or mismatched inputs, wrong shape or dtype, or non-finite
            values; the message names the file.
        """
        path = self.prediction_path(case, condition, recon)
        if path.name.endswith(".nii.gz"):
            from suite.data.nifti_io import read_nifti

            return read_nifti(path, kind="labels", allowed_labels=(0, 1, 2, 3)).data
        if not path.exists():
            raise MethodError(f"{path}: prediction missing for case {case.case_id!r} under "
                              f"condition {condition!r}")
        if self.stage == "recon" and case.kspace is not None:
            self.check_inputs(case, condition)
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

"""Shipped network weights: write ``<name>.pt`` + ``<name>.json``, load after a SHA-256 check.

``reference_impls/weights/`` holds ``<name>.pt`` (a plain state dict saved with :func:`torch.save`) and ``<name>.json`` (the
SHA-256 of the ``.pt``, the network configuration and the training record). Loading verifies
the hash first and then calls ``torch.load(..., weights_only=True)``, so a replaced or corrupt
file is refused before any unpickling happens. A process verifies and reads a file once: later
loads of the same files (the ``.pt`` at the same path with the same inode, size and modification
time, the ``.json`` with the same content) get copies of the tensors read the first time; a file
written since is verified and read again.

One exception, :class:`WeightsError`, covers every shipped network, and one record,
:class:`TrainedWeights`, describes what a training command wrote.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

__all__ = ["WEIGHTS_DIR", "WeightsError", "TrainingResult", "TrainedWeights", "sha256_file",
           "save_weights", "load_verified_state"]

#: Folder of the shipped weights.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class WeightsError(ValueError):
    """Shipped weights are missing or do not match their recorded SHA-256."""


@dataclass
class TrainingResult:
    """What a training loop returns: the state dict, its configuration, the loss per step,
    the wall time and how many final steps ``final_loss`` averages (``tail``)."""

    state_dict: dict
    config: Any
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    tail: int = 20

    @property
    def final_loss(self) -> float:
        """Mean loss of the last ``tail`` steps (NaN when nothing ran)."""
        last = self.losses[-self.tail:]
        return float(sum(last) / len(last)) if last else float("nan")


@dataclass
class TrainedWeights:
    """What a training command wrote: the two files, the hash and the final loss."""

    path: Path
    meta_path: Path
    sha256: str
    final_loss: float

    def summary(self) -> str:
        return (f"wrote {self.path} (sha256 {self.sha256[:16]}..., final loss "
                f"{self.final_loss:.4f}) and {self.meta_path}")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_weights(state_dict: dict, meta: dict, name: str, out_dir: Path | None = None
                 ) -> tuple[Path, Path, str]:
    """Write ``<name>.pt`` and ``<name>.json`` (``meta`` plus ``name`` and ``sha256``).

    The ``.pt`` bytes depend only on the tensors and their order (``torch.save`` of a plain
    dict of contiguous CPU tensors), so identical training runs give identical hashes.

    Returns
    -------
    (pt_path, json_path, sha256)
    """
    out = Path(out_dir) if out_dir is not None else WEIGHTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in state_dict.items()}, buf)
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    pt = out / f"{name}.pt"
    pt.write_bytes(data)
    record = {"name": name, "sha256": digest, **{k: v for k, v in meta.items()
                                                if k not in ("name", "sha256")}}
    meta_path = out / f"{name}.json"
    meta_path.write_text(json.dumps(record, indent=2) + "\n")
    return pt, meta_path, digest


def load_verified_state(name: str, weights_dir: Path | None = None, *,
                        retrain_hint: str | None = None) -> tuple[dict, dict]:
    """Read ``<name>.json``, verify the SHA-256 of ``<name>.pt``, then load the state dict.

    Parameters
    ----------
    name : str
        Weights name, e.g. ``"seg-unet"``.
    weights_dir : path, optional
        Folder holding the two files; default ``reference_impls/weights``.
    retrain_hint : str, optional
        The command that recreates the files, quoted in every error message; default
        ``cmrsuite train <name>``.

    Returns
    -------
    (state_dict, meta)
        Both the caller's own: copies of the tensors and of the record read (and verified)
        the first time this process loaded the same two files, unchanged since (the last
        :data:`STATES_KEPT` remembered, keyed by the ``.pt``'s path, inode, size and
        modification time and by the record's content, which holds the ``.pt``'s SHA-256;
        a file written since is verified and read again).

    Raises
    ------
    WeightsError
        A file is missing, the JSON is unreadable, or the hash differs; the message names the
        file and the command that recreates it.
    """
    hint = retrain_hint or f"`cmrsuite train {name}`"
    wdir = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    pt, meta_path = wdir / f"{name}.pt", wdir / f"{name}.json"
    try:
        st, record = os.stat(pt), meta_path.read_bytes()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise WeightsError(f"{exc.filename}: weights file not found; create it with "
                           f"{hint}") from None
    key = (str(pt.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, record)
    with _LOCK:
        found = _STATES.get(key)
        if found is not None:
            _STATES.move_to_end(key)
    if found is None:
        found = _read_verified(pt, meta_path, record, hint)
        with _LOCK:
            _STATES[key] = found
            while len(_STATES) > STATES_KEPT:
                _STATES.popitem(last=False)
    state, meta = found
    return {k: v.clone() for k, v in state.items()}, copy.deepcopy(meta)


#: Weights files :func:`load_verified_state` remembers per process (the most recently used).
STATES_KEPT = 8
_STATES: OrderedDict = OrderedDict()
_LOCK = threading.Lock()


def _read_verified(pt: Path, meta_path: Path, record: bytes, hint: str) -> tuple[dict, dict]:
    """The record (``record``, the bytes of ``meta_path``), the ``.pt``'s SHA-256 checked
    against it, then the state dict."""
    try:
        meta = json.loads(record.decode())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{meta_path}: unreadable weights record ({exc}); "
                           f"recreate it with {hint}") from exc
    digest = sha256_file(pt)
    if digest != meta.get("sha256"):
        raise WeightsError(
            f"{pt}: SHA-256 {digest} does not match {meta.get('sha256')} recorded in "
            f"{meta_path}; the file is corrupt or was replaced — retrain with {hint}"
        )
    state = torch.load(pt, map_location="cpu", weights_only=True)
    return state, meta

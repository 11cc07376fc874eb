"""Shipped-weights loading (:mod:`reference_impls.weights_io`): the per-process memo of
verified files gives what ``torch.load`` of the file gives, as the caller's own copies, and a
file written since is verified and read again."""

import os

import pytest
import torch

from reference_impls import weights_io
from reference_impls.weights_io import WeightsError, load_verified_state, save_weights


def _state(value: float) -> dict:
    return {"w": torch.full((3, 2), value), "b": torch.arange(4.0)}


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_loads_equal_torch_load_and_are_the_callers_own(tmp_path, monkeypatch):
    reads = []
    monkeypatch.setattr(weights_io, "sha256_file",
                        lambda p, f=weights_io.sha256_file: reads.append(p) or f(p))
    pt, _, digest = save_weights(_state(1.5), {"config": {"k": [1, 2]}}, "net", tmp_path)
    first, meta = load_verified_state("net", tmp_path)
    assert _equal(first, torch.load(pt, weights_only=True)) and meta["sha256"] == digest
    first["w"].add_(1.0)                                   # the caller changes its copies
    meta["config"]["k"].append(3)
    second, meta2 = load_verified_state("net", tmp_path)
    assert len(reads) == 1                                 # verified and read once
    assert _equal(second, torch.load(pt, weights_only=True))
    assert meta2["config"] == {"k": [1, 2]}


def test_a_file_written_since_is_verified_and_read_again(tmp_path):
    pt, meta_path, _ = save_weights(_state(1.0), {}, "net", tmp_path)
    load_verified_state("net", tmp_path)
    save_weights(_state(2.0), {}, "net", tmp_path)         # retrained: same size, new hash
    assert _equal(load_verified_state("net", tmp_path)[0], _state(2.0))
    data = bytearray(pt.read_bytes())                      # corrupted in place, same size
    data[len(data) // 2] ^= 0xFF
    pt.write_bytes(bytes(data))
    st = os.stat(pt)
    os.utime(pt, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # a later modification time
    with pytest.raises(WeightsError, match="does not match"):
        load_verified_state("net", tmp_path)
    meta_path.unlink()
    with pytest.raises(WeightsError, match=r"net\.json.*not found.*cmrsuite train net"):
        load_verified_state("net", tmp_path)

"""Hostile inputs (issue 14, findings 1, 4 and 5): each test reproduces a finding of the audit
of the readers and the leaderboard intake, and checks that it now fails closed.

Error classes are checked by name so that, on a tree without the fix, each test fails on its
own assertion (not on an import).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import yaml

from suite.case import Case, CaseMeta
from suite.cli import main
from suite.data import (CaseReadError, iter_cases, open_ismrmrd, read_ismrmrd, write_image_nifti,
                        write_ismrmrd)
from suite.data.matv73 import matlab_header, open_mat, write_mat_v73
from suite.leaderboard import Limits, UnsafeArchiveError, build_leaderboard, safe_extract


def _name(exc) -> str:
    return type(exc).__name__


# ---------------------------------------------------------------------- finding 1
def _truth_and_challenge(root: Path):
    rng = np.random.default_rng(14)
    img = rng.random((28, 32, 2, 3)).astype(np.float32)  # MATLAB (sx, sy, slices, frames)
    truth = root / "truth"
    write_mat_v73(_mkdir(truth / "recon") / "case00.mat", {"img4ranking": img})
    ch = root / "challenge.yaml"
    ch.write_text(yaml.safe_dump({"name": "links", "tasks": [
        {"name": "recon", "kind": "reconstruction", "metric": "ssim"}]}))
    return truth, ch


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _linked_mat(path: Path, target: str, name: str = "img4ranking") -> Path:
    """A MATLAB v7.3 file whose variable is an HDF5 external link to ``target``."""
    with h5py.File(path, "w", userblock_size=512) as f:
        f[name] = h5py.ExternalLink(target, name)
    with open(path, "r+b") as fh:
        fh.write(matlab_header() + b"\0" * (512 - 128))
    return path


@pytest.mark.parametrize("form", ["folder", "zip-absolute", "zip-cwd-relative"])
def test_external_link_submission_is_rejected(tmp_path, monkeypatch, form):
    """Finding 1: an `img4ranking` that is an external link to the truth scored SSIM 1.0,
    rank 1, `valid`. It must be rejected with the reason and never ranked."""
    truth, ch = _truth_and_challenge(tmp_path)
    monkeypatch.chdir(tmp_path)  # the cwd-relative link resolves against the working dir
    subs = _mkdir(tmp_path / "subs")
    target = ("truth/recon/case00.mat" if form == "zip-cwd-relative"
              else str((truth / "recon" / "case00.mat").resolve()))
    if form == "folder":
        _linked_mat(_mkdir(subs / "mallory" / "recon") / "case00.mat", target)
    else:
        mat = _linked_mat(tmp_path / "case00.mat", target)
        with zipfile.ZipFile(subs / "mallory.zip", "w") as zf:
            zf.write(mat, "recon/case00.mat")
    res = build_leaderboard(subs, ch, truth, tmp_path / "site")
    rep = res.reports[0]
    assert rep.status == "rejected", rep.summary()
    assert res.ranked_teams == []
    text = rep.summary()
    assert "external link" in text and "recon/case00.mat" in text and "img4ranking" in text
    assert not res.tasks  # nothing scored


@pytest.mark.parametrize("kind", ["external", "soft", "virtual", "external-storage"])
@pytest.mark.parametrize("reader", ["mat", "fastmri", "ismrmrd"])
def test_hdf5_links_out_of_the_file_are_refused(tmp_path, reader, kind):
    """Finding 1: every HDF5 reader refuses objects that are not stored in the file itself,
    before reading anything, with the object named."""
    other = tmp_path / "other.h5"
    data = np.ones((4, 6), np.float32)
    with h5py.File(other, "w") as f:
        f["x"] = data
    raw = tmp_path / "raw.bin"
    raw.write_bytes(data.tobytes())
    p = tmp_path / {"mat": "x.mat", "fastmri": "file1.h5", "ismrmrd": "raw.h5"}[reader]
    name = {"mat": "img4ranking", "fastmri": "kspace", "ismrmrd": "dataset/data"}[reader]
    if reader == "ismrmrd":
        write_ismrmrd(p, _small_case())
    with h5py.File(p, "a" if reader == "ismrmrd" else "w",
                   **({"userblock_size": 512} if reader == "mat" else {})) as f:
        if name in f:
            del f[name]
        if kind == "external":
            f[name] = h5py.ExternalLink(str(other), "x")
        elif kind == "soft":
            f["zz_elsewhere"] = h5py.ExternalLink(str(other), "x")  # visited after the soft link
            f[name] = h5py.SoftLink("/zz_elsewhere")
        elif kind == "virtual":
            lay = h5py.VirtualLayout(shape=data.shape, dtype=data.dtype)
            lay[:] = h5py.VirtualSource(str(other), "x", shape=data.shape)
            f.create_virtual_dataset(name, lay)
        else:
            f.create_dataset(name, shape=data.shape, dtype=data.dtype,
                             external=[(str(raw), 0, data.nbytes)])
    if reader == "mat":
        with open(p, "r+b") as fh:
            fh.write(matlab_header() + b"\0" * (512 - 128))
    from suite.data import open_fastmri

    opener = {"mat": open_mat, "fastmri": open_fastmri, "ismrmrd": open_ismrmrd}[reader]
    with pytest.raises(CaseReadError) as err:
        opener(p)
    assert _name(err.value) == "UnsafeFileError", f"{_name(err.value)}: {err.value}"
    assert str(p) in str(err.value)
    assert {"external": "external link", "soft": "soft link", "virtual": "virtual dataset",
            "external-storage": "external files"}[kind] in str(err.value)


def test_cmrxrecon_reader_refuses_an_external_link(tmp_path):
    """Finding 1: the CMRxRecon reader (through suite.data.load) records the refusal."""
    k = np.ones((6, 4, 2, 1, 2), np.complex64)
    good = write_mat_v73(tmp_path / "other.mat", {"kspace_full": k})
    d = _mkdir(tmp_path / "CMRxRecon2024" / "FullSample" / "P001")
    _linked_mat(d / "cine_sax.mat", str(good), name="kspace_full")
    it = iter_cases(d, on_error="record")
    assert list(it) == []
    (failure,) = it.failures
    assert failure.error == "UnsafeFileError" and "external link" in failure.reason


# ---------------------------------------------------------------------- finding 4
def _v5_bomb(path: Path, n: int = 5000) -> Path:
    scipy.io.savemat(path, {"img4ranking": np.zeros((n, n))}, do_compression=True)
    return path


def test_v5_mat_bomb_submission_is_refused_before_loading(tmp_path):
    """Finding 4: a ~200 KB v5 .mat holding 5000 x 5000 doubles (200 MB) was loaded whole
    before the shape check. It must be refused from its header, without the allocation
    (scored here in this process, so that tracemalloc sees every allocation)."""
    from suite.leaderboard import load_challenge
    from suite.leaderboard.submission import SubmissionReport, load_truth, score_submission

    truth, ch = _truth_and_challenge(tmp_path)
    subs = _mkdir(tmp_path / "subs")
    bomb = _v5_bomb(_mkdir(subs / "zed" / "recon") / "case00.mat")
    assert bomb.stat().st_size < 400_000
    challenge = load_challenge(ch)
    truth_set = load_truth(challenge, truth)
    rep = SubmissionReport(team="zed", source="zed")
    tracemalloc.start()
    try:
        score_submission(challenge, truth_set, "zed", subs / "zed", rep)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20, f"peak {peak / 2**20:.0f} MiB: the bomb was loaded"
    assert rep.status == "rejected" and "(5000, 5000)" in rep.summary(), rep.summary()
    res = build_leaderboard(subs, ch, truth)  # the same through the isolated build
    assert res.reports[0].status == "rejected" and "(5000, 5000)" in res.reports[0].summary()


def test_v5_mat_is_described_from_its_header(tmp_path):
    """Finding 4: open_mat describes a v5 file from `whosmat` and checks the declared size
    against the file size before loading."""
    from suite.data.limits import InputLimits

    bomb = _v5_bomb(tmp_path / "bomb.mat")
    tracemalloc.start()
    try:
        with pytest.raises(CaseReadError) as err:
            open_mat(bomb, limits=InputLimits(max_array_bytes=2**20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert _name(err.value) == "TooLargeError" and "bomb.mat" in str(err.value)
    assert peak < 20 * 2**20
    mf = open_mat(bomb)  # under the default limits it opens, still without loading
    assert mf["img4ranking"].shape == (5000, 5000)


def test_tar_bomb_is_rejected_by_ratio_and_total(tmp_path):
    """Finding 4: tar archives had no compression-ratio limit (zip had one)."""
    arch = tmp_path / "bomb.tar.gz"
    with tarfile.open(arch, "w:gz") as tf:
        data = b"\0" * 3000
        ti = tarfile.TarInfo("zeros.bin")
        ti.size = len(data)
        import io

        tf.addfile(ti, io.BytesIO(data))
    lim = Limits(max_total_bytes=10_000, max_member_bytes=4_000, max_members=20, max_ratio=5)
    with pytest.raises(UnsafeArchiveError, match="compression ratio"):
        safe_extract(arch, tmp_path / "t", lim)
    assert not (tmp_path / "t").exists()


def test_tar_declared_total_is_checked_while_scanning(tmp_path):
    """A tar whose members declare more than the total limit is refused during the scan,
    naming the first member over the limit (a regression check for the early abort)."""
    arch = tmp_path / "many.tar"
    import io

    with tarfile.open(arch, "w") as tf:
        for i in range(6):
            ti = tarfile.TarInfo(f"f{i}.bin")
            ti.size = 3000
            tf.addfile(ti, io.BytesIO(bytes(range(256)) * 12))
    lim = Limits(max_total_bytes=10_000, max_member_bytes=4_000, max_members=20, max_ratio=50)
    with pytest.raises(UnsafeArchiveError, match="total limit") as err:
        safe_extract(arch, tmp_path / "t", lim)
    assert err.value.member == "f3.bin"


def _small_case():
    k = np.ones((1, 2, 2, 4, 6), np.complex64)
    return Case(kspace=k, mask=np.ones((1, 1, 1, 4, 1), bool), meta=CaseMeta(subject="c"))


def _patch_xml(src: Path, dst: Path, fn) -> Path:
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        xml = f["dataset/xml"][0]
        del f["dataset/xml"]
        f["dataset"].create_dataset("xml", shape=(1,), dtype=h5py.special_dtype(vlen=bytes))
        f["dataset/xml"][0] = fn(xml.decode()).encode()
    return dst


def _set_limit(xml: str, name: str, maximum: int) -> str:
    return re.sub(rf"(<{name}>\s*<minimum>0</minimum>\s*<maximum>)\d+(</maximum>)",
                  rf"\g<1>{maximum}\g<2>", xml)


def test_ismrmrd_header_asking_for_more_than_the_file_holds_is_refused(tmp_path):
    """Findings 4 and 5: header dimensions were trusted for allocation (a 9 MB file asked for
    24-90 GiB). A header asking for 25 GiB of k-space from a few KB is refused at open."""
    good = write_ismrmrd(tmp_path / "good.h5", _small_case())
    bad = _patch_xml(good, tmp_path / "bad.h5",
                     lambda x: _set_limit(_set_limit(x, "phase", 65535), "slice", 1023))
    with pytest.raises(CaseReadError) as err:
        open_ismrmrd(bad)
    msg = str(err.value)
    assert _name(err.value) == "TooLargeError", msg
    assert "bad.h5" in msg and "GiB" in msg and "KiB" in msg and "limits=" in msg


# ---------------------------------------------------------------------- finding 5
def test_ismrmrd_receiver_channels_not_a_number_is_a_layout_error(tmp_path):
    """Finding 5: `int(receiverChannels)` raised a bare ValueError, which broke
    on_error="record"."""
    good = write_ismrmrd(_mkdir(tmp_path / "in") / "good.h5", _small_case())
    bad = _patch_xml(good, tmp_path / "in" / "bad.h5", lambda x: x.replace(
        "<receiverChannels>2</receiverChannels>", "<receiverChannels>abc</receiverChannels>"))
    with pytest.warns(Warning), pytest.raises(CaseReadError) as err:
        read_ismrmrd(bad)
    assert _name(err.value) == "LayoutError" and "receiverChannels" in str(err.value)
    with pytest.warns(Warning):
        it = iter_cases(tmp_path / "in", on_error="record")
        cases = list(it)
    assert len(cases) == 1 and [Path(f.path).name for f in it.failures] == ["bad.h5"]


def test_ismrmrd_wrong_compound_fields_are_a_layout_error(tmp_path):
    """Finding 5: an acquisition compound without the ISMRMRD header fields gave IndexError."""
    good = write_ismrmrd(tmp_path / "good.h5", _small_case())
    with h5py.File(good) as f:
        xml = f["dataset/xml"][0]
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        g = f.create_group("dataset")
        g.create_dataset("xml", shape=(1,), dtype=h5py.special_dtype(vlen=bytes))
        g["xml"][0] = xml
        dt = np.dtype([("head", "<u8"), ("data", h5py.vlen_dtype(np.float32))])
        a = np.zeros(8, dt)
        for i in range(8):
            a["data"][i] = np.ones(24, np.float32)
        g.create_dataset("data", data=a)
    with pytest.raises(CaseReadError) as err:
        open_ismrmrd(bad)
    assert _name(err.value) == "LayoutError" and "head" in str(err.value)


def _nifti_with_dims(path: Path, dims) -> Path:
    """A small valid .nii.gz whose header `dim` field is then overwritten with ``dims``."""
    write_image_nifti(path, np.ones((2, 3, 4, 5), np.float32), (1, 1, 1))
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[40:56] = np.array([len(dims)] + list(dims) + [1] * (7 - len(dims)), "<i2").tobytes()
    path.write_bytes(gzip.compress(bytes(raw)))
    return path


@pytest.mark.parametrize("what", ["mat", "fastmri", "nifti-dims"])
def test_inspect_exits_nonzero_on_unreadable_files(tmp_path, capsys, what):
    """Finding 5: `cmrsuite inspect` exited 0 on an unreadable .mat or fastMRI file and on
    absurd NIfTI dimensions; it must exit non-zero with the one-line error."""
    if what == "mat":
        p = tmp_path / "x.mat"
        p.write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 100)
    elif what == "fastmri":
        p = tmp_path / "file1.h5"
        with h5py.File(p, "w") as f:
            f["kspace"] = np.ones((4, 4), np.float32)  # real and 2-D: not fastMRI k-space
    else:
        p = _nifti_with_dims(tmp_path / "x.nii.gz", (30000, 30000, 30000, 1))
    code = main(["inspect", str(p)])
    err = capsys.readouterr().err.strip()
    assert code != 0, err
    assert len(err.splitlines()) == 1 and p.name in err


def test_nifti_header_declaring_more_than_the_file_is_refused(tmp_path):
    """Findings 4 and 5: NIfTI dimensions were trusted for allocation."""
    from suite.data import read_nifti

    p = _nifti_with_dims(tmp_path / "x.nii.gz", (30000, 30000, 30000, 1))
    with pytest.raises(CaseReadError) as err:
        read_nifti(p)
    assert _name(err.value) == "TooLargeError" and "x.nii.gz" in str(err.value)
    plain = tmp_path / "y.nii"
    plain.write_bytes(gzip.decompress(p.read_bytes()))
    with pytest.raises(CaseReadError) as err:
        read_nifti(plain)
    assert _name(err.value) in ("TooLargeError", "CorruptFileError")
    assert "y.nii" in str(err.value)


def test_no_reader_error_escapes_the_contract_through_the_loader(tmp_path, monkeypatch):
    """Finding 5: whatever a reader raises, `on_error="record"` records it (an unexpected
    exception becomes UnexpectedReadError naming the file) and the batch goes on."""
    import suite.data.loader as loader

    write_image_nifti(tmp_path / "a.nii.gz", np.ones((2, 3, 4, 5), np.float32), (1, 1, 1))
    write_image_nifti(tmp_path / "b.nii.gz", np.ones((2, 3, 4, 5), np.float32), (1, 1, 1))
    real = loader.read_nifti

    def flaky(p, **kw):
        if Path(p).name == "a.nii.gz":
            raise TypeError("simulated reader bug")
        return real(p, **kw)

    monkeypatch.setattr(loader, "read_nifti", flaky)
    it = iter_cases(tmp_path, on_error="record")
    assert len(list(it)) == 1
    (failure,) = it.failures
    assert failure.error == "UnexpectedReadError" and "simulated reader bug" in failure.reason
    assert os.path.basename(str(failure.path)) == "a.nii.gz"


# ---------------------------------------------------------------------- found by fuzzing
def _hdf5_hang_mat(path: Path) -> Path:
    """A 4 KB MATLAB v7.3 file on which the HDF5 library (2.0) loops forever: the
    `MATLAB_class` attribute is a variable-length string, kept in a global heap collection
    whose first object is then given index 0 and size 0 (a free-space object of size 0: the
    library's heap parser never advances). Found by the input fuzz suite (ismrmrd/overwrite)."""
    write_mat_v73(path, {"img4ranking": np.ones((28, 32, 2, 3), np.float32)})
    with h5py.File(path, "r+") as f:
        f["img4ranking"].attrs["MATLAB_class"] = "single"
    raw = bytearray(path.read_bytes())
    i = raw.find(b"GCOL\x01")
    assert i > 0
    raw[i + 16:i + 32] = bytes(16)
    path.write_bytes(bytes(raw))
    return path


def test_a_submission_that_hangs_the_hdf5_library_is_rejected_after_max_seconds(tmp_path):
    """A submission file that makes the HDF5 C library loop cannot be interrupted inside the
    process; the submission is scored in a child process, killed after `max_seconds`, and
    rejected with the reason while the other teams are ranked."""
    truth, ch = _truth_and_challenge(tmp_path)
    raw = yaml.safe_load(ch.read_text())
    raw["limits"] = {"max_seconds": 3}
    ch.write_text(yaml.safe_dump(raw))
    subs = _mkdir(tmp_path / "subs")
    _hdf5_hang_mat(_mkdir(subs / "hang" / "recon") / "case00.mat")
    rng = np.random.default_rng(14)
    img = rng.random((28, 32, 2, 3)).astype(np.float32)
    write_mat_v73(_mkdir(subs / "honest" / "recon") / "case00.mat", {"img4ranking": img})
    res = build_leaderboard(subs, ch, truth)  # returns at all: the hung child was killed
    rep = {r.team: r for r in res.reports}
    assert rep["hang"].status == "rejected"
    assert "did not finish within 3 s" in rep["hang"].summary()
    assert rep["honest"].status == "valid" and res.ranked_teams == ["honest"]


def test_a_submission_that_crashes_the_scoring_process_is_rejected(tmp_path, monkeypatch):
    """A file that crashes a reader library (a segmentation fault) kills only the child
    process that scores it; the submission is rejected naming the signal."""
    import signal

    import suite.leaderboard.isolate as isolate

    if "fork" not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip("needs fork: the simulated crash is patched into this process")
    truth, ch = _truth_and_challenge(tmp_path)
    subs = _mkdir(tmp_path / "subs")
    _mkdir(subs / "crash" / "recon")
    def crash(*args, **kwargs):
        import faulthandler

        faulthandler.disable()  # no fatal-error dump in the test output
        os.kill(os.getpid(), signal.SIGSEGV)

    monkeypatch.setattr(isolate, "score_in_process", crash)
    res = build_leaderboard(subs, ch, truth)
    rep = res.reports[0]
    assert rep.status == "rejected" and "SIGSEGV" in rep.summary(), rep.summary()

"""Fuzz targets of the leaderboard intake: a submission as a folder, a zip and a tar.gz.

Each case builds a tiny challenge (reconstruction ``.mat``, segmentation NIfTI, clinical CSV;
two cases each), its hidden truth and one valid team submission, damages the submission, and
runs :func:`suite.leaderboard.build_leaderboard`. It must never raise; the team must be
``rejected`` when the submission is unsafe (a link to the truth, a path-escaping, linked,
duplicate or bomb member) and not ``valid`` when a case is broken; and nothing may be written
outside the (removed) extraction folder.
"""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import yaml

import fuzz_input_mutations as mu
from fuzz_input_harness import ANY, Expect, Target

__all__ = ["SUBMISSION_TARGETS"]

REJECTED = Expect(True, rejected=True)
BROKEN = Expect(True)
CASES = ("case00", "case01")
CHALLENGE = {
    "name": "fuzz", "tasks": [
        {"name": "recon", "kind": "reconstruction", "profile": "fastmri", "metric": "ssim"},
        {"name": "seg", "kind": "segmentation", "metric": "dice"},
        {"name": "clinical", "kind": "clinical", "file": "clinical.csv",
         "parameter": "lv_ef_pct"}],
    "ranking": {"n_bootstrap": 10, "seed": 0},
    "limits": {"max_total_mb": 5, "max_member_mb": 1, "max_members": 50, "max_ratio": 50,
               "max_seconds": 20},
}


def _image(k: int) -> np.ndarray:
    """MATLAB ``(sx, sy, slices, frames)`` float32 image of case ``k``."""
    y, x = np.mgrid[0:14, 0:12]
    img = np.exp(-((y - 7 - k) ** 2 + (x - 6) ** 2) / 18.0)
    return np.repeat(img.T[:, :, None, None], 2, axis=3).astype(np.float32)


def _labels() -> np.ndarray:
    """Labels ``(slice, frame, y, x)`` whose LV shrinks then grows (ED/ES detectable)."""
    lab = np.zeros((1, 4, 16, 16), np.uint8)
    y, x = np.mgrid[0:16, 0:16]
    for f, r in enumerate((5, 4, 3, 4)):
        d = np.hypot(y - 8, x - 8)
        lab[0, f][(d >= r) & (d < r + 2)] = 2
        lab[0, f][d < r] = 3
    return lab


def _write_team(folder: Path, noise: float) -> None:
    from suite.data import write_labels_nifti
    from suite.data.matv73 import write_mat_v73

    rng = np.random.default_rng(1)
    for task in ("recon", "seg", "clinical"):
        (folder / task).mkdir(parents=True, exist_ok=True)
    for k, c in enumerate(CASES):
        img = _image(k) + noise * rng.standard_normal(_image(k).shape).astype(np.float32)
        write_mat_v73(folder / "recon" / f"{c}.mat", {"img4ranking": np.abs(img)})
        write_labels_nifti(folder / "seg" / f"{c}.nii.gz", _labels(), (1.5, 1.5, 8.0))
    (folder / "clinical" / "clinical.csv").write_text(
        "case,lv_ef_pct\n" + "".join(f"{c},{55.0 + k + noise}\n" for k, c in enumerate(CASES)))


def _build(kind: str):
    def build(d: Path) -> Path:
        (d / "challenge.yaml").write_text(yaml.safe_dump(CHALLENGE))
        _write_team(d / "truth", 0.0)
        subs = d / "subs"
        subs.mkdir()
        if kind == "folder":
            _write_team(subs / "team", 0.02)
        else:
            _write_team(d / "team-src", 0.02)
            _pack(d / "team-src", subs, kind)
        return subs
    return build


def _pack(src: Path, subs: Path, kind: str, extra=()) -> None:
    """Pack ``src`` into ``subs/team.zip`` or ``subs/team.tar.gz`` (plus ``extra`` members:
    ``(name, bytes)`` for zip, ``(TarInfo, bytes | None)`` for tar)."""
    for old in subs.iterdir():
        old.unlink()
    files = sorted(p for p in src.rglob("*") if p.is_file() or p.is_symlink())
    if kind == "zip":
        with zipfile.ZipFile(subs / "team.zip", "w", zipfile.ZIP_DEFLATED) as zf:
            for p in files:
                zf.write(p, p.relative_to(src).as_posix())
            for info, data in extra:
                zf.writestr(info, data)
    else:
        with tarfile.open(subs / "team.tar.gz", "w:gz") as tf:
            for p in files:
                tf.add(p, p.relative_to(src).as_posix(), recursive=False)
            for info, data in extra:
                tf.addfile(info, None if data is None else io.BytesIO(data))


def _team(unit: Path) -> Path:
    return unit / "team" if (unit / "team").is_dir() else unit.parent / "team-src"


def _repack(unit: Path) -> None:
    if not (unit / "team").is_dir():
        _pack(unit.parent / "team-src", unit, "zip" if (unit / "team.zip").exists() else "tar")


def _inner(fn):
    """A mutation of the team's files; archives are re-packed afterwards."""
    def mutate(unit: Path, rng: np.random.Generator) -> Expect:
        expect = fn(_team(unit), unit, rng)
        _repack(unit)
        return expect
    return mutate


def _recon(team: Path, rng) -> Path:
    return team / "recon" / f"{CASES[int(rng.integers(0, 2))]}.mat"


def _recon_link(team, unit, rng):
    p = _recon(team, rng)
    truth = unit.parent / "truth" / "recon" / p.name
    target = str(truth.resolve()) if rng.random() < 0.5 else \
        str(truth.relative_to(unit.parents[1]))  # relative to the working directory
    kind = mu.HDF5_LINK_KINDS[int(rng.integers(0, 4))]
    if kind == "external":
        with h5py.File(p, "r+") as f:
            del f["img4ranking"]
            f["img4ranking"] = h5py.ExternalLink(target, "img4ranking")
    else:
        mu.hostile_object(p, "img4ranking", kind)
    return REJECTED


def _recon_dtype(team, unit, rng):
    from suite.data.matv73 import write_mat_v73

    p = _recon(team, rng)
    img = _image(0)
    data = [img.astype(np.complex64), img.astype(np.int16), img.astype(bool)][
        int(rng.integers(0, 3))]
    write_mat_v73(p, {"img4ranking": data})
    return BROKEN


def _recon_shape(team, unit, rng):
    from suite.data.matv73 import write_mat_v73

    shape = [(12, 14, 2), (14, 12, 1, 2), (12, 14, 1, 2, 3), (1, 1)][int(rng.integers(0, 4))]
    write_mat_v73(_recon(team, rng), {"img4ranking": np.ones(shape, np.float32)})
    return BROKEN


def _recon_nan(team, unit, rng):
    from suite.data.matv73 import write_mat_v73

    write_mat_v73(_recon(team, rng), {"img4ranking": mu.with_nonfinite(_image(0), rng)})
    return BROKEN


def _recon_bomb(team, unit, rng):
    n = int(rng.integers(1500, 2500))
    mu.v5_file(_recon(team, rng), [mu.v5_zero_bomb("img4ranking", (n, n))])
    return BROKEN


def _recon_huge(team, unit, rng):
    p = _recon(team, rng)
    mu.huge_unallocated(p, "img4ranking", (int(rng.integers(100, 2000)), 1, 4096, 4096),
                        np.float32)
    with h5py.File(p, "r+") as f:
        f["img4ranking"].attrs["MATLAB_class"] = np.bytes_("single")
    return BROKEN


def _seg(team, rng) -> Path:
    return team / "seg" / f"{CASES[int(rng.integers(0, 2))]}.nii.gz"


def _seg_absurd(team, unit, rng):
    dims = [4, int(rng.integers(1000, 32768)), int(rng.integers(1000, 32768)), 1,
            int(rng.integers(1, 30000))]
    mu.edit_nifti_header(_seg(team, rng), mu.set_dims(dims))
    return BROKEN


def _seg_labels(team, unit, rng):
    mu.write_nifti_unchecked(_seg(team, rng), _labels() * int(rng.integers(2, 80)))
    return BROKEN


def _clinical(team, unit, rng):
    text = [rng.bytes(100), b"case,lv_ef_pct\ncase00,nan\ncase01,inf\n",
            b"case,lv_ef_pct\ncase00,1e400\ncase01,-1e400\n", b"lv_ef_pct\n1\n",
            b"case,lv_ef_pct\n" + b"case00,1\n" * 5000][int(rng.integers(0, 5))]
    (team / "clinical" / "clinical.csv").write_bytes(text)
    return ANY


def _symlink(team, unit, rng):
    p = _recon(team, rng)
    p.unlink()
    p.symlink_to(unit.parent / "truth" / "recon" / p.name)
    return REJECTED


def _inner_bytes() -> dict:
    def make(fn):
        def mutate(team, unit, rng):
            files = sorted(p for p in team.rglob("*") if p.is_file())
            fn(files[int(rng.integers(0, len(files)))], rng)
            return ANY
        return mutate
    return {"truncate": make(mu.truncate), "bitflip": make(mu.bitflip),
            "overwrite": make(mu.overwrite_block)}


def _inner_mutations(folder: bool) -> dict:
    fns = {**_inner_bytes(), "recon-link": _recon_link, "recon-dtype": _recon_dtype,
           "recon-shape": _recon_shape, "recon-nan": _recon_nan, "recon-bomb": _recon_bomb,
           "recon-huge": _recon_huge, "seg-absurd": _seg_absurd, "seg-labels": _seg_labels,
           "clinical": _clinical}
    if folder:
        fns["symlink"] = _symlink
    return {k: _inner(v) for k, v in fns.items()}


# ---------------------------------------------------------------------- archive members
def _archive(kind: str, members) -> callable:
    """Mutation: re-pack with extra members ``members(unit, rng)`` that must be rejected."""
    def mutate(unit: Path, rng: np.random.Generator) -> Expect:
        _pack(unit.parent / "team-src", unit, kind, members(unit, rng))
        return REJECTED
    return mutate


def _zi(name: str, mode: int | None = None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    if mode is not None:
        info.external_attr = mode << 16
    return info


def _escape(unit: Path, rng) -> str:
    """A path escaping the extraction folder into the case root (so a write would show)."""
    return ["../" * int(rng.integers(2, 8)) + "escaped.txt", "recon/../../../escaped.txt",
            "./recon/../../escaped.txt"][int(rng.integers(0, 3))]


def _zip_members() -> dict:
    big = b"\0" * (2 * 2**20)
    return {
        "traversal": lambda u, r: [(_zi(_escape(u, r)), b"pwned")],
        "absolute": lambda u, r: [(_zi(str(u.parents[1] / "escaped_abs.txt")), b"pwned")],
        "duplicate": lambda u, r: [(_zi("recon/case00.mat"), b"second copy")],
        "symlink-member": lambda u, r: [(_zi("recon/case00.mat", stat.S_IFLNK | 0o777),
                                         str(u.parent / "truth" / "recon" / "case00.mat")
                                         .encode())],
        "ratio-bomb": lambda u, r: [(_zi("recon/zeros.bin"), big[:int(r.integers(2**19, 2**20))])],
        "too-many": lambda u, r: [(_zi(f"extra/f{i}.txt"), b"x") for i in range(60)],
        "backslash": lambda u, r: [(_zi("recon\\..\\..\\escaped.txt"), b"pwned")],
        "total": lambda u, r: [(_zi(f"blob{i}.bin"), r.bytes(900_000)) for i in range(6)],
    }


def _ti(name: str, type_=tarfile.REGTYPE, data: bytes | None = b"", linkname: str = ""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = type_, linkname
    info.size = len(data) if data is not None and type_ == tarfile.REGTYPE else 0
    return info, (data if type_ == tarfile.REGTYPE else None)


def _tar_members() -> dict:
    truth = lambda u: str(u.parent / "truth" / "recon" / "case00.mat")  # noqa: E731
    return {
        "traversal": lambda u, r: [_ti(_escape(u, r), data=b"pwned")],
        "absolute": lambda u, r: [_ti(str(u.parents[1] / "escaped_abs.txt"), data=b"pwned")],
        "duplicate": lambda u, r: [_ti("recon/case00.mat", data=b"second copy")],
        "symlink-member": lambda u, r: [_ti("recon/case00.mat", tarfile.SYMTYPE,
                                            linkname=truth(u))],
        "hardlink-member": lambda u, r: [_ti("recon/extra.mat", tarfile.LNKTYPE,
                                             linkname=truth(u))],
        "device": lambda u, r: [_ti("dev", [tarfile.CHRTYPE, tarfile.BLKTYPE,
                                            tarfile.FIFOTYPE][int(r.integers(0, 3))])],
        "ratio-bomb": lambda u, r: [_ti(f"pad/z{i}.bin", data=b"\0" * 100_000)
                                    for i in range(int(r.integers(20, 45)))],
        "too-many": lambda u, r: [_ti(f"extra/f{i}.txt", data=b"x") for i in range(60)],
    }


def _archive_bytes() -> dict:
    def make(fn):
        def mutate(unit, rng):
            fn(next(unit.iterdir()), rng)
            return ANY
        return mutate
    return {"archive-truncate": make(mu.truncate), "archive-bitflip": make(mu.bitflip),
            "archive-overwrite": make(mu.overwrite_block)}


def _read(unit: Path, root: Path, expect: Expect) -> list[str]:
    import traceback

    from suite.leaderboard import build_leaderboard

    try:
        res = build_leaderboard(unit, unit.parent / "challenge.yaml", unit.parent / "truth")
    except Exception as exc:  # noqa: BLE001 - a bad submission must never crash the build
        return [f"build_leaderboard raised {type(exc).__name__}: {exc}\n"
                + traceback.format_exc()[-1500:]]
    reps = {r.team: r for r in res.reports}
    if "team" not in reps:
        return [f"the team was not discovered: {[p.problem for p in res.discovery_problems]}"]
    rep = reps["team"]
    out = []
    if expect.rejected and rep.status != "rejected":
        out.append(f"status {rep.status}, expected rejected:\n{rep.summary()}")
    if expect.must_fail and rep.status == "valid":
        out.append(f"status valid for a broken submission:\n{rep.summary()}")
    if rep.status != "valid" and not rep.problems:
        out.append(f"status {rep.status} without a problem that says why")
    if any(not p.problem or "\n" in p.problem for p in rep.problems):
        out.append(f"a problem without a one-line message: {rep.summary()}")
    return out


def _target(kind: str) -> Target:
    muts = dict(_inner_mutations(kind == "folder"))
    if kind != "folder":
        extra = _zip_members() if kind == "zip" else _tar_members()
        muts.update({k: _archive(kind, v) for k, v in extra.items()})
        muts.update(_archive_bytes())
    return Target(f"submission-{kind}", _build(kind), _read, muts)


SUBMISSION_TARGETS = {t.name: t for t in (_target("folder"), _target("zip"), _target("tar"))}

"""Leaderboards: three constructed submissions of known quality rank in that order under every
method, a near tie shows unstable bootstrap ranks, bad submissions get a report (not a crash),
malicious archives are rejected with nothing written outside the target, the truth never
appears in any output, and the ranking statistics match independent references (R's
p.adjust/wilcox.test values, closed forms)."""

import io
import json
import math
import re
import stat
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from suite.cli import main
from suite.data.matv73 import write_mat_v73
from suite.data.nifti_io import write_labels_nifti
from suite.leaderboard import (
    ChallengeError, Limits, UnsafeArchiveError, aggregate_then_rank, bootstrap_ranks,
    build_leaderboard, parse_challenge, rank_min, rank_then_aggregate, safe_extract,
)
from suite.leaderboard import ranking as lb_ranking
from suite.stats import holm

N_CASES = 12
CHALLENGE = {
    "name": "phantom-challenge",
    "description": "Constructed test challenge",
    "tasks": [
        {"name": "recon", "kind": "reconstruction", "profile": "fastmri", "metric": "ssim"},
        {"name": "seg", "kind": "segmentation", "metric": "dice"},
        {"name": "clinical", "kind": "clinical", "file": "clinical.csv", "parameter": "lv_ef_pct"},
    ],
    "ranking": {"n_bootstrap": 200, "seed": 3},
    "limits": {"max_total_mb": 5, "max_member_mb": 1, "max_members": 200},
}
# truth EF values with many digits, to check that they never appear in any output
EF_TRUTH = [round(55.0 + 7.123456789 * math.sin(k + 0.5), 9) for k in range(N_CASES)]


def _image(rng, shape=(2, 3, 32, 28)):
    y, x = np.mgrid[0:shape[2], 0:shape[3]]
    img = np.zeros(shape)
    for s in range(shape[0]):
        for f in range(shape[1]):
            for _ in range(4):
                cy, cx, w = rng.uniform(6, 24), rng.uniform(6, 22), rng.uniform(2, 6)
                img[s, f] += rng.uniform(0.3, 1.0) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * w * w))
    return img / img.max()


def _labels(shift=0, n_frames=4, shape=(2, 32, 32)):
    lab = np.zeros((shape[0], n_frames, shape[1], shape[2]), np.uint8)
    y, x = np.mgrid[0:shape[1], 0:shape[2]]
    for f in range(n_frames):
        r_lv = 7 - 2 * min(f, n_frames - f) / n_frames * 2  # LV radius changes: ED/ES detectable
        d = np.hypot(y - 16 - shift, x - 14)
        for s in range(shape[0]):
            lab[s, f][np.hypot(y - 16, x - 24 - shift) < 5] = 1
            lab[s, f][(d >= r_lv) & (d < r_lv + 2.5)] = 2
            lab[s, f][d < r_lv] = 3
    return lab


def _write_recon(path: Path, img):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_mat_v73(path, {"img4ranking": img.transpose(3, 2, 0, 1).astype(np.float32)})


def _write_team(root: Path, truth_imgs, noise, seg_shift, ef_error, rng, cases=None):
    cases = range(N_CASES) if cases is None else cases
    noise = noise if isinstance(noise, list) else [noise] * N_CASES
    for k in cases:
        img = truth_imgs[k] + rng.normal(0, noise[k], truth_imgs[k].shape)
        _write_recon(root / "recon" / f"case{k:02d}.mat", np.abs(img))
        write_labels_nifti(root / "seg" / f"case{k:02d}.nii.gz", _labels(seg_shift[k]),
                           (1.5, 1.5, 8.0))
    (root / "clinical").mkdir(parents=True, exist_ok=True)
    lines = ["case,lv_ef_pct"] + [f"case{k:02d},{EF_TRUTH[k] + ef_error[k]!r}" for k in cases]
    (root / "clinical" / "clinical.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def challenge_data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lb")
    rng = np.random.default_rng(0)
    truth = tmp / "truth"
    imgs = [_image(rng) for _ in range(N_CASES)]
    for k in range(N_CASES):
        _write_recon(truth / "recon" / f"case{k:02d}.mat", imgs[k])
        write_labels_nifti(truth / "seg" / f"case{k:02d}.nii.gz", _labels(0), (1.5, 1.5, 8.0))
    (truth / "clinical").mkdir()
    (truth / "clinical" / "clinical.csv").write_text(
        "case,lv_ef_pct\n" + "".join(f"case{k:02d},{EF_TRUTH[k]!r}\n" for k in range(N_CASES)))
    subs = tmp / "submissions"
    # known quality order: alpha > bravo > charlie on every task and every case
    _write_team(subs / "alpha", imgs, 0.01, [0] * N_CASES, [0.5 * (-1) ** k for k in range(N_CASES)], rng)
    _write_team(subs / "bravo", imgs, 0.05, [1] * N_CASES, [2.0 * (-1) ** k for k in range(N_CASES)], rng)
    _write_team(subs / "charlie", imgs, 0.15, [3] * N_CASES, [6.0 * (-1) ** k for k in range(N_CASES)], rng)
    ch = tmp / "challenge.yaml"
    ch.write_text(yaml.safe_dump(CHALLENGE))
    return tmp, truth, subs, ch, imgs


def test_known_order_under_every_method(challenge_data, tmp_path):
    tmp, truth, subs, ch, _ = challenge_data
    res = build_leaderboard(subs, ch, truth, tmp_path / "site")
    assert [r.status for r in res.reports] == ["valid"] * 3
    for t in res.tasks:
        order = {team: i for i, team in enumerate(t.teams)}
        for name, r in t.rankings.items():
            ranks = [r.rank[order[x]] for x in ("alpha", "bravo", "charlie")]
            assert ranks == [1, 2, 3], (t.task.name, name, ranks)
        # with every case ordered the same way, the bootstrap never changes the ranking
        assert np.all(t.bootstrap.kendall_tau == 1.0)
        assert all(v == pytest.approx(1.0) for v in t.method_tau.values())
    assert list(res.consensus["team"]) == ["alpha", "bravo", "charlie"]
    # aggregate of the recon task equals the independent mean of per-case SSIMs computed here
    from suite.metrics.image import score
    from suite.data.matv73 import read_mat_variable

    recon = next(t for t in res.tasks if t.task.name == "recon")
    table = recon.table().set_index("team")
    vals = [score(read_mat_variable(truth / "recon" / f"case{k:02d}.mat", "img4ranking").transpose(2, 3, 1, 0),
                  read_mat_variable(subs / "bravo" / "recon" / f"case{k:02d}.mat", "img4ranking").transpose(2, 3, 1, 0),
                  "fastmri").ssim for k in range(N_CASES)]
    assert table.loc["bravo", "aggregate"] == pytest.approx(np.mean(vals), rel=1e-6)
    # clinical: mean absolute error is known by construction
    clin = next(t for t in res.tasks if t.task.name == "clinical").table().set_index("team")
    assert clin.loc["charlie", "aggregate"] == pytest.approx(6.0, rel=1e-9)


def test_site_is_self_contained_and_hides_the_truth(challenge_data, tmp_path):
    tmp, truth, subs, ch, _ = challenge_data
    out = tmp_path / "site"
    code = main(["leaderboard", "build", str(subs), "--protocol", str(ch), "--truth", str(truth),
                 "--out", str(out)])
    assert code == 0
    html = (out / "index.html").read_text()
    assert "<script>" in html and "sortable" in html and html.count("<svg") == 9
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", html)  # works offline
    assert "<link" not in html and "<img" not in html
    import xml.etree.ElementTree as ET

    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == 9  # blob plot, significance map and methods plot per task
    for svg in svgs:  # every inline plot is well-formed SVG with one disc or cell per datum
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
    blob = ET.fromstring(svgs[0])
    ns = "{http://www.w3.org/2000/svg}"
    # 3 teams with constant ranks: one disc each plus the 3 median dots
    assert len(blob.findall(f"{ns}circle")) == 6
    data = json.loads((out / "leaderboard.json").read_text())
    assert {t["task"]["name"] for t in data["tasks"]} == {"recon", "seg", "clinical"}
    # no truth value, and no truth path, in any output
    outputs = "".join(p.read_text() for p in out.iterdir())
    for v in EF_TRUTH:
        assert repr(v) not in outputs and f"{v:.6f}" not in outputs
    assert str(truth) not in outputs
    csv_text = (out / "leaderboard.csv").read_text()
    assert csv_text.splitlines()[0].startswith("task,team,metric,aggregate")
    assert "clinical" not in (out / "scores.csv").read_text()


def test_near_tie_gives_unstable_bootstrap_ranks(challenge_data, tmp_path):
    tmp, truth, _, ch, imgs = challenge_data
    rng = np.random.default_rng(7)
    subs = tmp_path / "subs"
    zeros = [0] * N_CASES
    # each twin is better on half of the cases (less noise), so the full-data ranking ties
    _write_team(subs / "twin1", imgs, [0.02, 0.04] * (N_CASES // 2), zeros, [1.0] * N_CASES, rng)
    _write_team(subs / "twin2", imgs, [0.04, 0.02] * (N_CASES // 2), zeros, [1.0] * N_CASES, rng)
    _write_team(subs / "weak", imgs, 0.20, [3] * N_CASES, [8.0] * N_CASES, rng)
    res = build_leaderboard(subs, ch, truth)
    recon = next(t for t in res.tasks if t.task.name == "recon")
    i1, i2, iw = (recon.teams.index(x) for x in ("twin1", "twin2", "weak"))
    counts = recon.bootstrap.rank_counts
    n = recon.bootstrap.n_bootstrap
    # each twin is ranked first in a substantial share of resamples and second in another
    for i in (i1, i2):
        assert counts[i, 0] > 0.1 * n and counts[i, 1] > 0.1 * n
    assert counts[iw, 2] == n  # the weak team is always last
    assert recon.bootstrap.kendall_tau.min() < 1.0
    # the twins are not significantly different from each other
    sig = recon.rankings["test-then-rank"].significant
    assert not sig[i1, i2] and not sig[i2, i1] and sig[i1, iw] and sig[i2, iw]


def test_bad_submissions_get_a_report(challenge_data, tmp_path):
    tmp, truth, subs, ch, imgs = challenge_data
    rng = np.random.default_rng(1)
    s = tmp_path / "subs"
    zeros = [0] * N_CASES
    _write_team(s / "good", imgs, 0.02, zeros, [1.0] * N_CASES, rng)
    _write_team(s / "sloppy", imgs, 0.02, zeros, [1.0] * N_CASES, rng, cases=range(1, N_CASES))
    bad = s / "sloppy"
    # NaN in one reconstruction, wrong shape in another, complex in a third
    nan_img = np.abs(imgs[1]).copy()
    nan_img[0, 0, 3, 3] = np.nan
    _write_recon(bad / "recon" / "case01.mat", nan_img)
    _write_recon(bad / "recon" / "case02.mat", imgs[2][:, :, :30])
    write_mat_v73(bad / "recon" / "case03.mat",
                  {"img4ranking": imgs[3].transpose(3, 2, 0, 1).astype(np.complex64)})
    write_mat_v73(bad / "recon" / "case04.mat", {"wrongname": imgs[4].transpose(3, 2, 0, 1)})
    (bad / "recon" / "case05.mat").write_bytes(b"not a mat file at all")
    write_labels_nifti(bad / "seg" / "case06.nii.gz", _labels(0) * 2, (1.5, 1.5, 8.0))  # label 6
    write_labels_nifti(bad / "seg" / "case07.nii.gz", _labels(0)[:, :3], (1.5, 1.5, 8.0))
    (bad / "seg" / "extra.nii.gz").write_bytes(b"x")
    (bad / "clinical" / "clinical.csv").write_text(
        "case,lv_ef_pct\ncase01,abc\ncase02,nan\ncase03,50\ncase03,51\nnobody,3\n")
    (s / "notes.txt").write_text("not a submission")
    (s / "empty-team").mkdir()
    res = build_leaderboard(s, ch, truth, tmp_path / "site")
    rep = {r.team: r for r in res.reports}
    assert rep["good"].status == "valid" and rep["empty-team"].status == "rejected"
    sl = rep["sloppy"]
    assert sl.status == "incomplete"
    text = "\n".join(f"{p.task} {p.case} {p.file}: {p.problem}" for p in sl.problems)
    for needle in ("recon case00 recon/case00.mat: file is missing",
                   "case01 recon/case01.mat: 1 non-finite values",
                   "case02 recon/case02.mat: `img4ranking` has MATLAB size",
                   "case03 recon/case03.mat: `img4ranking` is single complex",
                   "case04 recon/case04.mat: has no variable `img4ranking`",
                   "case05 recon/case05.mat: not a readable .mat file",
                   "seg case06 seg/case06.nii.gz: label map holds values [4, 6]",
                   "seg case07 seg/case07.nii.gz: label map has shape (2, 3, 32, 32)",
                   "seg/extra.nii.gz: not a case of the test set",
                   "line 2: `lv_ef_pct` is 'abc', not a number",
                   "line 3: `lv_ef_pct` is not finite", "case 'case03' repeats",
                   "1 unknown case(s) ignored"):
        assert needle in text, needle
    assert sl.n_scored == {"recon": N_CASES - 6, "seg": N_CASES - 3, "clinical": 1}
    assert any("notes.txt" in p.file for p in res.discovery_problems)
    # invalid cases count as missing: worst rank in every case for the sloppy team
    recon = next(t for t in res.tasks if t.task.name == "recon")
    col = recon.teams.index("sloppy")
    assert np.isnan(recon.values[:6, col]).all() and not np.isnan(recon.values[6:, col]).any()
    html = (tmp_path / "site" / "index.html").read_text()
    assert "sloppy: incomplete" in html and "empty-team: rejected" in html


# ---------------------------------------------------------------- archives
def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


def _tar(path, members):
    with tarfile.open(path, "w:gz") as tf:
        for m in members:
            tf.addfile(m[0], io.BytesIO(m[1]) if len(m) > 1 else None)
    return path


def _ti(name, type_=tarfile.REGTYPE, size=0, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.linkname = type_, size, linkname
    return ti


LIMITS = Limits(max_total_bytes=10_000, max_member_bytes=4_000, max_members=20, max_ratio=50)


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("kind, members, rule", [
    ("zip", [("../evil.txt", b"x", None)], "path traversal"),
    ("zip", [("a/../../evil.txt", b"x", None)], "path traversal"),
    ("zip", [("/tmp/evil.txt", b"x", None)], "absolute path"),
    ("zip", [("C:/evil.txt", b"x", None)], "absolute path"),
    ("zip", [("a\\..\\evil.txt", b"x", None)], "backslash"),
    ("zip", [("link", b"/etc/passwd", stat.S_IFLNK | 0o777)], "symbolic link"),
    ("zip", [("big.bin", b"\x01" * 5000, None)], "per-file limit"),
    ("zip", [(f"f{i}", b"\x01" * 3000, None) for i in range(4)], "total limit"),
    ("zip", [(f"f{i}", b"", None) for i in range(25)], "more than 20 members"),
    ("zip", [("a.txt", b"x", None), ("a.txt", b"y", None)], "duplicate member"),
    ("tar", [(_ti("../../evil.txt", size=1), b"x")], "path traversal"),
    ("tar", [(_ti("/abs.txt", size=1), b"x")], "absolute path"),
    ("tar", [(_ti("link", tarfile.SYMTYPE, linkname="/etc/passwd"),)], "symbolic link"),
    ("tar", [(_ti("hard", tarfile.LNKTYPE, linkname="/etc/passwd"),)], "hard link"),
    ("tar", [(_ti("dev", tarfile.CHRTYPE),)], "device, FIFO"),
    ("tar", [(_ti("fifo", tarfile.FIFOTYPE),)], "device, FIFO"),
    ("tar", [(_ti("big", size=5000), b"\x00" * 5000)], "per-file limit"),
])
def test_malicious_archives_are_rejected(tmp_path, kind, members, rule):
    outside = tmp_path / "outside"
    outside.mkdir()
    arch = tmp_path / f"team.{'zip' if kind == 'zip' else 'tar.gz'}"
    (_zip if kind == "zip" else _tar)(arch, members)
    target = outside / "target"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(UnsafeArchiveError) as err:
        safe_extract(arch, target, LIMITS)
    assert rule in str(err.value) and "team." in str(err.value)
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert before == after  # nothing written anywhere, the target removed


def test_zip_bomb_ratio_is_rejected(tmp_path):
    arch = tmp_path / "bomb.zip"
    with zipfile.ZipFile(arch, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\x00" * 3000)
    with pytest.raises(UnsafeArchiveError, match="compression ratio"):
        safe_extract(arch, tmp_path / "t", LIMITS)
    assert not (tmp_path / "t").exists()


def test_safe_archive_extracts_and_malicious_team_is_reported(challenge_data, tmp_path):
    tmp, truth, subs, ch, _ = challenge_data
    s = tmp_path / "subs"
    s.mkdir()
    # a well-formed archive with one wrapping folder is accepted and ranked
    with tarfile.open(s / "delta.tar.gz", "w:gz") as tf:
        tf.add(subs / "alpha", arcname="delta-submission")
    _zip(s / "mallory.zip", [("recon/../../../../escaped.txt", b"pwned", None)])
    _tar(s / "trudy.tar.gz", [(_ti("recon/link.mat", tarfile.SYMTYPE, linkname="/etc/passwd"),)])
    with zipfile.ZipFile(s / "oscar.zip", "w") as zf:
        zf.writestr("recon/huge.mat", b"\x01" * (2 * 2**20))  # above the 1 MB member limit
    # a submission folder holding a link to the truth is rejected, not scored
    (s / "eve" / "recon").mkdir(parents=True)
    (s / "eve" / "recon" / "case00.mat").symlink_to(truth / "recon" / "case00.mat")
    res = build_leaderboard(s, ch, truth, tmp_path / "site")
    rep = {r.team: r for r in res.reports}
    assert rep["delta"].status == "valid"
    assert rep["eve"].status == "rejected" and "symbolic link" in rep["eve"].problems[0].problem
    for team, rule in (("mallory", "path traversal"), ("trudy", "symbolic link"),
                       ("oscar", "per-file limit")):
        assert rep[team].status == "rejected"
        assert rule in rep[team].problems[0].problem
    assert res.ranked_teams == ["delta"]
    assert not any(p.name == "escaped.txt" for p in tmp_path.parents[0].rglob("escaped.txt"))
    assert sorted(p.name for p in s.iterdir()) == ["delta.tar.gz", "eve", "mallory.zip",
                                                    "oscar.zip", "trudy.tar.gz"]


# ---------------------------------------------------------------- ranking statistics
def test_holm_matches_r_p_adjust():
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") -> 0.03 0.06 0.06 0.02
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_rank_then_aggregate_missing_gets_worst_rank():
    v = np.array([[0.9, 0.8, np.nan], [0.7, 0.9, 0.8], [0.9, 0.9, 0.1]])
    r = rank_then_aggregate(v, "higher")
    # case ranks: [1,2,3], [3,1,2], [1,1,3] -> means 5/3, 4/3, 8/3
    assert r.score == pytest.approx([5 / 3, 4 / 3, 8 / 3])
    assert r.rank.tolist() == [2, 1, 3]
    a = aggregate_then_rank(v, "higher")  # missing -> worst of the case (0.8)
    assert a.score == pytest.approx([2.5 / 3, 2.6 / 3, 1.7 / 3])
    assert rank_min([1.0, 1.0, 0.5], "lower").tolist() == [2.0, 2.0, 1.0]


def test_test_then_rank_against_normal_approximation():
    rng = np.random.default_rng(5)
    base = rng.uniform(0.5, 0.9, 15)
    v = np.column_stack([base + 0.05 + rng.normal(0, 0.005, 15), base + rng.normal(0, 0.005, 15),
                         base - 0.05 + rng.normal(0, 0.005, 15)])  # no tied differences
    r = lb_ranking.test_then_rank(v, "higher", alpha=0.05, p_adjust="holm")
    # every pair: all 15 differences positive, W+ = 120, z = (120 - 60 - 0.5)/sqrt(15*16*31/24)
    # (R: wilcox.test(x, y, paired=TRUE, exact=FALSE, alternative="greater")); the three equal
    # p values are Holm-adjusted with multipliers 6, 5, 4 and the running maximum -> 6p
    z = (120 - 60 - 0.5) / math.sqrt(15 * 16 * 31 / 24)
    p_one = stats.norm.sf(z)
    assert r.p_adjusted[0, 2] == pytest.approx(min(1.0, 6 * p_one), rel=1e-6)
    assert r.score.tolist() == [2, 1, 0] and r.rank.tolist() == [1, 2, 3]


def test_bootstrap_is_seeded_and_counts_sum():
    rng = np.random.default_rng(2)
    v = rng.normal(0, 1, (10, 4))
    a = bootstrap_ranks(v, "higher", "rank-then-aggregate", n_bootstrap=50, seed=9)
    b = bootstrap_ranks(v, "higher", "rank-then-aggregate", n_bootstrap=50, seed=9)
    assert np.array_equal(a.ranks, b.ranks)
    assert (a.rank_counts.sum(axis=1) == 50).all()
    # Kendall tau against scipy for one resample
    from suite.leaderboard.ranking import rank_by

    full = rank_by("rank-then-aggregate", v, "higher").rank
    assert a.kendall_tau[0] == pytest.approx(stats.kendalltau(full, a.ranks[0]).statistic)


@pytest.mark.parametrize("change, key, text", [
    ({"tasks": []}, "tasks", "non-empty"),
    ({"tasks": [{"name": "a", "kind": "reconstuction"}]}, "tasks[0].kind", "did you mean 'reconstruction'"),
    ({"tasks": [{"name": "a", "kind": "reconstruction", "profile": "fastmr"}]},
     "tasks[0].profile", "did you mean 'fastmri'"),
    ({"tasks": [{"name": "a", "kind": "segmentation", "structures": ["LVV"]}]},
     "tasks[0].structures[0]", "did you mean 'LV'"),
    ({"ranking": {"primary": "mean-then-rank"}}, "ranking.primary", "expected one of"),
    ({"limits": {"max_members": 0}}, "limits.max_members", "must be >= 1; got 0"),
    ({"rankng": {"seed": 1}}, "rankng", "is not a known key; expected one of ['description', "
     "'limits', 'name', 'ranking', 'tasks'] (did you mean 'ranking'?)"),
    ({"tasks": [{"name": "a", "kind": "segmentation", "phase": ["ED"]}]}, "tasks[0].phase",
     "did you mean 'phases'"),
    ({"ranking": {"alpha": "0.05"}}, "ranking.alpha", "must be a number; got '0.05'"),
    ({"ranking": {"n_bootstrap": 100.5}}, "ranking.n_bootstrap", "must be an integer; got 100.5"),
    ({"tasks": [{"name": "a", "kind": "segmentation", "phases": "ED"}]}, "tasks[0].phases",
     "must be a list of strings; got 'ED'"),
    ({"tasks": [{"kind": "clinical", "parameter": "lv_ef_pct"}]}, "tasks[0].name",
     "is required: expected a non-empty string, got nothing"),
    ({"tasks": [{"name": "c", "kind": "clinical"}]}, "tasks[0].parameter", "is required"),
    ({"tasks": [{"name": "a", "kind": "segmentation", "metric": "dise"}]}, "tasks[0].metric",
     "is 'dise'; expected one of ['dice', 'nsd', 'hd', 'hd95', 'assd', 'masd'] "
     "(did you mean 'dice'?)"),
])
def test_challenge_errors_name_the_key(change, key, text):
    raw = json.loads(json.dumps(CHALLENGE)) | change
    with pytest.raises(ChallengeError) as err:
        parse_challenge(raw, source="c.yaml")
    assert err.value.key == key and text in str(err.value)
    assert str(err.value).startswith(f"c.yaml: `{key}` ")


def test_docs_challenge_example_validates():
    text = (Path(__file__).resolve().parents[1] / "docs" / "leaderboard.md").read_text()
    block = re.search(r"```yaml\n(# challenge.yaml.*?)```", text, re.S).group(1)
    ch = parse_challenge(yaml.safe_load(block), source="docs/leaderboard.md")
    assert [t.kind for t in ch.tasks] == ["reconstruction", "segmentation", "clinical"]
    assert ch.ranking.primary == "rank-then-aggregate" and ch.limits.max_ratio == 200


def test_wilcoxon_greater_matches_scipy_with_ties_and_zeros():
    rng = np.random.default_rng(11)
    for _ in range(20):
        d = np.round(rng.normal(0.1, 1.0, 17), 1)  # rounding makes ties and zeros
        ref = stats.wilcoxon(d, alternative="greater", method="approx", correction=True,
                             zero_method="wilcox").pvalue
        assert lb_ranking.wilcoxon_greater(d) == pytest.approx(ref, rel=1e-10)


def test_mirrored_cmrxrecon_tree(tmp_path, challenge_data):
    """Cases may be nested (the CMRxRecon submission tree mirrors the test set's folders)."""
    _, _, _, _, imgs = challenge_data
    raw = {"name": "nested", "tasks": [{"name": "MultiCoil", "kind": "reconstruction",
                                        "profile": "cmrxrecon2023"}],
           "ranking": {"n_bootstrap": 20}}
    cases = [f"Cine/TestSet/AccFactor04/P00{k}/cine_sax" for k in (1, 2, 3)]
    for k, c in enumerate(cases):
        _write_recon(tmp_path / "truth" / "MultiCoil" / f"{c}.mat", imgs[k])
        for team, noise in (("a", 0.01), ("b", 0.1)):
            rng = np.random.default_rng(k)
            _write_recon(tmp_path / "subs" / team / "MultiCoil" / f"{c}.mat",
                         np.abs(imgs[k] + rng.normal(0, noise, imgs[k].shape)))
    res = build_leaderboard(tmp_path / "subs", parse_challenge(raw), tmp_path / "truth")
    (t,) = res.tasks
    assert t.cases == cases and all(r.n_scored == {"MultiCoil": 3} for r in res.reports)
    assert t.table()["team"].tolist() == ["a", "b"]

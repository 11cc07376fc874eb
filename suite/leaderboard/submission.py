"""Submissions: discovery (folders and archives), validation against the truth's layout, and
per-case scoring on the hidden truth.

A bad submission never crashes the build: every problem becomes a :class:`Problem` (task,
case, file relative to the submission, what is wrong, how to fix it); a case whose file is
missing or invalid is *missing* for ranking (worst rank in rank-then-aggregate), and an unsafe
or unreadable archive rejects the whole submission, as does a case file that points outside
itself (an HDF5 external or soft link, a virtual dataset, external storage: it could read the
hidden truth; :mod:`suite.data.hdf5_safe`). A case file is described from its header and
compared with the truth's shape before its data are read, and may declare at most as many
bytes as a complex double array of the truth's size (a decompression bomb is refused unread).
A segmentation case's value is the mean of its structure × phase values through
:func:`suite.metrics.reduce.reduce_subjects`: a not-applicable value (a both-empty distance)
is left out and counted, never averaged. Messages never quote truth values; they name
shapes, dtypes and counts only.
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from suite.leaderboard.archive import UnsafeArchiveError, is_archive, safe_extract
from suite.metrics.reduce import SubjectAggregate, reduce_subjects

__all__ = ["Problem", "SubmissionReport", "discover_submissions", "open_submission",
           "load_truth", "TruthSet", "score_submission", "segmentation_case_value"]

_TEAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission."""

    task: str
    case: str
    file: str
    problem: str
    hint: str
    severity: str = "error"  # "error": the case is not scored; "warning": scored anyway

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class SubmissionReport:
    """Validation outcome of one submission.

    ``status`` is ``valid`` (every case of every task scored), ``incomplete`` (some cases
    missing or invalid; those get the worst rank) or ``rejected`` (unsafe or unreadable
    archive, or nothing usable; not ranked).
    """

    team: str
    source: str
    status: str = "valid"
    problems: list = field(default_factory=list)
    n_scored: dict = field(default_factory=dict)
    n_expected: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"team": self.team, "source": self.source, "status": self.status,
                "problems": [p.to_dict() for p in self.problems], "n_scored": self.n_scored,
                "n_expected": self.n_expected}

    def summary(self) -> str:
        head = (f"{self.team} ({self.source}): {self.status}; scored " + ", ".join(
            f"{t} {self.n_scored.get(t, 0)}/{n}" for t, n in self.n_expected.items()))
        lines = [head] + [f"  - [{p.severity}] {p.task or '-'} {p.case or ''} {p.file}: "
                          f"{p.problem}. Fix: {p.hint}" for p in self.problems]
        return "\n".join(lines)


def discover_submissions(root) -> tuple[list[tuple[str, Path]], list[Problem]]:
    """Submissions under ``root``: sub-folders and archives, one per team (name = folder name or
    archive stem). Returns ``[(team, path)]`` sorted by team and problems with other entries."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such submissions folder")
    subs, problems, seen = [], [], {}
    for p in sorted(root.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_symlink():
            problems.append(Problem("", "", p.name, "is a symbolic link; ignored",
                                    "place the submission itself in the folder"))
            continue
        if p.is_dir():
            team = p.name
        elif p.is_file() and is_archive(p):
            team = re.sub(r"(\.tar)?\.(zip|tar|gz|tgz|bz2|tbz2|xz|txz)$", "", p.name, flags=re.I)
        else:
            problems.append(Problem("", "", p.name, "is neither a folder nor a zip/tar archive; "
                                    "ignored", "submit a folder or a .zip/.tar(.gz) archive"))
            continue
        if not _TEAM.match(team):
            problems.append(Problem("", "", p.name, f"team name {team!r} is not a plain name "
                                    "(letters, digits, . _ -, up to 64)", "rename the entry"))
            continue
        if team in seen:
            problems.append(Problem("", "", p.name, f"second submission of team {team!r} "
                                    f"(first: {seen[team].name}); ignored",
                                    "keep one submission per team"))
            continue
        seen[team] = p
        subs.append((team, p))
    return subs, problems


def open_submission(path: Path, work_dir: Path, limits, task_names) -> Path:
    """The folder holding a submission's task folders (archives are extracted safely into
    ``work_dir``); a single wrapping folder is stepped into."""
    if path.is_dir():
        for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
            for name in dirnames + filenames:
                full = Path(dirpath) / name
                if full.is_symlink():
                    raise UnsafeArchiveError(path, "symbolic link in the submission folder: "
                                             "only regular files and folders are accepted",
                                             str(full.relative_to(path)))
        base = path
    else:
        base = work_dir
        safe_extract(path, work_dir, limits)
    for _ in range(2):
        entries = [e for e in base.iterdir() if not e.name.startswith((".", "__MACOSX"))]
        if any(e.name in task_names for e in entries) or len(entries) != 1 or not entries[0].is_dir():
            break
        base = entries[0]
    return base


# ---------------------------------------------------------------------- truth
@dataclass
class TruthSet:
    """Hidden truth per task: ``cases[task]`` is the sorted case list; values stay in memory."""

    root: Path
    cases: dict
    clinical: dict = field(default_factory=dict)


def load_truth(challenge, truth_dir) -> TruthSet:
    """Index the truth folder: ``<truth>/<task>/<case>.mat|.nii.gz`` or ``<task>/<file>``."""
    root = Path(truth_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such truth folder")
    cases, clinical = {}, {}
    for t in challenge.tasks:
        d = root / t.name
        if not d.is_dir():
            raise FileNotFoundError(f"{d}: truth folder of task {t.name!r} is missing; expected "
                                    f"<truth>/{t.name}/ (docs/leaderboard.md)")
        if t.kind in ("reconstruction", "segmentation"):
            cases[t.name] = sorted(filter(None, (_case_id(p, d, t.kind) for p in d.rglob("*")
                                                 if p.is_file())))
        else:
            values, problems = _read_clinical(d / t.file, t.parameter, None)
            if problems:
                raise ValueError(f"{d / t.file}: truth CSV invalid: {problems[0].problem}")
            clinical[t.name] = values
            cases[t.name] = sorted(values)
        if not cases[t.name]:
            raise FileNotFoundError(f"{d}: no truth cases for task {t.name!r}")
    return TruthSet(root=root, cases=cases, clinical=clinical)


def _case_id(p: Path, root: Path, kind: str) -> str:
    """Case identifier of a file: its path below the task folder without the extension, so
    flat (``P001.mat``) and mirrored challenge trees (``AccFactor04/P001/cine_sax.mat``, the
    CMRxRecon submission layout) both work; "" for a file of another type."""
    rel = p.relative_to(root)
    if kind == "reconstruction":
        return rel.with_suffix("").as_posix() if p.suffix == ".mat" else ""
    stem = _nifti_stem(p)
    return (rel.parent / stem).as_posix() if stem else ""


def _nifti_stem(p: Path) -> str:
    for suf in (".nii.gz", ".nii"):
        if p.name.endswith(suf):
            return p.name[: -len(suf)]
    return ""


def _mat_to_case_axes(a: np.ndarray) -> np.ndarray:
    """MATLAB ``(sx, sy, slices[, frames])`` → suite ``(slice, frame, y, x)``."""
    if a.ndim == 4:
        return a.transpose(2, 3, 1, 0)
    if a.ndim == 3:
        return a.transpose(2, 1, 0)[:, None]
    if a.ndim == 2:
        return a.T[None, None]
    raise ValueError(f"{a.ndim} axes")


def _read_clinical(path: Path, parameter: str, expected_cases) -> tuple[dict, list[Problem]]:
    problems: list[Problem] = []
    if not path.is_file():
        return {}, [Problem("", "", path.name, "file is missing", f"write {path.name} with "
                            f"columns `case,{parameter}`")]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError) as exc:
        return {}, [Problem("", "", path.name, f"cannot be read as UTF-8 text ({exc})",
                            "save the CSV as UTF-8")]
    rows = list(csv.DictReader(text.splitlines()))
    header = rows[0].keys() if rows else []
    if "case" not in header or parameter not in header:
        return {}, [Problem("", "", path.name, f"header must hold `case` and `{parameter}`; got "
                            f"{list(header)}", f"first line: case,{parameter}")]
    values: dict[str, float] = {}
    for i, r in enumerate(rows, start=2):
        case = (r.get("case") or "").strip()
        raw = (r.get(parameter) or "").strip()
        try:
            v = float(raw)
        except ValueError:
            problems.append(Problem("", case, path.name, f"line {i}: `{parameter}` is {raw!r}, "
                                    "not a number", "write a decimal number"))
            continue
        if not math.isfinite(v):
            problems.append(Problem("", case, path.name, f"line {i}: `{parameter}` is not finite",
                                    "write a finite number"))
            continue
        if case in values:
            problems.append(Problem("", case, path.name, f"line {i}: case {case!r} repeats; the "
                                    "first value is used", "one line per case", "warning"))
            continue
        values[case] = v
    if expected_cases is not None:
        extra = sorted(set(values) - set(expected_cases))
        if extra:
            problems.append(Problem("", "", path.name, f"{len(extra)} unknown case(s) ignored: "
                                    f"{extra[:5]}", "use the case names of the test set",
                                    "warning"))
    return values, problems


# ---------------------------------------------------------------------- scoring
def score_submission(challenge, truth: TruthSet, team: str, base: Path,
                     report: SubmissionReport) -> list[dict]:
    """Validate and score every case of every task; returns rows ``team, task, case, value,
    n_excluded`` (``value`` NaN where the case is missing or invalid; ``n_excluded`` the
    per-case values a segmentation case's mean left out, see
    :func:`segmentation_case_value`) and fills ``report``."""
    rows = []
    unsafe = []
    for t in challenge.tasks:
        expected = truth.cases[t.name]
        report.n_expected[t.name] = len(expected)
        d = base / t.name
        vals: dict[str, float] = {}
        n_excluded: dict[str, int] = {}
        if not d.is_dir():
            report.problems.append(Problem(t.name, "", f"{t.name}/", "task folder is missing; "
                                           "every case counts as missing",
                                           f"put the task's files in {t.name}/"))
        elif t.kind == "clinical":
            pred, probs = _read_clinical(d / t.file, t.parameter, expected)
            report.problems += [Problem(t.name, p.case, f"{t.name}/{p.file}", p.problem, p.hint,
                                        p.severity) for p in probs]
            for c in expected:
                if c in pred:
                    vals[c] = abs(pred[c] - truth.clinical[t.name][c])
        else:
            known = set(expected)
            for c in expected:
                try:
                    if t.kind == "reconstruction":
                        vals[c] = _score_recon(t, truth.root / t.name, d, c)
                    else:
                        agg = _score_seg(t, truth.root / t.name, d, c)
                        vals[c], n_excluded[c] = agg.value, agg.n_excluded
                except _CaseProblem as exc:
                    report.problems.append(Problem(t.name, c, exc.file, exc.problem, exc.hint))
                    if exc.unsafe:
                        unsafe.append(exc.file)
            for p in sorted(x for x in d.rglob("*") if x.is_file()):
                if _case_id(p, d, t.kind) not in known:
                    report.problems.append(Problem(t.name, "", f"{t.name}/"
                                                   f"{p.relative_to(d).as_posix()}",
                                                   "not a case of the test set; ignored",
                                                   "remove it or fix its name", "warning"))
        missing = [c for c in expected if c not in vals]
        if missing and d.is_dir():
            absent = [c for c in missing if not any(p.case == c for p in report.problems
                                                    if p.task == t.name)]
            if absent:
                report.problems.append(Problem(t.name, "", f"{t.name}/",
                                               f"{len(absent)} case(s) missing: {absent[:10]}",
                                               "submit every case; missing cases get the worst "
                                               "rank"))
        report.n_scored[t.name] = len(vals)
        rows += [{"team": team, "task": t.name, "case": c, "value": vals.get(c, math.nan),
                  "n_excluded": n_excluded.get(c, 0)} for c in expected]
    n_total = sum(report.n_scored.values())
    if unsafe:
        report.status = "rejected"
        report.problems.append(Problem("", "", unsafe[0], f"{len(unsafe)} file(s) point outside "
                                       "themselves (HDF5 links, virtual datasets or external "
                                       "storage), which could read the hidden truth; the whole "
                                       "submission is rejected",
                                       "submit files that hold their own data"))
    elif n_total == 0:
        report.status = "rejected"
        report.problems.append(Problem("", "", "", "no case could be scored",
                                       "check the folder layout in docs/leaderboard.md"))
    elif n_total < sum(report.n_expected.values()):
        report.status = "incomplete"
    return rows


class _CaseProblem(Exception):
    def __init__(self, file, problem, hint, unsafe: bool = False):
        self.file, self.problem, self.hint, self.unsafe = file, problem, hint, unsafe


def _case_limits(n_elements: int):
    """Input limits for a submitted case file: no array larger than a complex double array
    of the truth's ``n_elements`` (at least 1 MiB), so a bomb is refused from its header."""
    from suite.data.limits import InputLimits

    return InputLimits(max_array_bytes=max(16 * int(n_elements), 2**20))


def _read_problem(rel: str, exc, what: str, hint: str) -> _CaseProblem:
    """A reader's refusal as a case problem; links out of the file are ``unsafe``."""
    from suite.data.errors import UnsafeFileError

    if isinstance(exc, UnsafeFileError):
        return _CaseProblem(rel, f"refused: {exc.reason}", exc.hint, unsafe=True)
    return _CaseProblem(rel, f"{what} ({exc.reason})", exc.hint or hint)


def _score_recon(t, truth_dir: Path, sub_dir: Path, case: str) -> float:
    from suite.data.errors import CaseReadError
    from suite.data.matv73 import open_mat
    from suite.metrics.image import score

    rel = f"{t.name}/{case}.mat"
    p = sub_dir / f"{case}.mat"
    if not p.is_file():
        raise _CaseProblem(rel, "file is missing", f"write {rel} (MATLAB v7.3, variable "
                           f"`{t.variable}`)")
    ref_var = open_mat(truth_dir / f"{case}.mat")[t.variable]
    try:
        mf = open_mat(p, limits=_case_limits(np.prod(ref_var.shape, dtype=object)))
    except CaseReadError as exc:
        raise _read_problem(rel, exc, "not a readable .mat file",
                            "save with MATLAB `save(..., '-v7.3')`") from None
    except Exception as exc:  # noqa: BLE001 - h5py/OS errors on a damaged upload
        raise _CaseProblem(rel, f"not a readable .mat file ({type(exc).__name__})",
                           "save with MATLAB `save(..., '-v7.3')`") from None
    if t.variable not in mf:
        raise _CaseProblem(rel, f"has no variable `{t.variable}` (has {sorted(mf.variables)})",
                           f"name the array `{t.variable}`")
    var = mf[t.variable]
    if tuple(var.shape) != tuple(ref_var.shape):
        raise _CaseProblem(rel, f"`{t.variable}` has MATLAB size {tuple(var.shape)}; expected "
                           f"{tuple(ref_var.shape)} (sx, sy, slices, frames)",
                           "write the full-size image of every slice and frame")
    if var.is_complex or np.dtype(var.dtype).kind not in "f":
        raise _CaseProblem(rel, f"`{t.variable}` is {var.matlab_class}"
                           f"{' complex' if var.is_complex else ''}; expected real single or "
                           "double", "write the magnitude image, abs(x), as single")
    try:
        pred = np.asarray(var.read(), dtype=np.float64)
    except CaseReadError as exc:
        raise _read_problem(rel, exc, "data cannot be read",
                            "the file is truncated or damaged; write it again") from None
    except Exception as exc:  # noqa: BLE001 - h5py/zlib errors all mean a damaged file
        raise _CaseProblem(rel, f"data cannot be read ({type(exc).__name__})",
                           "the file is truncated or damaged; write it again") from None
    n_bad = int(np.count_nonzero(~np.isfinite(pred)))
    if n_bad:
        raise _CaseProblem(rel, f"{n_bad} non-finite values (NaN or inf)",
                           "replace them before submitting")
    ref = np.asarray(ref_var.read(), dtype=np.float64)
    s = score(_mat_to_case_axes(ref), _mat_to_case_axes(pred), profile=t.profile)
    return float(getattr(s, t.metric))


def segmentation_case_value(rows, metric: str, structures, phases) -> SubjectAggregate:
    """The value of one segmentation case: the mean of ``metric`` over the task's structures ×
    phases, by :func:`suite.metrics.reduce.reduce_subjects` (one case, one cluster).

    Parameters
    ----------
    rows : iterable of MetricRow
        The case's rows (:meth:`SegmentationResult.metric_rows`), with their ``exclusion``.
    metric : str
        e.g. ``"dice"``, ``"hd95"``.
    structures, phases : sequence of str
        The task's structures and phases (values averaged in this order).

    Returns
    -------
    SubjectAggregate
        ``value``: the mean of the usable values; a row with an ``exclusion`` (a both-empty
        distance, NaN under the ``worst`` policy: not applicable; a sentinel such as the
        ``mnms`` −1) is left out and counted (``n_excluded``, ``excluded_by``), never
        averaged. NaN when no value is usable: the case then counts as missing for ranking
        (worst value, worst rank).

    Examples
    --------
    >>> from suite.metrics.contract import metric_row
    >>> import suite.metrics.segmentation  # declares the segmentation metrics
    >>> rows = [metric_row("hd95", 4.0, structure="LV", phase="ED", profile="worst"),
    ...         metric_row("hd95", None, structure="LV", phase="ES", profile="worst",
    ...                    status="both_empty")]
    >>> agg = segmentation_case_value(rows, "hd95", ["LV"], ["ED", "ES"])
    >>> agg.value, agg.n_excluded
    (4.0, 1)
    """
    by_key = {(r.structure, r.phase): r for r in rows if r.metric == metric}
    sel = [by_key[(s, ph)] for s in structures for ph in phases if (s, ph) in by_key]
    return reduce_subjects([r.value for r in sel], ["case"] * len(sel),
                           exclusions=[r.exclusion for r in sel])


def _score_seg(t, truth_dir: Path, sub_dir: Path, case: str) -> SubjectAggregate:
    from suite.data.errors import CaseReadError
    from suite.data.nifti_io import read_nifti, read_nifti_header
    from suite.metrics.clinical import detect_ed_es, volume_curve_ml
    from suite.metrics.segmentation import evaluate

    cand = [sub_dir / f"{case}.nii.gz", sub_dir / f"{case}.nii"]
    p = next((c for c in cand if c.is_file()), None)
    rel = f"{t.name}/{case}.nii.gz"
    if p is None:
        raise _CaseProblem(rel, "file is missing", f"write {rel} (uint8 labels 0 bg, 1 RV, "
                           "2 MYO, 3 LV)")
    rel = f"{t.name}/{p.name}"
    ref = read_nifti(next(c for c in (truth_dir / f"{case}.nii.gz", truth_dir / f"{case}.nii")
                          if c.is_file()), kind="labels")
    try:
        limits = _case_limits(ref.data.size)
        shape = read_nifti_header(p, limits=limits).shape  # compared before any voxel is read
        if shape != ref.data.shape:
            raise _CaseProblem(rel, f"label map has shape {shape} (slice, frame, y, x); "
                               f"expected {ref.data.shape}", "segment every slice and frame of "
                               "the test image, on its grid")
        pred = read_nifti(p, kind="labels", allowed_labels=(0, 1, 2, 3), limits=limits)
    except CaseReadError as exc:
        raise _CaseProblem(rel, exc.reason, exc.hint) from None
    except _CaseProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - nibabel/OS errors on a damaged upload
        raise _CaseProblem(rel, f"not a readable NIfTI file ({type(exc).__name__})",
                           "write a NIfTI-1 .nii.gz label map") from None
    dy, dx, dz = ref.spacing_mm
    spacing = (dz, dy, dx)
    ed_es = detect_ed_es(volume_curve_ml(ref.data, spacing, 3))
    res = evaluate(ref.data, pred.data, spacing, ed_frame=ed_es.ed_frame,
                   es_frame=ed_es.es_frame)
    return segmentation_case_value(res.metric_rows(), t.metric, t.structures, t.phases)

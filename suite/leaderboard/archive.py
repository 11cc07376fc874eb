"""Safe extraction of submission archives (zip and tar), checked member by member.

Every member is checked *before* anything is written, and the archive is rejected as a whole
(:class:`UnsafeArchiveError`, naming the member and the rule) when any member:

* has an absolute name (``/x``, ``C:\\x``, ``\\\\server\\x``), a ``..`` component, a backslash,
  a NUL byte or an empty name;
* is a symbolic link or a hard link, a device, a FIFO or anything but a regular file or folder
  (tar types; zip members whose Unix mode in ``external_attr`` says link or device);
* is larger than ``max_member_bytes``, or the members together exceed ``max_total_bytes``;
* has a zip compression ratio above ``max_ratio`` (zip bombs), or, for a tar archive, the
  members declared so far exceed ``max_ratio`` times the archive's size (a compressed tar
  stream is one bomb rather than many; checked while scanning, so the scan stops at the first
  member over the limit, as it does for ``max_total_bytes``);
* makes the member count exceed ``max_members``;
* collides with another member after normalisation (``a/b`` twice, or a file over a folder).

For tar archives the standard library's ``tarfile.data_filter`` (PEP 706, Python ≥ 3.11.4) is
applied to each member as an additional check where available. Extraction then copies each
regular file's bytes through a counter (declared sizes are not trusted: a member that yields
more bytes than declared or than the limits aborts the extraction) into files opened with
``O_EXCL`` under the target, whose resolved path must stay inside the target. On any failure
the target folder is removed, so nothing is left behind and nothing is ever written outside it.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

__all__ = ["UnsafeArchiveError", "ExtractReport", "safe_extract", "is_archive",
           "ARCHIVE_SUFFIXES"]

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_CHUNK = 1 << 20


class UnsafeArchiveError(ValueError):
    """An archive rejected before (or while) extracting; ``member`` and ``rule`` say why."""

    def __init__(self, archive, reason: str, member: str | None = None,
                 hint: str = "repack the submission as plain files and folders (no links, no "
                             "absolute paths or '..'), within the size limits"):
        reason = " ".join(part.strip() for part in str(reason).splitlines() if part.strip())
        self.archive, self.reason, self.member, self.hint = str(archive), reason, member, hint
        where = f" (member {member!r})" if member is not None else ""
        super().__init__(f"{Path(self.archive).name}: {reason}{where}; {hint}")

    def to_dict(self) -> dict:
        return {"archive": Path(self.archive).name, "reason": self.reason,
                "member": self.member, "hint": self.hint}


@dataclass
class ExtractReport:
    """What was extracted: counts and sizes (bytes)."""

    archive: str
    target: str
    n_files: int = 0
    n_dirs: int = 0
    total_bytes: int = 0
    checks: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def summary(self) -> str:
        return (f"{Path(self.archive).name}: {self.n_files} files, {self.n_dirs} folders, "
                f"{self.total_bytes} bytes extracted safely ({', '.join(self.checks)})")


def is_archive(path) -> bool:
    name = Path(path).name.lower()
    return any(name.endswith(s) for s in ARCHIVE_SUFFIXES)


def _safe_name(archive, name: str) -> PurePosixPath:
    if not name or "\x00" in name:
        raise UnsafeArchiveError(archive, "empty member name or NUL byte in a name", name)
    if "\\" in name:
        raise UnsafeArchiveError(archive, "backslash in a member name (a Windows path)", name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(archive, "absolute path", name)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafeArchiveError(archive, "path traversal ('..' component)", name)
    if not parts:
        raise UnsafeArchiveError(archive, "member name resolves to the archive root", name)
    return PurePosixPath(*parts)


@dataclass
class _Member:
    name: PurePosixPath
    is_dir: bool
    size: int
    raw: object


def _scan_zip(zf: zipfile.ZipFile, archive, limits) -> list[_Member]:
    out = []
    for info in zf.infolist():
        rel = _safe_name(archive, info.filename)
        mode = (info.external_attr >> 16) & 0xFFFF
        kind = stat.S_IFMT(mode)
        if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
            what = "symbolic link" if kind == stat.S_IFLNK else f"special file (mode {oct(kind)})"
            raise UnsafeArchiveError(archive, f"{what}: only regular files and folders are "
                                     "accepted", info.filename)
        is_dir = info.is_dir()
        if not is_dir and info.compress_size > 0 and info.file_size / info.compress_size > limits.max_ratio:
            raise UnsafeArchiveError(archive, f"compression ratio "
                                     f"{info.file_size / info.compress_size:.0f}:1 exceeds "
                                     f"{limits.max_ratio:g}:1 (zip bomb?)", info.filename)
        out.append(_Member(rel, is_dir, 0 if is_dir else int(info.file_size), info))
    return out


def _scan_tar(tf: tarfile.TarFile, archive, target: Path, limits) -> list[_Member]:
    out = []
    filt = getattr(tarfile, "data_filter", None)
    packed = max(Path(archive).stat().st_size, 1)
    declared = 0
    for m in tf:
        rel = _safe_name(archive, m.name)
        if m.issym() or m.islnk():
            raise UnsafeArchiveError(archive, f"{'symbolic' if m.issym() else 'hard'} link to "
                                     f"{m.linkname!r}: links are not accepted", m.name)
        if not (m.isreg() or m.isdir()):
            raise UnsafeArchiveError(archive, "device, FIFO or other special member: only "
                                     "regular files and folders are accepted", m.name)
        if filt is not None:
            try:
                filt(m, str(target))
            except tarfile.FilterError as exc:
                raise UnsafeArchiveError(archive, f"rejected by tarfile.data_filter: {exc}",
                                         m.name) from None
        out.append(_Member(rel, m.isdir(), 0 if m.isdir() else int(m.size), m))
        declared += out[-1].size
        if out[-1].size > limits.max_member_bytes:
            raise UnsafeArchiveError(archive, f"member of {m.size} bytes exceeds the per-file "
                                     f"limit of {limits.max_member_bytes} bytes", m.name)
        if declared > limits.max_total_bytes:
            raise UnsafeArchiveError(archive, f"members exceed the total limit of "
                                     f"{limits.max_total_bytes} bytes", m.name)
        if declared > limits.max_ratio * packed:
            raise UnsafeArchiveError(archive, f"compression ratio {declared / packed:.0f}:1 of "
                                     f"the members so far exceeds {limits.max_ratio:g}:1 "
                                     "(tar bomb?)", m.name)
        if len(out) > limits.max_members:
            break
    return out


def _check(members: list[_Member], archive, limits) -> None:
    if len(members) > limits.max_members:
        raise UnsafeArchiveError(archive, f"more than {limits.max_members} members")
    total = 0
    files, dirs = set(), set()
    for m in members:
        if m.size > limits.max_member_bytes:
            raise UnsafeArchiveError(archive, f"member of {m.size} bytes exceeds the per-file "
                                     f"limit of {limits.max_member_bytes} bytes", str(m.name))
        total += m.size
        if total > limits.max_total_bytes:
            raise UnsafeArchiveError(archive, f"members exceed the total limit of "
                                     f"{limits.max_total_bytes} bytes", str(m.name))
        key = str(m.name)
        if key in files or (not m.is_dir and key in dirs):
            raise UnsafeArchiveError(archive, "duplicate member (would overwrite another)", key)
        (dirs if m.is_dir else files).add(key)
    for f in files:  # a file used as a folder by another member
        parents = {str(p) for p in PurePosixPath(f).parents}
        if parents & files:
            raise UnsafeArchiveError(archive, "a member lies below a file of the same name", f)


def _copy(src, dest: Path, archive, name, declared: int, budget: list, limits) -> int:
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    n = 0
    with os.fdopen(fd, "wb") as out:
        while True:
            chunk = src.read(_CHUNK)
            if not chunk:
                break
            n += len(chunk)
            budget[0] += len(chunk)
            if n > declared or n > limits.max_member_bytes or budget[0] > limits.max_total_bytes:
                raise UnsafeArchiveError(archive, "member yields more bytes than declared or "
                                         "allowed", name)
            out.write(chunk)
    return n


def safe_extract(archive, target, limits) -> ExtractReport:
    """Extract a zip or tar archive into ``target`` (a new folder) after checking every member.

    Parameters
    ----------
    archive : path
        ``.zip``, ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``, ``.tar.xz``.
    target : path
        Folder to create; must not exist yet.
    limits : suite.leaderboard.Limits
        Size and count limits.

    Returns
    -------
    ExtractReport

    Raises
    ------
    UnsafeArchiveError
        An unsafe member, a limit exceeded, or an unreadable archive. ``target`` is removed.
    """
    archive, target = Path(archive), Path(target)
    if target.exists():
        raise FileExistsError(f"{target}: extraction target exists; give a new folder")
    target.mkdir(parents=True)
    root = target.resolve()
    report = ExtractReport(archive=str(archive), target=str(target),
                           checks=["names", "links", "special files", "sizes", "member count"])
    try:
        name = archive.name.lower()
        if name.endswith(".zip"):
            try:
                zf = zipfile.ZipFile(archive)
            except (zipfile.BadZipFile, OSError) as exc:
                raise UnsafeArchiveError(archive, f"not a readable zip file ({exc})",
                                         hint="upload the archive again") from None
            with zf:
                members = _scan_zip(zf, archive, limits)
                report.checks.append("compression ratio")
                _check(members, archive, limits)
                try:
                    _write(members, root, archive, limits, report, lambda m: zf.open(m.raw))
                except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
                    raise UnsafeArchiveError(archive, f"zip member data is damaged ({exc})",
                                             hint="upload the archive again") from None
        else:
            try:
                tf = tarfile.open(archive, mode="r:*")
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise UnsafeArchiveError(archive, f"not a readable tar archive ({exc})",
                                         hint="upload the archive again") from None
            with tf:
                try:
                    members = _scan_tar(tf, archive, root, limits)
                except (tarfile.TarError, EOFError, OSError) as exc:
                    raise UnsafeArchiveError(archive, f"tar archive is damaged ({exc})",
                                             hint="upload the archive again") from None
                report.checks.append("compression ratio")
                if getattr(tarfile, "data_filter", None) is not None:
                    report.checks.append("tarfile.data_filter")
                _check(members, archive, limits)
                try:
                    _write(members, root, archive, limits, report, lambda m: tf.extractfile(m.raw))
                except (tarfile.TarError, EOFError, zlib.error) as exc:
                    raise UnsafeArchiveError(archive, f"tar member data is damaged ({exc})",
                                             hint="upload the archive again") from None
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return report


def _write(members, root: Path, archive, limits, report, opener) -> None:
    budget = [0]
    for m in members:
        dest = root.joinpath(*m.name.parts)
        # the resolved parent must be the target or inside it (no link can exist: none extracted)
        parent = dest.parent.resolve() if dest.parent.exists() else dest.parent
        if root != parent and root not in parent.parents:
            raise UnsafeArchiveError(archive, "resolves outside the target folder", str(m.name))
        if m.is_dir:
            dest.mkdir(parents=True, exist_ok=True)
            report.n_dirs += 1
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        src = opener(m)
        if src is None:
            raise UnsafeArchiveError(archive, "member has no data", str(m.name))
        with src:
            n = _copy(src, dest, archive, str(m.name), m.size, budget, limits)
        report.n_files += 1
        report.total_bytes += n

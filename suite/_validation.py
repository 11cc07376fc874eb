"""Shared input validation helpers (STYLE R6).

Every public function validates its inputs once, at the top, with these helpers, so that
every message has the same form: which argument of which function, what was expected and
what was received.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Collection, Iterable, Sequence

import numpy as np

__all__ = [
    "KeyPathError",
    "read_yaml_file",
    "yaml_shape_problem",
    "near",
    "check_option",
    "check_alpha",
    "check_column_name",
    "check_path_component",
    "check_same_shape",
    "check_finite",
    "check_spacing",
    "check_ndim",
    "check_dtype_kind",
]


class KeyPathError(ValueError):
    """A YAML file (protocol, gate criteria, challenge, dataset card, sponsor) that is invalid.

    The message names the file, the key path inside it (``conditions[1].type``) and the
    problem, which says what was expected and what was found; the three parts are kept as
    attributes (``source``, ``key``, ``problem``) for callers that re-raise or report them.
    """

    def __init__(self, source: str, key: str, problem: str):
        self.source, self.key, self.problem = source, key, problem
        super().__init__(f"{source}: `{key}` {problem}")


def read_yaml_file(path, error: type[KeyPathError], what: str):
    """The parsed content of the UTF-8 YAML file ``path`` (``yaml.safe_load``), or ``error``.

    ``error`` is the caller's :class:`KeyPathError` subclass; ``what`` completes the message
    for a missing file ("give ``what``"), e.g. ``"a protocol YAML file (see
    protocols/quick.yaml)"``. Returns ``(raw, path)`` with ``path`` as a :class:`~pathlib.Path`.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise error(str(p), "(file)", f"does not exist; give {what}")
    if p.stat().st_size > MAX_YAML_BYTES:
        raise error(str(p), "(file)", f"is {p.stat().st_size} bytes; a YAML file of the suite "
                    f"holds at most {MAX_YAML_BYTES} (is this {what}?)")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise error(str(p), "(file)", f"is not UTF-8 text: {exc}") from None
    except yaml.YAMLError as exc:
        raise error(str(p), "(file)", f"is not valid YAML: {exc}") from None
    except RecursionError:
        raise error(str(p), "(file)", "nests too deeply to be read") from None
    problem = yaml_shape_problem(raw)
    if problem:
        raise error(str(p), "(file)", problem)
    return raw, p


#: Largest YAML file :func:`read_yaml_file` reads (bytes).
MAX_YAML_BYTES = 8 * 2**20
#: Most values a YAML document may hold once its aliases are expanded, and deepest nesting.
MAX_YAML_VALUES, MAX_YAML_DEPTH = 200_000, 64


def yaml_shape_problem(doc: Any) -> str | None:
    """Why a parsed YAML document cannot be used, or None.

    ``yaml.safe_load`` builds an alias (``*a``) as a second reference to the anchored object,
    so a small file can stand for an exponentially large document ("billion laughs": nine
    anchors of nine aliases each) or for a recursive one (``&a [*a]``); either hangs or
    crashes whatever walks it (validation, JSON hashing). This counts the values of the
    document as if every alias were copied (each shared object measured once), stops at
    :data:`MAX_YAML_VALUES` or :data:`MAX_YAML_DEPTH`, and refuses cycles.

    Examples
    --------
    >>> import yaml
    >>> yaml_shape_problem(yaml.safe_load("a: &x [1, 2]\\nb: *x")) is None
    True
    >>> yaml_shape_problem(yaml.safe_load("a: &x [1, *x]"))
    'contains a recursive alias (an anchor used inside itself); write the values out'
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    class Stop(Exception):
        pass

    def size(obj, depth: int) -> int:
        if not isinstance(obj, (dict, list)):
            return 1
        key = id(obj)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise Stop("contains a recursive alias (an anchor used inside itself); write the "
                       "values out")
        if depth > MAX_YAML_DEPTH:
            raise Stop(f"nests deeper than {MAX_YAML_DEPTH} levels")
        active.add(key)
        n = 1
        for value in (obj.values() if isinstance(obj, dict) else obj):
            n += size(value, depth + 1)
            if n > MAX_YAML_VALUES:
                raise Stop(f"holds more than {MAX_YAML_VALUES} values once its aliases are "
                           "expanded (an alias bomb?)")
        active.discard(key)
        sizes[key] = n
        return n

    try:
        size(doc, 0)
    except Stop as exc:
        return str(exc)
    return None


def near(value: Any, options: Collection, *, cutoff: float = 0.6) -> str:
    """Hint naming the option closest to ``value``, or ``""`` when none is close.

    Parameters
    ----------
    value : any
        The value found (compared as ``str``).
    options : collection
        The valid values.
    cutoff : float, default 0.6
        Least :class:`difflib.SequenceMatcher` ratio of a close option (the default of
        :func:`difflib.get_close_matches`).

    Returns
    -------
    str
        ``" (did you mean 'x'?)"``, ready to append to a message, or ``""``.

    Notes
    -----
    The nearest-spelling hint of MONAI's ``look_up_option`` (``monai/utils/module.py``,
    MONAI 1.5.0); every "unknown name" message of the suite ends with it.

    Examples
    --------
    >>> near("undersampel", ["fully-sampled", "undersample", "noise"])
    " (did you mean 'undersample'?)"
    >>> near("xyz", ["undersample"])
    ''
    """
    close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_option(value: str, allowed: Iterable[str], *, name: str, where: str) -> str:
    """Return ``value`` if it is one of ``allowed``; otherwise raise with the nearest match.

    Raises
    ------
    ValueError
        ``"<where>: <name> must be one of [...]; got 'x' (did you mean 'y'?)"``.
    """
    allowed = list(allowed)
    if value in allowed:
        return value
    raise ValueError(f"{where}: {name} must be one of {allowed}; got {value!r}"
                     f"{near(value, allowed)}")


def check_alpha(alpha: float, *, where: str) -> float:
    """Return ``alpha`` (a significance level) as a float in (0, 1) or raise."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: `alpha` must be a number in (0, 1); got {alpha!r}") from None
    if not 0.0 < a < 1.0:
        raise ValueError(f"{where}: `alpha` must be in (0, 1); got {alpha!r}")
    return a


_COLUMN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def check_column_name(name: str) -> str:
    """Return ``name`` if it can name a method stage's column of the results table (lower-case
    letters, digits and ``_``, starting with a letter); otherwise raise ``ValueError``.

    The store refuses, in addition, the names of its own columns
    (:func:`suite.store.results.check_method_column`).

    Examples
    --------
    >>> check_column_name("t1_mapping")
    't1_mapping'
    >>> check_column_name("Re-con")
    Traceback (most recent call last):
    ...
    ValueError: stage name 'Re-con' cannot name a method column: use lower-case letters, digits and '_' (starting with a letter)
    """
    if not isinstance(name, str) or not _COLUMN_NAME.match(name):
        raise ValueError(f"stage name {name!r} cannot name a method column: use lower-case "
                         "letters, digits and '_' (starting with a letter)")
    return name


def check_path_component(name: str, what: str = "name") -> str:
    """Return ``name`` if it can be one component of a file path: a non-empty string without
    ``/``, ``\\``, NUL or control characters, not ``.`` or ``..`` and not starting with ``.``
    or ``~``, at most 255 characters; otherwise raise ``ValueError`` (a name from a protocol
    or a data file must not make the suite write or read outside its folder).

    Examples
    --------
    >>> check_path_component("R4-kt-gaussian")
    'R4-kt-gaussian'
    >>> check_path_component("../../etc", "condition name")
    Traceback (most recent call last):
    ...
    ValueError: condition name '../../etc' cannot name a file or folder: no '/', '\\', control characters, leading '.' or '~'
    """
    if (not isinstance(name, str) or not name or len(name) > 255 or name[0] in ".~"
            or any(c in name for c in "/\\") or any(ord(c) < 32 or ord(c) == 127 for c in name)):
        raise ValueError(f"{what} {name!r} cannot name a file or folder: no '/', '\\', control "
                         "characters, leading '.' or '~'")
    return name


def check_same_shape(a, b, *, names: Sequence[str], where: str, axes: str = "") -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if tuple(a.shape) != tuple(b.shape):
        layout = f" {axes}" if axes else ""
        raise ValueError(
            f"{where}: `{names[1]}` must match `{names[0]}` in shape{layout}; "
            f"got {tuple(b.shape)}, expected {tuple(a.shape)}"
        )


def check_ndim(x, ndim: int | Sequence[int], *, name: str, where: str, axes: str = "") -> None:
    """Raise ``ValueError`` unless ``x.ndim`` is ``ndim`` (or one of them)."""
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if x.ndim not in allowed:
        layout = f" {axes}" if axes else ""
        raise ValueError(
            f"{where}: `{name}` must have {' or '.join(map(str, allowed))} dimensions{layout}; "
            f"got shape {tuple(x.shape)}"
        )


def check_finite(x, *, name: str, where: str) -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or infinite values, saying how many and where."""
    arr = np.asarray(x)
    if arr.dtype.kind in "fc":
        with np.errstate(over="ignore", invalid="ignore"):
            total = arr.sum()
        if np.isfinite(total):  # one pass: NaN or ±inf anywhere makes the sum non-finite
            return
        bad = ~np.isfinite(arr)
        n_bad = int(bad.sum())
        if n_bad:
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{where}: `{name}` holds {n_bad} non-finite value(s) (NaN or inf), "
                f"the first at index {first}"
            )


def check_dtype_kind(x, kinds: str, *, name: str, where: str, expected: str) -> None:
    """Raise ``ValueError`` unless ``x.dtype.kind`` is one of ``kinds``."""
    if np.dtype(x.dtype).kind not in kinds:
        raise ValueError(f"{where}: `{name}` must be {expected}; got dtype {x.dtype}")


def check_spacing(spacing_mm, ndim: int, *, where: str, name: str = "spacing_mm") -> tuple:
    """Return ``spacing_mm`` as a tuple of ``ndim`` positive finite floats (mm)."""
    try:
        values = tuple(float(s) for s in spacing_mm)
    except TypeError:
        raise ValueError(
            f"{where}: `{name}` must be a sequence of {ndim} spacings in mm; got {spacing_mm!r}"
        ) from None
    if len(values) != ndim or not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(
            f"{where}: `{name}` must hold {ndim} positive finite spacings in mm; got {values}"
        )
    return values

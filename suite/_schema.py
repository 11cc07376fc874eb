"""Key-path validation of the suite's YAML files (STYLE R6, R7).

Protocols, release-gate criteria, challenge definitions, dataset cards and sponsor files are
parsed with ``yaml.safe_load`` (:func:`suite._validation.read_yaml_file`) and checked key by key
with one :class:`KeyPathValidator`. Every refusal is the caller's
:class:`~suite._validation.KeyPathError` subclass, with one message form::

    <file>: `<key.path[i].sub>` <problem: what was expected and what was found>

for example ``bad.yaml: `conditions[0].type` is 'undersampel'; expected one of
['fully-sampled', 'noise', 'undersample'] (did you mean 'undersample'?)``.

Conventions
-----------
- Key paths join mapping keys with ``.`` and put list indices in brackets
  (``gate.criteria[2].floor.min``); ``(top level)`` is the document itself and ``(file)`` the
  file (missing, not YAML).
- A key that is absent or null (``key:`` with no value) is *not given*: a getter returns its
  ``default``, or refuses with "is required" when ``required=True``.
- Getters return the validated value (``number`` as float, ``integer`` as int), so loaders
  build their frozen objects from the returns. ``bool`` is never accepted as a number.
- Unknown keys and values outside a closed set get the nearest valid spelling
  (:func:`suite._validation.near`), as MONAI's ``look_up_option`` does
  (``monai/utils/module.py``, MONAI 1.5.0).
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Collection, Hashable
from typing import Any, NoReturn

from suite._validation import KeyPathError, near

__all__ = ["KeyPathValidator"]


def _got(value: Any) -> str:
    """A short description of a found value (containers named, long reprs cut)."""
    if isinstance(value, dict):
        return f"a mapping {reprlib.repr(value)}"
    if isinstance(value, list):
        return f"a list {reprlib.repr(value)}"
    return reprlib.repr(value)


class KeyPathValidator:
    """Checks a parsed YAML document key by key; refusals name file, key path, expected, got.

    Parameters
    ----------
    source : str or path
        The file the document came from (first part of every message).
    error : type
        The caller's :class:`~suite._validation.KeyPathError` subclass to raise
        (``ProtocolError``, ``GateCriteriaError``, ...).

    Notes
    -----
    Two kinds of method. Value checks take a value and its full key path: :meth:`mapping`,
    :meth:`choice`, :meth:`fail`. Getters (:meth:`section`, :meth:`string`, :meth:`boolean`,
    :meth:`integer`, :meth:`number`, :meth:`option`, :meth:`list_of_mappings`,
    :meth:`list_of_strings`) take the containing mapping ``d``, the ``key`` inside it and the
    key path ``prefix`` of ``d`` (``""`` at the top level), name ``prefix.key`` in messages and
    return the validated value or ``default``. :meth:`unknown_keys` refuses keys outside a set.

    Examples
    --------
    >>> from suite._validation import KeyPathError
    >>> v = KeyPathValidator("c.yaml", KeyPathError)
    >>> doc = {"ranking": {"alpha": 0.1, "p_adjust": "hlm"}}
    >>> r = v.section(doc, "ranking", {"alpha", "p_adjust"})
    >>> v.number(r, "alpha", minimum=1e-6, maximum=0.5, prefix="ranking")
    0.1
    >>> v.option(r, "p_adjust", ("holm", "none"), prefix="ranking")
    Traceback (most recent call last):
    ...
    suite._validation.KeyPathError: c.yaml: `ranking.p_adjust` is 'hlm'; expected one of ['holm', 'none'] (did you mean 'holm'?)
    """

    def __init__(self, source, error: type[KeyPathError]):
        self.source, self.error = str(source), error

    # ------------------------------------------------------------------ building blocks
    def fail(self, key: str, problem: str) -> NoReturn:
        """Raise the caller's error for key path ``key`` (``problem`` says expected vs got)."""
        raise self.error(self.source, key, problem)

    @staticmethod
    def join(prefix: str, key: Any) -> str:
        """Key path of ``key`` inside the mapping at ``prefix``.

        >>> KeyPathValidator.join("gate.criteria[0]", "floor"), KeyPathValidator.join("", "seed")
        ('gate.criteria[0].floor', 'seed')
        """
        return f"{prefix}.{key}" if prefix else str(key)

    def _given(self, d: dict, key: str, required: bool, prefix: str, expected: str) -> Any:
        val = d.get(key)
        if val is None and required:
            self.fail(self.join(prefix, key), f"is required: expected {expected}, got "
                      f"{'null' if key in d else 'nothing'}")
        return val

    def _bounds(self, path: str, val, minimum, maximum, positive: bool) -> None:
        if positive and not val > 0:
            self.fail(path, f"must be > 0; got {val!r}")
        if minimum is not None and val < minimum:
            self.fail(path, f"must be >= {minimum}; got {val!r}")
        if maximum is not None and val > maximum:
            self.fail(path, f"must be <= {maximum}; got {val!r}")

    # ------------------------------------------------------------------ mappings
    def mapping(self, value: Any, key: str) -> dict:
        """``value`` (found at key path ``key``) if it is a mapping.

        >>> from suite._validation import KeyPathError
        >>> KeyPathValidator("p.yaml", KeyPathError).mapping([1, 2], "methods")
        Traceback (most recent call last):
        ...
        suite._validation.KeyPathError: p.yaml: `methods` must be a mapping; got a list [1, 2]
        """
        if not isinstance(value, dict):
            self.fail(key, f"must be a mapping; got {_got(value)}")
        return value

    def unknown_keys(self, d: dict, allowed: Collection[str], prefix: str = "") -> None:
        """Refuse the first key of ``d`` not in ``allowed``, with the nearest allowed key.

        >>> from suite._validation import KeyPathError
        >>> KeyPathValidator("s.yaml", KeyPathError).unknown_keys({"anotators": 2}, {"annotators"})
        Traceback (most recent call last):
        ...
        suite._validation.KeyPathError: s.yaml: `anotators` is not a known key; expected one of ['annotators'] (did you mean 'annotators'?)
        """
        for k in d:
            if k not in allowed:
                self.fail(self.join(prefix, k), f"is not a known key; expected one of "
                          f"{sorted(allowed)}{near(k, allowed)}")

    def section(self, d: dict, key: str, allowed: Collection[str] | None = None, *,
                required: bool = False, prefix: str = "") -> dict:
        """The mapping ``d[key]`` (``{}`` if not given); keys outside ``allowed`` are refused."""
        path = self.join(prefix, key)
        val = self._given(d, key, required, prefix, "a mapping")
        if val is None:
            return {}
        self.mapping(val, path)
        if allowed is not None:
            self.unknown_keys(val, allowed, path)
        return val

    # ------------------------------------------------------------------ scalars
    def string(self, d: dict, key: str, *, required: bool = False, default: str | None = None,
               non_empty: bool = False, prefix: str = "") -> str | None:
        """``d[key]`` if it is a string (not blank with ``non_empty``), else ``default``."""
        expected = "a non-empty string" if non_empty else "a string"
        val = self._given(d, key, required, prefix, expected)
        if val is None:
            return default
        if not isinstance(val, str) or (non_empty and not val.strip()):
            self.fail(self.join(prefix, key), f"must be {expected}; got {_got(val)}")
        return val

    def boolean(self, d: dict, key: str, *, required: bool = False, default: bool | None = None,
                prefix: str = "") -> bool | None:
        """``d[key]`` if it is ``true`` or ``false``, else ``default``."""
        val = self._given(d, key, required, prefix, "true or false")
        if val is None:
            return default
        if not isinstance(val, bool):
            self.fail(self.join(prefix, key), f"must be true or false; got {_got(val)}")
        return val

    def integer(self, d: dict, key: str, *, minimum: int | None = None,
                maximum: int | None = None, required: bool = False, default: int | None = None,
                prefix: str = "") -> int | None:
        """``d[key]`` if it is an integer in ``[minimum, maximum]``, else ``default``.

        >>> from suite._validation import KeyPathError
        >>> KeyPathValidator("p.yaml", KeyPathError).integer({"seed": -1}, "seed", minimum=0)
        Traceback (most recent call last):
        ...
        suite._validation.KeyPathError: p.yaml: `seed` must be >= 0; got -1
        """
        val = self._given(d, key, required, prefix, "an integer")
        if val is None:
            return default
        path = self.join(prefix, key)
        if isinstance(val, bool) or not isinstance(val, int):
            self.fail(path, f"must be an integer; got {_got(val)}")
        self._bounds(path, val, minimum, maximum, False)
        return val

    def number(self, d: dict, key: str, *, minimum: float | None = None,
               maximum: float | None = None, positive: bool = False, required: bool = False,
               default: float | None = None, prefix: str = "") -> float | None:
        """``float(d[key])`` if it is a number in ``[minimum, maximum]`` (``> 0`` with
        ``positive``), else ``default``."""
        val = self._given(d, key, required, prefix, "a number")
        if val is None:
            return default
        path = self.join(prefix, key)
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            self.fail(path, f"must be a number; got {_got(val)}")
        if not math.isfinite(val if isinstance(val, float) else 0.0) or (
                isinstance(val, int) and abs(val) > 2**1023):
            self.fail(path, f"must be a finite number; got {_got(val)}")
        self._bounds(path, val, minimum, maximum, positive)
        return float(val)

    def option(self, d: dict, key: str, options: Collection, *, required: bool = False,
               default: Any = None, prefix: str = "") -> Any:
        """``d[key]`` if it is one of ``options`` (refusal names the nearest), else ``default``."""
        val = self._given(d, key, required, prefix, f"one of {list(options)}")
        if val is None:
            return default
        return self.choice(val, options, self.join(prefix, key))

    def choice(self, value: Any, options: Collection, key: str) -> Any:
        """``value`` (found at key path ``key``) if it is one of ``options``; else refuse it,
        naming the nearest.

        >>> from suite._validation import KeyPathError
        >>> v = KeyPathValidator("p.yaml", KeyPathError)
        >>> v.choice("ssim", ("ssim", "psnr"), "metrics.image.profiles[0]")
        'ssim'
        >>> v.choice("fastmr", ("fastmri",), "metrics.image.profiles[0]")
        Traceback (most recent call last):
        ...
        suite._validation.KeyPathError: p.yaml: `metrics.image.profiles[0]` is 'fastmr'; expected one of ['fastmri'] (did you mean 'fastmri'?)
        """
        if not (isinstance(value, Hashable) and value in options):
            self.fail(key, f"is {value!r}; expected one of {list(options)}{near(value, options)}")
        return value

    # ------------------------------------------------------------------ lists
    def _list(self, d: dict, key: str, expected: str, required: bool, non_empty: bool,
              prefix: str) -> list | None:
        val = self._given(d, key, required, prefix, f"a list of {expected}")
        if val is None:
            return None
        path = self.join(prefix, key)
        if not isinstance(val, list):
            self.fail(path, f"must be a list of {expected}; got {_got(val)}")
        if non_empty and not val:
            self.fail(path, f"must not be empty: expected a non-empty list of {expected}, got []")
        return val

    def list_of_mappings(self, d: dict, key: str, *, required: bool = False,
                         non_empty: bool = False, prefix: str = "") -> list[dict]:
        """``d[key]`` if it is a list of mappings (``[]`` if not given)."""
        val = self._list(d, key, "mappings", required, non_empty, prefix)
        for i, item in enumerate(val or []):
            self.mapping(item, f"{self.join(prefix, key)}[{i}]")
        return val or []

    def list_of_strings(self, d: dict, key: str, *, options: Collection | None = None,
                        required: bool = False, non_empty: bool = False,
                        default: list | None = None, prefix: str = "") -> list[str] | None:
        """``d[key]`` if it is a list of strings, each one of ``options`` when given; else
        ``default``.

        >>> from suite._validation import KeyPathError
        >>> v = KeyPathValidator("c.yaml", KeyPathError)
        >>> v.list_of_strings({"phases": ["ED", "ES"]}, "phases", options=("ED", "ES"))
        ['ED', 'ES']
        >>> v.list_of_strings({"structures": ["LVV"]}, "structures", options=("LV", "MYO", "RV"))
        Traceback (most recent call last):
        ...
        suite._validation.KeyPathError: c.yaml: `structures[0]` is 'LVV'; expected one of ['LV', 'MYO', 'RV'] (did you mean 'LV'?)
        """
        val = self._list(d, key, "strings", required, non_empty, prefix)
        if val is None:
            return default
        for i, item in enumerate(val):
            path = f"{self.join(prefix, key)}[{i}]"
            if not isinstance(item, str):
                self.fail(path, f"must be a string; got {_got(item)}")
            if options is not None:
                self.choice(item, options, path)
        return val

"""Code execution is explicit: which user code a protocol may import, and the one importer.

A protocol is a plan, but three of its keys make the suite import and run Python code:

* ``methods.<stage>[i].plugin: "module:Class"`` — imported and instantiated with ``params``;
* ``stages.<name>.plugin: "module:attribute"`` — a stage declaration, imported when the
  protocol is validated;
* ``plugin_paths: [folder, ...]`` — folders put first on ``sys.path`` for those imports, where
  a module found shadows an installed one of the same name (unused, hence harmless, in a
  protocol without plugins).

``{plugin: "os:system", params: {command: ...}}`` would run a shell command, so none of these is
honoured unless the user allowed it, outside the protocol: an :class:`AllowList` given on the
command line (``--allow-plugin module:Class``, ``--allow-plugin-path DIR``, repeatable), in the
user's configuration file (:func:`user_allow_list`: ``allow_plugins:`` and
``allow_plugin_paths:`` in ``~/.config/cmrsuite/config.yaml``), or to the library
(``load_protocol(path, allow_plugins=...)``, ``run_protocol(..., allow_plugins=...)``).
Installed code counts as allowed, because installing a package is the user's act: a method
``{entry_point: name}`` (group ``cmrsuite.methods``), and a plugin whose ``module:attribute`` is
the value of an installed entry point of the groups ``cmrsuite.methods`` or ``cmrsuite.stages``.
Reference methods (``{name: ...}``) and prediction folders run no user code.

:func:`protocol_code` lists every callable a protocol would import (``cmrsuite validate``
prints it); :func:`check_protocol_code` refuses the first one that is not allowed with
:class:`PluginNotAllowedError` (exit code 6); :func:`import_plugin` is the only place that
imports a plugin, and checks again.

Nothing else a user hands the suite runs code: submissions, dataset files, run folders and
reports are read as data (``docs/security.md``).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from suite import exit_codes
from suite._validation import KeyPathError, read_yaml_file

__all__ = ["AllowList", "CodeUse", "PluginNotAllowedError", "ConfigError", "protocol_code",
           "check_protocol_code", "import_plugin", "user_allow_list", "user_config_path",
           "ENTRY_POINT_GROUPS"]

#: Entry-point groups whose installed values count as allowed plugins.
ENTRY_POINT_GROUPS = ("cmrsuite.methods", "cmrsuite.stages")
_SPEC = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:([A-Za-z_]\w*|\*)")
_HOW = ("allow it outside the protocol: `--allow-plugin {spec}` on the command line, "
        "`allow_plugins: [{spec}]` in {config}, or `allow_plugins=[{spec!r}]` in Python "
        "(docs/security.md)")


class PluginNotAllowedError(KeyPathError):
    """A protocol names code (plugin, stage plugin, plugin path) the user did not allow."""

    exit_code = exit_codes.NOT_ALLOWED


class ConfigError(KeyPathError):
    """A user configuration file that does not validate."""


def _check_spec(spec: Any, where: str) -> str:
    if not isinstance(spec, str) or not _SPEC.fullmatch(spec):
        raise ValueError(f"{where}: expected 'module:Class' (or 'module:*' for every attribute "
                         f"of a module); got {spec!r}")
    return spec


@dataclass(frozen=True)
class AllowList:
    """Plugins (``"module:attribute"``, or ``"module:*"``) and plugin folders the user allows.

    Parameters
    ----------
    plugins : iterable of str
    paths : iterable of path-like
        Folders a protocol may put on ``sys.path`` (a folder inside one counts too); stored
        absolute and resolved.

    Examples
    --------
    >>> allow = AllowList(["mylab.recon:Net"])
    >>> allow.allows_plugin("mylab.recon:Net"), allow.allows_plugin("os:system")
    (True, False)
    """

    plugins: tuple = ()
    paths: tuple = ()

    def __init__(self, plugins: Iterable[str] = (), paths: Iterable = ()):
        if isinstance(plugins, str):
            plugins = [plugins]
        specs = tuple(dict.fromkeys(_check_spec(p, "allowed plugin") for p in plugins))
        folders = tuple(dict.fromkeys(str(Path(os.path.expanduser(str(p))).resolve())
                                      for p in ([paths] if isinstance(paths, (str, Path))
                                                else paths)))
        object.__setattr__(self, "plugins", specs)
        object.__setattr__(self, "paths", folders)

    @classmethod
    def of(cls, value) -> "AllowList":
        """An allow-list from ``None`` (empty), an :class:`AllowList`, one ``"module:Class"``
        string, or an iterable of them."""
        if value is None:
            return cls()
        if isinstance(value, AllowList):
            return value
        return cls(value)

    def merge(self, other) -> "AllowList":
        """Everything this list or ``other`` (anything :meth:`of` takes) allows."""
        other = AllowList.of(other)
        return AllowList([*self.plugins, *other.plugins], [*self.paths, *other.paths])

    def allows_plugin(self, spec: str) -> bool:
        """Whether ``module:attribute`` may be imported: listed, its module listed as
        ``module:*``, or the value of an installed entry point (:data:`ENTRY_POINT_GROUPS`)."""
        module = spec.partition(":")[0]
        return (spec in self.plugins or f"{module}:*" in self.plugins
                or spec in installed_plugins())

    def allows_path(self, path) -> bool:
        """Whether folder ``path`` (resolved) is, or is inside, an allowed folder."""
        p = Path(path).resolve()
        return any(p == Path(a) or Path(a) in p.parents for a in self.paths)

    def to_dict(self) -> dict:
        return {"plugins": list(self.plugins), "paths": list(self.paths)}


@lru_cache(maxsize=1)
def installed_plugins() -> frozenset:
    """``module:attribute`` values of the installed entry points of
    :data:`ENTRY_POINT_GROUPS` (installing a package is the user's act)."""
    from importlib.metadata import entry_points

    return frozenset(ep.value for group in ENTRY_POINT_GROUPS for ep in entry_points(group=group))


# ====================================================================== protocols
@dataclass(frozen=True)
class CodeUse:
    """One piece of code a protocol would import.

    Attributes
    ----------
    kind : str
        ``"method plugin"``, ``"stage plugin"``, ``"entry point"`` or ``"plugin path"``.
    spec : str
        ``module:attribute``, the entry point's name, or the folder (resolved).
    key : str
        Key path in the protocol (``methods.recon[2].plugin``).
    allowed : bool
    note : str
        Why it is allowed or not, or what an entry point resolves to.
    """

    kind: str
    spec: str
    key: str
    allowed: bool
    note: str = ""

    def to_dict(self) -> dict:
        return {"kind": self.kind, "spec": self.spec, "key": self.key, "allowed": self.allowed,
                "note": self.note}

    def describe(self) -> str:
        mark = "allowed" if self.allowed else "NOT ALLOWED"
        return f"{self.kind:<13} {self.spec}  ({self.key}; {mark}{': ' + self.note if self.note else ''})"


def _resolve_folder(base_dir, p: str) -> Path:
    path = Path(os.path.expanduser(p))
    return (path if path.is_absolute() else Path(base_dir) / path).resolve()


def protocol_code(raw: Any, base_dir=".", allow=None) -> list[CodeUse]:
    """Every plugin, stage plugin, entry point and plugin path of the protocol ``raw`` (a dict
    as loaded from YAML, possibly invalid: malformed entries are skipped, validation reports
    them), with whether ``allow`` (:meth:`AllowList.of`) allows it. Imports nothing."""
    allow = AllowList.of(allow)
    out: list[CodeUse] = []
    if not isinstance(raw, Mapping):
        return out
    stages = raw.get("stages")
    for name, entry in (stages.items() if isinstance(stages, Mapping) else []):
        spec = entry.get("plugin") if isinstance(entry, Mapping) else None
        if isinstance(spec, str):
            out.append(CodeUse("stage plugin", spec, f"stages.{name}.plugin",
                               allow.allows_plugin(spec), _why(allow, spec)))
    methods = raw.get("methods")
    for stage, entries in (methods.items() if isinstance(methods, Mapping) else []):
        for i, m in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(m, Mapping):
                continue
            if isinstance(m.get("plugin"), str):
                spec = m["plugin"]
                out.append(CodeUse("method plugin", spec, f"methods.{stage}[{i}].plugin",
                                   allow.allows_plugin(spec), _why(allow, spec)))
            elif isinstance(m.get("entry_point"), str):
                target = _entry_point_target(m["entry_point"])
                out.append(CodeUse("entry point", m["entry_point"],
                                   f"methods.{stage}[{i}].entry_point", True,
                                   f"installed: {target}" if target else
                                   "not installed (the run will fail to load it)"))
    plugins = any(u.kind.endswith("plugin") for u in out)
    paths = raw.get("plugin_paths")
    for i, p in enumerate(paths if isinstance(paths, list) else []):
        if isinstance(p, str) and "\x00" not in p:  # on sys.path only to import a plugin
            folder = _resolve_folder(base_dir, p)
            allowed = allow.allows_path(folder)
            out.insert(i, CodeUse("plugin path", str(folder), f"plugin_paths[{i}]",
                                  allowed or not plugins,
                                  "modules found here shadow installed ones" if plugins else
                                  "unused: the protocol imports no plugin"))
    return out


def _why(allow: AllowList, spec: str) -> str:
    if spec in allow.plugins or f"{spec.partition(':')[0]}:*" in allow.plugins:
        return "on the allow-list"
    if spec in installed_plugins():
        return "an installed entry point"
    return ""


def _entry_point_target(name: str) -> str | None:
    from importlib.metadata import entry_points

    found = [ep.value for ep in entry_points(group="cmrsuite.methods") if ep.name == name]
    return found[0] if found else None


def check_protocol_code(raw: Any, base_dir=".", allow=None, *,
                        source: str = "<protocol>") -> list[CodeUse]:
    """:func:`protocol_code`, refusing code the user did not allow.

    Raises
    ------
    PluginNotAllowedError
        Names the first use not allowed (file, key path), every other one, and how to allow
        them.
    """
    uses = protocol_code(raw, base_dir, allow)
    refused = [u for u in uses if not u.allowed]
    if refused:
        first = refused[0]
        others = "".join(f"; also `{u.key}` ({u.spec})" for u in refused[1:])
        raise PluginNotAllowedError(source, first.key, _refusal(first) + others)
    return uses


def _refusal(use: CodeUse) -> str:
    config = user_config_path()
    if use.kind == "plugin path":
        return (f"puts folder {use.spec} on the Python import path, and nothing allows it; "
                "allow it outside the protocol: `--allow-plugin-path "
                f"{use.spec}` on the command line, `allow_plugin_paths: [{use.spec}]` in "
                f"{config}, or `allow_plugins=AllowList(paths=[...])` in Python "
                "(docs/security.md)")
    return (f"names {use.kind} {use.spec!r}, which would be imported and run, and nothing "
            "allows it (a protocol runs only code you allow); "
            + _HOW.format(spec=use.spec, config=config))


def import_plugin(spec: str, *, base_dir=".", plugin_paths: Iterable[str] | None = None,
                  allow=None, error: type[Exception] = ImportError, key: str = "plugin",
                  source: str = "<protocol>"):
    """The attribute named by ``spec`` (``"module:attribute"``), imported after checking that
    ``allow`` allows it and every folder of ``plugin_paths`` (relative to ``base_dir``), which
    are then put first on ``sys.path``.

    Raises
    ------
    PluginNotAllowedError
        ``spec`` or a folder is not allowed (nothing is imported).
    error
        The module cannot be imported or has no such attribute (the caller's error class).
    """
    allow = AllowList.of(allow)
    _check_spec(spec, key)
    if not allow.allows_plugin(spec):
        raise PluginNotAllowedError(source, key, _refusal(CodeUse("plugin", spec, key, False)))
    folders = [_resolve_folder(base_dir, p) for p in plugin_paths or []]
    for i, folder in enumerate(folders):
        if not allow.allows_path(folder):
            raise PluginNotAllowedError(source, f"plugin_paths[{i}]", _refusal(
                CodeUse("plugin path", str(folder), f"plugin_paths[{i}]", False)))
    for folder in folders:
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise error(f"plugin {spec!r}: cannot import module {module_name!r} ({exc}); add its "
                    "folder to `plugin_paths` in the protocol (and allow it) or install "
                    "it") from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise error(f"plugin {spec!r}: module {module_name!r} has no attribute {attr!r}")
    return obj


# ====================================================================== user configuration
def user_config_path() -> Path:
    """The user's configuration file: ``$CMRSUITE_CONFIG``, else
    ``$XDG_CONFIG_HOME/cmrsuite/config.yaml``, else ``~/.config/cmrsuite/config.yaml``."""
    if os.environ.get("CMRSUITE_CONFIG"):
        return Path(os.environ["CMRSUITE_CONFIG"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "cmrsuite" / "config.yaml"


def user_allow_list(path=None) -> AllowList:
    """The allow-list of the user's configuration file (:func:`user_config_path`; an absent
    file allows nothing)::

        allow_plugins: [mylab.recon:Net, mylab.stages:*]
        allow_plugin_paths: [~/code/cmr-plugins]   # relative to this file's folder

    Raises
    ------
    ConfigError
        The file is not YAML, or a key or value is not as above.
    """
    p = Path(path) if path is not None else user_config_path()
    if not p.is_file():
        return AllowList()
    raw, p = read_yaml_file(p, ConfigError, "a cmrsuite configuration file")
    if raw is None:
        return AllowList()
    if not isinstance(raw, dict):
        raise ConfigError(str(p), "(top level)", "must be a mapping with `allow_plugins` and "
                          "`allow_plugin_paths`")
    for key in raw:
        if key not in ("allow_plugins", "allow_plugin_paths"):
            raise ConfigError(str(p), str(key), "is not a known key; expected "
                              "`allow_plugins` or `allow_plugin_paths`")
    lists = {}
    for key in ("allow_plugins", "allow_plugin_paths"):
        value = raw.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(str(p), key, f"must be a list of strings; got {value!r}")
        lists[key] = value
    for i, spec in enumerate(lists["allow_plugins"]):
        if not _SPEC.fullmatch(spec):
            raise ConfigError(str(p), f"allow_plugins[{i}]", f"must be 'module:Class' or "
                              f"'module:*'; got {spec!r}")
    return AllowList(lists["allow_plugins"],
                     [_resolve_folder(p.parent, f) for f in lists["allow_plugin_paths"]])

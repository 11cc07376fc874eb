"""Code execution is explicit (issue 14, finding 3): a protocol imports a plugin, a stage plugin
or a plugin folder only when the user allowed it outside the protocol (command line, user
configuration, the library's ``allow_plugins``); installed entry points count as allowed;
``cmrsuite validate`` lists every callable a protocol would import.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from suite.cli import main
from suite.protocol import Protocol, load_protocol, validate_protocol
from suite.runner import run_protocol

NOT_ALLOWED = 6  # the exit code of refused code execution (suite.exit_codes)

BASE = {"name": "trust-plugins", "seed": 1,
        "datasets": [{"name": "phantom", "phantom": {"subjects": 1, "seed": 2,
                                                     "presets": ["tiny"],
                                                     "overrides": {"n_frames": 4}}}],
        "methods": {"recon": ["zero-filled"]},
        "metrics": {"image": {"profiles": ["fastmri"]}, "temporal": False, "clinical": False}}

#: A stage plugin whose import leaves a trace: it must not be imported unless allowed.
STAGE = '''
from pathlib import Path
Path(__file__).with_name("IMPORTED").write_text("the module ran")
from suite.stages import Stage

class Shout(Stage):
    name = "shout"
    consumes = ("recon",)
    has_methods = False
'''


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    """The tests never read the developer's own configuration file."""
    monkeypatch.setenv("CMRSUITE_CONFIG", str(tmp_path / "no-config.yaml"))


def _write(tmp_path, raw, name="p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


def _os_system(tmp_path) -> dict:
    marker = tmp_path / "pwned"
    return {**BASE, "methods": {"recon": [{"plugin": "os:system",
                                           "params": {"command": f"touch {marker}"}}]}}


def test_os_system_is_refused_without_an_allow_list(tmp_path, capsys):
    raw = _os_system(tmp_path)
    path = _write(tmp_path, raw)
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--executor", "serial",
                 "--quiet"]) == NOT_ALLOWED
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "run").exists()
    capsys.readouterr()
    assert main(["validate", str(path)]) == NOT_ALLOWED
    out, errs = capsys.readouterr()
    assert "method plugin" in out and "os:system" in out and "NOT ALLOWED" in out
    assert errs.count("\n") == 1 and "Traceback" not in errs
    from suite.trust import PluginNotAllowedError

    with pytest.raises(PluginNotAllowedError) as err:
        validate_protocol(raw, source="p.yaml")
    assert err.value.key == "methods.recon[0].plugin"
    assert "'os:system'" in err.value.problem and "--allow-plugin os:system" in err.value.problem


def test_the_library_gate_holds_for_a_protocol_built_without_validation(tmp_path):
    from suite.trust import PluginNotAllowedError

    raw = _os_system(tmp_path)
    proto = Protocol(raw=raw, source="handmade", sha256="0" * 64, base_dir=tmp_path)
    with pytest.raises(PluginNotAllowedError):
        run_protocol(proto, tmp_path / "run", executor="serial")
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "run").exists()


def test_a_stage_plugin_is_not_even_imported_unless_allowed(tmp_path, capsys):
    from suite.trust import AllowList, PluginNotAllowedError

    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "shout.py").write_text(STAGE)
    raw = {**BASE, "stages": {"shout": {"plugin": "shout:Shout"}},
           "plugin_paths": ["plugins"], "pipeline": ["recon", "shout"]}
    path = _write(tmp_path, raw)
    with pytest.raises(PluginNotAllowedError, match=r"stages\.shout\.plugin"):
        load_protocol(path)
    # the plugin alone is not enough: its folder goes on sys.path, which must be allowed too
    with pytest.raises(PluginNotAllowedError, match=r"plugin_paths\[0\].*allow-plugin-path"):
        load_protocol(path, allow_plugins=["shout:Shout"])
    assert main(["stages", "--protocol", str(path)]) == 6
    assert not (tmp_path / "plugins" / "IMPORTED").exists()
    proto = load_protocol(path, allow_plugins=AllowList(["shout:*"], [tmp_path / "plugins"]))
    assert "shout" in proto.stages()
    assert (tmp_path / "plugins" / "IMPORTED").exists()
    capsys.readouterr()


def test_validate_lists_every_callable_a_protocol_would_import(tmp_path, capsys):
    from suite.trust import AllowList, protocol_code

    raw = {**BASE, "plugin_paths": ["plugins"], "stages": {"shout": {"plugin": "shout:Shout"}},
           "methods": {"recon": ["zero-filled", {"plugin": "mylab.recon:Net"},
                                 {"entry_point": "not-installed-anywhere"},
                                 {"predictions": "preds"}]}}
    uses = protocol_code(raw, tmp_path, AllowList(["mylab.recon:Net"]))
    assert [(u.kind, u.key, u.allowed) for u in uses] == [
        ("plugin path", "plugin_paths[0]", False),
        ("stage plugin", "stages.shout.plugin", False),
        ("method plugin", "methods.recon[1].plugin", True),
        ("entry point", "methods.recon[2].entry_point", True)]
    assert uses[0].spec == str((tmp_path / "plugins").resolve())
    assert "not installed" in uses[3].note
    assert main(["validate", str(_write(tmp_path, raw)), "--allow-plugin", "mylab.recon:Net"]) == 6
    out = capsys.readouterr().out
    for text in ("plugin path", "stage plugin", "mylab.recon:Net", "on the allow-list",
                 "not-installed-anywhere"):
        assert text in out


def test_a_protocol_without_user_code_needs_no_flag(capsys):
    from suite.trust import protocol_code

    root = Path(__file__).resolve().parents[1]
    assert main(["validate", str(root / "protocols" / "quick.yaml")]) == 0
    assert "imports no user code" in capsys.readouterr().out
    for path in sorted((root / "protocols").glob("*.yaml")):
        assert protocol_code(yaml.safe_load(path.read_text()), path.parent) == []


def test_plugin_paths_without_a_plugin_are_harmless_and_allowed(tmp_path):
    from suite.trust import protocol_code

    raw = {**BASE, "plugin_paths": ["anywhere"]}
    proto = validate_protocol(raw, source="p.yaml", base_dir=tmp_path)
    assert proto.name == "trust-plugins"
    assert "unused" in protocol_code(raw, tmp_path)[0].note


def test_the_user_configuration_allows_plugins(tmp_path, monkeypatch, capsys):
    from suite.trust import AllowList, user_allow_list

    plugins = tmp_path / "code"
    plugins.mkdir()
    (plugins / "mine.py").write_text(
        "from reference_impls import get\n"
        "class Half:\n    name = 'half'\n    version = '1'\n    stage = 'recon'\n"
        "    def __call__(self, case):\n        return 0.5 * get('recon', 'zero-filled')(case)\n")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"allow_plugins": ["mine:Half"],
                                      "allow_plugin_paths": ["code"]}))
    monkeypatch.setenv("CMRSUITE_CONFIG", str(config))
    assert user_allow_list() == AllowList(["mine:Half"], [plugins])
    path = _write(tmp_path, {**BASE, "plugin_paths": [str(plugins)],
                             "methods": {"recon": [{"plugin": "mine:Half"}]}})
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--executor", "serial",
                 "--quiet"]) == 0
    assert "1 jobs, 1 done" in capsys.readouterr().out
    config.write_text("allow_plugins: [not a spec]\n")
    assert main(["validate", str(path)]) == 2
    assert "allow_plugins[0]" in capsys.readouterr().err


def test_installed_entry_points_count_as_allowed(tmp_path, monkeypatch):
    import suite.trust as trust
    from suite.trust import AllowList, protocol_code

    monkeypatch.setattr(trust, "installed_plugins", lambda: frozenset({"mylab.recon:Net"}))
    raw = {**BASE, "methods": {"recon": [{"plugin": "mylab.recon:Net"}]}}
    assert protocol_code(raw)[0].allowed and protocol_code(raw)[0].note == \
        "an installed entry point"
    assert AllowList().allows_plugin("mylab.recon:Net")
    assert not AllowList().allows_plugin("mylab.recon:Other")


def test_the_importer_checks_before_importing(tmp_path):
    from suite.trust import AllowList, PluginNotAllowedError, import_plugin

    (tmp_path / "evil.py").write_text("raise SystemExit('imported')\n")
    with pytest.raises(PluginNotAllowedError):
        import_plugin("evil:X", plugin_paths=[str(tmp_path)])
    with pytest.raises(PluginNotAllowedError, match="plugin_paths"):
        import_plugin("evil:X", plugin_paths=[str(tmp_path)], allow=["evil:X"])
    with pytest.raises(ValueError, match="module:Class"):
        AllowList(["not a spec"])


def test_allow_lists_pickle_and_merge():
    import pickle

    from suite.trust import AllowList

    a = AllowList(["a.b:C"], ["/tmp"]).merge(["d:*"])
    assert pickle.loads(pickle.dumps(a)) == a
    assert a.allows_plugin("d:anything") and a.allows_path("/tmp/sub")
    assert json.loads(json.dumps(a.to_dict()))["plugins"] == ["a.b:C", "d:*"]

"""The import contracts of pyproject.toml ([tool.importlinter], DESIGN.md's import rules) hold,
with no exemption: the same check as ``lint-imports`` in ``make test``, so running pytest alone
also shows a violation. grimp reads every import statement, function-level ones included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = {"layers", "reference-methods", "pure-metrics", "report-renders", "acyclic",
             "private-modules"}


@pytest.fixture(scope="module")
def contracts() -> list[dict]:
    from importlinter.api import read_configuration

    return read_configuration(str(ROOT / "pyproject.toml"))["contracts_options"]


def test_the_contracts_are_there_without_exemptions(contracts):
    assert {c["id"] for c in contracts} == CONTRACTS
    exempt = {c["id"]: c["ignore_imports"] for c in contracts if c.get("ignore_imports")}
    assert not exempt, f"contracts with ignore_imports exemptions: {exempt}"


def test_every_part_of_the_suite_has_a_layer(contracts):
    """A new package or top-level module must be placed in the layers (else nothing checks
    what it imports or who imports it)."""
    (layers,) = [c["layers"] for c in contracts if c["id"] == "layers"]
    listed = {m.strip() for layer in layers for m in layer.replace(":", "|").split("|")}
    parts = {f"suite.{p.stem if p.is_file() else p.name}" for p in (ROOT / "suite").iterdir()
             if (p.suffix == ".py" and p.name != "__init__.py")
             or (p.is_dir() and (p / "__init__.py").is_file())}
    assert parts - listed == set(), f"not in the layers contract: {sorted(parts - listed)}"


def test_import_contracts_are_kept():
    proc = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()",
         "--no-cache", "--no-logo"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout

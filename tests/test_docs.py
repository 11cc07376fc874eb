"""The documentation site builds with `mkdocs build --strict` (no broken links or nav)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mkdocs_build_strict(tmp_path):
    mkdocs = shutil.which("mkdocs") or str(Path(sys.executable).parent / "mkdocs")
    if not Path(mkdocs).exists():
        pytest.skip("mkdocs is not installed (install the `dev` extra)")
    proc = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_front_page_capability_table_matches_the_registries():
    """docs/index.md's table is generated from the registries (suite.capabilities); a fresh
    interpreter, so no test module's registrations leak in."""
    proc = subprocess.run([sys.executable, "-m", "suite.capabilities", "--check",
                           "docs/index.md"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.ci  # simulates the page's whole table; make test checks relative_errors
# (the same simulation and fits) against the published directions in test_molli_bias.py
def test_mapping_bias_table_is_current():
    """docs/mapping-bias.md's table is computed by suite.docs.mapping_bias (simulation + the
    reference fits); a fresh computation must equal the committed page."""
    proc = subprocess.run([sys.executable, "-m", "suite.docs.mapping_bias", "--check",
                           "docs/mapping-bias.md"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr

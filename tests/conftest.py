"""Test-session settings.

One BLAS/OpenMP thread per test process: the tests run many small LAPACK calls (SVDs of
calibration matrices, eigen-decompositions), which multi-threaded OpenBLAS turns into long
stalls on a busy 2-core machine. Set before numpy is imported by any test module.

Also: the outcomes of the optional cross-checks listed at the end of a run, and the CI-only
tests (marker ``ci``) left out of a run whose ``-m`` expression does not name them.
"""

import os
import re

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


# ---------------------------------------------------------------- optional cross-checks
#: Tests that need an optional tool (a browser, WeasyPrint, pydicom-data, medpy,
#: DeepMind's surface-distance): CI installs the tools (.ci/run), a developer's machine may
#: not. Their outcomes are listed by name at the end of every run, so a CI log shows that they
#: passed rather than skipped.
CROSS_CHECKS = ("test_report_browser.py::", "test_pdf_through_weasyprint",
                "test_matches_medpy_when_installed",
                "test_translation_agrees_with_deepmind_surface_distance_when_installed",
                "test_pydicom_enhanced_mr_testdata",
                "test_compressed_lossless_series_read_with_the_decoder_plugins")

_cross_outcomes: dict = {}


def pytest_runtest_logreport(report):
    if any(key in report.nodeid for key in CROSS_CHECKS):
        if report.when == "call" or (report.when == "setup" and report.skipped):
            _cross_outcomes[report.nodeid] = report.outcome


def pytest_terminal_summary(terminalreporter):
    if _ci_left_out:
        terminalreporter.line(f"{_ci_left_out[0]} CI-only tests (marker ci) left out: "
                              "`pytest -m ci` runs them")
    if _cross_outcomes:
        terminalreporter.section("optional cross-checks")
        for nodeid, outcome in sorted(_cross_outcomes.items()):
            terminalreporter.line(f"{outcome.upper():8s} {nodeid}")


# ---------------------------------------------------------------- the CI-only tests
#: Tests marked ``ci`` (pyproject.toml's markers) are left out of a run unless its ``-m``
#: expression names the marker: ``make test`` (plain ``pytest``) runs without them, CI runs
#: them afterwards with ``pytest -m ci`` (.ci/run); ``pytest -m "ci or not ci"`` runs all.
_CI_MARKER = re.compile(r"\bci\b")
_ci_left_out: list = []


def pytest_collection_modifyitems(config, items):
    if _CI_MARKER.search(config.option.markexpr or ""):
        return
    ci_only = [item for item in items if item.get_closest_marker("ci") is not None]
    if ci_only:
        config.hook.pytest_deselected(items=ci_only)
        _ci_left_out.append(len(ci_only))
        items[:] = [item for item in items if item.get_closest_marker("ci") is None]

"""A criterion that names no part column (segment, convention, frame) selects the whole.

Synthetic rows: per subject a region row (``segment`` empty) and segment rows of two AHA
conventions; the expected statistics are computed here by hand from the values written.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from suite.analysis.selection import PART_COLUMNS, whole_rows
from suite.analysis.summary import check_acceptance
from suite.gate import GateCriteriaError, GateSettings, parse_criteria, run_gate
from suite.gate.evaluate import criteria_from_acceptance
from suite.store import ResultStore

REGION = {"s1": 1.0, "s2": 3.0, "s3": 5.0}
SEGMENT = {"s1": 10.0, "s2": 30.0, "s3": 50.0}  # segment "1"; segment "2" = 2x these


def _rows():
    out = []
    for s in REGION:
        base = {"case_id": f"d/{s}", "subject": s, "dataset": "d", "condition": "c",
                "recon": "reference", "segmentation": "", "stage": "mapping",
                "metric": "t1_rmse", "structure": "myocardium", "phase": "", "unit": "ms",
                "direction": "lower is better", "profile": "truth", "status": "ok"}
        out.append({**base, "value": REGION[s], "segment": None, "convention": None})
        for conv, f in (("insertion", 1.0), ("cmrxrecon", 1.5)):
            for seg, k in (("1", 1.0), ("2", 2.0)):
                out.append({**base, "value": f * k * SEGMENT[s], "segment": seg,
                            "convention": conv})
    return out


@pytest.fixture()
def run(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    plan = {"name": "synthetic", "seed": 0, "datasets": [{"name": "d", "root": "."}],
            "methods": {"recon": ["m"]}}
    (path / "protocol.json").write_text(json.dumps({"name": "synthetic", "sha256": "a" * 64,
                                                    "protocol": plan}))
    with ResultStore(path / "results.sqlite") as st:
        st.register_jobs([])
        for i, row in enumerate(_rows()):
            jid = f"j{i}"
            st.record_case(row["case_id"], {"subject": row["subject"], "dataset": "d"}, None)
            st._con.execute("INSERT INTO jobs (job_id, status) VALUES (?, 'done')", (jid,))
            st.record_success(jid, [{**row, "job_id": jid}], 0.0)
    return path


def _floor(run, where, per=()):
    crit = {"name": "c", "metric": "t1_rmse", "where": where, "floor": {"max": 1000.0}}
    if per:
        crit |= {"per": list(per), "overall": False}
    settings, crits = parse_criteria({"gate": {"n_resamples": 100, "criteria": [crit]}})
    return run_gate(run, run, crits, settings=settings).verdicts


def test_whole_rows_rule():
    df = pd.DataFrame({"segment": ["", "1", None, "2"], "frame": [np.nan, np.nan, np.nan, 4.0],
                       "value": [1.0, 2.0, 3.0, 4.0]})
    assert whole_rows(df, ())["value"].tolist() == [1.0, 3.0]      # segment and frame empty
    assert whole_rows(df, ("segment",))["value"].tolist() == [1.0, 2.0, 3.0]  # frame only
    only_parts = df.iloc[[1, 3]]
    assert whole_rows(only_parts[["segment", "value"]], ()).equals(
        only_parts[["segment", "value"]])                       # all parts: nothing dropped
    assert PART_COLUMNS == ("segment", "convention", "frame")


def test_gate_without_segment_selects_the_region_rows(run):
    (v,) = _floor(run, {"stage": "mapping"})
    assert v.estimate == pytest.approx(np.mean(list(REGION.values())))
    (same,) = _floor(run, {"stage": "mapping", "segment": ""})  # the explicit form still works
    assert same.estimate == v.estimate


def test_gate_naming_a_segment_needs_its_convention(run):
    with pytest.raises(GateCriteriaError, match="`convention` takes"):
        _floor(run, {"segment": "1"})
    (v,) = _floor(run, {"segment": "1", "convention": "cmrxrecon"})
    assert v.estimate == pytest.approx(1.5 * np.mean(list(SEGMENT.values())))


def test_gate_per_segment_gives_the_region_and_each_segment(run):
    verdicts = _floor(run, {"convention": "insertion"}, per=["segment"])
    # `convention: insertion` names the convention: the region rows (convention empty) drop out
    est = {v.name: v.estimate for v in verdicts}
    mean = np.mean(list(SEGMENT.values()))
    assert est["c [segment=1]"] == pytest.approx(mean)
    assert est["c [segment=2]"] == pytest.approx(2 * mean)


def test_acceptance_without_segment_averages_only_the_region_rows(run):
    from suite.analysis.summary import load_results

    df = load_results(run)
    crit = {"metric": "t1_rmse", "stage": "mapping", "max": 2.5}
    [res] = check_acceptance(df, [crit])
    assert res["value"] == pytest.approx(3.0) and not res["passed"]
    assert res["n_subjects"] == 3 and len(res["row_ids"]) == 3
    [seg] = check_acceptance(df, [{**crit, "segment": "2", "convention": "insertion",
                                   "max": 100.0}])
    assert seg["value"] == pytest.approx(2 * np.mean(list(SEGMENT.values())))


def test_acceptance_entries_keep_every_column_in_the_gate():
    [c] = criteria_from_acceptance({"acceptance": [
        {"metric": "t1_rmse", "stage": "mapping", "mapping": "molli-3p", "segment": "",
         "convention": "", "max": 5.0}]})
    assert c.where == {"stage": "mapping", "mapping": "molli-3p", "segment": "",
                       "convention": ""}


def test_part_columns_are_named_columns_of_criteria():
    settings, crits = parse_criteria({"gate": {"criteria": [
        {"name": "c", "metric": "dice", "where": {"frame": 3}, "per": ["segment"],
         "floor": {"min": 0.5}}]}})
    assert crits[0].where == {"frame": 3}

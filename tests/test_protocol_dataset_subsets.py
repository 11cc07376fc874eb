"""A dataset may run a subset of the protocol's methods and conditions (``datasets[i].methods``,
``datasets[i].conditions``): validated by name, honoured by job expansion and robustness."""

from __future__ import annotations

import copy

import pytest

from suite.protocol import ProtocolError, validate_protocol
from suite.runner.jobs import CaseRef, expand_jobs

_RAW = {
    "name": "subsets", "seed": 0,
    "pipeline": ["recon", "segmentation"],
    "datasets": [
        {"name": "cine", "phantom": {"subjects": 1, "presets": ["tiny"]}},
        {"name": "maps", "pipeline": ["recon", "mapping"],
         "phantom": {"kind": "mapping", "subjects": 1},
         "methods": {"recon": ["zero-filled", "fast"]},
         "conditions": ["full", "R2"]},
    ],
    "conditions": [{"name": "full", "type": "fully-sampled"},
                   {"name": "R2", "type": "undersample", "pattern": "equispaced",
                    "acceleration": 2, "acs_lines": 12},
                   {"name": "R4", "type": "undersample", "pattern": "equispaced",
                    "acceleration": 4, "acs_lines": 12}],
    "methods": {"recon": ["zero-filled", "cg-sense",
                          {"name": "cg-sense", "label": "fast", "params": {"max_iter": 3}}],
                "segmentation": ["classical"],
                "mapping": ["molli-3p"]},
    "robustness": {"crimes": {"crimes": ["magnitude"], "methods": ["cg-sense", "fast"],
                              "conditions": ["R2"]}},
}


def _raw(**dataset_changes):
    raw = copy.deepcopy(_RAW)
    raw["datasets"][1].update(dataset_changes)
    return raw


def _ref(dataset, fmt):
    return CaseRef(dataset=dataset, key=f"{dataset}-000", path="/nonexistent", format=fmt,
                   tags={"timing": "TI"} if dataset == "maps" else {})


def test_jobs_of_a_dataset_use_only_its_methods_and_conditions():
    protocol = validate_protocol(_raw())
    jobs = expand_jobs(protocol, [_ref("cine", "phantom"), _ref("maps", "phantom-mapping")])
    by_dataset = {}
    for j in jobs:
        labels = tuple(e.get("label") or e.get("name") for _, e in j.methods if e)
        by_dataset.setdefault(j.case.dataset, set()).add((j.phase, j.condition["name"], labels))
    maps = by_dataset["maps"]
    assert {c for _, c, _ in maps} == {"full", "R2"}           # not R4
    recon_labels = {lab[0] for p, c, lab in maps if p == "recon" and c == "R2"}
    assert recon_labels == {"zero-filled", "fast"}             # not the default cg-sense
    assert {(p, c, lab) for p, c, lab in maps if p == "robustness"} == {
        ("robustness", "R2", ("fast",))}                       # its subset of the crime methods
    cine = by_dataset["cine"]
    assert {c for _, c, _ in cine} == {"full", "R2", "R4"}
    assert {lab[0] for p, c, lab in cine if p == "recon" and c == "R4"} == {
        "zero-filled", "cg-sense", "fast"}


@pytest.mark.parametrize("change, key", [
    ({"methods": {"recon": ["unrolled"]}}, "datasets[1].methods.recon"),
    ({"methods": {"segmentation": ["classical"]}}, "datasets[1].methods"),  # not its pipeline
    ({"methods": {"recon": []}}, "datasets[1].methods.recon"),
    ({"conditions": ["R8"]}, "datasets[1].conditions"),
    ({"conditions": []}, "datasets[1].conditions"),
])
def test_a_subset_naming_what_the_protocol_lacks_is_refused_with_its_key(change, key):
    with pytest.raises(ProtocolError) as err:
        validate_protocol(_raw(**change))
    assert key in str(err.value)


def test_an_acceptance_criterion_may_select_a_dataset():
    raw = _raw()
    raw["acceptance"] = [{"metric": "ssim", "stage": "recon", "dataset": "cine", "min": 0.5}]
    assert validate_protocol(raw).acceptance[0]["dataset"] == "cine"
    raw["acceptance"][0]["dataset"] = "cines"
    with pytest.raises(ProtocolError) as err:  # a typo would select no row and fail the run
        validate_protocol(raw)
    assert "acceptance[0].dataset" in str(err.value) and "'cine'" in str(err.value)


def test_acceptance_on_a_dataset_reduces_only_its_rows():
    import pandas as pd

    from suite.analysis.summary import check_acceptance

    rows = [{"row_id": i, "metric": "ssim", "stage": "recon", "dataset": ds, "subject": s,
             "value": v, "exclusion": None}
            for i, (ds, s, v) in enumerate([("cine", "a", 0.6), ("cine", "b", 0.8),
                                            ("maps", "c", 0.1), ("maps", "d", 0.3)])]
    df = pd.DataFrame(rows)
    [both] = check_acceptance(df, [{"metric": "ssim", "min": 0.5}])
    [cine] = check_acceptance(df, [{"metric": "ssim", "dataset": "cine", "min": 0.5}])
    assert both["value"] == pytest.approx(0.45) and not both["passed"]
    assert cine["value"] == pytest.approx(0.7) and cine["passed"]
    assert cine["row_ids"] == [0, 1] and cine["n_subjects"] == 2

"""Release gate without runs: what makes two evaluation plans differ (pipeline and plugin
stages included) and which columns a criterion may name (a plugin stage's method column, not a
misspelling of a fixed column). Expected keys and messages are written from docs/gate.md."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pandas as pd
import pytest

from suite.gate import (
    EVALUATION_KEYS, GateCriteriaError, GateNotComparable, check_comparable, evaluation_hash,
    parse_criteria,
)

PLAN = {"name": "p", "seed": 1, "pipeline": ["recon", "segmentation", "clinical"],
        "stages": {"toy": {"plugin": "toy_stage:ToyStage"}},
        "datasets": [{"name": "phantom", "phantom": {"subjects": 2}}],
        "conditions": [{"name": "full", "type": "fully-sampled"}],
        "methods": {"recon": ["zero-filled"], "segmentation": ["classical"]},
        "metrics": {"image": {"profiles": ["fastmri"]}}}


def _run(protocol: dict, path: str, sha: str):
    """The attributes of a RunData that check_comparable reads."""
    return SimpleNamespace(protocol=protocol, path=path, protocol_sha256=sha,
                           evaluation_sha256=evaluation_hash(protocol),
                           cases=pd.DataFrame({"case_id": ["a", "b"]}))


def test_pipeline_and_stages_are_part_of_the_plan():
    assert {"pipeline", "stages"} <= set(EVALUATION_KEYS)
    other_methods = dict(PLAN, methods={"recon": ["cg-sense"], "segmentation": ["classical"]})
    assert evaluation_hash(other_methods) == evaluation_hash(PLAN)
    for key, value in (("pipeline", ["recon", "segmentation"]),
                       ("stages", {"toy": {"plugin": "other:ToyStage"}})):
        assert evaluation_hash(dict(PLAN, **{key: value})) != evaluation_hash(PLAN)
        without = {k: v for k, v in PLAN.items() if k != key}
        assert evaluation_hash(without) != evaluation_hash(PLAN)


@pytest.mark.parametrize("key, value", [("pipeline", ["recon", "segmentation"]),
                                        ("stages", {"toy": {"plugin": "other:ToyStage"}})])
def test_runs_of_different_pipelines_are_not_comparable(key, value):
    base = _run(PLAN, "runs/baseline", "1" * 64)
    cand = _run(dict(copy.deepcopy(PLAN), **{key: value}), "runs/candidate", "2" * 64)
    with pytest.raises(GateNotComparable) as err:
        check_comparable(cand, base)
    assert f"differ in `{key}`" in str(err.value)
    same_plan = _run(dict(copy.deepcopy(PLAN), methods={"recon": ["cg-sense"]}), "c", "3" * 64)
    assert check_comparable(same_plan, base) == "same evaluation plan"


def _criterion(**kw):
    return {"gate": {"criteria": [{"name": "c", "metric": "m", "floor": {"max": 1.0}, **kw}]}}


@pytest.mark.parametrize("kw", [{"where": {"toy": "frame-means"}}, {"per": ["toy"]},
                                {"per": "motion", "where": {"t1_mapping": "molli"}},
                                {"where": {"registration": "x"}, "per": ["vendor", "recon"]}])
def test_criteria_may_name_a_method_stage_column(kw):
    _, (crit,) = parse_criteria(_criterion(**kw), source="c.yaml")
    assert crit.where == kw.get("where", {})
    per = kw.get("per", [])
    assert list(crit.per) == ([per] if isinstance(per, str) else per)


@pytest.mark.parametrize("kw, key, text", [
    ({"per": ["sites"]}, "gate.criteria[0].per[0]", "is 'sites'; expected one of"),
    ({"per": ["sites"]}, "gate.criteria[0].per[0]", "(did you mean 'site'?)"),
    ({"where": {"profiles": "fastmri"}}, "gate.criteria[0].where.profiles",
     "is not a known column; expected one of ['stage', 'condition'"),
    ({"where": {"profiles": "fastmri"}}, "gate.criteria[0].where.profiles",
     "or the column of a method stage of the runs (lower-case letters, digits and '_') "
     "(did you mean 'profile'?)"),
    ({"where": {"Vendor": "x"}}, "gate.criteria[0].where.Vendor", "(did you mean 'vendor'?)"),
    ({"per": ["my-stage"]}, "gate.criteria[0].per[0]", "lower-case letters, digits and '_'"),
    ({"per": [3]}, "gate.criteria[0].per[0]", "must be a string; got 3"),
])
def test_misspelt_or_invalid_columns_are_refused(kw, key, text):
    with pytest.raises(GateCriteriaError) as err:
        parse_criteria(_criterion(**kw), source="c.yaml")
    assert err.value.key == key and text in err.value.problem, str(err.value)

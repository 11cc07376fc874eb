"""Repeated draws of a condition (``repeats: N``) and their QIBA repeatability.

The expected wSD, RC and wCV are written out from the definitions (Raunig et al., Stat Methods
Med Res 2015;24:27: wSD² = mean over units of the within-unit variance, RC = 1.96·√2·wSD,
wCV = wSD / grand mean) for hand-chosen values, not computed by the code under test.
"""

import math

import numpy as np
import pandas as pd
import pytest

from suite.analysis.repeat_draws import repeat_draw_repeatability
from suite.case import Case, CaseMeta
from suite.conditions import condition_rng, expand_repeats, make_condition, repeat_index
from suite.protocol import ProtocolError, validate_protocol

CONDS = [{"name": "full", "type": "fully-sampled"},
         {"name": "snr", "type": "noise", "relative_sigma": 0.05, "repeats": 3}]


def test_expansion_names_and_records_each_repeat():
    out = expand_repeats(CONDS)
    assert [c["name"] for c in out] == ["full", "snr#1", "snr#2", "snr#3"]
    assert out[2] == {"name": "snr#2", "type": "noise", "relative_sigma": 0.05,
                      "repeat_of": "snr", "repeat": 2}
    assert repeat_index(CONDS) == {"snr#1": ("snr", 1), "snr#2": ("snr", 2), "snr#3": ("snr", 3)}
    assert make_condition(out[2]).to_dict() == out[2]


def _case():
    rng = np.random.default_rng(0)
    k = (rng.standard_normal((1, 2, 2, 16, 16))
         + 1j * rng.standard_normal((1, 2, 2, 16, 16))).astype(np.complex64)
    return Case(kspace=k, mask=np.ones((1, 1, 1, 16, 1), bool), meta=CaseMeta(subject="c"))


def test_repeats_redraw_the_noise_and_record_their_index():
    case = _case()
    draws = {}
    for entry in expand_repeats(CONDS)[1:]:
        cond = make_condition(entry)
        noisy, info = cond.apply(case, condition_rng(0, "d/c", cond.name))
        again, _ = cond.apply(case, condition_rng(0, "d/c", cond.name))
        np.testing.assert_array_equal(noisy.kspace, again.kspace)  # one draw per repeat
        assert info["repeat_index"] == entry["repeat"] and info["added_noise_sigma"] > 0
        draws[entry["repeat"]] = noisy.kspace - case.kspace
    assert not np.allclose(draws[1], draws[2]) and not np.allclose(draws[2], draws[3])
    plain = make_condition({"name": "snr", "type": "noise", "relative_sigma": 0.05})
    assert "repeat_index" not in plain.apply(case, condition_rng(0, "d/c", "snr"))[1]


def test_deterministic_pattern_keeps_its_mask_across_repeats():
    case = _case()
    masks = []
    for entry in expand_repeats([{"name": "R2", "type": "undersample", "pattern": "equispaced",
                                  "acceleration": 2, "acs_lines": 4, "relative_sigma": 0.01,
                                  "repeats": 2}]):
        out, _ = make_condition(entry).apply(case, condition_rng(0, "d/c", entry["name"]))
        masks.append(np.broadcast_to(out.mask, case.kspace.shape))
    np.testing.assert_array_equal(masks[0], masks[1])


def _protocol(conditions):
    return {"name": "p", "datasets": [{"name": "d", "root": "."}], "conditions": conditions,
            "methods": {"recon": ["zero-filled"]}}


@pytest.mark.parametrize("conditions, key", [
    ([{"name": "a", "type": "fully-sampled", "repeats": 2}], "conditions[0]"),
    ([{"name": "a", "type": "noise", "relative_sigma": 0.1, "repeats": 1}],
     "conditions[0].repeats"),
    ([{"name": "a", "type": "noise", "relative_sigma": 0.1, "repeats": 2},
      {"name": "a#2", "type": "fully-sampled"}], "conditions[1].name"),
])
def test_protocol_errors_name_the_key(conditions, key):
    with pytest.raises(ProtocolError) as err:
        validate_protocol(_protocol(conditions))
    assert key in str(err.value)


def test_protocol_conditions_are_expanded():
    p = validate_protocol(_protocol(CONDS))
    assert [c["name"] for c in p.conditions] == ["full", "snr#1", "snr#2", "snr#3"]


def _rows():
    """Case values per repeat of `snr` for two quantities (region, segment 1) + distractors."""
    region = {"c1": [10.0, 12.0, 14.0], "c2": [20.0, 20.0, 23.0],
              "c3": [30.0, None, 31.0]}             # c3: a failed repeat (excluded value)
    segment = {"c1": [5.0, 6.0, 7.0], "c2": [8.0, 8.0, 8.0], "c3": [1.0, 2.0, 6.0]}
    rows = []
    for seg, table in (("", region), ("1", segment)):
        for case, values in table.items():
            for k, v in enumerate(values, start=1):
                rows.append({"condition": f"snr#{k}", "case_id": f"d/{case}", "value": v,
                             "segment": seg, "usable": v is not None})
    rows += [{"condition": "full", "case_id": "d/c1", "value": 99.0, "segment": "",
              "usable": True}]                       # not a repeat: ignored
    df = pd.DataFrame(rows)
    df["row_id"] = range(len(df))
    for col, val in {"stage": "mapping", "metric": "t1_mean", "structure": "myocardium",
                     "phase": "", "convention": "", "profile": "truth", "recon": "reference",
                     "segmentation": "", "mapping": "molli-3p", "attack": "",
                     "budget": np.nan, "unit": "ms"}.items():
        df[col] = val
    df.loc[df["segment"] == "1", "convention"] = "insertion"
    df.attrs["method_stages"] = ["recon", "segmentation", "mapping"]
    return df


def test_wsd_rc_wcv_match_the_closed_form():
    t = repeat_draw_repeatability(_rows(), CONDS).table.set_index("segment")
    # region: c1 var (ddof 1) of 10,12,14 = 4; c2 of 20,20,23 = 3; c3 incomplete (left out)
    wsd = math.sqrt((4.0 + 3.0) / 2)
    r = t.loc[""]
    assert (r["n_units"], r["n_repeats"], r["n_incomplete"]) == (2, 3, 1)
    assert r["wsd"] == pytest.approx(wsd, rel=1e-12)
    assert r["rc"] == pytest.approx(1.96 * math.sqrt(2) * wsd, rel=1e-12)
    assert r["rc"] / r["wsd"] == pytest.approx(2.77, abs=0.002)
    assert r["wcv_pct"] == pytest.approx(100 * wsd / (99.0 / 6), rel=1e-12)  # grand mean 16.5
    assert r["repeat_of"] == "snr" and r["unit"] == "ms" and len(r["row_ids"]) == 6
    # segment 1: variances 1, 0, 7 (1, 2, 6: mean 3, squares 4+1+9=14, /2)
    s = t.loc["1"]
    assert s["n_units"] == 3 and s["convention"] == "insertion"
    assert s["wsd"] == pytest.approx(math.sqrt((1.0 + 0.0 + 7.0) / 3), rel=1e-12)


def test_no_repeated_condition_gives_an_empty_table():
    res = repeat_draw_repeatability(_rows(), [{"name": "full", "type": "fully-sampled"}])
    assert not res.possible and "none" in res.summary()


def test_a_dataset_subset_naming_a_repeated_condition_runs_every_repeat():
    raw = _protocol(CONDS)
    raw["datasets"] = [{"name": "d", "root": ".", "conditions": ["snr"]}]
    p = validate_protocol(raw)
    assert [c["name"] for c in p.conditions_of("d")] == ["snr#1", "snr#2", "snr#3"]

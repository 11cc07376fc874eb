"""suite._schema: one key-path validator for the five YAML kinds, one nearest-match hint.

Expected messages are written out by hand from the documented form
``<file>: `<key path>` <problem: expected vs got>``, never taken from the code's own output.
"""

from __future__ import annotations

import pytest
import yaml

from suite._schema import KeyPathValidator
from suite._validation import KeyPathError, near
from suite.data.cards import CardError, load_card
from suite.gate import GateCriteriaError, load_criteria
from suite.leaderboard.challenge import ChallengeError, load_challenge
from suite.protocol import ProtocolError, load_protocol
from suite.report.sponsor import SponsorError, load_sponsor


class _Err(KeyPathError):
    pass


@pytest.fixture
def v():
    return KeyPathValidator("f.yaml", _Err)


def _message(call) -> str:
    """The message of the error ``call`` raises, checked for the form and without "f.yaml: "."""
    with pytest.raises(_Err) as err:
        call()
    assert str(err.value) == f"f.yaml: `{err.value.key}` {err.value.problem}"
    return str(err.value).removeprefix("f.yaml: ")


def test_near_suggests_the_closest_option_or_nothing():
    assert near("wilcoxn", ("bootstrap", "t", "wilcoxon")) == " (did you mean 'wilcoxon'?)"
    assert near("zzz", ("bootstrap", "t", "wilcoxon")) == ""
    assert near(3, [1, 2, 30]) == " (did you mean '30'?)"  # compared as text
    assert near("x", []) == ""


def test_mapping_and_unknown_keys(v):
    assert v.mapping({"a": 1}, "k") == {"a": 1}
    assert _message(lambda: v.mapping(None, "(top level)")) == (
        "`(top level)` must be a mapping; got None")
    assert _message(lambda: v.unknown_keys({"sede": 1}, {"seed", "name"}, "gate")) == (
        "`gate.sede` is not a known key; expected one of ['name', 'seed'] "
        "(did you mean 'seed'?)")
    v.unknown_keys({"seed": 1}, {"seed"})


def test_section_is_empty_when_not_given_and_checks_its_keys(v):
    assert v.section({}, "ranking") == {} and v.section({"ranking": None}, "ranking") == {}
    assert _message(lambda: v.section({"r": {"alfa": 1}}, "r", {"alpha"}, prefix="p")) == (
        "`p.r.alfa` is not a known key; expected one of ['alpha'] (did you mean 'alpha'?)")
    assert _message(lambda: v.section({"r": [1]}, "r")) == "`r` must be a mapping; got a list [1]"
    assert _message(lambda: v.section({}, "r", required=True)) == (
        "`r` is required: expected a mapping, got nothing")


def test_absent_and_null_are_not_given(v):
    assert v.string({}, "name", default="d") == "d"
    assert v.number({"alpha": None}, "alpha", default=0.05) == 0.05
    assert v.option({}, "use", ("estimate", "bound"), default="estimate") == "estimate"
    assert _message(lambda: v.string({}, "name", required=True, prefix="tasks[0]")) == (
        "`tasks[0].name` is required: expected a string, got nothing")
    assert _message(lambda: v.integer({"seed": None}, "seed", required=True)) == (
        "`seed` is required: expected an integer, got null")


def test_scalars_return_the_value_and_refuse_other_types(v):
    assert v.number({"a": 1}, "a") == 1.0 and isinstance(v.number({"a": 1}, "a"), float)
    assert v.integer({"n": 7}, "n") == 7
    assert v.boolean({"b": False}, "b", default=True) is False
    assert v.string({"s": "x"}, "s") == "x"
    assert _message(lambda: v.number({"a": "0.05"}, "a", prefix="gate")) == (
        "`gate.a` must be a number; got '0.05'")
    assert _message(lambda: v.number({"a": True}, "a")) == "`a` must be a number; got True"
    assert _message(lambda: v.integer({"n": 2.0}, "n")) == "`n` must be an integer; got 2.0"
    assert _message(lambda: v.integer({"n": False}, "n")) == "`n` must be an integer; got False"
    assert _message(lambda: v.boolean({"b": "yes"}, "b")) == "`b` must be true or false; got 'yes'"
    assert _message(lambda: v.string({"s": 3}, "s")) == "`s` must be a string; got 3"
    assert _message(lambda: v.string({"s": "  "}, "s", non_empty=True)) == (
        "`s` must be a non-empty string; got '  '")


def test_bounds(v):
    assert _message(lambda: v.integer({"n": 5}, "n", minimum=10)) == "`n` must be >= 10; got 5"
    assert _message(lambda: v.number({"a": 0.6}, "a", maximum=0.5)) == "`a` must be <= 0.5; got 0.6"
    assert _message(lambda: v.number({"m": 0}, "m", positive=True)) == "`m` must be > 0; got 0"
    assert v.number({"a": 0.5}, "a", minimum=0.0, maximum=0.5) == 0.5  # bounds are inclusive


def test_option_names_the_nearest_and_refuses_unhashable_values(v):
    assert v.option({"k": "t"}, "k", ("bootstrap", "t")) == "t"
    assert _message(lambda: v.option({"k": "wilcoxn"}, "k", ("t", "wilcoxon"), prefix="ni")) == (
        "`ni.k` is 'wilcoxn'; expected one of ['t', 'wilcoxon'] (did you mean 'wilcoxon'?)")
    assert _message(lambda: v.option({"k": ["t"]}, "k", {"t": 1})) == (
        "`k` is ['t']; expected one of ['t']")
    assert v.choice("t", ("t",), "a[0]") == "t"
    assert _message(lambda: v.choice("tt", ("t",), "a[0]")) == (
        "`a[0]` is 'tt'; expected one of ['t'] (did you mean 't'?)")


def test_lists_name_the_index(v):
    assert v.list_of_mappings({}, "items") == []
    assert _message(lambda: v.list_of_mappings({"items": [{}, 3]}, "items", prefix="gate")) == (
        "`gate.items[1]` must be a mapping; got 3")
    assert _message(lambda: v.list_of_mappings({"items": []}, "items", non_empty=True)) == (
        "`items` must not be empty: expected a non-empty list of mappings, got []")
    assert _message(lambda: v.list_of_strings({"s": "LV"}, "s")) == (
        "`s` must be a list of strings; got 'LV'")
    assert _message(lambda: v.list_of_strings({"s": ["LV", 1]}, "s")) == (
        "`s[1]` must be a string; got 1")
    assert _message(lambda: v.list_of_strings({"s": ["ED", "ESS"]}, "s", options=("ED", "ES"))) == (
        "`s[1]` is 'ESS'; expected one of ['ED', 'ES'] (did you mean 'ES'?)")
    assert v.list_of_strings({}, "s", default=["ED"]) == ["ED"]


def test_fail_raises_the_callers_error_with_its_parts(v):
    with pytest.raises(_Err) as err:
        v.fail("a.b[0]", "must be x; got y")
    assert (err.value.source, err.value.key, err.value.problem) == (
        "f.yaml", "a.b[0]", "must be x; got y")


# ---------------------------------------------------------------- the five kinds
@pytest.mark.parametrize("load, error, name, doc, key, hint", [
    (load_protocol, ProtocolError, "p.yaml", {"nmae": "x"}, "nmae", "name"),
    (load_criteria, GateCriteriaError, "g.yaml", {"gate": {"alpah": 0.1}}, "gate.alpah", "alpha"),
    (load_challenge, ChallengeError, "c.yaml", {"taks": []}, "taks", "tasks"),
    (load_card, CardError, "card.yaml", {"licence": "x", "lisence": "y"}, "lisence", "licence"),
    (load_sponsor, SponsorError, "s.yaml", {"funding": "x", "fundng": "y"}, "fundng", "funding"),
])
def test_every_kind_refuses_a_misspelt_key_in_one_form(tmp_path, load, error, name, doc, key, hint):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(error) as err:
        load(path)
    assert isinstance(err.value, KeyPathError) and err.value.key == key
    assert str(err.value).startswith(f"{path}: `{key}` is not a known key; expected one of [")
    assert err.value.problem.endswith(f"(did you mean '{hint}'?)")


@pytest.mark.parametrize("load, error", [
    (load_protocol, ProtocolError), (load_criteria, GateCriteriaError),
    (load_challenge, ChallengeError), (load_sponsor, SponsorError),
])
def test_every_kind_names_a_missing_or_broken_file(tmp_path, load, error):
    with pytest.raises(error) as err:
        load(tmp_path / "missing.yaml")
    assert err.value.key == "(file)" and "does not exist" in err.value.problem
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1,\n")
    with pytest.raises(error) as err:
        load(bad)
    assert err.value.key == "(file)" and "is not valid YAML" in err.value.problem


def test_card_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1,\n")
    with pytest.raises(CardError) as err:
        load_card(bad)
    assert err.value.key == "(file)" and "is not valid YAML" in err.value.problem
    bad.write_bytes(b"name: \xff\n")
    with pytest.raises(CardError) as err:
        load_card(bad)
    assert err.value.key == "(file)" and "is not UTF-8 text" in err.value.problem

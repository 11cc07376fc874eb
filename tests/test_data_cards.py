"""Dataset cards: load, validate, verify against a manifest made by write_manifest."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from suite.data.cards import CardError, cards_dir, list_cards, load_card, verify, write_manifest

NAMES = {"ocmr", "acdc", "mnms", "phantom"}


def test_cards_load_and_validate():
    cards = {c.name: c for c in list_cards()}
    assert NAMES <= set(cards)
    for c in cards.values():
        assert c.citation["doi"].startswith("10.")
        assert c.patterns and c.licence and c.obtain
        assert c.manifest == {}  # no invented hashes
        c.to_dict()
    assert cards["mnms"].mapping_to_acdc == {0: 0, 1: 3, 2: 2, 3: 1}
    assert cards["acdc"].label_convention == "acdc"
    assert cards["ocmr"].format == "ismrmrd"


def test_cards_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CMRSUITE_DATASETS", str(tmp_path))
    assert cards_dir() == tmp_path
    assert list_cards() == []
    with pytest.raises(FileNotFoundError, match="no such dataset card"):
        load_card("acdc")


def _write_card(folder, name, **changes):
    doc = yaml.safe_load((cards_dir() / "acdc.yaml").read_text())
    doc["name"] = name
    for key, value in changes.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    p = folder / f"{name}.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


@pytest.mark.parametrize("changes,key,text", [
    ({"citation": None}, "citation", "is required: expected a mapping, got nothing"),
    ({"citation": {"text": "x"}}, "citation.doi", "is required"),
    ({"format": "analyze"}, "format", "is 'analyze'; expected one of"),
    ({"layout": {"patterns": []}}, "layout.patterns", "must not be empty"),
    ({"labels": {"convention": "acdc", "mapping_to_acdc": {1: 9}}}, "labels.mapping_to_acdc.1",
     "got 1: 9"),
    ({"manifest": {"a.nii.gz": "abc"}}, "manifest.a.nii.gz", "64 lowercase hex digits); got 'abc'"),
    ({"strata": "vendor"}, "strata", "must be a list of strings; got 'vendor'"),
    ({"licence": None, "license": "CC-BY"}, "license", "is not a known key; expected one of "
     "['citation', 'format', 'labels', 'layout', 'licence', 'manifest', 'name', 'notes', 'obtain', "
     "'reader_options', 'strata', 'title'] (did you mean 'licence'?)"),
    ({"labels": {"convention": "acdcc"}}, "labels.convention",
     "is 'acdcc'; expected one of ['acdc', 'mnms', 'none'] (did you mean 'acdc'?)"),
    ({"layout": {"patern": ["*"]}}, "layout.patern", "did you mean 'patterns'"),
    ({"title": 3}, "title", "must be a non-empty string; got 3"),
    ({"manifest": None}, "manifest", "is required"),
])
def test_malformed_card_names_the_key(tmp_path, changes, key, text):
    p = _write_card(tmp_path, "bad", **changes)
    with pytest.raises(CardError) as info:
        load_card(p)
    assert info.value.key == key and text in info.value.problem
    assert str(info.value).startswith(f"{p}: `{key}` ")


def test_card_manifest_may_be_null(tmp_path):
    p = _write_card(tmp_path, "nulled")
    p.write_text(p.read_text().replace("manifest: {}", "manifest: null"))
    assert load_card(p).manifest == {}


def test_card_name_must_match_file(tmp_path):
    p = _write_card(tmp_path, "other")
    p2 = p.rename(tmp_path / "renamed.yaml")
    with pytest.raises(CardError, match="`name`"):
        load_card(p2)


def _tree(root):
    files = {"patient001/Info.cfg": b"ED: 1\nES: 2\n",
             "patient001/patient001_frame01.nii.gz": b"img1",
             "patient001/patient001_frame01_gt.nii.gz": b"gt1",
             "patient001/patient001_4d.nii.gz": b"cine"}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def test_write_manifest_hashes(tmp_path):
    files = _tree(tmp_path)
    man = write_manifest(tmp_path)
    assert man == {k: hashlib.sha256(v).hexdigest() for k, v in sorted(files.items())}
    only = write_manifest(tmp_path, ["**/*_gt.nii.gz"])
    assert list(only) == ["patient001/patient001_frame01_gt.nii.gz"]


def test_verify_missing_extra_corrupted(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    _tree(root)
    card = load_card("acdc")
    pinned = card.__class__(**{**card.__dict__, "manifest": write_manifest(root)})
    ok = verify(pinned, root)
    assert ok.ok and ok.integrity_verified and not (ok.missing or ok.extra or ok.corrupted)
    (root / "patient001/patient001_4d.nii.gz").unlink()
    (root / "patient001/patient001_frame01.nii.gz").write_bytes(b"changed")
    (root / "notes.txt").write_text("mine")
    rep = verify(pinned, root)
    assert not rep.ok
    assert rep.missing == ("patient001/patient001_4d.nii.gz",)
    assert rep.corrupted == ("patient001/patient001_frame01.nii.gz",)
    assert rep.extra == ("notes.txt",)
    d = rep.to_dict()
    assert d["ok"] is False and d["n_files"] == 4
    text = rep.summary()
    assert "missing: 1" in text and "corrupted (hash mismatch): 1" in text


def test_verify_without_manifest_checks_layout(tmp_path):
    _tree(tmp_path)
    rep = verify("acdc", tmp_path)
    assert rep.ok and not rep.integrity_verified
    assert any("no manifest: integrity not verified" in n for n in rep.notes)
    (tmp_path / "patient001/patient001_4d.nii.gz").unlink()
    rep = verify("acdc", tmp_path)
    assert rep.missing == ("pattern:**/patient*/patient*_4d.nii.gz",)

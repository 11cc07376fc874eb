"""Case validation: each bad field gives a ValueError naming the field."""

import dataclasses

import numpy as np
import pytest

from suite.case import Case, CaseMeta


def good(**over):
    fields = dict(
        kspace=np.zeros((2, 3, 4, 8, 6), np.complex64),
        mask=np.ones((1, 3, 1, 8, 1), bool),
        reference=np.zeros((2, 3, 8, 6), np.complex64),
        labels=np.zeros((2, 3, 8, 6), np.uint8),
        coil_maps=np.zeros((2, 4, 8, 6), np.complex64),
        meta=CaseMeta(subject="s1", pixel_spacing_mm=(2.0, 2.0), slice_spacing_mm=8.0),
    )
    fields.update(over)
    return fields


def test_valid_case_and_properties():
    c = Case(**good())
    assert (c.n_slices, c.n_frames, c.n_coils, c.matrix) == (2, 3, 4, (8, 6))
    assert c.sampled_fraction == 1.0
    assert c.meta.voxel_volume_ml == pytest.approx(2 * 2 * 8 / 1000)
    parts = c.split_slices()
    assert [p.kspace.shape[0] for p in parts] == [1, 1]
    assert parts[1].meta.extra["slice_index"] == 1
    assert c.to_dict()["arrays"]["kspace"]["shape"] == [2, 3, 4, 8, 6]


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("kspace", np.zeros((2, 3, 4, 8, 6), np.complex128), "kspace.*complex64"),
        ("kspace", np.zeros((3, 4, 8, 6), np.complex64), "kspace.*5 axes"),
        ("mask", np.ones((1, 3, 1, 8, 1), np.uint8), "mask.*bool"),
        ("mask", np.ones((1, 2, 1, 8, 1), bool), "mask.*does not broadcast"),
        ("reference", np.zeros((2, 3, 8, 7), np.complex64), "reference.*does not match"),
        ("labels", np.zeros((2, 3, 8, 6), np.int64), "labels.*uint8"),
        ("labels", np.full((2, 3, 8, 6), 4, np.uint8), "labels.*ACDC"),
        ("coil_maps", np.zeros((2, 5, 8, 6), np.complex64), "coil_maps.*does not match"),
    ],
)
def test_bad_fields_name_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        Case(**good(**{field: value}))


def test_nan_in_kspace_is_reported_with_count():
    k = np.zeros((2, 3, 4, 8, 6), np.complex64)
    k[1, 2, 0, 3, 3] = np.nan
    k[0, 0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"`kspace` holds 2 non-finite"):
        Case(**good(kspace=k))


def test_mask_required_with_kspace_and_something_required():
    with pytest.raises(ValueError, match="mask"):
        Case(**good(mask=None))
    with pytest.raises(ValueError, match="at least one"):
        Case(meta=CaseMeta())


def test_image_only_case():
    c = Case(reference=np.zeros((2, 5, 8, 8), np.float32), labels=np.zeros((2, 5, 8, 8), np.uint8),
             meta={"subject": "acdc-1", "annotated_frames": (0, 3)})
    assert c.n_coils is None and c.n_frames == 5
    with pytest.raises(ValueError, match="annotated_frames"):
        Case(labels=np.zeros((2, 5, 8, 8), np.uint8), meta={"annotated_frames": (0, 7)})


def test_case_meta_is_frozen_and_replace_copies():
    meta = CaseMeta(subject="s1", extra={"tr_ms": 3.0}, strata={"vendor": "A"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.dataset = "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.extra = {}
    new = meta.replace(dataset="other", extra={**meta.extra, "te_ms": 1.5})
    assert (new.dataset, new.subject, new.extra) == ("other", "s1", {"tr_ms": 3.0, "te_ms": 1.5})
    assert (meta.dataset, meta.extra) == ("unknown", {"tr_ms": 3.0})
    assert new.strata is meta.strata  # unchanged fields are shared, never written into


def test_case_is_frozen():
    c = Case(**good())
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.meta = CaseMeta()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.kspace = None
    d = c.replace(meta=c.meta.replace(dataset="d"))
    assert (c.meta.dataset, d.meta.dataset) == ("unknown", "d") and d.kspace is c.kspace


def test_slice_case_leaves_the_original_meta_untouched():
    meta = CaseMeta(subject="s1", extra={"tr_ms": 3.0}, pixel_spacing_mm=(2.0, 2.0))
    c = Case(**good(meta=meta))
    before = meta.to_dict()
    one = c.slice_case(1)
    parts = c.split_slices()
    assert c.meta is meta and meta.to_dict() == before
    assert "slice_index" not in meta.extra
    assert one.meta.extra == {"tr_ms": 3.0, "slice_index": 1}
    assert one.meta.extra is not meta.extra
    assert [p.meta.extra["slice_index"] for p in parts] == [0, 1]
    assert parts[0].meta.extra is not parts[1].meta.extra

"""Case validation: each bad field gives a ValueError naming the field."""

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

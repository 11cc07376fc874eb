"""AHA segments on synthetic rings with known insertion angles."""

import math

import numpy as np
import pytest

from suite.metrics.aha import aha_segments, segment_masks, segment_means

N = 48
C = (23.5, 23.5)  # LV centre (row, col), between pixels so no pixel sits on it
RV, MYO, LV = 1, 2, 3  # ACDC labels


def ring_slice(ant_deg=120.0, inf_deg=240.0, rv=True, cavity=True):
    """LV disk r < 7, myocardium 7 <= r < 11, RV crescent 11 <= r < 16 between the insertion
    angles (display frame: x right, y up, counterclockwise from ant to inf)."""
    rows, cols = np.indices((N, N))
    u, v = cols - C[1], -(rows - C[0])
    r = np.hypot(u, v)
    theta = np.degrees(np.arctan2(v, u)) % 360
    lab = np.zeros((N, N), np.uint8)
    if cavity:
        lab[r < 7] = LV
    lab[(r >= 7) & (r < 11)] = MYO
    if rv:
        lab[(r >= 11) & (r < 16) & ((theta - ant_deg) % 360 <= (inf_deg - ant_deg) % 360)] = RV
    return lab


def pixel_at(angle_deg, radius=9.0):
    a = math.radians(angle_deg)
    return int(round(C[0] - radius * math.sin(a))), int(round(C[1] + radius * math.cos(a)))


def stack(n=6, **kw):
    return np.stack([ring_slice(**kw) for _ in range(n)])


def seg_at(aha, z, angle):
    return int(aha.segments[(z, *pixel_at(angle))])


def test_insertion_points_are_found():
    aha = aha_segments(stack(ant_deg=120.0, inf_deg=240.0))
    assert np.allclose(aha.anterior_insertion_deg, 120.0, atol=8.0)
    assert np.allclose(aha.inferior_insertion_deg, 240.0, atol=8.0)
    assert np.allclose(aha.septal_deg, 180.0, atol=3.0)


def test_levels_follow_the_thirds_rule():
    aha = aha_segments(stack(6))
    assert aha.levels == ("basal", "basal", "mid", "mid", "apical", "apical")
    # slice positions: larger = more basal
    aha = aha_segments(stack(6), slice_positions_mm=[0, 10, 20, 30, 40, 50])
    assert aha.levels == ("apical", "apical", "mid", "mid", "basal", "basal")
    aha = aha_segments(stack(4))  # ceil(4/3) = 2, ceil(8/3) = 3
    assert aha.levels == ("basal", "basal", "mid", "apical")


@pytest.mark.parametrize("angle,expected", [
    (150.0, 2), (210.0, 3),            # septum split at its midpoint (180°)
    (255.0, 4), (315.0, 5), (15.0, 6), (75.0, 1),  # free wall 240° -> 120° in four 60° arcs
])
def test_insertion_profile_basal_segments(angle, expected):
    aha = aha_segments(stack())
    assert seg_at(aha, 0, angle) == expected
    assert seg_at(aha, 2, angle) == expected + 6


def test_a_wide_septum_moves_the_insertion_boundaries_but_not_the_cmrxrecon_ones():
    # Septum 100°..260° (160° wide), septal point 180°. Insertion profile: the septum is split
    # at 180° and 245° is inferoseptal (3), 105° anteroseptal (2). CMRxRecon: fixed sectors
    # around the septal point, phi = angle - 90: 245° -> 155° inferior (4), 105° -> 15°
    # anterior (1).
    lab = stack(ant_deg=100.0, inf_deg=260.0)
    ins = aha_segments(lab)
    cmr = aha_segments(lab, convention="cmrxrecon")
    assert (seg_at(ins, 0, 245.0), seg_at(cmr, 0, 245.0)) == (3, 4)
    assert (seg_at(ins, 0, 105.0), seg_at(cmr, 0, 105.0)) == (2, 1)
    assert seg_at(ins, 0, 270.0) == 4


@pytest.mark.parametrize("angle,expected", [
    (90.0, 1), (130.0, 2), (200.0, 3), (250.0, 4), (300.0, 5), (30.0, 6)])
def test_cmrxrecon_profile_fixed_sectors(angle, expected):
    # septal point 180° -> anterior 90°; phi = angle - 90
    aha = aha_segments(stack(), convention="cmrxrecon")
    assert seg_at(aha, 0, angle) == expected


@pytest.mark.parametrize("angle,expected", [(90.0, 13), (180.0, 14), (270.0, 15), (0.0, 16)])
def test_apical_segments_are_90_degree_sectors_around_the_septum(angle, expected):
    for convention in ("insertion", "cmrxrecon"):
        aha = aha_segments(stack(), convention=convention)
        assert seg_at(aha, 5, angle) == expected


def test_mirrored_stack_and_missing_rv_on_apical_slices():
    lab = stack()
    mirrored = aha_segments(lab[:, :, ::-1], mirrored=True)
    plain = aha_segments(lab)
    np.testing.assert_array_equal(mirrored.segments[:, :, ::-1], plain.segments)
    lab2 = lab.copy()
    lab2[4:][lab2[4:] == RV] = 0  # no RV on the apical slices: the nearest slice's angles
    aha = aha_segments(lab2)
    assert aha.septal_deg[5] == pytest.approx(aha.septal_deg[3])
    assert seg_at(aha, 5, 180.0) == 14


def test_apex_segment_17_and_segment_means():
    lab = np.concatenate([stack(6), ring_slice(rv=False, cavity=False)[None]])
    aha = aha_segments(lab, include_apex=True)
    assert aha.levels[-1] == "apex" and aha.n_segments == 17
    assert (aha.segments[-1][lab[-1] == MYO] == 17).all()
    t1 = np.where(aha.segments > 0, 1000.0 + aha.segments, np.nan)
    t1[0, pixel_at(150.0)[0], pixel_at(150.0)[1]] = np.nan  # a failed pixel is ignored
    means = segment_means(t1, aha)
    for s in range(1, 18):
        assert means[str(s)] == pytest.approx(1000.0 + s)
    assigned = aha.segments > 0
    assert means["global"] == pytest.approx(np.nanmean(t1[assigned]))
    assert set(segment_masks(aha)) == {str(i) for i in range(1, 18)} | {"global"}
    assert "17-segment" in aha.summary() and aha.to_dict()["pixels_per_segment"]["17"] > 0


def test_cmrxrecon_label_values_and_validation():
    lab = stack()
    cmr_labels = np.choose(lab, [0, 3, 2, 1]).astype(np.uint8)  # ACDC -> CMRxRecon (1 LV, 3 RV)
    a = aha_segments(cmr_labels, lv=1, myo=2, rv=3)
    np.testing.assert_array_equal(a.segments, aha_segments(lab).segments)
    with pytest.raises(ValueError, match="convention must be one of"):
        aha_segments(lab, convention="bai")
    with pytest.raises(ValueError, match="one value per slice"):
        aha_segments(lab, slice_positions_mm=[1, 2])

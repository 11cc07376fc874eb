"""The acquisition description a model-based mapping method is given, read from a Case.

:func:`case_acquisition` builds a :class:`suite.mr.sequences.MappingAcquisition` from the
fields a reader fills from the data's headers, and nothing else:

=========================  ===========================================================
field                      Case field (ISMRMRD header of the phantom / real data)
=========================  ===========================================================
``sequence``               ``meta.sequence`` (protocol / sequence name)
``timings_ms``             ``meta.timings_ms`` ``TI``/``TS``/``TE`` (per slice, per image)
``trigger_ms``             ``meta.timings_ms["trigger"]`` (R-wave time of each image)
``trigger_delay_ms``       ``meta.extra["trigger_delay_ms"]`` (R wave → k-space centre)
``flip_angle_deg``,        ``meta.extra["flip_angle_deg" | "tr_ms" | "te_ms"]``
``tr_ms``, ``te_ms``       (ISMRMRD ``sequenceParameters``)
``readout_pulses``,        ``meta.extra["readout_pulses" | "centre_line" |
``centre_line``,           "ramp_up_pulses"]``
``ramp_up_pulses``
``images_per_block``       ``meta.extra["images_per_block"]`` (MRF)
``field_strength_t``       ``meta.field_strength_t``
``heart_rate_bpm``         ``meta.heart_rate_bpm``
=========================  ===========================================================

The phantom's own bookkeeping in ``meta.extra`` (its RR series, imperfections, noise level)
is never read: a method sees what a scanner writes. Readers of real data leave what they
cannot know absent, the field is then None and the method that needs it fails with a one-line
error naming it (:meth:`~suite.mr.sequences.MappingAcquisition.require`).
"""

from __future__ import annotations

from suite.case import Case
from suite.mr.sequences import MappingAcquisition
from suite.stages.mapping.inputs import QUANTITY_OF_TIMING

__all__ = ["case_acquisition", "HEADER_FIELDS"]

#: ``meta.extra`` keys read into the acquisition (besides the sequence, timings, field
#: strength and heart rate).
HEADER_FIELDS = ("trigger_delay_ms", "flip_angle_deg", "tr_ms", "te_ms", "readout_pulses",
                 "centre_line", "ramp_up_pulses", "images_per_block")
_INTEGER = ("readout_pulses", "centre_line", "ramp_up_pulses", "images_per_block")


def _rows(raw, n_slices: int):
    if not raw:
        return None
    rows = raw if isinstance(raw[0], (list, tuple)) else [raw]
    if len(rows) == 1 and n_slices > 1:
        rows = list(rows) * n_slices
    return rows


def _scalar(value, name):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):          # a per-image list: the first value
        value = value[0] if value else None
        if value is None:
            return None
    return int(value) if name in _INTEGER else float(value)


def case_acquisition(case: Case) -> MappingAcquisition:
    """The acquisition description of a mapping series (module docstring)."""
    meta = case.meta
    n = case.n_slices
    timings = {k: _rows(v, n) for k, v in meta.timings_ms.items() if k in QUANTITY_OF_TIMING}
    extra = meta.extra or {}
    return MappingAcquisition(
        sequence=meta.sequence or None,
        timings_ms={k: v for k, v in timings.items() if v is not None},
        trigger_ms=_rows(meta.timings_ms.get("trigger"), n),
        field_strength_t=meta.field_strength_t, heart_rate_bpm=meta.heart_rate_bpm,
        **{k: _scalar(extra.get(k), k) for k in HEADER_FIELDS})

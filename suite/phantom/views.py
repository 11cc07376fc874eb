"""Views of the phantom: the short-axis stack and the long-axis cines planned from landmarks.

Planning uses the phantom's own end-diastolic landmarks (:meth:`suite.phantom.heart.
HeartModel.landmarks`) and the AHA definitions (Cerqueira et al., Circulation
2002;105:539–542): the LV long axis runs from the apex to the centre of the mitral valve;

* ``"4ch"`` (horizontal long axis): the plane through the long axis and the RV acute margin,
  the transition between the RV's diaphragmatic and free walls at the mid-ventricular level
  (the point of the RV's outer surface there lying most inferior);
* ``"2ch"`` (vertical long axis): through the long axis, perpendicular to the 4CH plane;
* ``"3ch"`` (LV outflow tract): through the apex, the mitral valve centre and the aortic
  valve centre.

Long-axis images put the apex at the top: the row direction (``phase_dir``) runs from the apex
towards the base along the projected long axis; ``read_dir`` points away from the RV (4CH:
to the LV side), away from the aortic valve (3CH) or anteriorly (2CH). The slab is centred on
the plane through the landmarks; the in-plane FOV centre is the midpoint of apex and mitral
valve centre.

``"sax"``: the short-axis stack of :func:`sax_view`, perpendicular to the LV's geometric axis
(``ez``, the stack every earlier version of the phantom used); the AHA long axis through the
mitral valve centre deviates from it by a few degrees (``truth["sax_axis_deviation_deg"]``),
an error of the size that automated planners make (Blansit et al., Radiol Artif Intell
2019;1:e180069: 4.9° ± 4.9° for the SAX plane).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite._validation import check_option
from suite.phantom.orientation import SlicePlane, unit

__all__ = ["VIEWS", "ViewGeometry", "sax_view", "lax_view", "plan_view"]

#: View names accepted by :func:`suite.phantom.simulate`.
VIEWS = ("sax", "2ch", "3ch", "4ch")
_SERIES = {"sax": "cine_sax", "2ch": "cine_2ch", "3ch": "cine_3ch", "4ch": "cine_4ch"}


@dataclass(frozen=True)
class ViewGeometry:
    """The planes of one view.

    Attributes
    ----------
    name : str
        One of :data:`VIEWS`.
    planes : tuple of SlicePlane
        One per slice; slab centres.
    centre_xy : (float, float)
        In-plane FOV centre (the same for every slice), mm.
    positions_mm : ndarray (slice,)
        Slab centres along the stack axis: heart height ``w`` for the short-axis stack
        (0 = endocardial equator), 0 for a long-axis view.
    """

    name: str
    planes: tuple[SlicePlane, ...]
    centre_xy: tuple[float, float]
    positions_mm: np.ndarray

    @property
    def series(self) -> str:
        return _SERIES[self.name]

    def geometry(self, matrix, spacing_mm: float) -> dict:
        """Per-slice scanner geometry (``meta.extra["slice_geometry"]``): ISMRMRD ``position``
        (centre of pixel ``(ny//2, nx//2)``), ``read_dir``, ``phase_dir``, ``slice_dir`` and the
        DICOM Image Position (Patient) of pixel ``(0, 0)``, LPS mm."""
        pos = [p.centre_position(self.centre_xy) for p in self.planes]
        ipp = [p.image_position_patient(self.centre_xy, matrix, spacing_mm) for p in self.planes]
        lst = lambda v: [float(a) for a in v]  # noqa: E731
        return {
            "position_mm": [lst(v) for v in pos],
            "read_dir": [lst(p.read_dir) for p in self.planes],
            "phase_dir": [lst(p.phase_dir) for p in self.planes],
            "slice_dir": [lst(p.normal) for p in self.planes],
            "image_position_patient_mm": [lst(v) for v in ipp],
            "coordinates": "LPS (patient), mm; position = centre of pixel (ny//2, nx//2)",
        }


def sax_view(model, positions_mm) -> ViewGeometry:
    """Short-axis stack at heart heights ``positions_mm`` (slab centres, mm).

    In-plane axes are the heart frame's ``ex`` (read) and ``ey`` (phase); the FOV centre is the
    projection of the torso axis (so the body sits in the FOV as in earlier versions) plus the
    subject's drawn offset.
    """
    fr = model.frame
    torso = np.array([0.0, 0.0, fr.origin[2]]) - fr.origin
    off = model.subject.fov_offset_mm
    centre = (float(torso @ fr.ex) + off[0], float(torso @ fr.ey) + off[1])
    planes = tuple(SlicePlane(fr.origin + float(w) * fr.ez, fr.ex, fr.ey) for w in positions_mm)
    return ViewGeometry("sax", planes, centre, np.asarray(positions_mm, dtype=np.float64))


def lax_view(model, name: str) -> ViewGeometry:
    """A long-axis view planned from the end-diastolic landmarks (module docstring)."""
    check_option(name, ("2ch", "3ch", "4ch"), name="view", where="suite.phantom.views")
    marks = model.landmarks(0)
    apex, mv = marks["lv_apex"], marks["mitral_valve"]
    axis = unit(apex - mv)                                   # base → apex

    def perp(v):
        return unit(v - (v @ axis) * axis)

    if name == "4ch":
        away = -perp(marks["rv_acute_margin"] - mv)
    elif name == "3ch":
        away = -perp(marks["aortic_valve"] - mv)
    else:
        n4 = perp(marks["rv_acute_margin"] - mv)
        away = unit(np.cross(axis, n4))
        if away @ np.array([0.0, -1.0, 0.0]) < 0:            # anterior to the image right
            away = -away
    phase = -axis                                            # apex at the top
    plane = SlicePlane(0.5 * (apex + mv), away, phase)
    return ViewGeometry(name, (plane,), (0.0, 0.0), np.zeros(1))


def plan_view(model, name: str, positions_mm=None) -> ViewGeometry:
    """:func:`sax_view` (needs ``positions_mm``) or :func:`lax_view` by name."""
    check_option(name, VIEWS, name="view", where="suite.phantom")
    if name == "sax":
        return sax_view(model, positions_mm)
    return lax_view(model, name)

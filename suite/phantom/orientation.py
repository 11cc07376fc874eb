"""Scanner coordinates of the phantom: the heart's frame and the image planes of every view.

Scanner (patient) coordinates are DICOM/ISMRMRD LPS, mm: ``+x`` patient left, ``+y``
posterior, ``+z`` superior (the direction of B0 for a supine, head-first patient). The torso
is an elliptic cylinder along ``z`` (:mod:`suite.phantom.body`).

Heart frame (:class:`HeartFrame`), right-handed or not is irrelevant here; axes in LPS:

* ``ez``: the LV long axis from base to apex (anterior, left, inferior), drawn per subject as
  an azimuth from anterior towards left and a caudal elevation;
* ``ey``: image "down" of the short-axis view, the projection of posterior (+y) onto the
  plane perpendicular to ``ez``;
* ``ex = ez × ey``: image "right" of the short-axis view (towards patient left and superior).

Heart coordinates ``(x, y, w)``: ``x``, ``y`` along ``ex``, ``ey`` from the LV axis and ``w``
along ``ez`` from the endocardial equator (end-diastole), as in :mod:`suite.phantom.anatomy`.
With these axes the short-axis image shows the RV on the left and anterior up, the usual
display.

A view is a stack of :class:`SlicePlane` s. A plane maps its in-plane coordinates ``(x, y)``
mm (``x`` along ``read_dir``, the column index; ``y`` along ``phase_dir``, the row index) to
scanner coordinates ``origin + x·read_dir + y·phase_dir``. Pixel ``(i, j)`` of an image of
``(ny, nx)`` pixels at spacing ``Δ`` centred on in-plane point ``c = (cx, cy)`` sits at
``x = cx + (j − nx//2)·Δ``, ``y = cy + (i − ny//2)·Δ`` (the centred-FFT convention of
:mod:`suite.mr.fft`, as :mod:`suite.phantom.grid`). The ISMRMRD ``position`` of a slice is
the scanner position of pixel ``(ny//2, nx//2)``; the DICOM Image Position (Patient) is that
of pixel ``(0, 0)`` (:meth:`SlicePlane.image_position_patient`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["HeartFrame", "heart_frame", "SlicePlane", "unit"]


def unit(v) -> np.ndarray:
    """``v / |v|`` as float64 (ValueError for a zero vector)."""
    v = np.asarray(v, dtype=np.float64)
    n = float(np.linalg.norm(v))
    if n == 0.0:
        raise ValueError("suite.phantom.orientation: zero-length direction")
    return v / n


@dataclass(frozen=True)
class HeartFrame:
    """Origin and axes of the heart in scanner coordinates (LPS, mm; unit vectors).

    Attributes
    ----------
    origin : ndarray (3,)
        LV axis at the endocardial equator (end-diastole), LPS mm.
    ex, ey, ez : ndarray (3,)
        Short-axis image right, image down, and the long axis (base → apex).
    """

    origin: np.ndarray
    ex: np.ndarray
    ey: np.ndarray
    ez: np.ndarray

    @property
    def rotation(self) -> np.ndarray:
        """Rows ``ex, ey, ez``: heart = R · (lps − origin)."""
        return np.stack([self.ex, self.ey, self.ez])

    def to_heart(self, points) -> np.ndarray:
        """Scanner points ``(..., 3)`` → heart coordinates ``(..., 3)`` (x, y, w), mm."""
        p = np.asarray(points, dtype=np.float64)
        return (p - self.origin) @ self.rotation.T

    def to_scanner(self, points) -> np.ndarray:
        """Heart coordinates ``(..., 3)`` → scanner points ``(..., 3)``, mm."""
        h = np.asarray(points, dtype=np.float64)
        return self.origin + h @ self.rotation

    def vector_to_heart(self, v) -> np.ndarray:
        """A direction/displacement ``(..., 3)`` from scanner to heart axes (no origin)."""
        return np.asarray(v, dtype=np.float64) @ self.rotation.T

    def vector_to_scanner(self, v) -> np.ndarray:
        """A direction/displacement ``(..., 3)`` from heart to scanner axes (no origin)."""
        return np.asarray(v, dtype=np.float64) @ self.rotation

    def to_dict(self) -> dict:
        return {k: [float(x) for x in getattr(self, k)] for k in ("origin", "ex", "ey", "ez")}


def heart_frame(origin_mm, azimuth_deg: float, elevation_deg: float) -> HeartFrame:
    """The heart frame of a long axis pointing anterior-left-inferior.

    Parameters
    ----------
    origin_mm : (3,)
        LV equator centre, LPS mm.
    azimuth_deg : float
        Angle of the long axis' horizontal part from anterior (−y) towards patient left (+x).
    elevation_deg : float
        Caudal tilt of the long axis below the horizontal (axial) plane.

    Examples
    --------
    >>> f = heart_frame((30.0, -20.0, 0.0), 45.0, 30.0)
    >>> [round(float(v), 3) for v in f.ez]
    [0.612, -0.612, -0.5]
    >>> abs(round(float(f.ex @ f.ey), 12)), abs(round(float(f.ey @ f.ez), 12))
    (0.0, 0.0)
    """
    az, el = np.deg2rad(float(azimuth_deg)), np.deg2rad(float(elevation_deg))
    ez = unit([np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), -np.sin(el)])
    post = np.array([0.0, 1.0, 0.0])
    ey = unit(post - (post @ ez) * ez)
    ex = unit(np.cross(ez, ey))
    return HeartFrame(np.asarray(origin_mm, dtype=np.float64), ex, ey, ez)


@dataclass(frozen=True)
class SlicePlane:
    """One image plane in scanner coordinates.

    Attributes
    ----------
    origin : ndarray (3,)
        Scanner point of in-plane coordinates ``(0, 0)``, mm.
    read_dir, phase_dir : ndarray (3,)
        Unit vectors of increasing column (x) and row (y) index.
    """

    origin: np.ndarray
    read_dir: np.ndarray
    phase_dir: np.ndarray

    @property
    def normal(self) -> np.ndarray:
        """``read_dir × phase_dir`` (the ISMRMRD ``slice_dir``, the DICOM slice normal)."""
        return np.cross(self.read_dir, self.phase_dir)

    def to_scanner(self, x, y, offset: float = 0.0) -> np.ndarray:
        """In-plane points (broadcast arrays, mm), optionally moved ``offset`` mm along the
        normal, as scanner points ``(..., 3)``."""
        x = np.asarray(x, dtype=np.float64)[..., None]
        y = np.asarray(y, dtype=np.float64)[..., None]
        return self.origin + x * self.read_dir + y * self.phase_dir + offset * self.normal

    def to_plane(self, points) -> np.ndarray:
        """Scanner points ``(..., 3)`` → in-plane ``(..., 3)``: (x, y, distance along normal)."""
        d = np.asarray(points, dtype=np.float64) - self.origin
        return np.stack([d @ self.read_dir, d @ self.phase_dir, d @ self.normal], axis=-1)

    def centre_position(self, centre_xy) -> np.ndarray:
        """Scanner position of in-plane point ``centre_xy`` (the ISMRMRD ``position``)."""
        return self.to_scanner(float(centre_xy[0]), float(centre_xy[1]))

    def image_position_patient(self, centre_xy, matrix, spacing_mm: float) -> np.ndarray:
        """DICOM Image Position (Patient): scanner position of pixel ``(0, 0)``."""
        ny, nx = (int(v) for v in matrix)
        return self.to_scanner(float(centre_xy[0]) - (nx // 2) * spacing_mm,
                               float(centre_xy[1]) - (ny // 2) * spacing_mm)

    def to_dict(self) -> dict:
        return {"origin_mm": [float(v) for v in self.origin],
                "read_dir": [float(v) for v in self.read_dir],
                "phase_dir": [float(v) for v in self.phase_dir]}

"""Rendering one slab on the simulation grid: tissue signal and majority labels.

A slab of thickness ``T`` centred at height ``z_s`` is sampled on ``n_sub_planes`` planes at
``z_s − T/2 + (p + ½) T / n_sub_planes`` (a rectangular slice profile). Every simulation-grid
pixel of every plane gets a tissue class (body classes from :mod:`suite.phantom.body`,
overwritten by the heart from :mod:`suite.phantom.anatomy`); the slab image is the mean
over planes of the class signals (through-plane partial volume).

Labels on the acquired grid: each acquired pixel is covered by ``q × q`` simulation pixels
(:mod:`suite.phantom.grid`) on each of the planes, ``q² · n_sub_planes`` samples; its label
is the most frequent ACDC label among them (majority by area/volume), ties going to the
lower label value (background < RV < MYO < LV).
"""

from __future__ import annotations

import numpy as np

from suite.phantom.anatomy import HeartGeometry
from suite.phantom.body import BodyLayout, classify_body
from suite.phantom.grid import SimGrid
from suite.phantom.tissue import ACDC_LABEL

__all__ = ["slab_planes", "render_background", "heart_polar", "render_heart",
           "majority_labels"]


def slab_planes(z_centre: float, thickness: float, n_sub: int) -> np.ndarray:
    """Heights of the ``n_sub`` sample planes of a slab, mm, shape (n_sub,)."""
    return z_centre - thickness / 2.0 + (np.arange(n_sub) + 0.5) * (thickness / n_sub)


def render_background(grid: SimGrid, layout: BodyLayout, planes: np.ndarray,
                      lut: np.ndarray):
    """Static anatomy of one slab on the whole simulation grid.

    Returns
    -------
    signal : ndarray, float32, shape (q·ny, q·nx)
        Slab-averaged signal.
    codes : ndarray, uint8, shape (plane, q·ny, q·nx)
        Class codes per plane.
    """
    xx, yy = np.meshgrid(grid.x.fine, grid.y.fine)
    codes = np.stack([classify_body(layout, xx, yy, float(z)) for z in planes])
    signal = lut[codes].mean(axis=0, dtype=np.float32)
    return signal, codes


def heart_polar(grid: SimGrid, geo: HeartGeometry, centre_mm, bbox):
    """Polar coordinates about the LV axis and angular profiles inside ``bbox``.

    Returns
    -------
    (r, theta, angular) : r mm and θ radians of shape (Hb, Wb); ``angular`` the
    ``(infarct_angular, rv_angular)`` profiles at θ.
    """
    iy0, iy1, ix0, ix1 = bbox
    xs = grid.x.fine[grid.x.fine_range(ix0, ix1)] - centre_mm[0]
    ys = grid.y.fine[grid.y.fine_range(iy0, iy1)] - centre_mm[1]
    xx, yy = np.meshgrid(xs, ys)
    theta = np.arctan2(yy, xx)
    return np.hypot(xx, yy), theta, (geo.infarct_angular(theta), geo.rv_angular(theta))


def render_heart(grid: SimGrid, geo: HeartGeometry, frame: int, planes: np.ndarray,
                 polar, bg_codes: np.ndarray, lut: np.ndarray):
    """The heart at ``frame`` inside the acquired-pixel box of ``polar``.

    Parameters
    ----------
    grid : SimGrid
    geo : HeartGeometry
    frame : int
    planes : ndarray (plane,), mm
    polar : tuple
        From :func:`heart_polar` for this slice and frame's heart position (respiration
        included) and the acquired-pixel box holding the heart at every frame.
    bg_codes : ndarray, uint8, (plane, Hb, Wb)
        Body classes inside the box.
    lut : ndarray, float32, (n_classes,)
        Signal of each class.

    Returns
    -------
    signal : ndarray, float32, (Hb, Wb)
    labels : ndarray, uint8, (Hb / q, Wb / q), ACDC labels by majority.
    """
    r, theta, angular = polar
    heart = np.stack([geo.classify_polar(r, theta, float(z), frame, angular) for z in planes])
    codes = np.where(heart > 0, heart, bg_codes)
    signal = lut[codes].mean(axis=0, dtype=np.float32)
    return signal, majority_labels(ACDC_LABEL[heart], grid.x.q)


def majority_labels(fine_labels: np.ndarray, q: int) -> np.ndarray:
    """Most frequent label over each ``q × q`` block and all planes (ties: lower label).

    Parameters
    ----------
    fine_labels : ndarray, uint8, (plane, q·h, q·w), values 0..3

    Returns
    -------
    ndarray, uint8, (h, w)

    Examples
    --------
    >>> lab = np.zeros((1, 3, 3), np.uint8); lab[0, :2, :] = 3
    >>> majority_labels(lab, 3).tolist()
    [[3]]
    """
    n, h, w = fine_labels.shape
    blocks = fine_labels.reshape(n, h // q, q, w // q, q)
    counts = np.stack([(blocks == c).sum(axis=(0, 2, 4)) for c in range(4)])
    return np.argmax(counts, axis=0).astype(np.uint8)

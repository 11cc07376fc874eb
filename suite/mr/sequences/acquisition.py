"""What a model-based mapping method knows about an acquisition: :class:`MappingAcquisition`.

A model-based method (MRF dictionary, Bloch-model fit) simulates the sequence itself, so it
needs the acquisition, not only the preparation times. :class:`MappingAcquisition` holds what a
scanner's raw-data headers carry — the sequence (protocol) name, per image the TI/TS/T2-prep
time and the trigger (R-wave) time, the trigger delay (R wave → k-space centre; DICOM
TriggerTime), the readout flip angle, TR, TE, readout pulses and ramp-up pulses, the field
strength, the nominal heart rate — and nothing the scanner cannot know (tissue, B1, inversion
efficiency, the RR intervals of beats without an image). A field the data do not carry is
None; :meth:`MappingAcquisition.require` turns that into a one-line error naming the field.

From it, :meth:`~MappingAcquisition.sequence_description` rebuilds the sequence of
:mod:`suite.mr.sequences` and :meth:`~MappingAcquisition.rr_ms` the RR intervals:

* ``"actual"``: the R waves of the imaged beats are the trigger times; a gap that spans
  recovery beats of the scheme (``Block.wait_beats``) is split evenly over them. Nothing
  happens in those beats, so the rebuilt program has exactly the acquisition's events (a block
  whose trigger was skipped keeps its real R wave, which the schedule accepted).
* ``"nominal"``: a constant RR, the mean of the actual RR intervals or ``60000 / HR`` for a
  stated heart rate — what a dictionary built without the subject's ECG uses.

Sequence names (``sequence``): ``molli-<scheme>`` (e.g. ``molli-5(3)3``), ``shmolli``,
``sasha``, ``t2prep-bssfp``, ``cardiac-mrf`` (the names of the mapping phantom).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import numpy as np

from suite.mr.sequences.molli import MOLLI
from suite.mr.sequences.mrf import CardiacMRF
from suite.mr.sequences.readouts import BSSFPReadout
from suite.mr.sequences.sasha import SASHA
from suite.mr.sequences.t2prep_bssfp import T2PrepBSSFP

__all__ = ["MappingAcquisition", "SEQUENCE_NAMES", "RR_MODES", "window_matrix"]

#: Sequence names :meth:`MappingAcquisition.sequence_description` knows (``molli-<scheme>``
#: stands for any MOLLI scheme).
SEQUENCE_NAMES = ("molli-<scheme>", "shmolli", "sasha", "t2prep-bssfp", "cardiac-mrf")
#: RR interval modes of :meth:`MappingAcquisition.rr_ms`.
RR_MODES = ("actual", "nominal")
_SHMOLLI_SCHEME = "5(1)1(1)1"


def window_matrix(windows, n_samples: int) -> np.ndarray:
    """Averaging matrix ``(n_images, n_samples)`` float64: image ``i`` is the mean of the
    samples ``windows[i]`` (e.g. MRF images reconstructed from consecutive repetitions)."""
    w = np.zeros((len(windows), int(n_samples)), np.float64)
    for i, idx in enumerate(windows):
        idx = np.asarray(idx, np.int64)
        if idx.size == 0 or idx.min() < 0 or idx.max() >= n_samples:
            raise ValueError(f"window_matrix: window {i} must hold sample indices in "
                             f"[0, {n_samples}); got {idx.tolist()}")
        w[i, idx] = 1.0 / idx.size
    return w


def _per_slice(rows) -> tuple | None:
    if rows is None:
        return None
    return tuple(tuple(None if v is None else float(v) for v in r) for r in rows)


@dataclass(frozen=True)
class MappingAcquisition:
    """Acquisition description of one mapping series, from its headers (module docstring).

    Attributes
    ----------
    sequence : str or None
        Sequence name (:data:`SEQUENCE_NAMES`).
    timings_ms : dict of str to tuple
        ``TI``/``TS``/``TE`` per slice, per image, ms (None: image without that preparation).
    trigger_ms : tuple or None
        Per slice, per image: time of the R wave that triggered the image, ms (any origin).
    trigger_delay_ms : float or None
        R wave → k-space centre echo (first recorded echo of an MRF train), ms.
    flip_angle_deg, tr_ms, te_ms : float or None
        Readout flip angle (bSSFP; the MRF flip pattern belongs to the sequence), TR, TE.
    readout_pulses, centre_line, ramp_up_pulses : int or None
        bSSFP imaging pulses (phase-encoding lines acquired), index of the k-space centre line
        among them, linear ramp-up pulses before them.
    images_per_block : int or None
        MRF: images per block, each the mean of consecutive repetitions
        (:meth:`~suite.mr.sequences.CardiacMRF.image_windows`); None: one per repetition.
    field_strength_t, heart_rate_bpm : float or None
        Field strength; nominal (mean) heart rate of the scan.
    """

    sequence: str | None = None
    timings_ms: dict = field(default_factory=dict)
    trigger_ms: tuple | None = None
    trigger_delay_ms: float | None = None
    flip_angle_deg: float | None = None
    tr_ms: float | None = None
    te_ms: float | None = None
    readout_pulses: int | None = None
    centre_line: int | None = None
    ramp_up_pulses: int | None = None
    images_per_block: int | None = None
    field_strength_t: float | None = None
    heart_rate_bpm: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "timings_ms",
                           {k: _per_slice(v) for k, v in dict(self.timings_ms).items()})
        object.__setattr__(self, "trigger_ms", _per_slice(self.trigger_ms))

    # ------------------------------------------------------------------ checks
    def require(self, *names: str, who: str = "mapping method") -> None:
        """Raise ``ValueError`` (one line) naming the first of ``names`` that is None."""
        for name in names:
            if getattr(self, name) is None:
                raise ValueError(f"{who}: the acquisition has no {name!r} (the data's headers "
                                 f"do not carry it; sequence {self.sequence!r})")

    @property
    def n_slices(self) -> int:
        rows = self.trigger_ms or next(iter(self.timings_ms.values()), None) or ()
        return len(rows)

    # ------------------------------------------------------------------ sequence
    def _readout(self, default: BSSFPReadout, who: str) -> BSSFPReadout:
        self.require("flip_angle_deg", "tr_ms", "readout_pulses", "centre_line",
                     "ramp_up_pulses", who=who)
        return dataclasses.replace(default, flip_deg=float(self.flip_angle_deg),
                                   tr_ms=float(self.tr_ms), n_lines=int(self.readout_pulses),
                                   centre_line=int(self.centre_line),
                                   n_ramp=int(self.ramp_up_pulses))

    def _timing(self, key: str, who: str) -> tuple:
        rows = self.timings_ms.get(key)
        if not rows:
            raise ValueError(f"{who}: the acquisition has no {key!r} timings (sequence "
                             f"{self.sequence!r})")
        if any(r != rows[0] for r in rows[1:]):
            raise ValueError(f"{who}: the slices have different {key!r} timings; a sequence "
                             "description needs one set (fit the slices separately)")
        return rows[0]

    def sequence_description(self, who: str = "mapping method"):
        """The :mod:`suite.mr.sequences` description rebuilt from the header values.

        Raises
        ------
        ValueError
            Unknown or missing sequence name, or a header field the sequence needs is None.
        """
        self.require("sequence", "trigger_delay_ms", who=who)
        name, delay = str(self.sequence), float(self.trigger_delay_ms)
        if name.startswith("molli-") or name == "shmolli":
            scheme = _SHMOLLI_SCHEME if name == "shmolli" else name[len("molli-"):]
            images = [int(x) for x in re.findall(r"\d+", scheme)][0::2]
            ti = self._timing("TI", who)
            starts = np.concatenate([[0], np.cumsum(images)[:-1]])
            if sum(images) != len(ti):
                raise ValueError(f"{who}: scheme {scheme!r} has {sum(images)} images; the "
                                 f"acquisition has {len(ti)} TIs")
            seq = MOLLI.from_scheme(scheme, [ti[i] for i in starts], trigger_delay_ms=delay)
        elif name == "sasha":
            ts = self._timing("TS", who)
            seq = SASHA(ts_ms=tuple(t for t in ts if t is not None),
                        n_non_prepared=sum(t is None for t in ts), trigger_delay_ms=delay)
            if any(t is None for t in ts[seq.n_non_prepared:]):
                raise ValueError(f"{who}: SASHA images without saturation must come first; "
                                 f"got TS {ts}")
        elif name == "t2prep-bssfp":
            seq = T2PrepBSSFP(prep_te_ms=tuple(float(t or 0.0) for t in self._timing("TE", who)),
                              trigger_delay_ms=delay)
        elif name == "cardiac-mrf":
            self.require("tr_ms", "te_ms", who=who)
            return CardiacMRF(tr_ms=float(self.tr_ms), te_ms=float(self.te_ms),
                              trigger_delay_ms=delay)
        else:
            raise ValueError(f"{who}: unknown sequence {name!r}; known: {SEQUENCE_NAMES}")
        return dataclasses.replace(seq, readout=self._readout(seq.readout, who))

    def image_matrix(self, sequence) -> np.ndarray | None:
        """Averaging matrix ``(n_images, n_samples)`` of an MRF acquisition with
        ``images_per_block`` (None: every recorded sample is an image)."""
        if self.images_per_block is None or not isinstance(sequence, CardiacMRF):
            return None
        return window_matrix(sequence.image_windows(int(self.images_per_block)),
                             sequence.n_samples)

    # ------------------------------------------------------------------ RR intervals
    def rr_ms(self, sequence, *, slice_index: int = 0, mode: str = "actual",
              heart_rate_bpm: float | None = None) -> np.ndarray:
        """RR intervals ``(n_beats,)`` in ms for ``sequence`` (module docstring).

        Parameters
        ----------
        sequence
            From :meth:`sequence_description`.
        slice_index : int
        mode : str
            ``"actual"`` or ``"nominal"`` (:data:`RR_MODES`).
        heart_rate_bpm : float, optional
            ``"nominal"``: the stated heart rate (default: the mean actual RR).
        """
        if mode not in RR_MODES:
            raise ValueError(f"rr_ms: mode must be one of {RR_MODES}; got {mode!r}")
        self.require("trigger_ms", who="rr_ms")
        trig = np.asarray(self.trigger_ms[slice_index], np.float64)
        blocks = sequence.blocks()
        per_block = len(trig) // len(blocks) if blocks else 0
        if per_block < 1 or per_block * len(blocks) != len(trig):
            raise ValueError(f"rr_ms: {len(trig)} trigger times do not split into the "
                             f"{len(blocks)} blocks of sequence {self.sequence!r}")
        r = trig[::per_block]
        rr = []
        for i in range(1, len(blocks)):
            n = blocks[i].wait_beats + 1
            gap = r[i] - r[i - 1]
            if not gap > 0:
                raise ValueError(f"rr_ms: trigger times must increase from block to block; "
                                 f"got {r[i - 1]} then {r[i]} ms")
            rr += [gap / n] * n
        actual = np.asarray(rr + [float(np.median(rr)) if rr else 1000.0], np.float64)
        if mode == "actual":
            return actual
        nominal = 60000.0 / heart_rate_bpm if heart_rate_bpm else float(np.mean(actual[:-1]
                                                                               if rr else actual))
        # a constant RR may skip triggers the real scan did not: give spare beats
        return np.full(2 * actual.size + 4, nominal)

    # ------------------------------------------------------------------ reporting
    def to_dict(self) -> dict:
        """JSON-safe fields."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def summary(self) -> str:
        """One line: sequence, images, trigger delay and the fields the headers lack."""
        n = len(next(iter(self.timings_ms.values()), ((),))[0]) if self.timings_ms else 0
        missing = [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is None]
        hr = "" if self.heart_rate_bpm is None else f", {self.heart_rate_bpm:.0f} bpm"
        return (f"{self.sequence or 'unknown sequence'}: {n} images, timings "
                f"{sorted(self.timings_ms)}{hr}; not carried: {', '.join(missing) or 'none'}")

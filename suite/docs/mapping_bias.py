"""Bias of the conventional T1/T2 mapping fits on the suite's own sequence simulations.

Each entry of the table is the relative error ``(fitted − true)/true`` in % of one sequence and
its conventional fit on **noise-free, per-pixel** signals of :mod:`suite.mr.sequences` (EPG, one
state: exact for bSSFP readouts), one factor varied at a time around the nominal values
:data:`NOMINAL` (T1 1200 ms, T2 45 ms, 60 bpm, B1 scale 1, perfect inversion and saturation).
The fits are the reference fits of :mod:`reference_impls.mapping` on magnitude signals (MOLLI:
exhaustive polarity search), as the mapping stage runs them.

Columns (:data:`COLUMNS`):

* MOLLI 5(3)3, the original 3(3)3(3)5 and 4(1)3(1)2: :func:`~reference_impls.mapping.fit_molli`
  of all images (Messroghli et al., MRM 2004;52:141, doi 10.1002/mrm.20110);
* ShMOLLI 5(1)1(1)1 (Piechnik et al., JCMR 2010;12:69, doi 10.1186/1532-429X-12-69) fitted two
  ways: all seven images (the PyPI ``sh-molli`` rule, a plain polarity-search fit) and the first
  five images only (the branch of ShMOLLI's conditional rule used for long T1; the exact rule is
  not confirmed in a public source, so it is not emulated as a whole);
* SASHA 3- and 2-parameter (:func:`~reference_impls.mapping.fit_sasha`);
* T2-prepared bSSFP, 2-parameter T2 fit (:func:`~reference_impls.mapping.fit_t2`; the error is
  the T2 error).

Rows (:data:`FACTORS`): T1, T2, heart rate (constant RR; the trigger delay follows the heart rate
as :func:`suite.mr.sequences.default_trigger_delay_ms` sets it), B1 scale (scales every hard
pulse: the readout flip angle, the T2-prep pulses; not the adiabatic inversion), inversion
efficiency ``η`` (MOLLI/ShMOLLI only) and saturation efficiency (SASHA only). A factor that does
not apply to a sequence is ``—``.

What the simulation leaves out (magnetisation transfer, slice profile, flow: see
docs/mapping-physics.md) makes these numbers a lower bound of the in-vivo biases.

``python -m suite.docs.mapping_bias docs/mapping-bias.md`` rewrites the page's generated block;
``--check`` exits 1 when the page is stale (tests/test_docs.py runs it).
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["NOMINAL", "FACTORS", "COLUMNS", "BiasColumn", "relative_errors", "relative_error",
           "bias_table", "render_bias_table", "BLOCK"]

#: Name of the generated block in the docs page.
BLOCK = "mapping-bias"

#: Nominal values around which one factor at a time is varied.
NOMINAL = {"t1_ms": 1200.0, "t2_ms": 45.0, "heart_rate_bpm": 60.0, "b1": 1.0,
           "inversion_efficiency": 1.0, "saturation_efficiency": 1.0}

#: (factor, label, values) of the table rows.
FACTORS = (
    ("t1_ms", "T1 (ms)", (400.0, 800.0, 1200.0, 1600.0, 2000.0)),
    ("t2_ms", "T2 (ms)", (30.0, 45.0, 70.0, 200.0)),
    ("heart_rate_bpm", "heart rate (bpm)", (40.0, 60.0, 80.0, 100.0, 120.0)),
    ("b1", "B1 scale (flip angle × B1)", (0.8, 0.9, 1.0, 1.1, 1.2)),
    ("inversion_efficiency", "inversion efficiency η", (1.0, 0.96, 0.9)),
    ("saturation_efficiency", "saturation efficiency", (1.0, 0.98, 0.95)),
)

_N_BEATS = 40  # RR intervals given to a program (enough for every sequence)


@dataclass(frozen=True)
class BiasColumn:
    """One sequence and its conventional fit.

    Attributes
    ----------
    key, label : str
    sequence : callable(**sequence_kwargs) -> sequence description
    fit : callable(signals (n, n_images) magnitude, timings (n_images,)) -> fitted values (n,) ms
    quantity : {"t1", "t2"}
        What the fit estimates (the error is relative to that truth).
    timing : {"ti_ms", "ts_ms", "t2prep_ms"}
        The :class:`~suite.mr.sequences.Timings` field the fit takes.
    factors : frozenset of str
        Factors of :data:`FACTORS` that apply to the sequence.
    n_images : int or None
        The fit uses the first ``n_images`` images (None: all).
    """

    key: str
    label: str
    sequence: Callable
    fit: Callable
    quantity: str
    timing: str
    factors: frozenset
    n_images: int | None = None


def _molli_fit(s, t):
    from reference_impls.mapping import fit_molli

    return fit_molli(s, t, polarity="exhaustive").maps["t1_ms"]


def _sasha_fit(model):
    def fit(s, t):
        from reference_impls.mapping import fit_sasha

        return fit_sasha(s, np.nan_to_num(t, nan=np.inf), model=model).maps["t1_ms"]
    return fit


def _t2_fit(s, t):
    from reference_impls.mapping import fit_t2

    return fit_t2(s, t, model="2p").maps["t2_ms"]


def _columns() -> tuple[BiasColumn, ...]:
    from suite.mr.sequences import (SASHA, T2PrepBSSFP, molli_3_3_3_3_5, molli_4_1_3_1_2,
                                    molli_5_3_3, shmolli)

    common = {"t1_ms", "t2_ms", "heart_rate_bpm", "b1"}
    inv = frozenset(common | {"inversion_efficiency"})
    sat = frozenset(common | {"saturation_efficiency"})
    return (
        BiasColumn("molli-5(3)3", "MOLLI 5(3)3", molli_5_3_3, _molli_fit, "t1", "ti_ms", inv),
        BiasColumn("molli-3(3)3(3)5", "MOLLI 3(3)3(3)5", molli_3_3_3_3_5, _molli_fit, "t1",
                   "ti_ms", inv),
        BiasColumn("molli-4(1)3(1)2", "MOLLI 4(1)3(1)2", molli_4_1_3_1_2, _molli_fit, "t1",
                   "ti_ms", inv),
        BiasColumn("shmolli", "ShMOLLI, 7 images", shmolli, _molli_fit, "t1", "ti_ms", inv),
        BiasColumn("shmolli-first5", "ShMOLLI, first 5 images", shmolli, _molli_fit, "t1",
                   "ti_ms", inv, 5),
        BiasColumn("sasha-3p", "SASHA 3p", SASHA, _sasha_fit("3p"), "t1", "ts_ms", sat),
        BiasColumn("sasha-2p", "SASHA 2p", SASHA, _sasha_fit("2p"), "t1", "ts_ms", sat),
        BiasColumn("t2prep-2p", "T2-prep bSSFP 2p (T2)", T2PrepBSSFP, _t2_fit, "t2",
                   "t2prep_ms", frozenset(common)),
    )


#: The table's columns (built on first use: the sequences import torch).
COLUMNS: tuple[BiasColumn, ...] = ()


def _column(key: str) -> BiasColumn:
    global COLUMNS
    if not COLUMNS:
        COLUMNS = _columns()
    for c in COLUMNS:
        if c.key == key:
            return c
    raise ValueError(f"mapping_bias: unknown column {key!r}; one of {[c.key for c in COLUMNS]}")


def relative_errors(column: str, scenarios) -> np.ndarray:
    """Relative errors (fraction, negative = underestimation) of ``column`` for each scenario.

    Parameters
    ----------
    column : str
        A key of :data:`COLUMNS` (e.g. ``"molli-5(3)3"``, ``"shmolli-first5"``, ``"sasha-2p"``).
    scenarios : iterable of dict
        Each overrides :data:`NOMINAL` (keys ``t1_ms``, ``t2_ms``, ``heart_rate_bpm``, ``b1``,
        ``inversion_efficiency``, ``saturation_efficiency``; a sequence ignores factors it does
        not have); optional ``flip_deg`` replaces the readout's nominal flip angle.

    Returns
    -------
    ndarray ``(n_scenarios,)``
        ``(fitted − true)/true``; NaN where the fit failed.
    """
    from suite.mr.sequences import Tissue, simulate_epg

    col = _column(column)
    scen = [{**NOMINAL, **s} for s in scenarios]
    for s in scen:
        unknown = set(s) - set(NOMINAL) - {"flip_deg"}
        if unknown:
            raise ValueError(f"relative_errors: unknown scenario keys {sorted(unknown)}; "
                             f"expected {sorted(NOMINAL)} or flip_deg")
    out = np.full(len(scen), np.nan)
    groups: dict[tuple, list[int]] = {}
    for i, s in enumerate(scen):  # one program per heart rate, flip angle, saturation
        groups.setdefault((s["heart_rate_bpm"], s.get("flip_deg"),
                           s["saturation_efficiency"]), []).append(i)
    for (hr, flip, sat_eff), idx in groups.items():
        kwargs = {}
        if flip is not None:
            kwargs["readout"] = dataclasses.replace(col.sequence().readout, flip_deg=float(flip))
        if col.timing == "ts_ms":
            kwargs["saturation_efficiency"] = float(sat_eff)
        program = col.sequence(**kwargs).program([60000.0 / hr] * _N_BEATS)
        rows = [scen[i] for i in idx]
        tissue = Tissue(*(np.array([r[k] for r in rows]) for k in ("t1_ms", "t2_ms")),
                        b1=np.array([r["b1"] for r in rows]),
                        inversion_efficiency=np.array([r["inversion_efficiency"] for r in rows]))
        signal = np.abs(simulate_epg(program, tissue, n_states=1).signal.numpy())
        timings = np.asarray(getattr(program.timings, col.timing), dtype=np.float64)
        keep = slice(col.n_images)
        fitted = np.asarray(col.fit(signal[:, keep], timings[keep]), np.float64)
        truth = np.array([r[f"{col.quantity}_ms"] for r in rows])
        out[idx] = fitted / truth - 1.0
    return out


def relative_error(column: str, **scenario) -> float:
    """:func:`relative_errors` of one scenario (keyword overrides of :data:`NOMINAL`)."""
    return float(relative_errors(column, [scenario])[0])


def bias_table(columns=None) -> list[dict]:
    """One row per (factor, value): ``factor``, ``label``, ``value`` and the relative error in %
    of each column key (None where the factor does not apply to the sequence)."""
    _column("molli-5(3)3")
    cols = [c for c in COLUMNS if columns is None or c.key in columns]
    rows = [{"factor": f, "label": label, "value": v} for f, label, values in FACTORS
            for v in values]
    for c in cols:
        todo = [i for i, r in enumerate(rows) if r["factor"] in c.factors]
        err = relative_errors(c.key, [{rows[i]["factor"]: rows[i]["value"]} for i in todo])
        for r in rows:
            r[c.key] = None
        for i, e in zip(todo, err):
            rows[i][c.key] = 100.0 * float(e)
    return rows


def render_bias_table(rows=None) -> str:
    """The Markdown table of :func:`bias_table` (errors in %, one decimal; the nominal row of
    each factor in bold)."""
    rows = bias_table() if rows is None else rows
    cols = [c for c in COLUMNS if c.key in rows[0]]
    lines = ["| varied | value | " + " | ".join(c.label for c in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r[c.key]
            cells.append("—" if v is None else ("fails" if not np.isfinite(v) else
                                                 f"{round(v, 1) + 0.0:+.1f} %".replace("-", "−")))
        value = f"{r['value']:g}"
        if r["value"] == NOMINAL[r["factor"]]:
            value = f"**{value}**"
        lines.append(f"| {r['label']} | {value} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    """``python -m suite.docs.mapping_bias [--check] PAGE``; exit 1 when ``--check`` finds the
    page stale."""
    from suite.docs.blocks import block_is_current, update_block

    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    pages = [a for a in args if a != "--check"] or ["docs/mapping-bias.md"]
    body = render_bias_table()
    stale = False
    for page in pages:
        if check:
            ok = block_is_current(page, BLOCK, body)
            stale |= not ok
            print(f"{page}: {'up to date' if ok else 'STALE (python -m suite.docs.mapping_bias ' + page + ')'}")
        else:
            print(f"{page}: {'updated' if update_block(page, BLOCK, body) else 'up to date'}")
    return 1 if stale else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

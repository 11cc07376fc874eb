"""Descriptive tables of a run's data: cohort, acquisition parameters, missing values.

* :func:`cohort_table` — distinct subjects and cases per data set, or per level of a stratum.
* :func:`acquisition_table` — per header parameter the range over cases (numbers) or the
  count of each value (text), with its unit.
* :func:`missing_values` — values without a number or with a status other than ``ok``, by
  stage, metric and status.

Every row carries the ids it was computed from (``case_ids`` or ``row_ids``), so a report can
cite them. Units of header parameters come from the unit suffix of the :class:`~suite.case.CaseMeta`
field name (``_mm``, ``_ms``, ``_t``, ``_bpm``, ``_deg``; the suite's units convention).
"""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd

__all__ = ["ACQUISITION_FIELDS", "cohort_table", "acquisition_table", "missing_values",
           "unit_of_field"]

#: Header parameters summarised by :func:`acquisition_table`: (path in the case meta, label).
ACQUISITION_FIELDS = (("vendor", "vendor"), ("field_strength_t", "field strength"),
                      ("sequence", "sequence"), ("pixel_spacing_mm", "pixel spacing"),
                      ("slice_thickness_mm", "slice thickness"),
                      ("slice_spacing_mm", "slice spacing"),
                      ("temporal_resolution_ms", "temporal resolution"),
                      ("heart_rate_bpm", "heart rate"), ("extra.matrix", "matrix (y, x)"),
                      ("extra.n_coils", "receive coils"), ("extra.tr_ms", "TR"),
                      ("extra.te_ms", "TE"), ("extra.flip_angle_deg", "flip angle"))

#: Unit of a meta field by the suffix of its name.
_SUFFIX_UNITS = (("_mm", "mm"), ("_ms", "ms"), ("_t", "T"), ("_bpm", "1/min"), ("_deg", "deg"))


def unit_of_field(path: str) -> str:
    """Unit of a case-meta field from its name suffix, ``""`` without one.

    Examples
    --------
    >>> unit_of_field("pixel_spacing_mm"), unit_of_field("extra.tr_ms"), unit_of_field("vendor")
    ('mm', 'ms', '')
    """
    name = path.rsplit(".", 1)[-1]
    return next((unit for suffix, unit in _SUFFIX_UNITS if name.endswith(suffix)), "")


def cohort_table(cases: pd.DataFrame, by: str = "dataset") -> pd.DataFrame:
    """Distinct subjects and cases per level of ``by`` (a column of the ``cases`` table).

    Returns columns ``level`` (as text), ``n_subjects``, ``n_cases``, ``case_ids`` (sorted).
    """
    cols = ["level", "n_subjects", "n_cases", "case_ids"]
    if cases.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame([{"level": level, "n_subjects": int(g["subject"].nunique()),
                          "n_cases": int(len(g)), "case_ids": tuple(sorted(g["case_id"]))}
                         for level, g in cases.groupby(cases[by].astype(str), sort=True)],
                        columns=cols)


def _meta_value(meta: dict, path: str):
    v = meta
    for part in path.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    return v


def acquisition_table(cases: pd.DataFrame, fields=ACQUISITION_FIELDS) -> pd.DataFrame:
    """Acquisition parameters over the cases (``cases.meta`` holds each case's header as JSON).

    Returns
    -------
    DataFrame
        One row per parameter recorded for at least one case: ``parameter``, ``unit``,
        ``n_cases``, ``min`` and ``max`` (numbers; None otherwise), ``values`` (text: each
        value with its count of cases), ``case_ids``.
    """
    metas = {r.case_id: json.loads(r.meta) if r.meta else {} for r in cases.itertuples()}
    rows = []
    for path, label in fields:
        vals = {cid: _meta_value(m, path) for cid, m in metas.items()}
        vals = {k: v for k, v in vals.items() if v is not None}
        if not vals:
            continue
        nums = [v for v in vals.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        row = {"parameter": label, "unit": unit_of_field(path), "n_cases": len(vals)}
        if len(nums) == len(vals):
            row |= {"min": min(nums), "max": max(nums), "values": ""}
        else:
            counts = Counter(json.dumps(v) if not isinstance(v, str) else v for v in vals.values())
            row |= {"min": None, "max": None,
                    "values": "; ".join(f"{k} ({n})" for k, n in sorted(counts.items()))}
        rows.append(row | {"case_ids": tuple(sorted(vals))})
    return pd.DataFrame(rows, columns=["parameter", "unit", "n_cases", "min", "max", "values",
                                       "case_ids"])


def missing_values(results: pd.DataFrame) -> pd.DataFrame:
    """Values without a number (NULL) or with a status other than ``ok``, by stage, metric and
    status: ``stage, metric, status, n_values, n_missing, row_ids``."""
    status = results["status"].fillna("")
    miss = results[results["value"].isna() | (results["status"].fillna("ok") != "ok")]
    rows = [{"stage": stage, "metric": metric, "status": st, "n_values": int(len(g)),
             "n_missing": int(g["value"].isna().sum()),
             "row_ids": tuple(sorted(int(i) for i in g["row_id"]))}
            for (stage, metric, st), g in miss.groupby(["stage", "metric", status], sort=True)]
    return pd.DataFrame(rows, columns=["stage", "metric", "status", "n_values", "n_missing",
                                       "row_ids"])

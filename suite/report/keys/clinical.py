"""Evidence key ``performance.clinical``: agreement of clinical parameters with the reference.

The numbers are :func:`suite.analysis.agreement.agreement_results`: the primary analysis on
usable values (implausible values excluded and counted, with the reason of each listed by
:func:`~suite.analysis.agreement.implausible_values`) and, for each method chain with an
implausible value, the sensitivity analysis with them included (``analysis`` column). Each row
cites exactly the store rows of its pairs; the Bland-Altman figures plot those results.
"""

from __future__ import annotations

from suite.analysis.agreement import (PART_KEYS, SENSITIVITY, agreement_results,
                                      agreement_rows, implausible_values, primary_exclusions)
from suite._serialise import jsonable
from suite.report.evidence import (Evidence, RunData, Table, evidence_key, frame_rows, title_of,
                                   unavailable)
from suite.report.figures import bland_altman_figures
from suite.report.keys.common import method_cols

__all__: list[str] = []


@evidence_key("performance.clinical", "Agreement of clinical parameters with the reference")
def _clinical(run: RunData) -> Evidence:
    r = run.results
    params = (run.protocol.get("analyses") or {}).get("agreement") or None
    clin = agreement_rows(r, parameters=params)
    if clin.empty:
        return unavailable("performance.clinical", "the store holds no clinical parameter with a "
                           "reference value (enable `metrics.clinical` and segmentation)")
    results = agreement_results(r, parameters=params)
    methods = method_cols(run)
    parts = tuple((c, c) for c in (*PART_KEYS, "segment")
                  if any(c in x.keys for x in results))  # mapping: region, AHA convention
    cols = ((("metric", "parameter"),) + parts + (("condition", "condition"),) + methods
            + (("reference", "reference"), ("analysis", "analysis"), ("n", "n"),
               ("n_excluded", "excluded"), ("excluded", "excluded (reason)"), ("unit", "unit"),
               ("bias", "bias"), ("bias_ci_low", "bias CI low"), ("bias_ci_high", "bias CI high"),
               ("loa_lower", "LoA lower"), ("loa_upper", "LoA upper"), ("ccc", "CCC"),
               ("icc_2_1", "ICC(2,1)")))
    rows = tuple(jsonable({c: row.get(c) for c, _ in cols})
                 | {"sources": {"results": list(res.row_ids)}}
                 for res, row in ((x, x.to_dict()) for x in results))
    excluded = primary_exclusions(results)
    implausible = implausible_values(clin)
    imp_cols = ((("metric", "parameter"), ("case_id", "case"), ("condition", "condition"))
                + methods + (("value", "value"), ("reference_value", "reference"),
                             ("unit", "unit"), ("reason", "reason")))
    imp_rows = frame_rows(implausible, [c for c, _ in imp_cols],
                          lambda rec: {"results": [int(rec["row_id"])]})
    primary = tuple(x for x in results if x.keys["analysis"] != SENSITIVITY)
    figs = bland_altman_figures(primary, list(run.method_stages), run.figure_dir, run.draw)
    why = ", ".join(f"{n} {reason}" for reason, n in excluded.items()) or "none"
    return Evidence(
        key="performance.clinical", title=title_of("performance.clinical"), status="measured",
        query="SELECT rowid, * FROM results WHERE reference_value IS NOT NULL" + (
            f" AND metric IN ({', '.join(map(repr, params))})" if params
            else " AND stage = 'clinical'"),
        computation="suite.analysis.agreement.agreement_results: Bland-Altman (test - reference, "
                    "SD ddof 1, 1.96 x SD limits of agreement, approximate 95 % CI of the bias), "
                    "Lin's CCC, ICC(2,1); at least 3 pairs; values per AHA segment pooled "
                    "over segments (segment = 'per segment'). Primary analysis: usable values "
                    "only (implausible and missing values excluded and counted); sensitivity "
                    "analysis: implausible values included, for each chain that had any",
        facts=(("values excluded from the primary analysis", sum(excluded.values())),
               ("excluded, by reason", why),
               ("implausible values listed", len(implausible))),
        tables=(Table("agreement", "Agreement with the reference (limits of agreement are not "
                      "confidence intervals); primary and sensitivity analyses", cols, rows),
                Table("excluded", "Values excluded from the primary analysis as implausible",
                      imp_cols, imp_rows)),
        figures=tuple(figs))

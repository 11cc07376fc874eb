"""The ``cmrsuite`` command line: the only place that parses arguments and prints for people.

Every subcommand calls a library function usable from Python. An error from the library is
printed as one line, with the exit code of its kind (:mod:`suite.exit_codes`: 2 invalid input,
3 unreadable store, 4 failed write, 5 run folder locked, 6 code execution refused, ...).

Commands that load a protocol import its plugins only when the user allows them
(:mod:`suite.trust`): ``--allow-plugin module:Class`` and ``--allow-plugin-path DIR``
(repeatable), plus ``allow_plugins`` / ``allow_plugin_paths`` of the user's configuration file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]


def _cmd_demo(args) -> int:
    from suite.analysis.summary import load_results, metric_summary
    from suite.demo import run_demo
    from suite.report import build_report
    from suite.report.draw import background_figures

    # figures (run summary and evidence reports) are rendered by background processes while
    # this one goes on with the tables and documents (docs/performance.md)
    with background_figures():
        result, run_dir = run_demo(args.out, args.protocol, workers=args.workers,
                                   executor=args.executor, allow_plugins=_allow_list(args),
                                   progress=None if args.quiet else _progress)
        summ = metric_summary(load_results(run_dir), n_resamples=200)
        key = summ[((summ["metric"] == "ssim") & (summ["profile"] == "fastmri"))
                   | ((summ["metric"] == "dice") & (summ["structure"] == "LV")
                      & (summ["phase"] == "ED"))
                   | (summ["metric"] == "high_frequency_retention")]
        cols = ["stage", "metric", "condition", "recon", "segmentation", "mean", "ci_low",
                "ci_high", "n_subjects"]
        print(key[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print()
        print(result.summary())
        print(f"run folder:  {run_dir}")
        print(f"summary:     {run_dir / 'report' / 'summary.md'}")
        print(f"provenance:  {run_dir / 'manifest.json'}")
        print(f"raw data:    {run_dir / 'data'} (ISMRMRD + NIfTI + truth.csv)")
        reports = build_report(run_dir, "all", ("md", "html"))
    print(f"evidence:    {run_dir / 'report'}/<guideline>/report.html "
          f"({', '.join(reports.documents)})")
    return result.exit_code


def _cmd_phantom(args) -> int:
    from suite.phantom import write_cohort

    views = ("sax", *[v.strip() for v in args.views.split(",") if v.strip() and v.strip() != "sax"])
    truth = write_cohort(Path(args.out), args.subjects, seed=args.seed, preset=args.preset,
                         pathology=args.pathology, views=views)
    print(f"wrote {args.subjects} subject(s) to {args.out}; truth table: {truth}")
    return 0


def _cmd_inspect(args) -> int:
    from suite.data import inspect

    print(json.dumps(inspect(args.file), indent=2, default=str))
    return 0


def _cmd_datasets(args) -> int:
    from suite.data import cards

    if args.action == "list":
        for card in cards.list_cards():
            print(f"{card.name:<16} {card.title}")
        return 0
    if not args.name or not args.root:
        raise ValueError("datasets verify: give NAME and ROOT, e.g. `cmrsuite datasets verify ocmr /data/ocmr`")
    report = cards.verify(args.name, args.root)
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.summary())
    return 0 if report.ok else 1


#: Default optimiser steps of the ``cmrsuite train`` networks other than the recon ones.
_TRAIN_STEPS = {"seg-unet": 2200, "myomapnet": 6000, "mrf-net": 8000}


def _network_trainer(name: str):
    """The training function of a network of :data:`_TRAIN_STEPS` (imported on demand)."""
    if name == "seg-unet":
        from suite.train.segmentation import train_seg_unet as train
    elif name == "myomapnet":
        from suite.train.myomapnet import train_myomapnet as train
    else:
        from suite.train.mrf_net import train_mrf_net as train
    return train


def _cmd_train(args) -> int:
    from suite.train import train_recon_weights

    command = "cmrsuite train " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else ""
    if args.name in _TRAIN_STEPS:
        result = _network_trainer(args.name)(seed=args.seed,
                                             steps=args.steps or _TRAIN_STEPS[args.name],
                                             out_dir=args.out, log=print, command=command)
        print(result.summary())
        return 0
    result = train_recon_weights(args.name, seed=args.seed, steps=args.steps or 300,
                                 out_dir=args.out, command=command or None, log=print)
    print(result.summary())
    return 0


def _cmd_agreement(args) -> int:
    from suite.analysis.measurements_csv import agreement_from_csv

    out = agreement_from_csv(args.file, args.test, args.reference, subject_col=args.subject,
                             ci_method=args.ci_method)
    _print_table(out, args.format)
    return 0


def _cmd_icc(args) -> int:
    from suite.analysis.measurements_csv import icc_from_csv

    out = icc_from_csv(args.file, args.target, args.rater, args.score)
    _print_table(out, args.format)
    return 0


def _print_table(out: dict, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(out, indent=2, default=str))
        return
    for key, value in out.items():
        print(f"{key:<22} {value}")


def _allow_list(args):
    """The plugins the user allows: ``--allow-plugin``/``--allow-plugin-path`` and the user's
    configuration file (:func:`suite.trust.user_allow_list`)."""
    from suite.trust import AllowList, user_allow_list

    given = AllowList(getattr(args, "allow_plugin", None) or (),
                      getattr(args, "allow_plugin_path", None) or ())
    return user_allow_list().merge(given)


def _cmd_validate(args) -> int:
    from suite._validation import read_yaml_file
    from suite.protocol import ProtocolError, load_protocol
    from suite.protocol.warnings import protocol_warnings
    from suite.trust import protocol_code, user_config_path

    allow = _allow_list(args)
    raw, path = read_yaml_file(args.protocol, ProtocolError, "a protocol YAML file")
    uses = protocol_code(raw, path.parent, allow)
    if uses:
        print(f"{args.protocol}: code this protocol would import and run "
              f"(allow-list: --allow-plugin, --allow-plugin-path, {user_config_path()}):")
        for use in uses:
            print(f"  {use.describe()}")
    else:
        print(f"{args.protocol}: imports no user code (reference methods and built-in stages "
              "only)")
    proto = load_protocol(args.protocol, allow_plugins=allow)
    print(f"{args.protocol}: valid protocol {proto.name!r} (sha256 {proto.sha256})")
    for warning in protocol_warnings(proto):
        print(f"warning: {warning}")
    return 0


def _progress(done: int, total: int, label: str) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label[:60]:<60}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _cmd_run(args) -> int:
    from suite.protocol import load_protocol
    from suite.runner import run_protocol

    from suite.report.draw import background_figures

    proto = load_protocol(args.protocol, allow_plugins=_allow_list(args))
    with background_figures():  # the run summary's figures
        result = run_protocol(proto, args.out, executor=args.executor, workers=args.workers,
                              scheduler=args.scheduler, resume=args.resume,
                              cache_dir=args.cache, progress=None if args.quiet else _progress,
                              command=sys.argv)
    print(result.summary())
    print(f"summary: {Path(args.out) / 'report' / 'summary.md'}")
    print(f"manifest: {Path(args.out) / 'manifest.json'}")
    return result.exit_code


def _cmd_summary(args) -> int:
    from suite.analysis import agreement_results, load_results, metric_summary
    from suite.report.console import console_tables
    from suite.store import RunView

    view = RunView(args.run_dir)
    df = load_results(view)
    kw = view.bootstrap | {"n_resamples": args.resamples}
    params = (view.protocol.get("analyses") or {}).get("agreement") or None
    print(console_tables(metric_summary(df, **kw), agreement_results(df, parameters=params),
                         view.method_stages))
    report = view.run_dir / "report" / "summary.md"
    if report.exists():
        print(f"\nfull summary: {report}")
    return 0


def _cmd_export(args) -> int:
    from suite.runner.export import export_run

    for path in export_run(args.run_dir, args.format):
        print(path)
    return 0


def _cmd_audit(args) -> int:
    from suite.data.audit_files import audit_paths

    result = audit_paths(args.paths)
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.summary())
    return result.exit_code


def _cmd_stages(args) -> int:
    from suite.stages import registered_stages

    if args.protocol:
        from suite.protocol import load_protocol

        proto = load_protocol(args.protocol, allow_plugins=_allow_list(args))
        stages = proto.stages()
        pipelines = {d["name"]: proto.pipeline(d) for d in proto.datasets}
    else:
        stages, pipelines = registered_stages(), {}
    out = {"stages": {n: s.describe() for n, s in sorted(stages.items())},
           "pipelines": pipelines}
    print(json.dumps(out, indent=2))
    return 0


def _cmd_conditions(args) -> int:
    from suite.protocol import load_protocol
    from suite.runner.conditions_export import export_conditions

    protocol = load_protocol(args.protocol, allow_plugins=_allow_list(args))
    result = export_conditions(protocol, args.out, datasets=args.dataset or None)
    print(result.summary())
    return 0


def _cmd_report(args) -> int:
    from suite.report import build_report
    from suite.report.draw import background_figures

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    with background_figures():
        result = build_report(args.run_dir, args.guideline, formats, sponsor=args.sponsor,
                              figures=not args.no_figures)
    print(result.summary())
    return 0


def _cmd_verify(args) -> int:
    from suite.runner.verify import verify_run

    report = verify_run(args.run_dir, args.protocol, n_jobs=args.jobs, seed=args.seed,
                        digest=args.digest,
                        allow_plugins=_allow_list(args) if args.protocol else None)
    print(json.dumps(report.to_dict(), indent=2, default=str) if args.format == "json"
          else report.summary())
    return 0 if report.ok else 1


def _method_map(items, flag) -> dict:
    out = {}
    for item in items or []:
        stage, sep, label = item.partition("=")
        if not sep or not stage or not label:
            raise ValueError(f"{flag}: expected STAGE=LABEL with STAGE a method stage of the "
                             f"runs (e.g. {flag} recon=cg-sense); got {item!r}")
        out[stage] = label
    return out


def _cmd_gate(args) -> int:
    from suite.gate import (GateNotComparable, GateSettings, load_criteria, not_comparable_junit,
                            run_gate)

    settings, criteria = (load_criteria(args.criteria) if args.criteria
                          else (GateSettings(), None))
    out = Path(args.out) if args.out else None
    try:
        result = run_gate(args.candidate, args.baseline, criteria, settings=settings,
                          candidate_method=_method_map(args.candidate_method, "--candidate-method"),
                          baseline_method=_method_map(args.baseline_method, "--baseline-method"))
    except GateNotComparable as exc:
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "gate.xml").write_text(not_comparable_junit(args.candidate, args.baseline,
                                                                exc.reasons))
            (out / "gate.md").write_text("# Release gate: NOT COMPARABLE\n\n" + "".join(
                f"- {r}\n" for r in exc.reasons))
        print("cmrsuite gate: runs are not comparable (exit 2):", file=sys.stderr)
        for r in exc.reasons:
            print(f"  - {r}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.summary("text" if args.format == "text" else "markdown"))
    if out is not None:
        paths = result.write(out)
        print(f"wrote {paths['markdown']}, {paths['junit']} (JUnit XML), {paths['json']}",
              file=sys.stderr)
    return result.exit_code


def _cmd_leaderboard(args) -> int:
    from suite.leaderboard import build_leaderboard

    result = build_leaderboard(args.submissions, args.protocol, args.truth, args.out)
    print(result.summary())
    print(f"site: {Path(args.out) / 'index.html'}")
    return 0


def _add_allow_args(p) -> None:
    p.add_argument("--allow-plugin", action="append", metavar="MODULE:CLASS",
                   help="allow the protocol to import and run this plugin (repeatable; "
                   "'module:*' allows a whole module); see docs/security.md")
    p.add_argument("--allow-plugin-path", action="append", metavar="DIR",
                   help="allow the protocol to put this folder on the import path (its "
                   "`plugin_paths`; repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cmrsuite",
        description="Validation, benchmarking and regulatory evidence for AI in cardiovascular MR.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("demo", help="run the quick protocol on the built-in phantom (no downloads)")
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--protocol", default=None, help="protocol (default protocols/quick.yaml)")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--executor", choices=["local", "serial", "dask"], default="local")
    p.add_argument("--quiet", action="store_true")
    _add_allow_args(p)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("validate", help="check a protocol without running it, and list the "
                       "code it would import")
    p.add_argument("protocol")
    _add_allow_args(p)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("run", help="run a protocol into a run folder")
    p.add_argument("protocol")
    p.add_argument("--out", required=True, help="run folder (results.sqlite, manifest, report)")
    p.add_argument("--executor", choices=["local", "serial", "dask"], default="local")
    p.add_argument("--workers", type=int, default=None, help="parallel jobs (default: CPUs)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (executor dask)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--cache", default=None, help="shared reconstruction cache folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_allow_args(p)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("audit", help="data-crime audit of files or dataset folders (exit 1 "
                       "when anything is flagged, 2 when an input cannot be read)")
    p.add_argument("paths", nargs="+", help="files or dataset folders")
    p.add_argument("--json", action="store_true", help="JSON instead of text")
    p.set_defaults(func=_cmd_audit)

    p = sub.add_parser("stages", help="list the stages (what each consumes, produces and how "
                       "its methods are called) and, with a protocol, its pipelines")
    p.add_argument("--protocol", default=None, help="also load this protocol's plugin stages")
    _add_allow_args(p)
    p.set_defaults(func=_cmd_stages)

    p = sub.add_parser("conditions", help="conditions of a protocol (export the exact inputs "
                       "every method sees)")
    csub = p.add_subparsers(dest="conditions_command", required=True)
    q = csub.add_parser("export", help="write each (case, condition)'s conditioned k-space in "
                        "the dataset's own format, with a JSON of what was applied")
    q.add_argument("protocol")
    q.add_argument("--out", required=True, help="output folder")
    q.add_argument("--dataset", action="append", help="only this dataset (repeatable)")
    _add_allow_args(q)
    q.set_defaults(func=_cmd_conditions)

    p = sub.add_parser("summary", help="print the key tables of a run")
    p.add_argument("run_dir")
    p.add_argument("--resamples", type=int, default=1000)
    p.set_defaults(func=_cmd_summary)

    p = sub.add_parser("export", help="export a run's tables as CSV or Parquet")
    p.add_argument("run_dir")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("report", help="write reporting-guideline documents of a run into RUN_DIR/report")
    p.add_argument("run_dir")
    p.add_argument("--guideline", default="all",
                   choices=["claim", "tripod-ai", "minimar", "prime", "fda-performance",
                            "model-card", "all"])
    p.add_argument("--format", default="md,html",
                   help="comma-separated: md, html, pdf (pdf needs the `pdf` extra); default md,html")
    p.add_argument("--sponsor", default=None,
                   help="sponsor metadata YAML (default: the protocol's `sponsor` key)")
    p.add_argument("--no-figures", action="store_true", help="skip drawing figures (faster)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("verify", help="check a run folder's seal (edited, deleted, duplicated "
                       "rows, altered cache) and, with --protocol, re-run a sample of its jobs "
                       "from your protocol file and compare every column (exit 0 verified, "
                       "1 not)")
    p.add_argument("run_dir")
    p.add_argument("--protocol", default=None, help="the protocol file the run was made from "
                   "(yours, never the folder's copy); without it only the seal is checked")
    p.add_argument("--jobs", type=int, default=None, help="jobs to re-run (default: 10 %% of "
                   "the done jobs, at least 5 and one per phase; 0: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the job sample")
    p.add_argument("--digest", default=None, help="the root digest the run printed when it "
                   "finished (detects a folder re-sealed after an edit)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    _add_allow_args(p)
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("gate", help="release gate: compare a candidate run with a baseline run "
                       "(exit 0 pass, 1 fail, 2 not comparable)")
    p.add_argument("--candidate", required=True, help="run folder of the candidate")
    p.add_argument("--baseline", required=True, help="run folder of the baseline")
    p.add_argument("--criteria", default=None, help="criteria YAML (docs/gate.md); default: the "
                   "baseline protocol's acceptance entries as floors")
    p.add_argument("--candidate-method", action="append", metavar="STAGE=LABEL",
                   help="label of the method under test in the candidate run, for any method "
                   "stage (repeatable)")
    p.add_argument("--baseline-method", action="append", metavar="STAGE=LABEL",
                   help="label it is compared with in the baseline run (repeatable)")
    p.add_argument("--out", default=None, help="folder for gate.md, gate.xml (JUnit), gate.json")
    p.add_argument("--format", choices=["markdown", "text", "json"], default="markdown")
    p.set_defaults(func=_cmd_gate)

    p = sub.add_parser("leaderboard", help="score and rank challenge submissions into a static site")
    p.add_argument("action", choices=["build"])
    p.add_argument("submissions", help="folder with one folder or zip/tar archive per team")
    p.add_argument("--protocol", required=True, help="challenge definition YAML (docs/leaderboard.md)")
    p.add_argument("--truth", required=True, help="hidden truth folder")
    p.add_argument("--out", required=True, help="site folder (index.html, CSV, JSON)")
    p.set_defaults(func=_cmd_leaderboard)

    p = sub.add_parser("phantom", help="write a phantom cohort as ISMRMRD + NIfTI + truth.csv")
    p.add_argument("--subjects", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--preset", default=None, help="vendor/site preset (default: cycle through all)")
    p.add_argument("--pathology", default=None, help="pathology class (default: cycle through all)")
    p.add_argument("--views", default="sax",
                   help="comma-separated series per subject: sax (always) and any of 2ch,3ch,4ch")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_phantom)

    p = sub.add_parser("train", help="train a learned reference method on the phantom")
    p.add_argument("name", choices=["recon-unrolled", "recon-unrolled-ssdu", *_TRAIN_STEPS])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None,
                   help="optimiser steps (default 300 for recon, 2200 for seg-unet, 6000 for "
                        "myomapnet, 8000 for mrf-net)")
    p.add_argument("--out", default=None, help="weights folder (default reference_impls/weights)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("agreement", help="Bland-Altman, CCC and correlation from a CSV")
    p.add_argument("file")
    p.add_argument("--test", required=True, help="column of the method under test")
    p.add_argument("--reference", required=True, help="column of the reference method")
    p.add_argument("--subject", default=None, help="subject column (repeated readings)")
    p.add_argument("--ci-method", default="approximate",
                   choices=["approximate", "approximate_1986", "exact", "exact_individual"])
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=_cmd_agreement)

    p = sub.add_parser("icc", help="the six Shrout-Fleiss ICC forms from a long-format CSV")
    p.add_argument("file")
    p.add_argument("--target", required=True)
    p.add_argument("--rater", required=True)
    p.add_argument("--score", required=True)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=_cmd_icc)

    p = sub.add_parser("inspect", help="print a JSON summary of a raw-data or image file")
    p.add_argument("file")
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser("datasets", help="list dataset cards or verify a local copy")
    p.add_argument("action", choices=["list", "verify"])
    p.add_argument("name", nargs="?")
    p.add_argument("root", nargs="?")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=_cmd_datasets)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from suite import __version__

        print(f"cmrsuite {__version__}")
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from suite.exit_codes import DISK, exit_code_of

    try:
        return int(args.func(args))
    except (Exception, KeyboardInterrupt) as exc:
        code = exit_code_of(exc)
        if code is None:  # not an error the command line expects: a bug, keep the traceback
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        if code == DISK and "disk space" not in message:
            message += " (free disk space, raise the quota or file-size limit, or write to "\
                       "another folder)"
        print(f"cmrsuite {args.command}: error: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

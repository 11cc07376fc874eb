"""The ``cmrsuite`` command line: the only place that parses arguments and prints for people.

Every subcommand calls a library function usable from Python; errors from the library
(``ValueError`` and its subclasses such as :class:`suite.data.errors.CaseReadError`) are printed
as one line and give exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]


def _cmd_demo(args) -> int:
    from suite.demo import run_demo

    presets = tuple(args.presets.split(",")) if args.presets else None
    kwargs = {"n_subjects": args.subjects, "seed": args.seed}
    if presets:
        kwargs["presets"] = presets
    result = run_demo(args.out, **kwargs)
    print(result.summary())
    return 0 if not result.failures else 1


def _cmd_phantom(args) -> int:
    from suite.phantom import write_cohort

    truth = write_cohort(Path(args.out), args.subjects, seed=args.seed, preset=args.preset,
                         pathology=args.pathology)
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


def _cmd_train(args) -> int:
    from suite.train import train_recon_weights

    command = "cmrsuite train " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else ""
    result = train_recon_weights(args.name, seed=args.seed, steps=args.steps, out_dir=args.out,
                                 command=command or None, log=print)
    print(result.summary())
    return 0


def _cmd_agreement(args) -> int:
    from suite.stats.from_csv import agreement_from_csv

    out = agreement_from_csv(args.file, args.test, args.reference, subject_col=args.subject,
                             ci_method=args.ci_method)
    _print_table(out, args.format)
    return 0


def _cmd_icc(args) -> int:
    from suite.stats.from_csv import icc_from_csv

    out = icc_from_csv(args.file, args.target, args.rater, args.score)
    _print_table(out, args.format)
    return 0


def _print_table(out: dict, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(out, indent=2, default=str))
        return
    for key, value in out.items():
        print(f"{key:<22} {value}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cmrsuite",
        description="Validation, benchmarking and regulatory evidence for AI in cardiovascular MR.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("demo", help="run the demo on the built-in phantom (no downloads)")
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--subjects", type=int, default=2, help="subjects per preset (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--presets", default=None, help="comma-separated phantom presets")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("phantom", help="write a phantom cohort as ISMRMRD + NIfTI + truth.csv")
    p.add_argument("--subjects", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--preset", default=None, help="vendor/site preset (default: cycle through all)")
    p.add_argument("--pathology", default=None, help="pathology class (default: cycle through all)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_phantom)

    p = sub.add_parser("train", help="train a learned reference method on the phantom")
    p.add_argument("name", choices=["recon-unrolled", "recon-unrolled-ssdu"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=300)
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
    try:
        return int(args.func(args))
    except (ValueError, FileNotFoundError) as exc:
        print(f"cmrsuite {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

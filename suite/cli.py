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

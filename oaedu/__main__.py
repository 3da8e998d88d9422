"""Command line: ``python -m oaedu env | reproduce NAME | student [--check]``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oaedu", description="oaedu course tools")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("env", help="print versions, device and profile (paste this into bug reports)")
    student = sub.add_parser("student", help="write student copies of the notebooks into student/")
    student.add_argument("--check", action="store_true", help="only check that the copies are up to date")
    rep = sub.add_parser("reproduce", help="run a notebook's experiment headless: JSON results and PNG figures")
    rep.add_argument("name", help="experiment name or 'all'")
    rep.add_argument("--profile", default=None, help="smoke, cpu or gpu (default: $OAEDU_PROFILE or the machine's)")
    rep.add_argument("--seeds", type=int, default=1, help="run seeds 0..N-1 and report mean ± std")
    rep.add_argument("--out", default="runs", help="output folder (default: runs/)")
    args = parser.parse_args(argv)
    if args.command == "env":
        from .utils import env_report

        for key, value in env_report().items():
            print(f"{key:>10}  {value}")
    elif args.command == "reproduce":
        from .config import get_profile
        from .reproduce import format_summary, reproduce

        report = reproduce(args.name, get_profile(args.profile), args.seeds, args.out)
        print(format_summary(report))
        print(f"results and figures in {args.out}/")
    elif args.command == "student":
        from .student import build

        problems = build(check=args.check)
        for problem in problems:
            print(problem)
        if problems:
            return 1
        if not args.check:
            print("student copies written to student/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

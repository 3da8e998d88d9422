"""Command line: ``python -m oaedu env`` prints the environment report."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oaedu", description="oaedu course tools")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("env", help="print versions, device and profile (paste this into bug reports)")
    args = parser.parse_args(argv)
    if args.command == "env":
        from .utils import env_report

        for key, value in env_report().items():
            print(f"{key:>10}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

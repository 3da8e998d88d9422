"""Command line: ``python -m oaedu env | reproduce NAME | student [--check] | headers [--check] | convert-clevr``.

A mistake in what the user typed or set (an unknown name, a bad ``$OAEDU_PROFILE``, a missing folder) ends
with a one-line argparse error and exit status 2; a traceback means a bug.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    from .config import PROFILES
    from .reproduce import EXPERIMENTS

    parser = argparse.ArgumentParser(prog="oaedu", description="oaedu course tools")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("env", help="print versions, device, threads and profile (paste this into bug reports)")
    notebooks = argparse.ArgumentParser(add_help=False)
    notebooks.add_argument(
        "--notebooks",
        metavar="DIR",
        default=None,
        help="folder of the course notebooks (default: ./notebooks, else the source checkout's)",
    )
    student = sub.add_parser(
        "student", parents=[notebooks], help="write student copies of the notebooks (never over a person's edits)"
    )
    student.add_argument("--out", metavar="DIR", default=None, help="where to write them (default: student/ beside)")
    student.add_argument("--check", action="store_true", help="only check that the copies are up to date")
    headers = sub.add_parser(
        "headers", parents=[notebooks], help="set every notebook's badges and Colab cell from pyproject's address"
    )
    headers.add_argument("--check", action="store_true", help="only check that they agree")
    names = [*EXPERIMENTS, "all"]
    rep = sub.add_parser(
        "reproduce",
        parents=[notebooks],
        help="run a notebook's experiment headless: JSON results and PNG figures",
        description="Run a notebook's experiment headless. Experiments: " + ", ".join(names) + ".",
    )
    rep.add_argument("name", choices=names, metavar="NAME", help="one of: " + ", ".join(names))
    rep.add_argument(
        "--profile", choices=PROFILES, default=None, help="smoke, cpu or gpu (default: $OAEDU_PROFILE or the machine's)"
    )
    rep.add_argument("--seeds", type=_positive_int, default=1, help="run seeds 0..N-1 and report mean ± std")
    rep.add_argument("--out", default="runs", help="output folder (default: runs/)")
    clevr = sub.add_parser(
        "convert-clevr", help="convert DeepMind's CLEVR-with-masks TFRecords into the PNG folders the loader reads"
    )
    clevr.add_argument("tfrecords", help="clevr_with_masks_train.tfrecords (GZIP)")
    clevr.add_argument("out", help="dataset folder, e.g. $OAEDU_DATA/clevr")
    clevr.add_argument("--split", default="train", help="split folder to write (default: train)")
    clevr.add_argument("--start", type=_non_negative_int, default=0, help="first scene to convert (default: 0)")
    clevr.add_argument("--count", type=_positive_int, default=None, help="number of scenes (default: all)")
    return parser, sub.choices


USER_ERRORS = (ValueError, OSError)  # what a user's input raises: a message for them, not a traceback


def _one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return " ".join(text.split())


def output_folder(path: str, option: str) -> str:
    """An output folder: absent (it is created) or a folder, never a file."""
    from pathlib import Path

    if Path(path).exists() and not Path(path).is_dir():
        raise ValueError(f"{option} must name a folder, but {path} is a file")
    return path


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _non_negative_int(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser, commands = _parser()
    args = parser.parse_args(argv)

    def user_input(fn, *a, **kw):
        """Run a step that only checks what the user typed or set (or reads what they named): its ValueError or
        OSError (a missing file, a file where a folder is needed) is theirs: one line and exit status 2."""
        try:
            return fn(*a, **kw)
        except USER_ERRORS as err:
            commands[args.command].error(_one_line(err))

    if args.command == "env":
        from .utils import env_report, set_threads

        user_input(set_threads)
        for key, value in user_input(env_report).items():
            print(f"{key:>10}  {value}")
    elif args.command == "reproduce":
        from .config import get_profile
        from .notebook import find_notebooks
        from .reproduce import format_summary, plan, reproduce
        from .utils import get_device, set_threads

        profile = user_input(get_profile, args.profile)
        folder = user_input(find_notebooks, args.notebooks)
        user_input(set_threads)
        user_input(get_device)
        user_input(plan, args.name, profile, args.seeds, folder)
        user_input(output_folder, args.out, "--out")
        report = reproduce(args.name, profile, args.seeds, args.out, notebooks=folder)
        print(format_summary(report))
        print(f"results and figures in {args.out}/")
    elif args.command == "student":
        from .student import build

        if args.out is not None:
            user_input(output_folder, args.out, "--out")
        problems = user_input(build, args.notebooks, args.out, check=args.check)
        for problem in problems:
            print(problem)
        if problems:
            return 1
        if not args.check:
            print("student copies are up to date")
    elif args.command == "headers":
        from .notebook import sync_headers

        changed = user_input(sync_headers, args.notebooks, check=args.check)
        for path in changed:
            print(f"{path}: badges or Colab cell {'differ from' if args.check else 'set from'} pyproject.toml")
        if args.check and changed:
            return 1
    elif args.command == "convert-clevr":
        from .data.clevr_tfrecord import convert

        user_input(output_folder, args.out, "out")
        written = user_input(convert, args.tfrecords, args.out, args.split, args.start, args.count)
        print(f"{written} scenes written to {args.out}/{args.split}/images and .../masks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

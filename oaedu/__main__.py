"""Command line: ``python -m oaedu env | reproduce NAME | train NAME | student | headers | convert-clevr``.

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
    rep.add_argument("--seeds", type=_positive_int, default=1, help="run seeds S..S+N-1 and report mean ± std")
    rep.add_argument("--seed-base", type=_non_negative_int, default=0, help="the first seed S (default 0)")
    rep.add_argument(
        "--seed-bases",
        type=_seed_list,
        default=None,
        metavar="A,B,...",
        help="run once at each base seed and print how many pass every assertion (a markdown table)",
    )
    rep.add_argument("--out", default="runs", help="output folder (default: runs/)")
    tr = sub.add_parser(
        "train",
        help="run a paper's experiment at any profile, up to paper scale (torchrun for several GPUs)",
        description="Train and evaluate a notebook's experiment headless; gpu and paper profiles use the paper's "
        "models at 224 px and $OAEDU_DATA's datasets. Under torchrun, every process runs this command.",
    )
    tr.add_argument("name", choices=list(_recipe_names()), metavar="NAME", help="one of: " + ", ".join(_recipe_names()))
    tr.add_argument("--profile", choices=("smoke", "cpu", "gpu", "paper"), default=None,
                    help="smoke, cpu, gpu or paper (default: $OAEDU_PROFILE or the machine's)")  # fmt: skip
    tr.add_argument("--out", default=None, help="output folder (default: runs/train/NAME-PROFILE)")
    tr.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    tr.add_argument("--dry-run", action="store_true", help="2 steps per stage at the real sizes ($OAEDU_DRYRUN=1)")
    tr.add_argument("--amp", choices=("off", "auto", "bf16", "fp16"), default="auto",
                    help="mixed precision (auto: bf16 where supported, fp16 on older GPUs, off on a CPU)")  # fmt: skip
    tr.add_argument("--workers", type=_non_negative_int, default=None, help="DataLoader workers (default: 4 on GPU)")
    tr.add_argument("--checkpoint-every", type=_positive_int, default=500, help="steps between checkpoints")
    tr.add_argument("--seed", type=_non_negative_int, default=0, help="seed (default 0)")
    tr.add_argument("--weights", default=None, help="a local pretrained weights file (timm's safetensors or .pth)")
    tr.add_argument("--download", action="store_true", help="let timm download pretrained weights from its hub")
    tr.add_argument("--data", default=None, help="folder of the real datasets (sets $OAEDU_DATA)")
    clevr = sub.add_parser(
        "convert-clevr", help="convert DeepMind's CLEVR-with-masks TFRecords into the PNG folders the loader reads"
    )
    clevr.add_argument("tfrecords", help="clevr_with_masks_train.tfrecords (GZIP)")
    clevr.add_argument("out", help="dataset folder, e.g. $OAEDU_DATA/clevr")
    clevr.add_argument("--split", default="train", help="split folder to write (default: train)")
    clevr.add_argument("--start", type=_non_negative_int, default=0, help="first scene to convert (default: 0)")
    clevr.add_argument("--count", type=_positive_int, default=None, help="number of scenes (default: all)")
    return parser, sub.choices


def _recipe_names() -> tuple[str, ...]:
    from .scale.recipes import RECIPES

    return tuple(RECIPES)


def _seed_list(text: str) -> list[int]:
    parts = [p.strip() for p in text.split(",")]
    if not parts or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated non-negative integers, got {text!r}")
    return [int(p) for p in parts]


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
        if args.seed_bases is not None:
            from .reproduce import format_claims, format_pass_rates, pass_rates

            rates = pass_rates(args.name, profile, args.seed_bases, args.out, notebooks=folder)
            print(format_pass_rates(rates))
            print(format_claims(rates))
            print(f"executed notebooks in {args.out}/")
            return 0
        report = reproduce(args.name, profile, args.seeds, args.out, notebooks=folder, seed_base=args.seed_base)
        print(format_summary(report))
        print(f"results and figures in {args.out}/")
    elif args.command == "train":
        _train(args, user_input)
    elif args.command == "student":
        from .student import build

        if args.out is not None:
            user_input(output_folder, args.out, "--out")
        try:
            problems = user_input(build, args.notebooks, args.out, check=args.check)
        except RuntimeError as err:  # nbgrader missing (a pip-installed package without the dev extra)
            commands["student"].error(str(err))
        for problem in problems:
            print(problem)
        if args.check and problems:
            return 1
        if not args.check:  # a copy left alone (a person's edits) is reported above, and is not an error
            print("student copies are up to date" + (" (except those left alone above)" if problems else ""))
    elif args.command == "headers":
        from .notebook import sync_headers

        changed = user_input(sync_headers, args.notebooks, check=args.check)
        for path in changed:
            print(f"{path}: badges, Colab cell or links {'differ from' if args.check else 'set from'} pyproject.toml")
        if args.check and changed:
            return 1
    elif args.command == "convert-clevr":
        from .data.clevr_tfrecord import convert

        user_input(output_folder, args.out, "out")
        written = user_input(convert, args.tfrecords, args.out, args.split, args.start, args.count)
        print(f"{written} scenes written to {args.out}/{args.split}/images and .../masks")
    return 0


def _train(args: argparse.Namespace, user_input) -> None:
    import os

    from .config import get_profile
    from .scale.run import dry_run_requested
    from .scale.runner import train
    from .utils import get_device, set_threads

    if args.data is not None:
        if not os.path.isdir(args.data):
            user_input(_missing, f"--data {args.data} is not a folder")
        os.environ["OAEDU_DATA"] = args.data
    profile = args.profile or user_input(get_profile)
    dry = user_input(dry_run_requested, args.dry_run)
    user_input(set_threads)
    device = user_input(get_device)
    amp = args.amp if args.amp != "auto" or device.type == "cuda" else "off"
    workers = args.workers if args.workers is not None else (4 if device.type == "cuda" else 0)
    out = args.out or os.path.join("runs", "train", f"{args.name}-{profile}{'-dry' if dry else ''}")
    user_input(output_folder, out, "--out")
    report = user_input(
        train, args.name, profile, out, resume=args.resume, dry_run=dry, amp=amp, workers=workers,
        checkpoint_every=args.checkpoint_every, seed=args.seed, weights=args.weights, download=args.download,
    )  # fmt: skip
    if report["world_size"] == 1 or int(os.environ.get("RANK", "0")) == 0:
        print(f"{args.name} ({profile}{', dry run' if dry else ''}, {report['world_size']} process(es), "
              f"{report['seconds']} s): results in {out}/results.json")  # fmt: skip


def _missing(message: str) -> None:
    raise FileNotFoundError(message)


if __name__ == "__main__":
    raise SystemExit(main())

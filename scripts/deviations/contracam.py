"""ContraCAM measurements quoted in docs/deviations.md §3, on the shipped MoCo (``oaedu.checkpoints``).

Sub-commands (``--small`` runs each in seconds, for the tests):

* ``self-term``: the score with each image's similarity to itself removed (Eq. 1, the course) against the
  released form, which multiplies it by 0 and so leaves ``exp(0) = 1`` per bank in the denominator; largest and
  mean map difference per iteration T.
* ``negatives``: iterative ContraCAM with the negatives of Eq. (3) / Alg. 1 against the earlier course version
  (𝓑¹ counted twice, the current masked batch left out); map differences and mIoU per T.
* ``tau``: mIoU at T = 1 for two temperatures of the score.
* ``upsampling``: mIoU at T = 1 for bilinear, bicubic in Alg. 3's order (upsample, ReLU, min–max) and bicubic in
  the release's order (ReLU, upsample, min–max).

Usage: ``OAEDU_THREADS=1 python scripts/deviations/contracam.py SUB-COMMAND [--n N] [--sets S] [--small]``.
"""

from __future__ import annotations

import argparse
import math
import os

import torch
import torch.nn.functional as F

from oaedu import checkpoints
from oaedu.contracam import contracam, iterative_contracam_history, localisation_scores
from oaedu.contracam.cam import _cam_of_score, _Capture, _finish, _in_eval, _query
from oaedu.contrastive import load_online
from oaedu.data import multi_object_scenes
from oaedu.maps import minmax

SCENE_SEED = 100  # notebook 04's held-out scenes: seeds 100, 101, 102, …


def _setup() -> None:
    torch.set_num_threads(int(os.environ.get("OAEDU_THREADS", "1")))


def _moco():
    moco = load_online(checkpoints.path("contracam_moco.pt"))
    return moco, moco.encoder.layer


def _scenes(n: int, k: int = 0):
    return multi_object_scenes(n, seed=SCENE_SEED + k, image_size=32, max_objects=3)


def _score(q, keys, extra, tau: float, self_term: str) -> torch.Tensor:
    """Eq. (1)/(3) with the original images as positives (in the denominator, as Eq. 1 writes it); an image's
    similarity to itself (its own key, its own masked copies) is removed (``"remove"``) or set to 0 (``"zero"``)."""
    fill = -math.inf if self_term == "remove" else 0.0
    b = q.shape[0]
    rows = torch.arange(b)[:, None]
    pos = (q * keys).sum(1, keepdim=True) / tau
    parts = [pos, (q @ keys.t() / tau).masked_fill(torch.arange(b)[None] == rows, fill)]
    if extra is not None:
        own = (torch.arange(extra.shape[0])[None] % b) == rows
        parts.append((q @ extra.t() / tau).masked_fill(own, fill))
    return pos[:, 0] - torch.logsumexp(torch.cat(parts, 1), 1)


def iterative(moco, layer, images, iterations: int, self_term: str = "remove", negatives: str = "paper"):
    """Iterative ContraCAM (Eq. 3, Alg. 1, mean fill) with two switches; the defaults are the course's
    :func:`iterative_contracam_history` (checked by :func:`main`). ``negatives="old"``: the bank holds every earlier
    query batch, 𝓑¹ included, and not the current one (the course before it followed Alg. 1)."""
    was = _in_eval(moco)
    cap = _Capture(layer)
    size = images.shape[-2:]
    colour = images.mean((0, 2, 3), keepdim=True)
    try:
        running = torch.zeros(images.shape[0], *size)
        history, bank, x, keys = [], [], images, None
        for t in range(iterations):
            q, acts = _query(moco, cap, x)
            if t == 0:
                keys = q.detach()
            if negatives == "paper":
                if t > 0:
                    bank.append(q.detach())
                extra = torch.cat(bank) if bank else None
            else:
                extra = torch.cat(bank) if bank else None
                bank.append(q.detach())
            with torch.enable_grad():
                raw = _cam_of_score(_score(q, keys, extra, 1.0, self_term), acts, True)
            running = torch.maximum(running, _finish(raw, size))
            history.append(running)
            m = running[:, None]
            x = images * (1 - m) + colour * m
    finally:
        cap.close()
        moco.train(was)
    return history


def _check_oracle(moco, layer, images, iterations: int) -> None:
    mine = iterative(moco, layer, images, iterations)
    package = iterative_contracam_history(moco, layer, images, iterations=iterations)
    gap = max((a - b).abs().max().item() for a, b in zip(mine, package, strict=True))
    if gap > 1e-4:
        raise RuntimeError(f"the script's iterative ContraCAM differs from the package's by {gap:.2g}")


def _diff_lines(a, b, label: str) -> None:
    for t, (x, y) in enumerate(zip(a, b, strict=True), 1):
        d = (x - y).abs()
        print(f"{label} T = {t}: max |Δmap| {d.max().item():.4f}, mean |Δmap| {d.mean().item():.5f}")


def self_term(args) -> None:
    moco, layer = _moco()
    images = _scenes(args.n).images
    _check_oracle(moco, layer, images[: args.batch[0]], args.iterations)
    for b in args.batch:
        removed, zeroed = [], []
        for start in range(0, args.n, b):  # the scenes in batches of b: the other b − 1 images are the negatives
            chunk = images[start : start + b]
            removed.append(iterative(moco, layer, chunk, args.iterations, self_term="remove"))
            zeroed.append(iterative(moco, layer, chunk, args.iterations, self_term="zero"))
        print(f"self-term removed (course) vs set to 0 (release), {args.n} scenes in batches of {b}:")
        joined = [[torch.cat(h) for h in zip(*runs, strict=True)] for runs in (removed, zeroed)]
        _diff_lines(*joined, f"batch {b}")


def negatives(args) -> None:
    moco, layer = _moco()
    scenes = _scenes(args.n)
    _check_oracle(moco, layer, scenes.images, args.iterations)
    paper = iterative(moco, layer, scenes.images, args.iterations, negatives="paper")
    old = iterative(moco, layer, scenes.images, args.iterations, negatives="old")
    print(f"negatives of Alg. 1 (course) vs the earlier bank, {args.n} scenes:")
    _diff_lines(paper, old, "negatives")
    for t, (a, b) in enumerate(zip(paper, old, strict=True), 1):
        ma = 100 * localisation_scores(a, scenes.instance_masks)["miou"]
        mb = 100 * localisation_scores(b, scenes.instance_masks)["miou"]
        print(f"negatives T = {t}: mIoU {ma:.1f} (Alg. 1) vs {mb:.1f} (earlier)")


def tau(args) -> None:
    moco, layer = _moco()
    for value in args.taus:
        per_set = []
        for k in range(args.sets):
            s = _scenes(args.n, k)
            per_set.append(
                100 * localisation_scores(contracam(moco, layer, s.images, tau=value), s.instance_masks)["miou"]
            )
        print(
            f"tau = {value:g}: mIoU {sum(per_set) / len(per_set):.1f} (mean over {args.sets} sets of {args.n} scenes)"
        )


def _raw_cams(moco, layer, images) -> torch.Tensor:
    """``ReLU(Σ_k ReLU(α_k) A^k)`` at the layer's resolution, before any upsampling (Eq. 2)."""
    was = _in_eval(moco)
    cap = _Capture(layer)
    try:
        q, acts = _query(moco, cap, images)
        with torch.enable_grad():
            return _cam_of_score(_score(q, q.detach(), None, 1.0, "remove"), acts, True)
    finally:
        cap.close()
        moco.train(was)


def upsampling(args) -> None:
    moco, layer = _moco()
    s = _scenes(args.n)
    raw = _raw_cams(moco, layer, s.images)[:, None]
    size = s.images.shape[-2:]
    cams = {
        "bilinear": minmax(F.interpolate(raw, size=size, mode="bilinear", align_corners=False)[:, 0].clamp_min(0), 2),
        "bicubic, Alg. 3's order": _finish(raw[:, 0], size),
        "bicubic, the release's order": minmax(
            F.interpolate(raw, size=size, mode="bicubic", align_corners=False)[:, 0], 2
        ),
    }
    gap = (cams["bicubic, Alg. 3's order"] - contracam(moco, layer, s.images)).abs().max().item()
    if gap > 1e-4:
        raise RuntimeError(f"the script's bicubic map differs from contracam's by {gap:.2g}")
    for name, cam in cams.items():
        miou = 100 * localisation_scores(cam, s.instance_masks)["miou"]
        print(f"upsampling {name}: mIoU {miou:.1f} ({args.n} scenes, T = 1)")


COMMANDS = {"self-term": self_term, "negatives": negatives, "tau": tau, "upsampling": upsampling}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sizes = {"self-term": 512, "negatives": 512, "tau": 256, "upsampling": 512}
    for name in COMMANDS:
        q = sub.add_parser(name)
        q.add_argument("--n", type=int, default=sizes[name], help="scenes per set")
        q.add_argument(
            "--small",
            action="store_true",
            help="16 scenes, 2 iterations, 1 set, batches of 8 and 16: seconds, for the tests",
        )
        if name in ("self-term", "negatives"):
            q.add_argument("--iterations", type=int, default=3 if name == "self-term" else 6)
        if name == "self-term":
            q.add_argument("--batch", type=int, nargs="+", default=[64, 256], help="batch sizes (negatives + 1)")
        if name == "tau":
            q.add_argument("--sets", type=int, default=3)
            q.add_argument("--taus", type=float, nargs="+", default=[1.0, 0.2])
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.small:
        args.n = 16
        if hasattr(args, "iterations"):
            args.iterations = 2
        if hasattr(args, "sets"):
            args.sets = 1
        if hasattr(args, "batch"):
            args.batch = [8, 16]
    _setup()
    with torch.no_grad():
        COMMANDS[args.command](args)


if __name__ == "__main__":
    main()

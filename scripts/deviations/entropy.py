"""Spatial entropy (SAR) measurements quoted in docs/deviations.md §2.

Sub-commands (``--small`` runs each in seconds, for the tests):

* ``eps``: Eq. (7)–(8) as the course computes them (scale-free) against the forms that add ε = 1e-9 to
  ``B = ReLU(S − mean S)``: the paper's Fig. 5 (ε on every cell, normalised by the whole map) and the release
  (ε on the cells above the mean, normalised by their sum); the largest entropy difference over the last
  block's CLS score maps of notebook 03's untrained model, with the maps scaled by ``c``.
* ``schedule``: SAR (row C + λ·L_SE, λ = 0.05) trained with the release's λ schedule (linear warm-up over the
  first quarter of the steps, then a cosine to 0) beside row C, on notebook 03's data.
* ``depth``: rows A and SAR with 2 and 4 blocks at notebook 03's ``cpu`` budget: the Jaccard against its
  position control and the share of attention on the object.

Usage: ``OAEDU_THREADS=1 python scripts/deviations/entropy.py SUB-COMMAND [options] [--small]``.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics

import torch

from oaedu.maps.components import connected_components
from oaedu.models import capture_attention
from oaedu.spatial_entropy import sar_step, spatial_entropy
from oaedu.spatial_entropy.experiment import ROWS, attention_report, fragment_scenes, sar_vit
from oaedu.train import StepOutput, evaluate, fit
from oaedu.utils import seed_everything

# notebook 03's shared sizes (cpu profile)
VIT = {"num_classes": 9, "image_size": 32, "patch_size": 4, "embed_dim": 64, "num_heads": 4}
SCENE = {"image_size": 32, "num_classes": 9, "fragments": 8}
SAR, ROW_A, ROW_C = "SAR: C + λ·L_SE", "A: skip kept", "C: no skip, no LN"


def _setup() -> None:
    torch.set_num_threads(int(os.environ.get("OAEDU_THREADS", "1")))


def entropy_with_eps(scores: torch.Tensor, eps: float = 1e-9, form: str = "release") -> torch.Tensor:
    """Eq. (5)–(8) with ε added to ``B`` (float32, no rescaling): ``form="fig5"`` normalises by ``Σ B`` over the
    whole map, ``"release"`` by the sum over the cells above the mean. ``scores (M, k, k)`` → ``(M,)``."""
    s = scores.float()
    m = s.mean((-2, -1), keepdim=True)
    fg = s > m
    b = torch.relu(s - m) + eps
    labels = connected_components(fg).flatten(1)
    flat = b.flatten(1)
    mass = flat.new_zeros(flat.shape[0], labels.shape[1] + 1).scatter_add(1, labels, flat)[:, 1:]
    total = flat.sum(1, keepdim=True) if form == "fig5" else (flat * fg.flatten(1)).sum(1, keepdim=True)
    p = mass / total
    return -(p * torch.log(torch.where(p > 0, p, torch.ones_like(p)))).sum(1)


def _scores(n: int) -> torch.Tensor:
    """The last block's pre-softmax CLS scores ``(n·H, 8, 8)`` of notebook 03's SAR model at initialisation."""
    seed_everything(0)
    model = sar_vit(SAR, depth=2, **VIT).eval()
    data = fragment_scenes(n, seed=10_000, **SCENE)
    with torch.no_grad(), capture_attention(model) as record:
        model(data.images)
        return record.cls_scores(-1).flatten(0, 1)


def eps(args) -> None:
    scores = _scores(args.n)
    course = spatial_entropy(scores)
    print(f"{scores.shape[0]} maps, course entropy {course.mean().item():.3f} nats on average")
    for c in args.scales:
        scaled = scores * c
        moved = (spatial_entropy(scaled) - course).abs().max().item()
        cells = [f"course {moved:.1e}"]
        for form in ("fig5", "release"):
            gap = (entropy_with_eps(scaled, form=form) - course).abs()
            cells.append(f"{form} {gap.max().item():.1e} (mean {gap.mean().item():.1e})")
        print(f"scale {c:g}: max |H(c·S) − H(S)| " + ", ".join(cells))


def scheduled_step(lambda_entropy: float, total_steps: int):
    """:func:`sar_step` with the release's λ: linear warm-up over the first quarter of the steps, then a cosine
    from λ to 0."""
    warm = max(1, total_steps // 4)
    count = {"t": 0}

    def weight(t: int) -> float:
        if t < warm:
            return lambda_entropy * (t + 1) / warm
        return lambda_entropy * 0.5 * (1 + math.cos(math.pi * (t - warm) / max(1, total_steps - warm)))

    def step(model, images, labels, masks):
        out = sar_step(weight(count["t"]))(model, images, labels, masks)
        count["t"] += 1
        return StepOutput(out.loss, out.logits, out.terms)

    return step


def _train(row: str, data, seed: int, epochs: int, depth: int = 2, step=None):
    seed_everything(seed)
    model = sar_vit(row, depth=depth, **VIT)
    step = step or sar_step(0.05 if ROWS[row]["entropy_loss"] else 0.0)
    fit(model, data, epochs, batch_size=32, lr=1e-3, step=step, seed=seed, progress=False)
    return model


def _measure(model, test) -> dict[str, float]:
    return {"accuracy": evaluate(model, test), **attention_report(model, test)}


def schedule(args) -> None:
    test = fragment_scenes(args.n_test, seed=10_000, **SCENE)
    for seed in range(args.seeds):
        data = fragment_scenes(args.per_class * 9, seed=seed, **SCENE)
        total = args.epochs * -(-len(data) // 32)
        for name, row, step in (
            ("SAR, λ schedule", SAR, scheduled_step(0.05, total)),
            ("row C", ROW_C, None),
        ):
            r = _measure(_train(row, data, seed, args.epochs, step=step), test)
            print(
                f"seed {seed}, {name}, {args.epochs} epochs: entropy {r['entropy']:.2f} nats, share on the object "
                f"{r['object_mass']:.1f} %, accuracy {r['accuracy']:.1f} %"
            )


def depth(args) -> None:
    test = fragment_scenes(args.n_test, seed=10_000, **SCENE)
    for d in args.depths:
        for name, row in (("row A", ROW_A), ("SAR", SAR)):
            above, share = [], []
            for seed in range(args.seeds):
                data = fragment_scenes(args.per_class * 9, seed=seed, **SCENE)
                r = _measure(_train(row, data, seed, args.epochs, depth=d), test)
                above.append(r["jaccard"] - r["jaccard_position"])
                share.append(r["object_mass"])
            print(
                f"{d} blocks, {name}: Jaccard above its position control {statistics.fmean(above):+.1f} points, "
                f"share on the object {statistics.fmean(share):.1f} % (mean over {args.seeds} seeds)"
            )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("eps")
    e.add_argument("--n", type=int, default=256, help="images (4 maps each)")
    e.add_argument("--scales", type=float, nargs="+", default=[1.0, 1e-3, 1e-6, 1e-9])
    e.add_argument("--small", action="store_true", help="8 images: seconds, for the tests")
    for name, seeds, epochs in (("schedule", 2, 40), ("depth", 3, 30)):
        t = sub.add_parser(name)
        t.add_argument("--seeds", type=int, default=seeds)
        t.add_argument("--epochs", type=int, default=epochs)
        t.add_argument("--per-class", type=int, default=30, help="training images per class (notebook 03: 30)")
        t.add_argument("--n-test", type=int, default=1000)
        if name == "depth":
            t.add_argument("--depths", type=int, nargs="+", default=[2, 4])
        t.add_argument("--small", action="store_true", help="1 seed, 1 epoch, 2 images per class: for the tests")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    _setup()
    if args.small:
        if args.command == "eps":
            args.n = 8
        else:
            args.seeds, args.epochs, args.per_class, args.n_test = 1, 1, 2, 32
    {"eps": eps, "schedule": schedule, "depth": depth}[args.command](args)


if __name__ == "__main__":
    main()

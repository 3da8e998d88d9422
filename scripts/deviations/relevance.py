"""RobustViT measurements quoted in docs/deviations.md §4, on the shipped marker ViT (``oaedu.checkpoints``).

Sub-commands (``--small`` runs each in seconds, for the tests):

* ``gradient``: the gradient of ``L_relevance`` alone (Eq. 1–3, target = the label) with respect to every
  parameter, with the loss at pixel resolution (the paper) and on the patch grid (``resolution="patch"``), for
  the detached and the exact map gradient; per set of training images the patch form's gradient norm relative to
  the pixel form's and the cosine between the two, then the median and range over the sets.
* ``lr``: the paper's rate rule on the toy (§4): mean ``id`` accuracy after finetuning (notebook 05's budget)
  at each rate, for the exact and the detached map.

Usage: ``OAEDU_THREADS=1 python scripts/deviations/relevance.py SUB-COMMAND [options] [--small]``.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics

import torch

from oaedu import checkpoints
from oaedu.relevance import marker_dataset, marker_vit, relevance_at, relevance_losses, relevance_map, robustvit_step
from oaedu.relevance.experiment import finetune
from oaedu.train import evaluate

FINETUNE_SEED = 100  # notebook 05 finetunes seed s on marker_dataset("train", n, seed=100 + s)


def _setup() -> None:
    torch.set_num_threads(int(os.environ.get("OAEDU_THREADS", "1")))


def _pretrained() -> torch.nn.Module:
    model = marker_vit()
    model.load_state_dict(
        torch.load(checkpoints.path("robustvit_marker_vit.pt"), map_location="cpu", weights_only=True)
    )
    return model


def _grad(model, images, labels, masks, resolution: str, create_graph: bool) -> torch.Tensor:
    """``∂L_relevance/∂θ`` flattened over every parameter."""
    model.zero_grad(set_to_none=True)
    rel = relevance_map(model, images, labels, create_graph=create_graph)
    relevance_losses(*relevance_at(rel, masks, resolution))["relevance"].backward()
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def gradient(args) -> None:
    model = copy.deepcopy(_pretrained()).train()
    per_kind: dict[str, list[tuple[float, float]]] = {"detached": [], "exact": []}
    for k in range(args.sets):
        data = marker_dataset("train", args.n, seed=FINETUNE_SEED + k)
        for kind, exact in (("detached", False), ("exact", True)):
            pixel = _grad(model, data.images, data.labels, data.masks, "pixel", exact)
            patch = _grad(model, data.images, data.labels, data.masks, "patch", exact)
            ratio = 100 * (patch.norm() / pixel.norm() - 1).item()
            cos = torch.nn.functional.cosine_similarity(patch, pixel, dim=0).item()
            per_kind[kind].append((ratio, cos))
            print(
                f"set {k} ({args.n} images, seed {FINETUNE_SEED + k}), {kind}: patch − pixel gradient norm "
                f"{ratio:+.1f} %, cosine {cos:.3f}"
            )
    for kind, rows in per_kind.items():
        ratios, coss = [r for r, _ in rows], [c for _, c in rows]
        print(
            f"{kind} over {len(rows)} sets: norm {statistics.median(ratios):+.1f} % (median; range "
            f"{min(ratios):+.1f} to {max(ratios):+.1f} %), cosine {statistics.median(coss):.2f} (median; range "
            f"{min(coss):.2f} to {max(coss):.2f})"
        )


def lr(args) -> None:
    pretrained = _pretrained()
    test = marker_dataset("id", args.n_test, seed=1)  # notebook 05's id split (seed = cfg.seed + 1)
    before = evaluate(pretrained, test)
    print(f"pretrained: id {before:.1f} %")
    for kind, rates in (("exact", args.exact), ("detached", args.detached)):
        step = robustvit_step(create_graph=kind == "exact")
        for rate in rates:
            accs = []
            for seed in range(args.seeds):
                data = marker_dataset("train", args.n_finetune, seed=FINETUNE_SEED + seed)
                model, _ = finetune(pretrained, data, step, rate, args.epochs, seed, 16)
                accs.append(evaluate(model, test))
            print(f"{kind} at {rate:g}: id {statistics.fmean(accs):.1f} % (mean over seeds 0–{args.seeds - 1})")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gradient")
    g.add_argument("--sets", type=int, default=20, help="sets of training images (seeds 0..S-1 of notebook 05)")
    g.add_argument("--n", type=int, default=64, help="images per set")
    g.add_argument("--small", action="store_true", help="2 sets of 8 images: seconds, for the tests")
    r = sub.add_parser("lr")
    r.add_argument("--exact", type=float, nargs="*", default=[3e-4, 6e-4, 1e-3], help="rates for the exact map")
    r.add_argument("--detached", type=float, nargs="*", default=[1e-4, 3e-4], help="rates for the detached map")
    r.add_argument("--seeds", type=int, default=3)
    r.add_argument("--n-finetune", type=int, default=128)
    r.add_argument("--epochs", type=int, default=25)
    r.add_argument("--n-test", type=int, default=1000)
    r.add_argument("--small", action="store_true", help="1 seed, 16 images, 1 epoch, 64 test images, one rate each")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    _setup()
    if args.command == "gradient":
        if args.small:
            args.sets, args.n = 2, 8
        gradient(args)
    else:
        if args.small:
            args.seeds, args.n_finetune, args.epochs, args.n_test = 1, 16, 1, 64
            args.exact, args.detached = args.exact[:1], args.detached[:1]
        lr(args)


if __name__ == "__main__":
    main()

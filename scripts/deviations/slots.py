"""Object-centric SSL measurement quoted in docs/deviations.md §5: what Hungarian matching (§2.2) matches.

Sub-command ``matching``: the paper matches the slots' *tokens* ``s`` of two views; the release and the course
match their *projections* ``p``. For untrained encoders of notebook 06's ``cpu`` size (slot attention, learned
or sampled queries), two views of its held-out scenes, it prints the share of slots that the two matchings pair
alike, and the share each pairs with the slot of the same index.

Usage: ``OAEDU_THREADS=1 python scripts/deviations/slots.py matching [--n N] [--seeds S] [--small]``.
"""

from __future__ import annotations

import argparse
import os
import statistics

import torch

from oaedu.data import multi_object_scenes
from oaedu.slots import ObjectEncoder, encode, match_slots, two_views

ENCODER = {"num_slots": 5, "image_size": 32, "patch_size": 4, "embed_dim": 32, "depth": 2, "num_heads": 2}
SCENES = {"image_size": 32, "max_objects": 4, "min_objects": 2, "radii": (0.06, 0.2)}


def matching(args) -> None:
    test = multi_object_scenes(args.n, seed=100, **SCENES)  # notebook 06's test scenes (seed = cfg.seed + 100)
    for queries in ("learned", "sampled"):
        agree, ident_s, ident_p = [], [], []
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            model = ObjectEncoder("slot", queries=queries, **ENCODER)
            g = torch.Generator().manual_seed(seed)
            (v0, _), (v1, _) = two_views(test.images, test.instance_masks, (0.3, 1.0), generator=g)
            o0, o1 = encode(model, v0, seed=seed), encode(model, v1, seed=seed + 1)
            on_s, on_p = match_slots(o0.slots, o1.slots), match_slots(o0.proj, o1.proj)
            same = torch.arange(on_s.shape[1])
            agree.append(100 * (on_s == on_p).double().mean().item())
            ident_s.append(100 * (on_s == same).double().mean().item())
            ident_p.append(100 * (on_p == same).double().mean().item())
        print(
            f"{queries} queries: tokens and projections matched alike for {statistics.fmean(agree):.0f} % of the "
            f"slots (range {min(agree):.0f}–{max(agree):.0f} over {args.seeds} untrained encoders); "
            f"slot i with slot i: {statistics.fmean(ident_s):.0f} % on tokens, "
            f"{statistics.fmean(ident_p):.0f} % on projections"
        )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("matching")
    m.add_argument("--n", type=int, default=384, help="held-out scenes (notebook 06, cpu: 384)")
    m.add_argument("--seeds", type=int, default=5, help="untrained encoders, seeds 0..S-1")
    m.add_argument("--small", action="store_true", help="32 scenes, 2 encoders: seconds, for the tests")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OAEDU_THREADS", "1")))
    if args.small:
        args.n, args.seeds = 32, 2
    matching(args)


if __name__ == "__main__":
    main()

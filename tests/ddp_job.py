"""A job that ``tests/test_distributed.py`` launches with ``torchrun --nproc_per_node N`` (gloo on the CPU).

``python tests/ddp_job.py OUT steps`` trains five course steps (a tiny ViT's cross-entropy, SAR, RobustViT, MoCo and the
object-centric SSL step) for a few steps with the same global batch and writes, on rank 0, their per-step losses and
final weights to ``OUT/steps-W.pt`` (W = world size). ``eval`` writes a sharded evaluation of 7 items; ``resume``
trains 4 steps, stopping after 2 on the first launch (``--stop``) and finishing on a later one (any world size);
``raise`` makes rank 1 fail while rank 0 waits in a collective.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from oaedu.contrastive import MoCo, SmallEncoder, two_view_step
from oaedu.data import MaskedImageDataset
from oaedu.distributed import init, shutdown
from oaedu.models import tiny_vit
from oaedu.relevance.losses import robustvit_step
from oaedu.scale.data import accuracy
from oaedu.scale.engine import Options, Schedule, train_stage
from oaedu.slots import ObjectEncoder
from oaedu.slots.train import ssl_views_step
from oaedu.spatial_entropy import remove_last_skip, sar_step
from oaedu.train import cross_entropy_step

N, BATCH, STEPS = 32, 8, 3


def data(two_views: bool = False) -> MaskedImageDataset:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(N, 3, 32, 32, generator=g)
    masks = torch.zeros(N, 32, 32, dtype=torch.bool)
    masks[:, 8:24, 8:24] = True
    labels = torch.randint(4, (N,), generator=g)
    if two_views:  # the SSL and MoCo steps take (B, 2, 3, H, W): a second view, shifted
        return _Views(MaskedImageDataset(images, labels, masks, num_classes=4))
    return MaskedImageDataset(images, labels, masks, num_classes=4)


class _Views(torch.utils.data.Dataset):
    def __init__(self, base):
        self.base = base

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        x, y, m = self.base[i]
        return torch.stack([x, x.roll(2, -1)]), y, m


def jobs():
    """(name, model, data, step, after_step) for the five steps; every model starts from seed 0."""
    torch.manual_seed(0)
    vit = tiny_vit(num_classes=4, depth=2, drop_rate=0.0)
    torch.manual_seed(0)
    sar = remove_last_skip(tiny_vit(num_classes=4, depth=2))
    torch.manual_seed(0)
    rel = tiny_vit(num_classes=4, depth=2, patch_size=8)
    torch.manual_seed(0)
    moco = MoCo(SmallEncoder((8, 16), (1, 2)), proj_dim=16, queue_size=64)  # its BatchNorm: global-batch statistics
    torch.manual_seed(0)
    ssl = ObjectEncoder("slot", num_slots=3, embed_dim=16, depth=1, num_heads=2)
    return [
        ("vit", vit, data(), cross_entropy_step(), None),
        ("sar", sar, data(), sar_step(0.1), None),
        ("robustvit", rel, data(), robustvit_step(), None),
        ("moco", moco, data(True), two_view_step(), lambda m: m.update_target()),
        ("ssl", ssl, data(True), ssl_views_step("ctrimg"), None),
    ]


def main(out: Path, mode: str, stop: bool) -> None:
    ctx = init()
    opts = Options(out / f"ckpt-{mode}", ctx, progress=False, checkpoint_every=2, resume=mode == "resume")
    if mode == "steps":
        report = {}
        for name, model, dataset, step, after in jobs():
            # SGD: Adam's first update is about lr·sign(g), so a parameter whose gradient is zero in exact arithmetic
            # (a key bias: softmax ignores a shift) would move by ±lr on float noise, differently in each run
            schedule = Schedule(1, BATCH, 0.05, weight_decay=0.0, optimizer="sgd", warmup=0.0, max_steps=STEPS)
            result = train_stage(name, model, dataset, step, schedule, opts, after)
            report[name] = {"losses": result.losses, "state": {k: v.clone() for k, v in model.state_dict().items()}}
    elif mode == "eval":
        dataset = data()
        dataset = MaskedImageDataset(dataset.images[:7], dataset.labels[:7], dataset.masks[:7], num_classes=4)
        torch.manual_seed(0)
        model = tiny_vit(num_classes=4, depth=1).eval()
        seen: list[int] = []
        report = {"accuracy": accuracy(lambda x, m: _count(model(x), seen), dataset, ctx, batch_size=2), "seen": seen}
    elif mode == "resume":
        name, model, dataset, step, _ = jobs()[0]

        def halt(_):
            halt.calls += 1
            if stop and halt.calls == 3:
                raise SystemExit(0)  # killed during step 3, after the checkpoint of step 2

        halt.calls = 0
        train_stage(name, model, dataset, step, Schedule(1, BATCH, 1e-3, max_steps=4), opts, halt)
        report = {"state": model.state_dict()}
    elif mode == "raise":
        if ctx.rank == 1:
            raise RuntimeError("rank 1 fails on purpose")
        torch.distributed.barrier()
        report = {}
    else:
        raise ValueError(f"unknown mode {mode!r}")
    if ctx.is_main:
        torch.save(report, out / f"{mode}-{ctx.world_size}{'-stopped' if stop else ''}.pt")
    shutdown()


def _count(logits: torch.Tensor, seen: list[int]) -> torch.Tensor:
    seen.append(len(logits))
    return logits


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], "--stop" in sys.argv)

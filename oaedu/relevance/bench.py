"""Benchmarks of the relevance maps and of a RobustViT training step."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..bench import Case
from ..models import tiny_vit
from .losses import robustvit_step
from .maps import relevance_map, relevance_map_reference


def cases(quick: bool) -> list[Case]:
    batch, depth = (8, 2) if quick else (64, 4)
    torch.manual_seed(0)
    model = tiny_vit(depth=depth)
    images = torch.rand(batch, 3, 32, 32)
    labels = torch.randint(0, 9, (batch,))
    masks = torch.rand(batch, 32, 32) > 0.7

    def train_step(step):
        def run():
            model.zero_grad()
            loss, _ = step(model, images, labels, masks)
            loss.backward()

        return run

    def plain_ce(model, images, labels, masks):
        logits = model(images)
        return F.cross_entropy(logits, labels), logits

    return [
        Case(f"relevance map, {batch} images, depth {depth}", fast=lambda: relevance_map(model, images),
             reference=lambda: relevance_map_reference(model, images), note="CLS row only, one grad call"),
        Case(f"RobustViT step (detached), batch {batch}", fast=train_step(robustvit_step()),
             reference=train_step(robustvit_step(reference=True)),
             peer=train_step(plain_ce), peer_name="plain cross-entropy step",
             note="peer/fast < 1: the relevance loss costs that much"),
        Case(f"RobustViT step (exact, create_graph), batch {batch}", fast=train_step(robustvit_step(create_graph=True)),
             reference=train_step(robustvit_step(create_graph=True, reference=True)),
             peer=train_step(plain_ce), peer_name="plain cross-entropy step"),
    ]

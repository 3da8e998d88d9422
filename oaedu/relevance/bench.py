"""Benchmarks of the relevance maps (the twins of :mod:`oaedu.relevance.twins`) and of a RobustViT training step,
and a profile of the exact step."""

from __future__ import annotations

import os
from collections import defaultdict

import torch
import torch.nn.functional as F

from ..models import capture_attention, tiny_vit
from ..timing import Case, clock, time_together
from ..train import cross_entropy_step
from .losses import robustvit_step
from .twins import TWINS


def _setup(quick: bool):
    batch, depth = (8, 2) if quick else (64, 4)
    torch.manual_seed(0)
    model = tiny_vit(depth=depth)
    images = torch.rand(batch, 3, 32, 32)
    labels = torch.randint(0, 9, (batch,))
    masks = torch.rand(batch, 32, 32) > 0.7
    return model, images, labels, masks


def _train_step(model, images, labels, masks, step):
    def run():
        model.zero_grad()
        step(model, images, labels, masks).loss.backward()

    return run


def cases(quick: bool) -> list[Case]:
    model, images, labels, masks = _setup(quick)
    batch = images.shape[0]
    step = lambda s: _train_step(model, images, labels, masks, s)  # noqa: E731
    return [
        *(case for t in TWINS for case in t.bench_cases(quick)),
        Case(
            f"RobustViT step (detached), batch {batch}",
            fast=step(robustvit_step()),
            reference=step(robustvit_step(reference=True)),
            peer=step(cross_entropy_step()),
            peer_name="plain cross-entropy step",
            note="at most 2× a cross-entropy step: one forward serves the map and the logits",
            min_vs_reference=1.2,
            min_vs_peer=0.5,
        ),
        Case(
            f"RobustViT step (exact, create_graph), batch {batch}",
            fast=step(robustvit_step(create_graph=True)),
            reference=step(robustvit_step(create_graph=True, reference=True)),
            peer=step(cross_entropy_step()),
            peer_name="plain cross-entropy step",
            note="at most 3× a cross-entropy step: the double backward alone costs more than a whole "
            "cross-entropy step (profile below)",
            min_vs_reference=1.2,
            min_vs_peer=1 / 3.0,
        ),
    ]


def _phases(model, images, labels, masks, repeats: int) -> dict[str, float]:
    """CPU-time medians (ms) of the parts of a cross-entropy step and of an exact RobustViT step."""
    step = robustvit_step(create_graph=True)

    def ce_forward():
        F.cross_entropy(model(images), labels)

    def capture_forward():
        with capture_attention(model):
            model(images)

    def with_grads():
        with capture_attention(model) as record:
            logits = model(images)
        score = logits.gather(1, labels[:, None]).sum()
        torch.autograd.grad(score, record.probs, retain_graph=True, create_graph=True)

    def loss_only():
        step(model, images, labels, masks)

    fns = [
        ce_forward,
        _train_step(model, images, labels, masks, cross_entropy_step()),
        capture_forward,
        with_grads,
        loss_only,
        _train_step(model, images, labels, masks, step),
    ]
    t = time_together(fns, repeats, budget_s=30.0, timer=clock()[0])
    return {
        "ce forward": t[0],
        "ce backward": t[1] - t[0],
        "forward (explicit attention, probabilities kept)": t[2],
        "first-order gradients ∂y/∂A_l, create_graph": t[3] - t[2],
        "rollout, upsampling, losses": t[4] - t[3],
        "backward (through the gradients and the forward)": t[5] - t[4],
        "ce step": t[1],
        "exact step": t[5],
    }


def _backward_nodes(model, images, labels, masks, top: int) -> list[tuple[str, float]]:
    """Share of the exact step's backward per autograd node kind (torch.profiler), largest first."""
    from torch.profiler import ProfilerActivity, profile

    os.environ.setdefault("KINETO_LOG_LEVEL", "5")  # no "gpuGetDeviceCount failed" error line on CPU machines
    loss = robustvit_step(create_graph=True)(model, images, labels, masks).loss
    model.zero_grad()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        loss.backward()
    prefix = "autograd::engine::evaluate_function: "
    totals: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        if event.key.startswith(prefix):
            name = event.key[len(prefix) :]
            totals[name.removesuffix("0")] += event.cpu_time_total
    whole = sum(totals.values()) or 1.0
    return [(name, t / whole) for name, t in sorted(totals.items(), key=lambda kv: -kv[1])[:top]]


def profiles(quick: bool) -> list[str]:
    """Where an exact RobustViT step spends its time, next to a cross-entropy step (markdown)."""
    model, images, labels, masks = _setup(quick)
    p = _phases(model, images, labels, masks, repeats=3 if quick else 9)
    ce, exact = p.pop("ce step"), p.pop("exact step")
    rows = "\n".join(f"| {name} | {ms:.3g} | {ms / ce:.2f} |" for name, ms in p.items())
    nodes = _backward_nodes(model, images, labels, masks, top=8)
    node_rows = "\n".join(f"| {name} | {share:.0%} |" for name, share in nodes)
    forward = p["forward (explicit attention, probabilities kept)"]
    grads = p["first-order gradients ∂y/∂A_l, create_graph"]
    losses = p["rollout, upsampling, losses"]
    double = p["backward (through the gradients and the forward)"] - p["ce backward"]
    plain = forward + p["ce backward"]
    return [
        f"""## Profile: the exact RobustViT step (batch {images.shape[0]}, depth {len(model.blocks)})

Nested calls timed in turns ({clock()[1]}, medians); each phase is the difference of two of them, in ms and as a
multiple of one cross-entropy step ({ce:.3g} ms). The exact step took {exact:.3g} ms = {exact / ce:.2f} CE steps.

| phase | ms | × CE step |
|---|---|---|
{rows}

Of those {exact / ce:.2f} CE steps, {plain / ce:.2f} are the forward and backward that a cross-entropy step also runs
(with explicit attention instead of SDPA, since the map needs the probabilities), {grads / ce:.2f} the first-order
gradients with their graph, {losses / ce:.2f} the rollout and the losses, and {double / ce:.2f} the double backward:
the derivative of the first-order gradient graph, which runs the backward of every op between the logit and each
block's attention a second time, differentiated (second derivatives of the later blocks' softmaxes, LayerNorms
and GELUs, and twice their matrix products). The exact gradient needs every one of these terms; the detached step
(`create_graph=False`, row above) drops the double backward and costs about half as much. Going lower would take a
hand-derived second-order pass instead of autograd's. Autograd nodes of the exact step's backward (torch.profiler,
share of the backward's CPU time; shares vary by a few points between runs):

| autograd node | share |
|---|---|
{node_rows}
"""
    ]

"""The notebooks' exercises and the checker that grades them.

Each exercise asks for one function that implements a piece of a paper (an equation, a step of an
algorithm). :func:`check` calls it on several seeded inputs and compares every answer with what the
package's reference gives on the same inputs; it prints one ``✓`` line when all agree and raises
:class:`ExerciseFailed` (an ``AssertionError``) otherwise, with a message that says what is wrong (the type,
the shape, the dtype, which entries differ and by how much) and a hint that does not give the answer.
A check cell therefore holds no solution: it names the exercise and the student's function, nothing else::

    from oaedu import exercises
    exercises.check("oamixer_mask", object_mask)

:func:`use` lets a notebook plug the student's function into a later cell (a widget, a demo): the
student's version where it passes its check, the package's reference (with a note) where it does not yet.
``EXERCISES`` lists every exercise with the notebook it belongs to.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .check import CheckFailed

Inputs = tuple[tuple, dict]


class ExerciseFailed(CheckFailed):
    """An exercise's answer does not match the reference."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: its notebook, a title (with the equation), the reference that gives the expected answer,
    the seeded inputs it is tried on, a hint, and the tolerances of the comparison."""

    notebook: str
    title: str
    reference: Callable[..., Any]
    inputs: Callable[[torch.Generator], Inputs]
    hint: str
    atol: float = 1e-8
    rtol: float = 1e-6
    tries: int = 5


# ------------------------------------------------------------------------------------------ the references
def _foreground_share(masks: torch.Tensor) -> float:
    """The share of pixels on the object over a batch of masks: ``mean(S)``."""
    return masks.float().mean().item()


def _bg_gap(row: dict[str, float]) -> float:
    from .metrics import bg_gap

    return bg_gap(row["mixed_same"], row["mixed_rand"])


def _relative_robustness(table: dict[str, dict[str, float]]) -> dict[str, float]:
    """Relative Mixed-Rand accuracy ``mixed_rand / original`` of each row."""
    return {name: row["mixed_rand"] / row["original"] for name, row in table.items()}


def _object_mask(labels: torch.Tensor, kappa: float) -> torch.Tensor:
    from .oamixer import reweight_mask

    return reweight_mask(labels, kappa, "l1")


def _masked_attention(q, k, v, log_mask):
    from .oamixer import attention_reference

    return attention_reference(q, k, v, log_mask=log_mask)


def _token_mixing(f_x, x, lin, mask):
    from .oamixer import mixer_mixing_reference

    return mixer_mixing_reference(f_x, x, lin, mask)


def _linear_log_mask(labels: torch.Tensor, kappa: float) -> torch.Tensor:
    """The released code's linear mask ``M = 1 − clamp(κ, 0, 1)·d``, as an additive bias ``log max(M, 1e-6)``."""
    from .oamixer import pairwise_distance

    return (1.0 - min(max(kappa, 0.0), 1.0) * pairwise_distance(labels, "l1")).clamp_min(1e-6).log()


def _threshold(scores: torch.Tensor) -> torch.Tensor:
    """Eq. (5) of SAR §4.1 per map: ``B = ReLU(S − mean(S))``."""
    return torch.relu(scores - scores.mean((-2, -1), keepdim=True))


def _blob_probabilities(b: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. (8) of SAR §4.1, one component at a time: ``P(C_j) = Σ_{C_j} B / Σ B`` for ``j = 1..n``."""
    return torch.stack([b[labels == j].sum() for j in range(1, int(labels.max()) + 1)]) / b.sum()


def _entropy(p: torch.Tensor) -> torch.Tensor:
    """Eq. (7) of SAR §4.1: ``H = −Σ_j P_j log P_j`` with ``0·log 0 = 0``."""
    return -sum((pj * torch.log(pj) for pj in p if pj > 0), p.new_zeros(()))


def _spatial_entropy(scores: torch.Tensor) -> torch.Tensor:
    from .spatial_entropy import spatial_entropy_reference

    return spatial_entropy_reference(scores)


def _contrastive_score(q: torch.Tensor, keys: torch.Tensor, tau: float) -> torch.Tensor:
    from .contracam.cam import score_from_embeddings

    return score_from_embeddings(q, keys, None, None, tau)


def _cam_step(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    from .contracam.cam import _cam_from

    return _cam_from(acts, grads, nsr=True)


def _bg_mixup(images, cams, backgrounds):
    from .contracam import background_mixup

    return background_mixup(images, cams, backgrounds)


def _rollout_step(r: torch.Tensor, attn: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    from .relevance.maps import _weighted

    return r + _weighted(attn, grad) @ r


def _relevance_loss(term: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss(relevance: torch.Tensor, fg_mask: torch.Tensor) -> torch.Tensor:
        from .relevance import relevance_losses

        return relevance_losses(relevance, fg_mask)[term]

    return loss


def _slot_softmax(phi: torch.Tensor) -> torch.Tensor:
    """Slot attention's ``α_in = exp φ_in / Σ_i' exp φ_i'n`` (Paper 5, §2.1), as ``SlotAttention.forward``."""
    return phi.softmax(dim=1)


def _slot_update(attn: torch.Tensor, v: torch.Tensor, eps: float) -> torch.Tensor:
    """``u_i = Σ_n w_in v_n`` with ``w_in = (α_in + ε) / Σ_n' (α_in' + ε)``, as ``SlotAttention.forward``."""
    w = (attn + eps) / (attn + eps).sum(dim=-1, keepdim=True)
    return w @ v


def _hungarian(cost: torch.Tensor) -> torch.Tensor:
    from .slots import hungarian_match_reference

    return hungarian_match_reference(cost)


def _ctrimg(p0, p1, perm, tau):
    from .slots import ctr_img_loss_reference

    return ctr_img_loss_reference(p0, p1, perm, tau)


# ------------------------------------------------------------------------------------------ the inputs
def _randn(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def _rand(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=g, dtype=torch.float64)


def _size(g: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (1,), generator=g))


def _masks_in(g):
    b, h = _size(g, 1, 4), _size(g, 4, 12)
    return (_rand(g, b, h, h) < 0.1 + 0.6 * _rand(g, 1).item(),), {}


def _row(g):
    acc = (100 * _rand(g, 4)).tolist()
    return ({"original": acc[0], "mixed_same": acc[1], "mixed_rand": acc[2], "only_fg": acc[3]},), {}


def _table(g):
    names = ["vit", "oamixer", "sar", "robustvit", "moco"][: _size(g, 2, 5)]
    return ({n: {"original": 50 + 50 * _rand(g, 1).item(), "mixed_rand": 100 * _rand(g, 1).item()} for n in names},), {}


def _labels_in(g):
    b, n = _size(g, 1, 3), _size(g, 4, 17)
    kappa = [0.0, 0.7, 2.0, 5.0, 1.3][_size(g, 0, 4)]
    return (_rand(g, b, n, 1), kappa), {}


def _labels_linear(g):
    b, n = _size(g, 1, 3), _size(g, 4, 17)
    kappa = [0.0, 0.6, 1.0, 1.5, -0.5][_size(g, 0, 4)]
    return (torch.randint(0, 3, (b, n, 1), generator=g).double() / 2,), {"kappa": kappa}


def _qkv(g):
    b, h, n, d = _size(g, 1, 3), _size(g, 1, 3), _size(g, 3, 12), _size(g, 2, 8)
    q, k, v = (_randn(g, b, h, n, d) for _ in range(3))
    labels = _rand(g, b, n, 1)
    return (q, k, v, -2.0 * (labels - labels.transpose(1, 2)).abs()), {}


def _mixing(g):
    b, c, n = _size(g, 1, 3), _size(g, 1, 4), _size(g, 4, 12)
    labels = _rand(g, b, n, 1)
    return (
        _randn(g, b, c, n),
        _randn(g, b, c, n),
        _randn(g, n, n),
        torch.exp(-(labels - labels.transpose(1, 2)).abs()),
    ), {}


def _score_maps(g, batch: bool = True):
    k = _size(g, 4, 8)
    s = 0.3 * _randn(g, _size(g, 1, 4), k, k)
    for _ in range(_size(g, 1, 3)):  # a few raised squares, so that several blobs survive the threshold
        y, x, size = _size(g, 0, k - 2), _size(g, 0, k - 2), _size(g, 1, 2)
        s[:, y : y + size, x : x + size] += 1.0 + _rand(g, 1).item()
    return s if batch else s[0]


def _threshold_in(g):
    return (_score_maps(g),), {}


def _blobs_in(g):
    from .maps import connected_components

    b = _threshold(_score_maps(g, batch=False))
    return (b, connected_components(b > 0)), {}


def _probabilities_in(g):
    p = _rand(g, _size(g, 1, 6))
    p[_rand(g, p.shape[0]) < 0.3] = 0.0  # empty blobs: 0·log 0 = 0
    p[0] += 0.1
    return (p / p.sum(),), {}


def _entropy_in(g):
    return (_score_maps(g),), {}


def _embeddings(g):
    b, d = _size(g, 2, 6), _size(g, 3, 8)
    return (F.normalize(_randn(g, b, d), dim=1), F.normalize(_randn(g, b, d), dim=1)), {
        "tau": [1.0, 0.2, 0.5][_size(g, 0, 2)]
    }


def _activations(g):
    b, c, h = _size(g, 1, 3), _size(g, 2, 6), _size(g, 3, 6)
    return (torch.relu(_randn(g, b, c, h, h)), _randn(g, b, c, h, h)), {}


def _mixup_in(g):
    b, h = _size(g, 1, 3), _size(g, 4, 8)
    return (_rand(g, b, 3, h, h), _rand(g, b, h, h), _rand(g, b, 3, h, h)), {}


def _rollout_in(g):
    b, heads, n = _size(g, 1, 3), _size(g, 1, 4), _size(g, 3, 7)
    attn = _randn(g, b, heads, n, n).softmax(-1)
    r = torch.eye(n, dtype=torch.float64).expand(b, n, n) + 0.1 * _rand(g, b, n, n)
    return (r, attn, _randn(g, b, heads, n, n)), {}


def _relevance_in(g):
    b, h = _size(g, 1, 4), _size(g, 3, 6)
    mask = _rand(g, b, h, h) < 0.4
    mask[:, 0, 0] = True
    return (_rand(g, b, h, h) * 3.0 + 0.5, mask), {}


def _phi_in(g):
    return (_randn(g, _size(g, 1, 3), _size(g, 2, 5), _size(g, 3, 9)),), {}


def _update_in(g):
    b, k, n, d = _size(g, 1, 3), _size(g, 2, 5), _size(g, 3, 9), _size(g, 2, 6)
    attn = _randn(g, b, k, n).softmax(dim=1)
    attn[:, 0] = 0.0  # a slot that wins no patch
    return (attn, _randn(g, b, n, d)), {"eps": 1e-8}


def _costs(g):
    k = _size(g, 3, 5)
    return (_randn(g, _size(g, 1, 4), k, k),), {}


def _slots_in(g):
    b, k, d = _size(g, 1, 3), _size(g, 2, 5), _size(g, 3, 8)
    perm = torch.stack([torch.randperm(k, generator=g) for _ in range(b)])
    return (_randn(g, b, k, d), _randn(g, b, k, d), perm), {"tau": [0.1, 0.5, 1.0][_size(g, 0, 2)]}


# ------------------------------------------------------------------------------------------ the registry
EXERCISES: dict[str, Exercise] = {
    "foreground_share": Exercise(
        "00_start_here",
        "the foreground share of the pixels",
        _foreground_share,
        _masks_in,
        "a mask is True on the object; the share is over every pixel of every image, a number in [0, 1]",
    ),
    "bg_gap": Exercise(
        "01_background_bias",
        "BG-Gap from a row of the Background Challenge table",
        _bg_gap,
        _row,
        "BG-Gap compares two variants that both keep the object and differ only in whose background they show",
    ),
    "oamixer_mask": Exercise(
        "02_oamixer",
        "the object-aware mask M, Eq. (3)",
        _object_mask,
        _labels_in,
        "M_ij must be 1 where two patches have the same label and shrink as their labels move apart (and with κ)",
    ),
    "oamixer_attention": Exercise(
        "02_oamixer",
        "OAMixer attention through the log-mask identity, Eq. (5)",
        _masked_attention,
        _qkv,
        "the mask enters as an additive bias of the scores before the softmax; one mask per image, shared by the "
        "heads; do not forget the 1/√d scaling",
    ),
    "oamixer_token_mixing": Exercise(
        "02_oamixer",
        "masked token mixing of MLP-Mixer, Eq. (7)",
        _token_mixing,
        _mixing,
        "only the linear part L·x is masked; the non-linear remainder f(x) − L·x is kept as it is; tokens are the "
        "last dimension of x",
    ),
    "linear_log_mask": Exercise(
        "02_oamixer",
        "the released code's linear mask as a log-mask",
        _linear_log_mask,
        _labels_linear,
        "clamp κ to [0, 1] and M to at least 1e-6 before the log; both clamps matter for some of the inputs",
    ),
    "sar_threshold": Exercise(
        "03_spatial_entropy",
        "the thresholded map B, Eq. (5)",
        _threshold,
        _threshold_in,
        "each map is thresholded at its own mean (over its k×k cells, not over the batch); B is never negative",
    ),
    "blob_probabilities": Exercise(
        "03_spatial_entropy",
        "the blob probabilities P(C_j), Eq. (8)",
        _blob_probabilities,
        _blobs_in,
        "a blob's probability is its share of the total mass of B (values, not cell counts); one entry per label "
        "1..n, in label order (label 0 is the background)",
    ),
    "entropy": Exercise(
        "03_spatial_entropy",
        "the entropy of the blob probabilities, Eq. (7)",
        _entropy,
        _probabilities_in,
        "natural logarithm; an empty blob (P = 0) contributes 0, never NaN",
    ),
    "spatial_entropy": Exercise(
        "03_spatial_entropy",
        "spatial entropy of a batch of maps, Eq. (5)–(8)",
        _spatial_entropy,
        _entropy_in,
        "one entropy per map (shape (M,) for maps (M, k, k)); 8-connected blobs of B > 0; a map whose B is all "
        "zero has entropy 0",
        atol=1e-6,
        rtol=1e-5,
    ),
    "contrastive_score": Exercise(
        "04_contracam",
        "the contrastive score s_con, Eq. (1)",
        _contrastive_score,
        _embeddings,
        "image i's positive is keys[i], its negatives the other rows of keys; the denominator sums over the "
        "positive and the negatives; the score is a log-probability (≤ 0)",
    ),
    "cam_step": Exercise(
        "04_contracam",
        "one Grad-CAM step with negative-signal removal, Eq. (2)",
        _cam_step,
        _activations,
        "α_k averages the gradient over the spatial positions of channel k; NSR clips α at 0; the map is the "
        "clipped weighted sum over channels, one (h, w) map per image, before any normalisation",
    ),
    "bg_mixup": Exercise(
        "04_contracam",
        "background mixup, Eq. (4)",
        _bg_mixup,
        _mixup_in,
        "the CAM is the weight of the original image at each pixel (shared by the 3 channels); the two weights "
        "sum to 1",
    ),
    "rollout_step": Exercise(
        "05_robustvit",
        "one step of the relevance rollout, Eq. (5)–(6) of Chefer et al. 2021",
        _rollout_step,
        _rollout_in,
        "keep the positive part per head first, then average the heads; the new R is (I + Ā)·R, with Ā on the left",
    ),
    "background_loss": Exercise(
        "05_robustvit",
        "RobustViT's background loss L_bg, Eq. (1)",
        _relevance_loss("bg"),
        _relevance_in,
        "min–max normalise each image's map to [0, 1] first; then the mean squared relevance outside the object "
        "(a mean over every pixel of every map)",
    ),
    "foreground_loss": Exercise(
        "05_robustvit",
        "RobustViT's foreground loss L_fg, Eq. (2) as released",
        _relevance_loss("fg"),
        _relevance_in,
        "min–max normalise each image's map first; compare R⊙S with the mask S itself (the released code's "
        "target), a mean over every pixel",
    ),
    "slot_softmax": Exercise(
        "06_object_centric_ssl",
        "slot attention's softmax over the slots, §2.1",
        _slot_softmax,
        _phi_in,
        "φ is (B, K, N): slots on dim 1, patches on dim 2; each patch's weights sum to 1 over the slots",
    ),
    "slot_update": Exercise(
        "06_object_centric_ssl",
        "the slot update: a weighted mean of the values, §2.1",
        _slot_update,
        _update_in,
        "add ε to α, then renormalise each slot's weights over the patches, then take the weighted sum of v; "
        "a slot that wins no patch takes the plain mean of the values",
    ),
    "hungarian_pairing": Exercise(
        "06_object_centric_ssl",
        "the Hungarian pairing of two views' slots, §2.2",
        _hungarian,
        _costs,
        "perm[b, k] is the column paired with row k; minimise the total cost over all permutations (a greedy "
        "row-by-row choice is not optimal); the result is int64",
        atol=0.0,
        rtol=0.0,
    ),
    "ctrimg_loss": Exercise(
        "06_object_centric_ssl",
        "the CTRIMG object loss, Eq. (2) with negatives of the same image",
        _ctrimg,
        _slots_in,
        "cosine similarities divided by τ; an anchor is never its own candidate; its positive is the matched slot "
        "of the other view (σ(i) from view 0, σ⁻¹(i) from view 1); negatives only from the same image; mean over "
        "the 2·B·K anchors",
    ),
    "relative_robustness": Exercise(
        "07_leaderboard",
        "relative Mixed-Rand accuracy per method",
        _relative_robustness,
        _table,
        "one entry per row of the table, the same keys; 1 means the background does not matter",
    ),
}


# ------------------------------------------------------------------------------------------ the checker
def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"{str(value.dtype).removeprefix('torch.')} {tuple(value.shape)}"
    if isinstance(value, dict):
        return "a dict with keys " + ", ".join(map(str, list(value)[:5])) + (" …" if len(value) > 5 else "")
    return repr(value)


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _index(flat: int, shape: tuple[int, ...]) -> list[int]:
    out = []
    for size in reversed(shape):
        out.append(flat % size)
        flat //= size
    return out[::-1]


def _compare_tensors(got: torch.Tensor, want: torch.Tensor, ex: Exercise) -> str | None:
    if got.shape != want.shape:
        return f"shape: got {tuple(got.shape)}, expected {tuple(want.shape)}"
    if got.is_floating_point() != want.is_floating_point() or (
        not want.is_floating_point() and got.dtype != want.dtype
    ):
        return f"dtype: got {got.dtype}, expected {want.dtype}"
    if want.is_floating_point() and got.dtype != want.dtype:
        return f"dtype: got {got.dtype}, expected {want.dtype} (keep the dtype of the inputs)"
    got, want = got.detach().cpu(), want.detach().cpu()
    if want.is_floating_point():
        nan = torch.isnan(got) & ~torch.isnan(want)
        if nan.any():
            return f"{int(nan.sum())} of {got.numel()} entries are NaN where the expected values are numbers"
        bad = ~torch.isclose(got, want, rtol=ex.rtol, atol=ex.atol, equal_nan=True)
    else:
        bad = got != want
    if not bad.any():
        return None
    diff = (got.double() - want.double()).abs().nan_to_num(posinf=math.inf).reshape(-1)
    worst = int(torch.where(bad.reshape(-1), diff, torch.zeros_like(diff)).argmax())
    where = [_index(int(i), tuple(got.shape)) for i in torch.nonzero(bad.reshape(-1))[:4, 0]]
    g, w = got.reshape(-1)[worst].item(), want.reshape(-1)[worst].item()
    return (
        f"{int(bad.sum())} of {got.numel()} entries differ, the largest by {diff[worst].item():.3g} at index "
        f"{_index(worst, tuple(got.shape))} (got {g:.6g}, expected {w:.6g}); the first differing: "
        + ", ".join(map(str, where))
    )


def _compare(got: Any, want: Any, ex: Exercise) -> str | None:
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"type: got {type(got).__name__}, expected a dict"
        if set(got) != set(want):
            return f"keys: got {sorted(map(str, got))}, expected {sorted(map(str, want))}"
        for key in want:
            problem = _compare(got[key], want[key], ex)
            if problem:
                return f"entry {key!r}: {problem}"
        return None
    if isinstance(want, (int, float)):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return f"type: got {type(got).__name__}, expected a number"
        if math.isnan(got):
            return "got NaN, expected a number"
        if not math.isclose(got, want, rel_tol=ex.rtol, abs_tol=ex.atol):
            return f"value: got {got:.6g}, expected {want:.6g} (off by {abs(got - want):.3g})"
        return None
    if not isinstance(got, torch.Tensor):
        return f"type: got {type(got).__name__}, expected a torch.Tensor"
    return _compare_tensors(got, want, ex)


def _exercise(name: str) -> Exercise:
    if not isinstance(name, str) or name not in EXERCISES:
        raise ValueError(f"name must be one of the exercises {sorted(EXERCISES)}, got {name!r}")
    return EXERCISES[name]


def problems(name: str, fn: Callable[..., Any]) -> list[str]:
    """What is wrong with ``fn`` as an answer to exercise ``name``: one message per failing input (empty when
    every input agrees). An exception raised by ``fn`` (``NotImplementedError`` in an unsolved stub) propagates."""
    ex = _exercise(name)
    if not callable(fn):
        raise TypeError(f"fn must be your function for exercise {name!r}, got {type(fn).__name__}")
    found = []
    for i in range(ex.tries):
        args, kwargs = ex.inputs(torch.Generator().manual_seed(1000 + i))
        want = ex.reference(*map(_clone, args), **kwargs)
        given = [_clone(a) for a in args]
        got = fn(*given, **kwargs)
        shown = ", ".join([_describe(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
        changed = [n for n, (a, b) in enumerate(zip(args, given, strict=True)) if not _same(a, b)]
        problem = _compare(got, want, ex)
        if changed:
            problem = f"your function changed its input {changed[0] + 1} in place" + (f"; {problem}" if problem else "")
        if problem:
            found.append(f"input {i + 1} of {ex.tries} ({shown}): {problem}")
    return found


def check(name: str, fn: Callable[..., Any]) -> None:
    """Grade ``fn`` as the answer to exercise ``name``: print ``✓`` when it matches the reference on every
    input, else raise :class:`ExerciseFailed` saying what differs, with a hint."""
    ex = _exercise(name)
    found = problems(name, fn)
    if found:
        shown = "\n  ".join(found[:3]) + (f"\n  … and {len(found) - 3} more" if len(found) > 3 else "")
        raise ExerciseFailed(
            f"{name} ({ex.title}): {len(found)} of {ex.tries} inputs disagree with the reference\n  {shown}\n"
            f"hint: {ex.hint}"
        )
    print(f"✓ {name}: {ex.title} matches the reference on {ex.tries} inputs")


def use(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` where it passes exercise ``name``'s check, else the package's reference (and a one-line note), so
    that a later cell can run on the student's own implementation once it is right."""
    ex = _exercise(name)
    try:
        ok = not problems(name, fn)
    except Exception:  # an unsolved stub, or a bug in the answer: the check cell above says what
        ok = False
    if ok:
        print(f"using your {getattr(fn, '__name__', name)} ({ex.title})")
        return fn
    print(f"using the package's reference for {name} until your version passes its check")
    return ex.reference

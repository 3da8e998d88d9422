"""The reference/fast twins of the shared map operations: connected components, a flood fill per map vs one
labelling of the stack (collected by :mod:`oaedu.twins`; :mod:`oaedu.spatial_entropy.bench` places its rows)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..timing import Example, Twin, check_size, generator
from .components import connected_components, connected_components_reference


def component_sizes(size: str) -> list[tuple[int, int]]:
    return {"test": [(6, 9)], "quick": [(256, 8), (384, 14)], "full": [(256, 8), (1536, 14)]}[check_size(size)]


def random_scores(num_maps: int, k: int) -> torch.Tensor:
    return torch.randn(num_maps, k, k, generator=generator())


def _scipy_label_loop(mask: torch.Tensor) -> list[np.ndarray]:
    from scipy import ndimage

    structure = np.ones((3, 3), dtype=int)
    return [ndimage.label(m, structure=structure)[0] for m in mask.reshape(-1, *mask.shape[-2:]).numpy()]


def _components_examples(size: str) -> list[Example]:
    out = []
    for num_maps, k in component_sizes(size):
        scores = random_scores(num_maps, k)
        mask = scores > scores.mean((-2, -1), keepdim=True)
        out.append(
            Example(
                (mask,),
                label=f"{num_maps}×{k}×{k}",
                peer=lambda mask=mask: _scipy_label_loop(mask),
                peer_name="scipy.ndimage.label loop",
            )
        )
    if size == "test":
        out.append(Example((torch.rand(2, 3, 7, 5, generator=generator(4)) < 0.5,)))
    return out


def _exact(got: Any, want: Any, example: Example) -> None:
    assert type(got) is type(want)
    torch.testing.assert_close(got, want, atol=0, rtol=0)


TWINS: tuple[Twin, ...] = (
    Twin(
        connected_components_reference,
        connected_components,
        _components_examples,
        "connected components {label}",
        min_vs_reference=10.0,
        min_vs_peer=3.0,
        note="mean-thresholded random scores; one scipy.ndimage.label call on the stack (a 3-D structure that "
        "keeps maps apart), so the loop's per-call overhead is paid once",
        agree=_exact,
        fast_only=("max_iterations", "backend"),
    ),
)

import itertools

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from oaedu.slots import hungarian_match, hungarian_match_reference


def _total(cost, perm):
    return cost.gather(2, perm[:, :, None]).squeeze(-1).sum(-1)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_matches_brute_force(k):
    g = torch.Generator().manual_seed(k)
    cost = torch.rand(6, k, k, generator=g)
    fast, ref = hungarian_match(cost), hungarian_match_reference(cost)
    assert fast.dtype == torch.int64 and fast.shape == (6, k)
    torch.testing.assert_close(_total(cost, fast), _total(cost, ref))
    brute = torch.tensor(
        [min(sum(cost[i, r, p[r]] for r in range(k)) for p in itertools.permutations(range(k))) for i in range(6)]
    )
    torch.testing.assert_close(_total(cost, fast), brute.to(cost.dtype))


@pytest.mark.parametrize("k", [3, 6, 9, 12])
def test_matches_scipy(k):
    cost = torch.randn(5, k, k, generator=torch.Generator().manual_seed(10 + k))
    perm = hungarian_match(cost)
    for i in range(5):
        assert sorted(perm[i].tolist()) == list(range(k))
        r, c = linear_sum_assignment(cost[i].numpy())
        assert np.isclose(cost[i, r, c].sum().item(), _total(cost[i : i + 1], perm[i : i + 1]).item(), atol=1e-5)


def test_identity_and_permuted():
    cost = 1.0 - torch.eye(4)[None].repeat(2, 1, 1)
    cost[1] = cost[1][:, [2, 0, 3, 1]]
    perm = hungarian_match(cost)
    assert perm[0].tolist() == [0, 1, 2, 3]
    assert perm[1].tolist() == [1, 3, 0, 2]


@pytest.mark.parametrize(
    "bad",
    [
        torch.zeros(3, 3),
        torch.zeros(2, 3, 4),
        torch.zeros(2, 3, 3, dtype=torch.long),
        torch.full((1, 2, 2), float("nan")),
    ],
)
def test_bad_input(bad):
    with pytest.raises(ValueError):
        hungarian_match(bad)
    with pytest.raises(ValueError):
        hungarian_match_reference(bad)

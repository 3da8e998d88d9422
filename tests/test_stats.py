import math

import pytest

from oaedu import check
from oaedu.stats import effect, mean_std


def test_mean_std_closed_form():
    assert mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert mean_std([5.0]) == (5.0, 0.0)
    with pytest.raises(ValueError, match="finite"):
        mean_std([1.0, float("nan")])
    with pytest.raises(ValueError, match="at least one"):
        mean_std([])


def test_paired_effect_uses_the_standard_error_of_the_differences():
    e = effect([11.0, 12.0, 14.0], [10.0, 10.0, 10.0])  # d = 1, 2, 4: mean 7/3, sd √(7/3)
    assert e.difference == pytest.approx(7 / 3)
    assert e.se == pytest.approx(math.sqrt(7 / 3) / math.sqrt(3))
    assert e.shown() and not e.shown(direction=-1)
    assert not e.shown(k=4.0)  # 7/3 < 4·0.882
    assert not effect([1.0, 3.0], [0.0, 0.0]).shown()  # two seeds are not enough
    single = effect([2.0], [1.0])
    assert math.isinf(single.se) and not single.shown(min_seeds=1)
    # a notebook's RESULTS get no inf (reproduce refuses non-finite results): one seed has no SE
    assert single.record() == {"difference": 1.0, "se": None, "n": 1}
    assert e.record()["se"] == pytest.approx(e.se)
    with pytest.raises(ValueError, match="one value per seed"):
        effect([1.0, 2.0], [1.0])


def test_check_effect_passes_and_fails():
    check.effect("gain", [11.0, 12.0, 14.0], [10.0, 10.0, 10.0], quiet=True)
    check.effect("drop", [1.0, 1.1, 0.9], [2.0, 2.1, 2.0], direction=-1, quiet=True)
    with pytest.raises(check.CheckFailed, match="SE"):
        check.effect("noise", [10.0, 12.0, 8.0], [10.0, 10.0, 10.0])
    with pytest.raises(check.CheckFailed):
        check.effect("wrong direction", [1.0, 1.1, 0.9], [2.0, 2.1, 2.0])

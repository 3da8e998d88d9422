"""Every reference/fast twin of the registry (oaedu.twins) takes the same arguments and agrees on its test inputs.

The oracle tests of each method (against scipy, scikit-learn, captum, the paper's equations) stay in the method's
own test file; this file only checks each pair against itself, so a new twin is tested by its registry entry.
"""

from __future__ import annotations

import inspect

import pytest

from oaedu import bench, twins


@pytest.mark.parametrize("twin", twins.TWINS, ids=lambda t: t.name)
def test_twins_share_a_signature(twin):
    ref, fast = inspect.signature(twin.reference), inspect.signature(twin.fast)
    shared = [p for p in fast.parameters.values() if p.name not in twin.fast_only]
    assert list(ref.parameters.values()) == shared, (ref, fast)
    for name in twin.fast_only:  # a knob of the fast algorithm: optional
        assert fast.parameters[name].default is not inspect.Parameter.empty, name
    assert ref.return_annotation == fast.return_annotation, (ref, fast)


@pytest.mark.parametrize("twin", twins.TWINS, ids=lambda t: t.name)
def test_twins_agree(twin):
    examples = twin.examples("test")
    assert examples
    for example in examples:
        twin.check(example)


def test_every_twin_is_benchmarked_once_with_a_goal():
    names = [t.name for t in twins.TWINS]
    assert len(set(names)) == len(names)
    placed = twins.placed()
    assert placed <= set(names)
    for t in twins.TWINS:
        assert t.min_vs_reference is not None and "{label}" in t.title, t.name
    rows = bench.discover(quick=True)
    for name in names:
        assert sum(r.twin == name for r in rows) == len(twins.twin(name).examples("quick")), name


def test_unknown_names_and_sizes_are_refused():
    with pytest.raises(ValueError, match="no twin"):
        twins.twin("oamixer.nothing")
    with pytest.raises(ValueError, match="size"):
        twins.twin("metrics.adjusted_rand_index").examples("huge")

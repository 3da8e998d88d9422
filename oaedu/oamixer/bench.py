"""Benchmarks for OAMixer: masked attention, the Mixer's token mixing and the local ConvMixer, each against its
reference (the twins of :mod:`oaedu.twins`; discovered by ``python -m oaedu.bench``)."""

from __future__ import annotations

from ..bench import Case
from ..twins import bench_cases

TWINS = ("oamixer.attention", "oamixer.mixer_mixing", "oamixer.conv_mixing")


def cases(quick: bool) -> list[Case]:
    """Fast vs reference OAMixer attention (N = 197, D = 64), Mixer token mixing (N = 64); ConvMixer (Eq. 11) at
    14×14, 28×28 and 56×56."""
    return [case for name in TWINS for case in bench_cases(name, quick)]

"""Bad input beyond one argument at a time: the input-kinds probe (``tests/test_input_kinds_engine.py``) over
every public callable, every check, the summaries and every subcommand, then the cases behind each class, each
against an oracle that is not the code under test.

The probe classifies every call as ``ok``, ``clear``, ``silent``, ``obscure`` or ``hang``; ``make test`` asserts
0 silent results, 0 hangs and at most :data:`MAX_OBSCURE` obscure errors, and prints the rest.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import test_api_probe as P
import test_input_kinds_engine as K
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oaedu import check, validate

MAX_OBSCURE = 10


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("kinds")


@pytest.fixture(scope="module")
def table(folder):
    return P._example_table(str(folder))


@pytest.fixture(scope="module")
def outcomes(folder, table):
    tmp = folder
    names = sorted(set(P.public_callables()) - set(P.EXEMPT))
    threads = torch.get_num_threads()
    try:
        probe = K.Probe(table, names)
        probe.run_all()
        probe.twins()
        K.probe_checks(probe.add)
        K.probe_stats(probe.add)
        K.probe_complexity(probe.add)
        K.probe_cli(probe.add, tmp / "cli")
    finally:
        torch.set_num_threads(threads)
    return probe.outcomes


def _listing(outcomes, cls):
    return "\n  ".join(str(o) for o in outcomes if o.cls == cls)


def test_the_probe_covers_every_kind(outcomes):
    for kind in ("dtype", "±3e38", "±6e4", "tiny", "batch", "grid", "twins", "true(", "close(", "finite(", "student"):
        assert any(o.kind.startswith(kind) for o in outcomes), f"the probe tried no {kind!r} input"
    for kind in validate.KINDS.values():  # every declared argument kind reaches at least one entry point
        assert any(o.kind.startswith(f"[{kind.name}]") for o in outcomes), f"no entry point tried as {kind.name}"
    print("\ninput kinds:", " ".join(f"{c}={n}" for c, n in sorted(Counter(o.cls for o in outcomes).items())))


def test_no_silent_result(outcomes):
    assert not any(o.cls == "silent" for o in outcomes), "silent results:\n  " + _listing(outcomes, "silent")


def test_no_hang(outcomes):
    assert not any(o.cls == "hang" for o in outcomes), "hangs:\n  " + _listing(outcomes, "hang")


def test_few_obscure_errors(outcomes):
    obscure = [o for o in outcomes if o.cls == "obscure"]
    assert len(obscure) <= MAX_OBSCURE, f"{len(obscure)} obscure errors:\n  " + _listing(outcomes, "obscure")


# ------------------------------------------------------------------------------------------------ declared kinds
def _takers(table, kind: validate.Kind):
    """``(callable, argument)`` pairs of the probe's examples whose argument is a number of this kind."""
    out = []
    for name in sorted(set(table) - set(P.EXEMPT) - K.SLOW):
        try:
            call = table[name](P.fx())
            args = call.bound().arguments
        except Exception:  # noqa: BLE001 (an example that needs files: not a number argument anyway)
            continue
        out += [(name, a) for a, v in args.items() if a in kind.parameters and isinstance(v, (int, float))]
        P.plt.close("all")
    return out


NUMBER_KINDS = [k for k in validate.KINDS.values() if k.low is not None and k.high is not None and k.name != "box"]


@pytest.mark.parametrize(
    "kind", [k for k in NUMBER_KINDS if k.name not in ("crop scale", "binary map")], ids=lambda k: k.name
)
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_numbers_outside_their_declared_range_are_refused(table, kind, data):
    """Hypothesis draws values outside each declared range (from ``validate.KINDS``, not from the examples)."""
    takers = _takers(table, kind)
    assert takers, f"no entry point takes a {kind.name}"
    name, arg = data.draw(st.sampled_from(takers))
    if kind.name == "seed":
        bad = data.draw(st.one_of(st.integers(max_value=-1), st.integers(min_value=int(kind.high) + 1)))
    else:
        span = kind.high - kind.low
        bad = data.draw(
            st.one_of(
                st.floats(max_value=kind.low - 1e-9 * span, allow_nan=False, allow_infinity=False),
                st.floats(min_value=kind.high + 1e-9 * span, allow_nan=False, allow_infinity=False),
            )
        )
    call = table[name](P.fx())
    bound = call.bound()
    bound.arguments[arg] = bad
    with pytest.raises((ValueError, TypeError), match=arg):
        call.fn(*bound.args, **bound.kwargs)


def test_one_rule_for_seeds():
    """The largest seed works in every generator and in seed_everything; one more is refused by all of them."""
    from oaedu.data import background_challenge, multi_object_scenes
    from oaedu.relevance import marker_dataset
    from oaedu.utils import seed_everything

    makers = {
        "background_challenge": lambda s: background_challenge("mixed_rand", 2, seed=s),
        "multi_object_scenes": lambda s: multi_object_scenes(1, seed=s, image_size=32, max_objects=2),
        "marker_dataset": lambda s: marker_dataset("train", 2, seed=s),
        "seed_everything": lambda s: seed_everything(s),
    }
    try:
        for name, make in makers.items():
            make(validate.SEED_MAX)
            for bad in (validate.SEED_MAX + 1, 2**64, -1):
                with pytest.raises(ValueError, match="seed"):
                    make(bad)
                    pytest.fail(f"{name} accepted the seed {bad}")
    finally:
        seed_everything(0)


# ------------------------------------------------------------------------------------------------ the cases
def test_minmax_near_the_dtype_limits_matches_float64_numpy():
    from oaedu.maps import minmax

    for dtype, big in ((torch.float32, 3e38), (torch.float16, 6e4)):
        x = torch.tensor([[big, -big, 0.0, big / 2]], dtype=dtype)
        want = (x.double().numpy() - x.double().numpy().min()) / np.ptp(x.double().numpy())
        got = minmax(x)
        assert got.dtype == dtype and torch.isfinite(got).all()
        np.testing.assert_allclose(got.double().numpy(), want, atol=2e-3)


def test_attention_twins_agree_on_extreme_log_masks_or_both_refuse():
    from oaedu.oamixer import attention, attention_reference

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 4, 3, generator=g) for _ in range(3))
    log_mask = -torch.rand(1, 4, 4, generator=g)
    shifted, same_row = log_mask.clone(), log_mask.clone()
    shifted[0, 1], same_row[0, 1] = -1e30, 0.0  # a constant per row cancels in Eq. (5): as if no mask on that row
    plain = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(3) + same_row[:, None], -1) @ v
    for fn in (attention, attention_reference):
        torch.testing.assert_close(fn(q, k, v, log_mask=shifted), plain, atol=1e-5, rtol=1e-4)
        with pytest.raises(ValueError, match="log_mask"):
            fn(q, k, v, log_mask=torch.full((1, 4, 4), -math.inf))


def test_crops_keep_their_area_share_with_extreme_ratios():
    from oaedu.data import paired_random_resized_crop

    images, masks = torch.rand(64, 3, 16, 16), torch.zeros(64, 16, 16, dtype=torch.bool)
    for ratio in ((0.01, 100.0), (50.0, 100.0), (0.01, 0.02)):
        _, _, boxes = paired_random_resized_crop(
            images, masks, 8, scale=(0.5, 0.9), ratio=ratio, generator=torch.Generator().manual_seed(1)
        )
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        assert ((area >= 0.5 - 1e-5) & (area <= 0.9 + 1e-5)).all(), area.min()
        assert ((boxes >= -1e-6) & (boxes <= 1 + 1e-6)).all()


def test_an_inverted_box_is_a_mirrored_crop_and_other_bad_boxes_are_refused():
    from oaedu.data import crop_boxes

    images = torch.rand(2, 3, 8, 8)
    masks = torch.rand(2, 8, 8) > 0.5
    box = torch.tensor([[0.25, 0.0, 0.75, 1.0]] * 2)
    out, m = crop_boxes(images, masks, box, (8, 4))
    flipped, fm = crop_boxes(images, masks, box[:, [2, 1, 0, 3]], (8, 4))
    torch.testing.assert_close(flipped, out.flip(-1))
    assert torch.equal(fm, m.flip(-1))
    for bad in ([[0.25, 0.0, 0.25, 1.0]], [[0.5, 0.0, 1.5, 1.0]], [[-0.5, 0.0, 0.5, 1.0]]):
        with pytest.raises(ValueError, match="boxes"):
            crop_boxes(images, masks, torch.tensor(bad * 2), 8)


def test_ids_above_2_24_survive_resampling():
    from oaedu.data import paired_resize

    ids = torch.tensor([[0, 2**24 + 1], [2**24, 2**24 + 3]]).repeat_interleave(4, 0).repeat_interleave(4, 1)
    _, out = paired_resize(torch.rand(3, 8, 8), ids, 4)
    assert set(out.unique().tolist()) == {0, 2**24, 2**24 + 1, 2**24 + 3}


def test_a_fraction_is_never_above_one():
    from oaedu.data import patch_fractions

    with pytest.raises(ValueError, match="masks"):
        patch_fractions(torch.full((1, 4, 4), 3), (2, 2))
    frac = patch_fractions(torch.ones(1, 4, 4, dtype=torch.bool), (2, 2))
    assert torch.equal(frac, torch.ones(1, 2, 2))


def test_float64_images_into_a_float32_model_are_refused_at_the_entry():
    from oaedu.train import plain_forward

    f = P.fx()
    with pytest.raises(ValueError, match=r"images must be float32 like the model"):
        plain_forward(f.vit(), f.images[:2].double(), None)


@pytest.mark.parametrize(
    "args",
    [("c", [], []), ("c", 1 + 1j, 1 + 2j), ("c", torch.zeros(0), torch.zeros(0))],
    ids=["empty lists", "complex", "empty tensors"],
)
def test_close_never_passes_on_nothing(args):
    with pytest.raises((check.CheckFailed, TypeError)):
        check.close(*args, quiet=True)


@pytest.mark.parametrize("condition", ["False", "", 1, 1 + 0j, [True], torch.tensor(1)])
def test_true_takes_only_truth_values(condition):
    with pytest.raises(TypeError, match="condition"):
        check.true("c", condition, quiet=True)


def test_true_takes_python_numpy_and_tensor_bools():
    check.true("c", True, quiet=True)
    check.true("c", np.bool_(True), quiet=True)
    check.true("c", torch.tensor([True]), quiet=True)
    with pytest.raises(check.CheckFailed):
        check.true("c", torch.tensor(False), quiet=True)


def test_summaries_refuse_text_and_say_what_they_drop():
    from oaedu import reproduce, stats

    with pytest.raises(TypeError, match="mean_std"):
        stats.mean_std("12")
    with pytest.raises(ValueError, match="seed index 1"):
        reproduce.summarise([{"a": 1.0, "b": 2.0}, {"a": 2.0}])
    summary = reproduce.summarise([{"a": np.float32(1.0)}, {"a": torch.tensor(3.0)}])
    assert summary["a"]["mean"] == 2.0 and summary["a"]["n"] == 2
    assert stats.mean_std([1e150, -1e150])[1] == pytest.approx(math.sqrt(2) * 1e150)


def test_brute_force_references_state_their_limit():
    from oaedu.contracam import largest_empty_rectangle_reference
    from oaedu.slots import hungarian_match_reference

    with pytest.raises(ValueError, match="1,000,000"):
        hungarian_match_reference(torch.rand(1, 11, 11))
    with pytest.raises(ValueError, match="300,000"):
        largest_empty_rectangle_reference(torch.zeros(1, 64, 64, dtype=torch.bool))
    assert hungarian_match_reference(torch.rand(2, 8, 8)).shape == (2, 8)


def test_convert_clevr_refuses_a_garbage_file_in_one_line(tmp_path):
    garbage = tmp_path / "garbage.tfrecords"
    garbage.write_bytes(b"\xff" * 64)
    run = subprocess.run(
        [sys.executable, "-m", "oaedu", "convert-clevr", str(garbage), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    errors = [line for line in run.stderr.splitlines() if "error:" in line]  # after argparse's usage lines
    assert len(errors) == 1 and "not a TFRecord file" in errors[0], run.stderr

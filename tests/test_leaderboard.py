import pytest

from oaedu.leaderboard import (
    METRICS,
    Budget,
    Choice,
    Entry,
    effects,
    format_effects,
    format_leaderboard,
    run,
    summarise,
)


def _entry(value, seconds):
    return Entry({m: value for m in METRICS}, seconds)


def test_summarise_gives_mean_std_and_relative_cost():
    results = {"baseline": [_entry(50.0, 2.0), _entry(60.0, 2.0)], "other": [_entry(70.0, 3.0), _entry(70.0, 5.0)]}
    table = summarise(results)
    assert table["baseline"]["mixed_rand"] == 55.0
    assert table["baseline"]["mixed_rand_std"] == pytest.approx(7.0711, abs=1e-4)
    assert table["other"]["bg_gap_std"] == 0.0
    assert table["baseline"]["cost"] == 1.0 and table["other"]["cost"] == 2.0
    text = format_leaderboard(table)
    assert "55.0 ± 7.1" in text and "2.00×" in text
    with pytest.raises(ValueError, match="reference"):
        summarise({"other": results["other"]})


def test_effects_pair_each_method_with_its_control_seed_by_seed():
    results = {
        "baseline": [_entry(50.0, 1.0), _entry(52.0, 1.0), _entry(54.0, 1.0)],
        "SAR": [_entry(51.0, 1.0), _entry(53.5, 1.0), _entry(54.5, 1.0)],
        "MoCo (probe)": [_entry(40.0, 1.0)] * 3,
    }
    out = effects(results, "mixed_rand")
    assert set(out) == {"SAR"}  # BG-Mixup's control is MoCo, but BG-Mixup did not run
    assert out["SAR"].difference == pytest.approx(1.0) and out["SAR"].n == 3
    with pytest.raises(ValueError, match="metric"):
        effects(results, "accuracy")


def test_format_effects_marks_only_differences_beyond_two_standard_errors():
    base = [_entry(v, 1.0) for v in (50.0, 52.0, 54.0)]
    results = {
        "baseline": base,
        "SAR": [_entry(v, 2.0) for v in (51.0, 53.5, 54.5)],  # d = 1, 1.5, 0.5: 1.0 ± 0.29 → shown
        "OAMixer": [_entry(v, 1.0) for v in (53.0, 50.0, 55.0)],  # d = 3, −2, 1: 0.67 ± 1.45 → not shown
    }
    text = format_effects(results, summarise(results), metrics=("mixed_rand",))
    lines = {line.split(" − ")[0]: line for line in text.splitlines()}
    assert set(lines) == {"OAMixer", "SAR"}
    assert "+1.0 ±  0.3 ✓" in lines["SAR"] and "cost 2.00×" in lines["SAR"] and "no labels" in lines["SAR"]
    assert "+0.7 ±  1.5 ·" in lines["OAMixer"]
    # the same SAR differences over two seeds are not enough
    two = {m: r[:2] for m, r in results.items()}
    assert "✓" not in format_effects(two, summarise(two), metrics=("mixed_rand",))
    with pytest.raises(ValueError, match="control"):
        format_effects({"baseline": base}, summarise({"baseline": base}))


TINY = Budget(
    n_train=128,
    n_val=32,
    n_test=32,
    epochs=1,
    num_classes=3,
    depth=1,
    embed_dim=32,
    robustvit_images=16,
    robustvit_epochs=1,
)


def test_run_chooses_each_knob_on_the_validation_split_and_reuses_it_on_every_seed():
    board = run(
        TINY,
        seeds=(0, 1),
        methods=("baseline", "SAR"),
        device="cpu",
        progress=False,
        search={"SAR": ("lambda", (0.0, 0.5))},
    )
    assert set(board.entries) == {"baseline", "SAR"} and all(len(v) == 2 for v in board.entries.values())
    choice = board.choices["SAR"]
    assert isinstance(choice, Choice) and set(choice.validation) == {0.0, 0.5}
    assert choice.validation[choice.value] == max(choice.validation.values())
    assert board.entries["SAR"][0].validation == choice.validation[choice.value]
    assert f"{choice.value:g}·spatial entropy" in board.entries["SAR"][1].note
    for entries in board.entries.values():
        for e in entries:
            assert set(e.accuracy) == set(METRICS) and e.seconds_per_epoch > 0 and 0 <= e.validation <= 100
            assert e.accuracy["bg_gap"] == pytest.approx(e.accuracy["mixed_same"] - e.accuracy["mixed_rand"])
    assert "baseline" not in board.choices


def test_robustvit_finetunes_the_baseline_of_its_seed(monkeypatch):
    import oaedu.relevance

    calls = []
    step = oaedu.relevance.robustvit_step

    def counting_step(**kwargs):
        inner = step(**kwargs)
        return lambda *args: calls.append(1) or inner(*args)

    monkeypatch.setattr(oaedu.relevance, "robustvit_step", counting_step)
    grid = {"RobustViT": ("lr", (1e-4,))}
    alone = run(TINY, methods=("RobustViT",), device="cpu", progress=False, search=grid).entries["RobustViT"][0]
    assert len(calls) == 1  # 16 images, batch 16, one epoch: one finetuning step
    both = run(TINY, methods=("baseline", "RobustViT"), device="cpu", progress=False, search=grid)
    # RobustViT finetunes this seed's baseline, trained on demand or reused from the baseline row.
    assert both.entries["RobustViT"][0].accuracy == pytest.approx(alone.accuracy)
    assert alone.seconds_per_epoch > both.entries["baseline"][0].seconds_per_epoch * 0.5


def test_bg_mixup_pays_for_the_vanilla_moco_that_gives_it_its_maps():
    board = run(
        TINY,
        methods=("MoCo (probe)", "MoCo + BG-Mixup (probe)"),
        device="cpu",
        progress=False,
        search={"MoCo + BG-Mixup (probe)": ("p_mix", (0.5,))},
    )
    vanilla, mixup = board.entries["MoCo (probe)"][0], board.entries["MoCo + BG-Mixup (probe)"][0]
    # its own pretraining costs about as much as the vanilla one, so with the vanilla run added it costs more
    assert mixup.seconds_per_epoch > vanilla.seconds_per_epoch * 1.5


def test_run_rejects_bad_requests():
    with pytest.raises(ValueError, match="unknown method"):
        run(TINY, methods=("Mixup",))
    with pytest.raises(ValueError, match="seed"):
        run(TINY, seeds=())
    with pytest.raises(ValueError, match="empty"):
        run(TINY, methods=())
    with pytest.raises(ValueError, match="no knob"):
        run(TINY, methods=("baseline",), search={"baseline": ("lr", (1e-3,))})
    with pytest.raises(ValueError, match="missing or empty"):
        run(TINY, methods=("SAR",), search={"SAR": ("lambda", ())})

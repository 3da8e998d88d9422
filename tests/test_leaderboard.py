import pytest

from oaedu.leaderboard import METRICS, Budget, Entry, format_leaderboard, run, summarise


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


def test_run_trains_the_requested_methods_on_every_seed(monkeypatch):
    budget = Budget(n_train=128, n_test=32, epochs=1, num_classes=3, depth=1, embed_dim=32)
    results = run(budget, seeds=(0, 1), methods=("baseline", "SAR"), device="cpu", progress=False)
    assert set(results) == {"baseline", "SAR"} and all(len(v) == 2 for v in results.values())
    budget_ft = Budget(n_train=64, n_test=16, epochs=1, num_classes=3, depth=1, embed_dim=32, robustvit_images=16,
                       robustvit_epochs=1)
    import oaedu.relevance

    calls = []
    step = oaedu.relevance.robustvit_step

    def counting_step(**kwargs):
        inner = step(**kwargs)
        return lambda *args: calls.append(1) or inner(*args)

    monkeypatch.setattr(oaedu.relevance, "robustvit_step", counting_step)
    alone = run(budget_ft, methods=("RobustViT",), device="cpu", progress=False)["RobustViT"][0]
    assert len(calls) == 1  # 16 images, batch 16, one epoch: one finetuning step
    both = run(budget_ft, methods=("baseline", "RobustViT"), device="cpu", progress=False)
    # RobustViT finetunes this seed's baseline, trained on demand or reused from the baseline row.
    assert both["RobustViT"][0].accuracy == pytest.approx(alone.accuracy)
    assert alone.seconds_per_epoch > 0
    for entries in results.values():
        for e in entries:
            assert set(e.accuracy) == set(METRICS) and e.seconds_per_epoch > 0
            assert e.accuracy["bg_gap"] == pytest.approx(e.accuracy["mixed_same"] - e.accuracy["mixed_rand"])
    with pytest.raises(ValueError, match="unknown method"):
        run(budget, methods=("Mixup",))
    with pytest.raises(ValueError, match="seed"):
        run(budget, seeds=())

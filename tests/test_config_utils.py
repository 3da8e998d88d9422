import pytest
import torch

from oaedu import check, config, utils

TABLE = {p: {"epochs": i + 1, "n": 10 * (i + 1)} for i, p in enumerate(config.PROFILES)}


def test_profile_from_env(monkeypatch):
    monkeypatch.setenv("OAEDU_PROFILE", "smoke")
    assert config.get_profile() == "smoke"
    assert config.select(TABLE).epochs == 1
    monkeypatch.setenv("OAEDU_PROFILE", "GPU")
    assert config.select(TABLE)["n"] == 30


def test_default_profile_follows_cuda(monkeypatch):
    monkeypatch.delenv("OAEDU_PROFILE", raising=False)
    assert config.get_profile() == ("gpu" if torch.cuda.is_available() else "cpu")


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("OAEDU_PROFILE", "laptop")
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        config.get_profile()


def test_select_validates_tables_and_overrides():
    with pytest.raises(ValueError, match="lacks profile"):
        config.select({"smoke": {"a": 1}}, profile="smoke")
    bad = {**TABLE, "gpu": {"epochs": 3}}
    with pytest.raises(ValueError, match="different settings"):
        config.select(bad, profile="cpu")
    cfg = config.select(TABLE, profile="cpu", epochs=7)
    assert cfg.epochs == 7 and cfg.n == 20 and cfg.profile == "cpu"
    with pytest.raises(ValueError, match="unknown override"):
        config.select(TABLE, profile="cpu", epoch=7)
    with pytest.raises(AttributeError, match="no setting"):
        _ = cfg.batch_size


def test_get_device_override(monkeypatch):
    monkeypatch.setenv("OAEDU_DEVICE", "cpu")
    assert utils.get_device() == torch.device("cpu")
    if not torch.cuda.is_available():
        monkeypatch.setenv("OAEDU_DEVICE", "cuda")
        with pytest.raises(ValueError, match="CUDA"):
            utils.get_device()


def test_seed_everything_reproduces():
    utils.seed_everything(3)
    a = torch.rand(4)
    utils.seed_everything(3)
    assert torch.equal(a, torch.rand(4))
    with pytest.raises(ValueError):
        utils.seed_everything(-1)


def test_env_report_has_versions():
    report = utils.env_report()
    assert report["torch"] == torch.__version__
    assert report["profile"] in config.PROFILES


def test_checks_pass_and_fail(capsys):
    check.close("same", torch.ones(3), torch.ones(3))
    check.greater("bigger", 2.0, 1.0)
    check.less("smaller", 1.0, 2.0)
    check.between("inside", 0.5, 0.0, 1.0)
    check.ratio_at_least("ratio", 8.0, 2.0, factor=4.0)
    check.shape("shape", torch.zeros(2, 3), (2, None))
    check.finite("finite", torch.zeros(2))
    assert capsys.readouterr().out.count("✓") == 7
    failures = [
        lambda: check.close("x", torch.ones(3), torch.zeros(3)),
        lambda: check.close("x", torch.ones(3), torch.ones(2)),
        lambda: check.greater("x", 1.0, 1.0),
        lambda: check.greater("x", 1.5, 1.0, margin=1.0),
        lambda: check.less("x", 2.0, 1.0),
        lambda: check.between("x", 2.0, 0.0, 1.0),
        lambda: check.ratio_at_least("x", 3.0, 2.0, factor=2.0),
        lambda: check.shape("x", torch.zeros(2, 3), (3, 2)),
        lambda: check.finite("x", torch.tensor([float("inf")])),
        lambda: check.greater("x", float("nan"), 0.0),
        lambda: check.true("x", False),
    ]
    for fail in failures:
        with pytest.raises(check.CheckFailed):
            fail()


def test_set_threads_reads_the_environment(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OAEDU_THREADS", "1")
        assert utils.set_threads() == 1 and torch.get_num_threads() == 1
        assert utils.set_threads(2) == 2
        monkeypatch.setenv("OAEDU_THREADS", "zero")
        with pytest.raises(ValueError, match="OAEDU_THREADS"):
            utils.set_threads()
    finally:
        torch.set_num_threads(before)


def test_show_maps_lays_out_one_row_per_map_and_checks_shapes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from oaedu.plotting import show_maps

    images, masks = torch.rand(3, 3, 16, 16), torch.zeros(3, 16, 16, dtype=torch.bool)
    masks[:, 4:12, 4:12] = True
    fig = show_maps(images, masks, {"before": torch.rand(3, 4, 4), "after": torch.rand(3, 4, 4)})
    assert len(fig.axes) == 9
    assert fig.axes[3].get_title() == "before" and fig.axes[6].get_title() == "after"
    assert fig.axes[3].get_images()[0].get_array().shape == (16, 16)  # upsampled to the mask's size
    plt.close(fig)
    with pytest.raises(ValueError, match="every map"):
        show_maps(images, masks, {"before": torch.rand(2, 4, 4)})
    with pytest.raises(ValueError, match="masks"):
        show_maps(images, masks[:2], {})


def test_check_effect_returns_the_paired_effect_with_scipys_standard_error():
    from scipy import stats

    a, b = [3.0, 5.0, 4.5, 6.0], [1.0, 2.5, 3.0, 2.0]
    d = [x - y for x, y in zip(a, b, strict=True)]
    e = check.effect("gap", a, b)
    assert e.difference == pytest.approx(sum(d) / 4) and e.se == pytest.approx(stats.sem(d)) and e.n == 4
    # the same mean with a spread that makes it noise must fail
    with pytest.raises(check.CheckFailed, match="SE"):
        check.effect("noisy", [10.0, -4.0, 1.0], [0.0, 0.0, 0.0])
    with pytest.raises(check.CheckFailed):
        check.effect("wrong sign", b, a)


def test_show_slot_maps_puts_each_map_beside_its_image():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from oaedu.plotting import show_slot_maps

    image, mask = torch.rand(3, 16, 16), torch.zeros(16, 16, dtype=torch.bool)
    mask[4:12, 4:12] = True
    maps = torch.rand(3, 4, 4)
    fig = show_slot_maps({"view 0": (image, mask, maps), "view 1": (image, mask, maps[:2])}, {"view 1": ["a", "b"]})
    assert len(fig.axes) == 8  # 2 rows × (image + 3 maps)
    assert fig.axes[0].get_title() == "view 0" and fig.axes[1].get_title() == "slot 0"
    assert fig.axes[5].get_title() == "a" and not fig.axes[7].get_images()  # row 2 has only two maps
    shown = fig.axes[1].get_images()[0]
    assert shown.get_array().shape == (16, 16) and shown.get_clim() == (0.0, float(maps.max()))
    plt.close(fig)
    with pytest.raises(ValueError, match="row 'bad'"):
        show_slot_maps({"bad": (image, mask[:8], maps)})

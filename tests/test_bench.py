from oaedu import bench


def test_time_fn_measures_milliseconds():
    import time

    assert bench.time_fn(lambda: time.sleep(0.01), repeats=3) >= 9.0


def test_discovery_finds_subpackage_benchmarks():
    names = [c.name for c in bench.discover(quick=True)]
    assert any(name.startswith("ARI") for name in names)


def test_main_prints_ratios_and_writes_markdown(tmp_path, capsys):
    out = tmp_path / "bench.md"
    rows = bench.main(["--quick", "--only", "ARI", "--markdown", str(out)])
    assert rows and all(r.fast_ms > 0 for r in rows)
    assert rows[0].speedup_vs_reference == rows[0].reference_ms / rows[0].fast_ms
    printed = capsys.readouterr().out
    assert "ref/fast" in printed and "×" in printed
    assert out.read_text().count("| ARI") == 1

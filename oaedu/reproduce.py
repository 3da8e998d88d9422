"""``python -m oaedu reproduce NAME [--profile P] [--seeds N] [--seed-base S | --seed-bases A,B,...] [--out DIR]``:
run experiments headless.

An experiment *is* its notebook: the runner executes ``NN_*.ipynb`` from the course's notebook folder (see
:func:`oaedu.notebook.find_notebooks`) with ``OAEDU_PROFILE`` and ``OAEDU_SEED`` set, so the numbers come from
exactly the code a student runs. Each notebook leaves its headline numbers in a dict named ``RESULTS``. For
every seed the runner saves the executed notebook and its figures (PNG); it then writes ``results.json`` with
the per-seed results and, for every number, the mean and standard deviation over seeds.
"""

from __future__ import annotations

import base64
import json
import math
import numbers
import os
import re
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np
import torch
from tqdm.auto import tqdm

from . import validate
from .config import PROFILES
from .notebook import find_notebooks
from .stats import mean_std
from .tables import text_table
from .utils import default_threads

if TYPE_CHECKING:
    import psutil
    from nbclient import NotebookClient

EXPERIMENTS: dict[str, str] = {
    "background_bias": "01_background_bias.ipynb",
    "oamixer": "02_oamixer.ipynb",
    "spatial_entropy": "03_spatial_entropy.ipynb",
    "contracam": "04_contracam.ipynb",
    "robustvit": "05_robustvit.ipynb",
    "object_centric_ssl": "06_object_centric_ssl.ipynb",
    "leaderboard": "07_leaderboard.ipynb",
}
_DUMP = """
import json as _json, os as _os
try:
    _results = RESULTS
except NameError:
    raise RuntimeError("this notebook defines no RESULTS dict, so there is nothing to reproduce") from None
with open(_os.environ["OAEDU_RESULTS_PATH"], "w") as _f:
    _json.dump(_results, _f, default=float)
"""
# A kernel whose CPU time (with its own processes') grows by less than STALL_CPU seconds over STALL_SECONDS has stopped
# answering (a lost message leaves kernel and client both waiting); no course notebook waits that long idle.
STALL_SECONDS = 300.0
STALL_CPU = 0.5


class _StallWatch:
    """Kill ``client``'s kernel (and the processes it started) once it has stopped working: its CPU time has grown
    by less than :data:`STALL_CPU` seconds for :data:`STALL_SECONDS`. nbclient then sees a dead kernel, which
    :func:`pass_rates` runs once more, instead of waiting for the cell timeout. The kill is written to ``log``."""

    def __init__(self, client: NotebookClient, seconds: float, cpu: float, log: TextIO) -> None:
        self.client, self.seconds, self.cpu, self.log = client, seconds, cpu, log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="oaedu-stall-watch")

    def __enter__(self) -> _StallWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _kernel_tree(self) -> list[psutil.Process]:
        """The kernel's process and its descendants; empty before it started (or where its provisioner has no pid)."""
        import psutil

        pid = getattr(getattr(self.client.km, "provisioner", None), "pid", None)
        try:
            kernel = psutil.Process(pid) if pid is not None else None
            return [kernel, *kernel.children(recursive=True)] if kernel is not None else []
        except psutil.Error:
            return []  # it ended

    def _watch(self) -> None:
        import psutil

        mark_cpu, mark_time = 0.0, time.monotonic()
        while not self._stop.wait(min(5.0, self.seconds / 4)):
            tree, now = self._kernel_tree(), time.monotonic()
            if not tree:
                mark_cpu, mark_time = 0.0, now
                continue
            cpu = _cpu_seconds(tree)
            mark_cpu = min(mark_cpu, cpu)  # a process that ended takes its seconds along: count from what remains
            if cpu - mark_cpu >= self.cpu:
                mark_cpu, mark_time = cpu, now
            elif now - mark_time >= self.seconds:
                print(
                    f"oaedu: the kernel's CPU time grew by {cpu - mark_cpu:.2f} s in {now - mark_time:.0f} s: "
                    "it stopped working, so it is killed",
                    file=self.log,
                    flush=True,
                )
                for process in tree:
                    try:
                        process.kill()
                    except psutil.Error:
                        pass  # it ended on its own meanwhile
                return


def _cpu_seconds(processes: Sequence[psutil.Process]) -> float:
    """User + system CPU seconds of ``processes`` (one that ended meanwhile counts 0)."""
    import psutil

    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def available(notebooks: str | Path | None = None) -> dict[str, Path]:
    """The experiments whose notebook exists in ``notebooks`` (default: :func:`oaedu.notebook.find_notebooks`)."""
    folder = find_notebooks(notebooks)
    return {name: folder / nb for name, nb in EXPERIMENTS.items() if (folder / nb).is_file()}


def plan(name: str, profile: str, seeds: int, notebooks: str | Path | None = None) -> dict[str, Path]:
    """Check a request and return the notebooks it runs, by experiment name.

    Raises:
        ValueError: an unknown experiment or profile, or fewer than one seed.
        FileNotFoundError: no notebook folder, or the experiment's notebook is not in it.
    """
    if name != "all" and name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; expected 'all' or one of {', '.join(EXPERIMENTS)}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    validate.integer(seeds, "seeds", low=1)
    folder = find_notebooks(notebooks)
    experiments = available(folder)
    if name == "all":
        if not experiments:
            raise FileNotFoundError(f"no experiment notebook ({', '.join(EXPERIMENTS.values())}) in {folder}")
        return experiments
    if name not in experiments:
        raise FileNotFoundError(f"the notebook for {name!r} ({EXPERIMENTS[name]}) is not in {folder}")
    return {name: experiments[name]}


def flatten(results: Mapping, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested dict as ``{"a/b": value}``: Python, NumPy and one-element tensor numbers (not
    bools). Lists, text and ``None`` are not summarised; the per-seed ``results.json`` files keep them."""
    if not isinstance(results, Mapping):
        raise TypeError(f"results must be a dict (a notebook's RESULTS), got {type(results).__name__}")
    out: dict[str, float] = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "/"))
        elif isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            out[name] = float(value)
        elif isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype != torch.bool:
            if value.is_complex():
                raise TypeError(f"results[{name!r}] must be a real number, got a complex tensor")
            out[name] = float(value.item())
    return out


def summarise(per_seed: Sequence[Mapping]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation over seeds of every numeric result (a NaN or inf result is an error:
    the per-seed ``results.json`` files keep every value)."""
    if not per_seed:
        raise ValueError("per_seed is empty: need the results of at least one seed")
    flat = [flatten(r) for r in per_seed]
    odd = [f"{k} (seed index {i})" for i, f in enumerate(flat) for k, v in f.items() if not math.isfinite(v)]
    if odd:
        raise ValueError(f"per_seed holds non-finite results: {', '.join(odd[:5])}")
    keys = list(flat[0])
    for i, f in enumerate(flat[1:], 1):
        if set(f) != set(keys):
            differ = sorted(set(f) ^ set(keys))[:5]
            raise ValueError(f"per_seed: seed index {i} has other numeric results than seed index 0: {differ}")
    summary = {}
    for key in keys:
        try:
            mean, std = mean_std([f[key] for f in flat])
        except ValueError as err:
            raise ValueError(f"per_seed results {key!r}: {err}") from None
        summary[key] = {"mean": mean, "std": std, "n": len(flat)}
    return summary


def _execute(
    notebook: Path, profile: str, seed: int, out: Path, timeout: int, threads: int, record: bool = False
) -> dict:
    """Run one notebook; the kernel's own stdout/stderr (warnings at start-up, ...) go to ``out/kernel.log``,
    not into the progress bar. Every comparison it made is left in ``out/ledger.jsonl`` as it is made
    (``$OAEDU_LEDGER``); with ``record`` a failed one is written there instead of stopping the notebook
    (``$OAEDU_CHECKS=record``). A kernel that stops working is killed (:class:`_StallWatch`)."""
    import nbformat
    from nbclient import NotebookClient

    out = out.resolve()  # the kernel runs in the notebook's folder, so a relative path would land there
    out.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_DUMP.strip()))
    results_path = out / "results.json"
    env = {
        "OAEDU_PROFILE": profile,
        "OAEDU_SEED": str(seed),
        "OAEDU_RESULTS_PATH": str(results_path),
        "OAEDU_THREADS": str(threads),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "OAEDU_CHECKS": "record" if record else "",
        "OAEDU_LEDGER": str(out / "ledger.jsonl"),
    }
    (out / "ledger.jsonl").unlink(missing_ok=True)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with open(out / "kernel.log", "w") as log:
            client = NotebookClient(
                nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}
            )
            with _StallWatch(client, STALL_SECONDS, STALL_CPU, log):
                client.execute(stdout=log, stderr=log)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    nb.cells.pop()
    nbformat.write(nb, out / notebook.name)
    figure = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                figure += 1
                (out / f"figure_{figure:02d}.png").write_bytes(base64.b64decode(png))
    return json.loads(results_path.read_text())


def reproduce(
    name: str,
    profile: str = "cpu",
    seeds: int = 1,
    out: str | Path = "runs",
    timeout: int = 3600,
    notebooks: str | Path | None = None,
    seed_base: int = 0,
) -> dict:
    """Run experiment ``name`` (or ``"all"``) for seeds ``seed_base .. seed_base+seeds-1``; return what
    ``results.json`` holds. A notebook's own seeds start at the seed it is given (``$OAEDU_SEED``), so another
    ``seed_base`` checks its claims at seeds nobody chose.

    ``notebooks`` is the folder of the course notebooks (default: :func:`oaedu.notebook.find_notebooks`). Every
    notebook runs with the same torch thread count (``$OAEDU_THREADS``, else :func:`oaedu.utils.default_threads`),
    recorded as ``threads``: results are bit-identical for a fixed seed *and* thread count.
    """
    validate.integer(timeout, "timeout", low=1)
    threads = default_threads()
    experiments = plan(name, profile, seeds, notebooks)
    names = list(experiments)
    out = Path(out)
    report = {}
    seed_base = validate.integer(seed_base, "seed_base", low=0, high=2**32 - seeds)
    runs = [(n, s) for n in names for s in range(seed_base, seed_base + seeds)]
    per_seed: dict[str, list] = {n: [] for n in names}
    seconds: dict[str, float] = dict.fromkeys(names, 0.0)
    for exp, seed in tqdm(runs, desc=f"reproduce ({profile})"):
        start = time.perf_counter()
        per_seed[exp].append(_execute(experiments[exp], profile, seed, out / exp / f"seed{seed}", timeout, threads))
        seconds[exp] += time.perf_counter() - start
    for exp in names:
        report[exp] = {
            "notebook": EXPERIMENTS[exp],
            "profile": profile,
            "threads": threads,
            "seeds": list(range(seed_base, seed_base + seeds)),
            "seconds": round(seconds[exp], 1),
            "per_seed": per_seed[exp],
            "summary": summarise(per_seed[exp]),
        }
        (out / exp / "results.json").write_text(json.dumps(report[exp], indent=1))
    return report


def format_summary(report: Mapping) -> str:
    """A short text rendering of ``reproduce``'s report: ``name  metric  mean ± std``."""
    lines = []
    for exp, entry in report.items():
        if not isinstance(entry, Mapping) or not {"profile", "seeds", "seconds", "summary"} <= set(entry):
            raise ValueError(f"report[{exp!r}] is not an entry of reproduce()'s report: {validate.describe(entry)}")
        threads = f", {entry['threads']} thread(s)" if "threads" in entry else ""
        lines.append(f"{exp} ({entry['profile']}, {len(entry['seeds'])} seed(s){threads}, {entry['seconds']} s)")
        cells = {
            key: [f" {stats['mean']:8.2f} ± {stats['std']:.2f}"]  # one cell, a space after the label
            for key, stats in entry["summary"].items()
            if math.isfinite(stats["mean"])
        }
        if cells:
            lines.append(text_table(cells, [0], label_width=48, indent="  "))
    return "\n".join(lines)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours of a kernel's traceback


def pass_rates(
    name: str,
    profile: str,
    bases: Sequence[int],
    out: str | Path = "runs",
    timeout: int = 3600,
    notebooks: str | Path | None = None,
) -> dict:
    """Run experiment ``name`` (or ``"all"``) once at each base seed of ``bases`` (the notebook's seeds then start
    there) and record whether every assertion held: ``{experiment: {base: {"passed", "error", "seconds",
    "checks", "results"}}}``. The notebooks run under ``$OAEDU_CHECKS=record``, so a failed check does not stop
    them: ``checks`` holds every check of the run with its margin (:data:`oaedu.check.LEDGER`), and ``passed``
    is true when all of them held. Any other error is a result here too; a kernel that dies, stops working
    (:class:`_StallWatch`) or stops answering (past ``timeout`` seconds in one cell) is given a second run.
    ``out/<experiment>/pass_rates.json`` is rewritten after every run, so a long batch can be read while it runs."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    if isinstance(bases, str | bytes) or not isinstance(bases, Sequence) or not bases:
        raise ValueError(f"bases must be a non-empty list of seeds, got {validate.describe(bases)}")
    bases = [validate.integer(b, f"bases[{i}]", low=0, high=2**32 - 1) for i, b in enumerate(bases)]
    if len(set(bases)) != len(bases):
        raise ValueError(f"bases must differ from each other, got {bases}")
    validate.integer(timeout, "timeout", low=1)
    threads = default_threads()
    experiments = plan(name, profile, 1, notebooks)
    out = Path(out)
    report: dict = {exp: {} for exp in experiments}
    for exp, base in tqdm([(e, b) for e in experiments for b in bases], desc=f"pass rates ({profile})"):
        folder = out / exp / f"base{base}"
        for attempt in (1, 2):  # a kernel that died or stopped answering is run once more: it says nothing of a claim
            start = time.perf_counter()
            try:
                results = _execute(experiments[exp], profile, base, folder, timeout, threads, record=True)
                error = ""
            except CellExecutionError as err:
                lines = [_ANSI.sub("", line) for line in str(err).splitlines() if "Error" in line]
                results, error = {}, lines[-1] if lines else str(err)[-200:]
            except (CellTimeoutError, DeadKernelError) as err:
                results, error = {}, f"{type(err).__name__}: the kernel stopped (attempt {attempt} of 2)"
                continue
            break
        seconds = round(time.perf_counter() - start, 1)
        ledger = folder / "ledger.jsonl"
        checks = [json.loads(line) for line in ledger.read_text().splitlines()] if ledger.is_file() else []
        failed = [c["name"] for c in checks if not c["passed"]]
        if failed and not error:
            error = f"CheckFailed: {failed[0]}" + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
        run = {"passed": not error, "error": error, "seconds": seconds, "checks": checks, "results": results}
        report[exp][base] = run
        document = {"profile": profile, "threads": threads, "runs": report[exp]}
        (out / exp / "pass_rates.json").write_text(json.dumps(document, indent=1, default=float))
    return report


def format_pass_rates(report: Mapping) -> str:
    """A markdown table of :func:`pass_rates`: experiment, bases tried, how many passed, the first failure."""
    lines = ["| experiment | base seeds | passed | first failure |", "|---|---|---|---|"]
    for exp, runs in report.items():
        failed = [f"base {b}: {r['error']}" for b, r in runs.items() if not r["passed"]]
        passed = len(runs) - len(failed)
        bases = ", ".join(str(b) for b in runs)
        lines.append(f"| {exp} | {bases} | {passed}/{len(runs)} | {failed[0] if failed else '—'} |")
    return "\n".join(lines)


def _pass_chance(checks: list[dict], bases: int) -> dict[str, float]:
    """The mean effect or margin of one claim over ``bases`` runs and its estimated chance of passing at a fresh
    base (a run that lacks the claim counts as failed: it stopped before it)."""
    from scipy import stats as st

    if checks[0]["kind"] == "effect":
        # Δ/SE over n seeds is a noncentral t with n − 1 degrees of freedom: estimate the effect δ and the
        # per-seed spread σ from every base's seeds, then ask how often t(n − 1, δ√n/σ) exceeds k.
        n, k = checks[0]["n"], checks[0]["k"]
        sign = [c.get("direction") or (1 if (c["margin"] + c["k"]) * c["difference"] >= 0 else -1) for c in checks]
        delta = statistics.fmean(s * c["difference"] for s, c in zip(sign, checks, strict=True))
        sigma = math.sqrt(statistics.fmean(c["se"] ** 2 * c["n"] for c in checks))
        room = delta * math.sqrt(n) / sigma if sigma > 0 else math.copysign(math.inf, delta) if delta else 0.0
        chance = float(st.nct.sf(k, n - 1, room)) if math.isfinite(room) else float(room > 0)
        return {"mean": delta, "room": room, "unit": f"δ√n/σ (n = {n})", "chance": chance * len(checks) / bases}
    mean, std = mean_std([c["margin"] for c in checks])
    z = mean / std if std > 0 else math.copysign(math.inf, mean) if mean else 0.0
    chance = float(st.norm.cdf(z)) if math.isfinite(z) else float(z > 0)
    return {"mean": mean, "room": z, "unit": "z", "chance": chance * len(checks) / bases}


def claims(report: Mapping) -> list[dict]:
    """One row per claim (a comparison check, by name and order within its notebook) of :func:`pass_rates`'s
    report: how many bases it passed at, its mean, and its estimated chance of passing at a fresh base.

    For an effect (:func:`oaedu.check.effect`, asserted at ``Δ > k·SE`` over ``n`` seeds), ``room`` is the
    expected Δ/SE with the spread known, ``δ√n/σ`` (δ the mean paired difference, σ the per-seed spread pooled over
    the bases: 3.6 under the normal approximation); ``Δ/SE`` itself follows a noncentral t with ``n − 1`` degrees of
    freedom, and ``chance`` is its probability of exceeding ``k``. For a threshold (``greater``, ``less``,
    ``between``, ``ratio_at_least``), ``room`` is ``z = mean margin / std margin`` over the bases and ``chance`` is
    ``Φ(z)``. A base whose run stopped before the claim counts against its chance."""
    rows = []
    for exp, runs in report.items():
        table: dict[tuple[str, int], list[dict]] = {}
        for run in runs.values():
            seen: dict[str, int] = {}
            for c in run.get("checks", []):
                if c["kind"] == "true":
                    continue
                key = (c["name"], seen.get(c["name"], 0))
                seen[c["name"]] = key[1] + 1
                table.setdefault(key, []).append(c)
        for (name, _), checks in table.items():
            row = {"experiment": exp, "claim": name, "kind": checks[0]["kind"], "bases": len(runs)}
            row["passed"] = sum(c["passed"] for c in checks)
            rows.append(row | _pass_chance(checks, len(runs)))
    return rows


def format_claims(
    report: Mapping, label: Callable[[str], str] | None = None, column: str = "experiment", mark_below: float = 0.0
) -> str:
    """A markdown table of :func:`claims`: each claim, its pass rate, its mean effect or margin, its room and its
    chance of passing at a fresh base. ``label(experiment)`` fills the first column (named ``column``); a chance
    below ``mark_below`` is marked ``(below)``."""
    mark_below = validate.probability(mark_below, "mark_below")
    label = label or str
    lines = [f"| {column} | claim | passed | mean Δ or margin | room | chance |", "|---|---|---|---|---|---|"]
    for r in claims(report):
        room = "∞" if math.isinf(r["room"]) else f"{r['room']:.1f}"
        flag = " (below)" if r["chance"] < mark_below else ""
        lines.append(
            f"| {label(r['experiment'])} | {r['claim'].replace('|', '/')} | {r['passed']}/{r['bases']} | "
            f"{r['mean']:+.3g} | {r['unit']}: {room} | {r['chance']:.2f}{flag} |"
        )
    return "\n".join(lines)

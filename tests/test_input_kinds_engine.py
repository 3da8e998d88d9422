"""The input-kinds probe that ``tests/test_input_kinds.py`` runs: kinds of input, beyond one bad argument.

``tests/test_api_probe.py`` replaces one argument at a time with a common bad value. This probe starts from the same
valid examples (its ``EXAMPLES``) and tries, per argument, the kinds of input a new user passes:

* **dtypes**: every tensor argument in float16, float64, complex64, int64, bool and uint8. A call that accepts
  the converted tensor must return what it returns for the same values in the argument's own dtype (the
  *canonical* call: an independent run of the same function, not a stored number); complex is never accepted;
* **extremes**: a float argument whose values reach ±3e38 (float32), ±6e4 (float16), or are tiny (1e-39, below
  float32's smallest normal); finite input must give finite output or a clear error;
* **pairs**: two tensor arguments that disagree in batch size, in grid size or in dtype;
* **meaning**: the argument kinds declared in :data:`oaedu.validate.KINDS` (box, fraction, probability, id
  map, binary map, seed, accuracy, crop scale), each with the parameter names that take it, tried with values
  outside their range (drawn by Hypothesis from the declared bounds);
* **twins**: a reference and its fast twin on the same mutated input must agree, or both refuse;
* **sizes**: every integer argument set to 2**40 (a size that cannot be allocated, a loop that cannot finish);
* **checks, summaries, command line, brute force**: every check of :mod:`oaedu.check` on nothing (empty, text,
  complex, NaN), summaries of text, other keys and overflowing values, each subcommand given a file where a
  folder is needed, a missing folder, a notebook without cells, a garbage TFRecord file and bad ``$OAEDU_*``
  values, and the brute-force references at sizes they cannot finish.

Each call is classified: ``ok`` (a correct result), ``clear`` (ValueError/TypeError/FileNotFoundError/IndexError
naming the argument), ``silent`` (NaN or inf from finite input, a result that differs from the canonical call,
a kind accepted outside its range, twins that disagree), ``obscure`` (any other exception, or a documented one
that does not name the argument) or ``hang`` (over :data:`TIME_LIMIT` seconds).
"""

from __future__ import annotations

import dataclasses
import math
import signal
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import test_api_probe as P  # noqa: E402
import torch  # noqa: E402

TIME_LIMIT = 4.0  # seconds per call; the slowest valid example takes well under one
CLASSES = ("ok", "clear", "silent", "obscure", "hang")
DOCUMENTED = (ValueError, TypeError, FileNotFoundError, IndexError, KeyError)
DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int32": torch.int32,
    "float64": torch.float64,
    "complex64": torch.complex64,
    "int64": torch.int64,
    "bool": torch.bool,
    "uint8": torch.uint8,
}
SLOW = {  # trained or iterated examples: every probe kind on them would take most of the time budget
    "train.fit",
    "contrastive.train_contrastive",
    "contrastive.probe_encoder",
    "contrastive.probe_background_challenge",
    "train.evaluate_background_challenge",
    "data.background_challenge_data",
    "data.background_challenge_suite",
    "leaderboard.Budget",
}


HUGE = 2**40


class Hang(Exception):
    """A call ran past the time limit."""


@dataclass
class Outcome:
    name: str
    arg: str
    kind: str
    cls: str
    detail: str = ""

    def __str__(self) -> str:
        return f"[{self.cls}] {self.name}({self.arg}) {self.kind}: {self.detail}"[:400]


def _alarm(signum, frame):
    raise Hang


def run(fn: Callable, *args, limit: float = TIME_LIMIT, **kwargs):
    """``("value", result)`` or ``("error", exception)`` or ``("hang", None)``."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "value", fn(*args, **kwargs)
    except Hang:
        return "hang", None
    except (Exception, SystemExit) as e:  # noqa: BLE001
        return "error", e
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        plt.close("all")


def error_class(e: BaseException, names, documented=DOCUMENTED) -> tuple[str, str]:
    from oaedu.check import CheckFailed

    if isinstance(e, CheckFailed) and CheckFailed in documented:  # a check that fails, fails: its name is the claim's
        return "clear", ""
    if isinstance(e, documented) and P._names(str(e), names):
        return "clear", ""
    return "obscure", f"{type(e).__name__}: {str(e)[:200]}"


# ------------------------------------------------------------------------------------------------ comparing results
def leaves(x, depth: int = 0) -> Iterator[object]:
    """The tensors and numbers inside a result (tuples, lists, dicts, NamedTuples, dataclasses, datasets)."""
    if depth > 4:
        return
    if isinstance(x, torch.Tensor):
        yield x.detach()
    elif isinstance(x, bool) or x is None or isinstance(x, str):
        yield x
    elif isinstance(x, (int, float, complex)):
        yield x
    elif isinstance(x, dict):
        for k in sorted(x, key=str):
            yield from leaves(x[k], depth + 1)
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from leaves(v, depth + 1)
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        for f in dataclasses.fields(x):
            yield from leaves(getattr(x, f.name), depth + 1)
    elif hasattr(x, "__dict__") and not isinstance(x, torch.nn.Module) and not callable(x):
        for _, v in sorted(vars(x).items()):
            if isinstance(v, (torch.Tensor, int, float)):
                yield from leaves(v, depth + 1)


def renamed_back(x):
    """Integer leaves with the ids above 2**24 of the "ids above 2**24" kind renamed back."""
    if isinstance(x, torch.Tensor) and not x.is_floating_point() and x.dtype != torch.bool:
        return torch.where(x >= 2**24, x - 2**24, x)
    return x


def same(a, b, rtol: float, atol: float, rename=None) -> bool:
    la, lb = list(leaves(a)), list(leaves(b))
    if rename is not None:
        la = [rename(x) for x in la]
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb, strict=True):
        if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
            if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)) or x.shape != y.shape:
                return False
            if x.is_complex() != y.is_complex():
                return False
            xd = x.to(torch.complex128 if x.is_complex() else torch.float64)
            yd = y.to(xd.dtype)
            if not torch.allclose(xd, yd, rtol=rtol, atol=atol, equal_nan=True):
                return False
        elif isinstance(x, (int, float)) and isinstance(y, (int, float)):
            if not math.isclose(float(x), float(y), rel_tol=rtol, abs_tol=atol) and not (x != x and y != y):
                return False
        elif x != y:
            return False
    return True


def finite(x) -> bool:
    for v in leaves(x):
        if isinstance(v, torch.Tensor) and (v.is_floating_point() or v.is_complex()):
            if not bool(torch.isfinite(v).all()):
                return False
        elif isinstance(v, float) and not math.isfinite(v):
            return False
    return True


def all_finite_input(call) -> bool:
    return all(P._finite(v) for v in call.bound().arguments.values())


# ------------------------------------------------------------------------------------------------ the examples
class Examples:
    """The probe's valid examples, made fresh (and seeded) for every call so that a model or a generator is the
    same in a mutated call and in its canonical call."""

    def __init__(self, table: dict):
        self.table = table
        self._det: dict[str, bool] = {}

    def make(self, name: str):
        torch.manual_seed(0)
        return self.table[name](P.fx())

    def call(self, name: str, arg: str | None = None, value=None, more: dict | None = None):
        c = self.make(name)
        bound = c.bound()
        if arg is not None:
            bound.arguments[arg] = value
        for k, v in (more or {}).items():
            bound.arguments[k] = v
        c.args, c.kwargs = bound.args, bound.kwargs
        torch.manual_seed(0)
        return c, run(c.fn, *c.args, **c.kwargs)

    def deterministic(self, name: str) -> bool:
        if name not in self._det:
            (_, a), (_, b) = self.call(name)[1], self.call(name)[1]
            self._det[name] = a is not None and same(a, b, 0.0, 0.0)
        return self._det[name]


# ------------------------------------------------------------------------------------------------ kinds
def _convert(v: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``v`` in ``dtype``; integer and bool targets from float values by rounding / thresholding."""
    if v.is_floating_point() and dtype == torch.bool:
        return v > (0.5 if bool((v >= 0).all()) else 0.0)
    if v.is_floating_point() and dtype in (torch.int64, torch.uint8):
        return (
            v.round().clamp(0 if dtype == torch.uint8 else -(2**31), 255 if dtype == torch.uint8 else 2**31).to(dtype)
        )
    if dtype == torch.uint8:
        return v.clamp(0, 255).to(dtype) if v.dtype != torch.bool else v.to(dtype)
    return v.to(dtype)


def dtype_variants(v: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor | None]]:
    """``{kind: (variant, canonical)}``: the canonical tensor holds the variant's values in ``v``'s dtype (None
    for complex: a complex tensor has no canonical real value and must be refused)."""
    out = {}
    for label, dt in DTYPES.items():
        if dt == v.dtype or v.numel() > 200_000:
            continue
        t = _convert(v.detach(), dt)
        canonical = None if t.is_complex() else (t != 0 if v.dtype == torch.bool else t.to(v.dtype))
        out[f"dtype {label}"] = (t, canonical)
    return out


def extreme_variants(name: str, arg: str, v: torch.Tensor) -> dict[str, torch.Tensor]:
    """Finite values near the limits of float32 and float16, and tiny (subnormal) ones."""
    if not v.is_floating_point() or v.numel() < 2:
        return {}
    out = {}
    for label, dt, big in (("±3e38 float32", torch.float32, 3e38), ("±6e4 float16", torch.float16, 6e4)):
        t = v.detach().to(dt).clone()
        flat = t.view(-1)
        flat[0], flat[1] = big, -big  # both extremes in the first map / row
        out[label] = t
    t = v.detach().double().clone()
    t.view(-1)[0], t.view(-1)[1] = 1e308, -1e308
    out["±1e308 float64"] = t
    out["tiny 1e-39"] = (v.detach().float() * 1e-39).to(torch.float32)
    if "log" in arg or "log" in name:
        t = v.detach().clone()
        t.view(-1, t.shape[-1])[0] = -1e30
        out["log mask row −1e30"] = t
        out["log mask all −inf"] = torch.full_like(v, -math.inf)
    return out


def tensor_args(call) -> dict[str, torch.Tensor]:
    return {a: v for a, v in call.bound().arguments.items() if isinstance(v, torch.Tensor)}


def pair_variants(call) -> Iterator[tuple[str, str, str, torch.Tensor]]:
    """``(arg, other, kind, variant of arg)``: ``arg`` made to disagree with ``other`` in batch, grid or dtype."""
    tensors = tensor_args(call)
    seen = set()
    for a, va in tensors.items():
        for b, vb in tensors.items():
            if a == b:
                continue
            if va.ndim and vb.ndim and va.shape[0] == vb.shape[0] >= 2 and (a, "batch") not in seen:
                seen.add((a, "batch"))
                yield a, b, "batch", va[:-1]
            grid = va.ndim >= 2 and vb.ndim >= 2 and va.shape[-2:] == vb.shape[-2:] and min(va.shape[-2:]) >= 2
            if grid and (a, "grid") not in seen:
                seen.add((a, "grid"))
                yield a, b, "grid", va[..., :-1]
            both = va.is_floating_point() and vb.is_floating_point() and va.dtype == vb.dtype == torch.float32
            if both and (a, "dtype") not in seen:
                seen.add((a, "dtype"))
                yield a, b, "dtype", va.double()


MIRRORED = {"data.crop_boxes"}  # an inverted box is a mirrored crop there (tested in tests/test_input_kinds.py)


def semantic_variants(name, kind, v) -> dict[str, tuple[object, str]]:
    """``{label: (bad value, expectation)}`` for an argument of a declared kind (:data:`oaedu.validate.KINDS`):
    ``"refuse"`` (accepting it is a silent wrong result), ``"same"`` (accepting it must give the valid example's
    result) or ``"accept"`` (a value inside the range: refusing it breaks the one rule of the kind)."""
    span = (kind.high or 1.0) - (kind.low or 0.0)
    out: dict[str, tuple[object, str]] = {}
    if kind.name == "seed" and isinstance(v, int):
        out["seed 2**64"] = (2**64, "refuse")
        out["seed high+1"] = (kind.high + 1, "refuse")
    elif kind.name == "crop scale" and isinstance(v, tuple):
        out["scale above 1"] = ((0.5, 2.0), "refuse")
        out["scale of zero area"] = ((0.0, 0.5), "refuse")
    elif isinstance(v, float) and kind.low is not None and kind.high is not None:
        out[f"{kind.name} {kind.high + 1.5 * span:g}"] = (kind.high + 1.5 * span, "refuse")
        out[f"{kind.name} {kind.low - 0.5 * span:g}"] = (kind.low - 0.5 * span, "refuse")
    elif kind.name == "fraction" and isinstance(v, torch.Tensor) and v.is_floating_point():
        out["fraction ×3"] = (v * 3 + 0.5, "refuse")
    elif kind.name == "box":
        boxes = [v] if isinstance(v, torch.Tensor) else list(v) if isinstance(v, list) else None
        if boxes and all(isinstance(b, torch.Tensor) for b in boxes):

            def each(fn):
                out = [fn(b.clone()) if b.numel() else b for b in boxes]
                return out[0] if isinstance(v, torch.Tensor) else out

            mirrors = name in MIRRORED
            out["box inverted"] = (each(lambda b: b[..., [2, 1, 0, 3]]), "accept" if mirrors else "refuse")
            out["box outside"] = (each(lambda b: b + 1.5), "refuse")
            out["box of zero area"] = (each(lambda b: torch.cat([b[..., :2], b[..., :2]], -1)), "refuse")
    elif kind.name == "binary map" and isinstance(v, torch.Tensor) and v.dtype == torch.bool:
        out["map with values 0 and 3"] = (v.long() * 3, "refuse")
    elif kind.name == "id map" and isinstance(v, torch.Tensor) and not v.is_floating_point():
        big = v.long() + (v > 0).long() * 2**24
        out["ids above 2**24"] = (big, "same")
        out["ids above 2**24 in float32"] = (big.float(), "refuse")
    return out


# ------------------------------------------------------------------------------------------------ the probe
INDEPENDENT = {  # (callable, argument): sizes that legitimately differ from the other tensors' sizes
    ("oamixer.attention", "v"): "v's feature size may differ from q's and k's (as in SDPA)",
    ("oamixer.attention_reference", "v"): "v's feature size may differ from q's and k's",
}
IGNORED = {  # (callable, argument): arguments the callable documents it ignores
    ("train.plain_forward", "masks"): "a forward that needs no masks (the step signature passes them)",
    ("check.shape", "tensor"): "only its shape is read",
}
IDS_TOO = {  # callables whose "masks" may be a bool mask or an integer id map (nearest resampling keeps ids)
    "data.paired_resize",
    "data.paired_hflip",
    "data.paired_random_resized_crop",
    "data.crop_boxes",
    "slots.two_views",
}


class Probe:
    def __init__(self, table: dict, names=None):
        self.ex = Examples(table)
        self.names = sorted(names or table)
        self.outcomes: list[Outcome] = []

    def add(self, name, arg, kind, cls, detail=""):
        self.outcomes.append(Outcome(name, arg, kind, cls, detail))

    def judge(self, name, c, arg, kind, got, aliases=()):
        """Classify a call that should fail clearly or give a finite result."""
        status, value = got
        if status == "hang":
            self.add(name, arg, kind, "hang")
            return None
        if status == "error":
            cls, detail = error_class(value, (arg, *aliases, *c.aliases.get(arg, ())), self.documented(name))
            self.add(name, arg, kind, cls, detail)
            return None
        return value

    @staticmethod
    def documented(name):
        from oaedu import check

        return DOCUMENTED + ((check.CheckFailed,) if name.startswith("check.") else ())

    def run_all(self):
        from oaedu import validate

        for name in self.names:
            base_call, (status, base) = self.ex.call(name)
            if status != "value":
                self.add(name, "-", "valid example", "obscure" if status == "error" else "hang", repr(base))
                continue
            det = self.ex.deterministic(name)
            args = base_call.bound().arguments
            slow = name in SLOW
            for arg, v in args.items():
                if (name, arg) in IGNORED:
                    continue
                if isinstance(v, torch.Tensor) and not slow:
                    self.dtypes(name, arg, v, base, det)
                    self.extremes(name, arg, v)
                if isinstance(v, int) and not isinstance(v, bool):
                    self.huge(name, arg)
                for kind in validate.KINDS.values():
                    if arg in kind.parameters:
                        if kind.name == "binary map" and name in IDS_TOO:
                            kind = validate.KINDS["id map"]
                        self.meaning(name, arg, kind, v, base, det)
            if not slow:
                self.pairs(name, base_call, base, det)
        return self.outcomes

    def dtypes(self, name, arg, v, base, det):
        for kind, (variant, canonical) in dtype_variants(v).items():
            c, got = self.ex.call(name, arg, variant)
            value = self.judge(name, c, arg, kind, got)
            if got[0] != "value":
                continue
            if canonical is None:
                self.add(name, arg, kind, "silent", "a complex tensor accepted (its imaginary part dropped)")
                continue
            if not finite(value):
                self.add(name, arg, kind, "silent", "NaN or inf from finite input")
                continue
            if not det:
                self.add(name, arg, kind, "ok", "accepted (not deterministic: not compared)")
                continue
            _, (cs, cv) = self.ex.call(name, arg, canonical)
            if cs != "value":
                self.add(name, arg, kind, "ok", "accepted; the canonical call fails")
                continue
            tol = (5e-2, 5e-2) if variant.dtype in (torch.float16, torch.bfloat16) else (1e-3, 1e-4)
            if same(value, cv, *tol):
                self.add(name, arg, kind, "ok")
            else:
                self.add(name, arg, kind, "silent", "differs from the same values in the argument's own dtype")

    def extremes(self, name, arg, v):
        for kind, variant in extreme_variants(name, arg, v).items():
            c, got = self.ex.call(name, arg, variant)
            value = self.judge(name, c, arg, kind, got)
            if got[0] == "value":
                ok = finite(value)
                self.add(name, arg, kind, "ok" if ok else "silent", "" if ok else "NaN or inf from finite input")

    def huge(self, name, arg):
        """A size or count of 2**40: refused at once (or done at once), never a terabyte allocation or a loop
        that does not end."""
        c, got = self.ex.call(name, arg, HUGE)
        value = self.judge(name, c, arg, "huge int 2**40", got)
        if got[0] == "value":
            self.add(name, arg, "huge int 2**40", "ok" if finite(value) else "silent", "")

    def pairs(self, name, base_call, base, det):
        for arg, other, kind, variant in pair_variants(base_call):
            c, got = self.ex.call(name, arg, variant)
            value = self.judge(name, c, arg, f"{kind} disagrees with {other}", got, aliases=(other,))
            if got[0] != "value":
                continue
            label = f"{kind} disagrees with {other}"
            if kind == "dtype":
                good = (not det) or same(value, base, 1e-3, 1e-4)
                self.add(name, arg, label, "ok" if good else "silent", "" if good else "differs from float32")
            elif (name, arg) in INDEPENDENT or (name, other) in IGNORED or (name, arg) in IGNORED:
                self.add(name, arg, label, "ok")
            else:
                self.add(name, arg, label, "silent", "accepted")

    def meaning(self, name, arg, kind, v, base, det):
        for label, (bad, expect) in semantic_variants(name, kind, v).items():
            label = f"[{kind.name}] {label}"
            c, got = self.ex.call(name, arg, bad)
            value = self.judge(name, c, arg, label, got)
            if got[0] != "value":
                continue
            if expect == "refuse":
                self.add(name, arg, label, "silent", f"accepted outside {kind.what}")
            elif expect == "same" and det and not same(value, base, 1e-6, 1e-6, rename=renamed_back):
                self.add(name, arg, label, "silent", "a different result for renamed ids")
            else:
                self.add(name, arg, label, "ok")

    def twins(self):
        """A reference and its fast twin on the same extreme or converted input: agree, or both refuse."""
        for ref in [n for n in self.names if n.endswith("_reference")]:
            fast = ref.removesuffix("_reference")
            if fast not in self.ex.table:
                continue
            fcall = self.ex.make(fast)
            fargs = fcall.bound().arguments
            rargs = set(self._sig(ref))
            shared = {a: v for a, v in fargs.items() if a in rargs}
            overrides = {**shared, **TWIN_OVERRIDES.get(ref, {})}
            for arg, v in shared.items():
                if not isinstance(v, torch.Tensor):
                    continue
                variants = {**extreme_variants(fast, arg, v)}
                variants.update({k: t for k, (t, _) in dtype_variants(v).items()})
                for kind, variant in variants.items():
                    _, a = self.ex.call(fast, arg, variant)
                    _, b = self.ex.call(ref, arg, variant, more={k: x for k, x in overrides.items() if k != arg})
                    label = f"twins {kind}"
                    if "hang" in (a[0], b[0]):
                        self.add(fast, arg, label, "hang")
                    elif a[0] == b[0] == "error":
                        self.add(fast, arg, label, "clear")
                    elif a[0] != b[0]:
                        which = f"{fast} {'refuses' if a[0] == 'error' else 'returns'}, the reference " + (
                            "refuses" if b[0] == "error" else "returns"
                        )
                        self.add(
                            fast, arg, label, "silent", f"twins disagree: {which}: {a[1] if a[0] == 'error' else b[1]}"
                        )
                    elif not same(a[1], b[1], *_tolerance(variant)):
                        self.add(fast, arg, label, "silent", "twins return different values")
                    else:
                        self.add(fast, arg, label, "ok")

    def _sig(self, name):
        import inspect

        c = self.ex.make(name)
        return inspect.signature(c.name_of or c.fn).parameters


def _tolerance(t: torch.Tensor) -> tuple[float, float]:
    return (5e-2, 5e-2) if t.dtype in (torch.float16, torch.bfloat16) else (1e-3, 1e-4)


TWIN_OVERRIDES = {"oamixer.attention_reference": {"mask": None}, "oamixer.conv_mixing_reference": {"mask": None}}


def counts(outcomes) -> Counter:
    return Counter({c: 0 for c in CLASSES}) + Counter(o.cls for o in outcomes) + Counter()


def report(outcomes) -> str:
    c = Counter(o.cls for o in outcomes)
    lines = [" ".join(f"{k}={c.get(k, 0)}" for k in CLASSES)]
    lines += [str(o) for o in outcomes if o.cls in ("silent", "obscure", "hang")]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ checks, stats, CLI
def check_vacuity_cases() -> list[tuple[str, Callable]]:
    """Inputs on which every check of :mod:`oaedu.check` must fail (CheckFailed, or a TypeError/ValueError): no
    check passes on nothing, on text, on a complex number or on NaN."""
    import torch as t

    from oaedu import check as ck

    nan = float("nan")
    empties = ([], (), t.zeros(0), t.zeros(2, 0))
    cases = []
    for v in (*empties, "False", "", "0", None, nan, 1 + 0j, t.tensor(False), [True, False], t.tensor([1 + 2j])):
        cases.append((f"true({v!r})"[:40], lambda v=v: ck.true("c", v, quiet=True)))
    for a, e in (
        *((x, x) for x in empties),
        (1 + 1j, 1 + 2j),
        (t.tensor([1 + 1j]), t.tensor([1 + 5j])),
        ("1", "1"),
        ([[]], [[]]),
        (None, None),
        ([nan], [nan]),
    ):
        cases.append((f"close({a!r}, {e!r})"[:40], lambda a=a, e=e: ck.close("c", a, e, quiet=True)))
    for v in (*empties, "abc", None, t.tensor([1 + 2j]), [1 + 2j]):
        cases.append((f"finite({v!r})"[:40], lambda v=v: ck.finite("c", v, quiet=True)))
    for a, b in (("3", 1.0), ([], 1.0), (1 + 0j, 0.0), (None, 0.0), (t.zeros(0), 0.0), (2.0, [])):
        cases.append((f"greater({a!r}, {b!r})"[:40], lambda a=a, b=b: ck.greater("c", a, b, quiet=True)))
        cases.append((f"less({b!r}, {a!r})"[:40], lambda a=a, b=b: ck.less("c", b, a, quiet=True)))
    for v in ("0.5", [], 0.5 + 0j, t.zeros(0), None):
        cases.append((f"between({v!r})"[:40], lambda v=v: ck.between("c", v, 0.0, 1.0, quiet=True)))
    for n, d in (("8", 2.0), (8 + 0j, 2.0), ([], 2.0), (8.0, t.zeros(0))):
        cases.append((f"ratio_at_least({n!r})"[:40], lambda n=n, d=d: ck.ratio_at_least("c", n, d, 2.0, quiet=True)))
    for tr, co in (([], []), ("123", "012"), ([1.0, 1.2, 0.9], "000"), ([1 + 0j] * 3, [0.0] * 3)):
        cases.append((f"effect({tr!r})"[:40], lambda tr=tr, co=co: ck.effect("c", tr, co, quiet=True)))
    cases.append(
        ("effect(direction=True)", lambda: ck.effect("c", [1.0, 1.2, 0.9], [0.0] * 3, direction=True, quiet=True))
    )
    for tensor, expected in ((t.zeros(2, 3), "ab"), ([], (0,)), ("ab", (2,)), (t.zeros(2), None)):
        cases.append(
            (f"shape({tensor!r}, {expected!r})"[:40], lambda a=tensor, e=expected: ck.shape("c", a, e, quiet=True))
        )
    return cases


def probe_checks(add) -> None:
    from oaedu.check import CheckFailed

    for label, fn in check_vacuity_cases():
        status, value = run(fn)
        name = "check." + label.split("(")[0]
        if status == "hang":
            add(name, "-", label, "hang")
        elif status == "value":
            add(name, "-", label, "silent", "passed on nothing / on a non-number")
        elif isinstance(value, (CheckFailed, TypeError, ValueError)):
            add(name, "-", label, "clear")
        else:
            add(name, "-", label, "obscure", f"{type(value).__name__}: {value}")


def stats_cases():
    from oaedu import leaderboard, plotting, reproduce, stats
    from oaedu.data import VARIANTS

    big = 1e308
    acc = {m: 50.0 for m in leaderboard.METRICS}
    entry = leaderboard.Entry({**acc, "original": 250.0}, 1.0)
    good = leaderboard.Entry(acc, 1.0)
    return [
        (
            "leaderboard.summarise",
            "results",
            "accuracy 250 %",
            lambda: leaderboard.summarise({"baseline": [entry]}),
            "refuse",
        ),
        (
            "leaderboard.effects",
            "results",
            "accuracy 250 %",
            lambda: leaderboard.effects({"OAMixer": [entry] * 3, "baseline": [good] * 3}, "original"),
            "refuse",
        ),
        (
            "plotting.plot_background_challenge",
            "results",
            "accuracy 250 %",
            lambda: plotting.plot_background_challenge({"vit": {**{v: 50.0 for v in VARIANTS}, "bg_gap": 250.0}}),
            "refuse",
        ),
        ("stats.mean_std", "values", '"12"', lambda: stats.mean_std("12"), "refuse"),
        ("stats.mean_std", "values", "b'12'", lambda: stats.mean_std(b"12"), "refuse"),
        ("stats.mean_std", "values", "bools", lambda: stats.mean_std([True, False]), "refuse"),
        ("stats.mean_std", "values", "complex", lambda: stats.mean_std([1 + 1j, 2]), "refuse"),
        ("stats.mean_std", "values", "±1e308", lambda: stats.mean_std([big, -big]), "finite"),
        ("stats.mean_std", "values", "1e308 ×2", lambda: stats.mean_std([big, big, big * 0.5]), "finite"),
        ("stats.effect", "treated", "±1e308", lambda: stats.effect([big, -big, big], [0.0, 0.0, 0.0]), "finite"),
        ("stats.effect", "treated", '"123"', lambda: stats.effect("123", "012"), "refuse"),
        (
            "reproduce.summarise",
            "per_seed",
            "other keys",
            lambda: reproduce.summarise([{"a": 1.0, "b": 2.0}, {"a": 2.0, "c": 1.0}]),
            "refuse",
        ),
        (
            "reproduce.summarise",
            "per_seed",
            "non-float values",
            lambda: reproduce.summarise([{"a": 1.0, "b": 1.0}, {"a": 2.0, "b": "1.0"}]),
            "refuse",
        ),
        (
            "reproduce.summarise",
            "per_seed",
            "numpy and tensor numbers",
            lambda: reproduce.summarise([{"a": __import__("numpy").float32(1.0)}, {"a": torch.tensor(2.0)}]),
            "keep a",
        ),
        ("reproduce.summarise", "per_seed", "±1e308", lambda: reproduce.summarise([{"a": big}, {"a": -big}]), "finite"),
    ]


def probe_stats(add) -> None:
    for name, arg, label, fn, expect in stats_cases():
        status, value = run(fn)
        if status == "hang":
            add(name, arg, label, "hang")
        elif status == "error":
            cls, detail = error_class(value, (arg, name.split(".")[-1]))
            if expect == "keep a":
                cls, detail = "silent", f"refused numbers: {value}"
            add(name, arg, label, cls, detail)
        elif expect == "refuse":
            add(name, arg, label, "silent", f"accepted: {value!r}"[:120])
        elif expect == "keep a":
            ok = "a" in value and value["a"]["n"] == 2
            add(name, arg, label, "ok" if ok else "silent", "" if ok else f"dropped: {value!r}")
        else:
            ok = finite(value) and all(math.isfinite(float(x)) for x in leaves(value) if isinstance(x, float))
            add(name, arg, label, "ok" if ok else "silent", "" if ok else f"non-finite: {value!r}")


def cli_cases(tmp):
    """``(label, argv, env)``: a user's mistake at the command line; each must end with one line and exit 2."""
    import json

    tmp.mkdir(parents=True, exist_ok=True)
    a_file = tmp / "a_file.txt"
    a_file.write_text("x")
    nocells = tmp / "nocells"
    nocells.mkdir(exist_ok=True)
    (nocells / "01_x.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}}))
    garbage_nb = tmp / "garbage_nb"
    garbage_nb.mkdir(exist_ok=True)
    (garbage_nb / "01_x.ipynb").write_text("{not json")
    garbage = tmp / "garbage.tfrecords"
    garbage.write_bytes(bytes(range(256)) * 8)
    import gzip

    truncated = tmp / "truncated.tfrecords"
    truncated.write_bytes(gzip.compress(bytes(range(256)) * 64)[:200])
    empty = tmp / "empty.tfrecords"
    empty.write_bytes(b"")
    missing = str(tmp / "missing")
    nb = str(P.NOTEBOOKS)
    return [
        ("student --out a file", ["student", "--notebooks", nb, "--out", str(a_file)], {}),
        ("student --notebooks missing", ["student", "--notebooks", missing, "--out", str(tmp / "s")], {}),
        ("student --notebooks a file", ["student", "--notebooks", str(a_file), "--out", str(tmp / "s")], {}),
        ("student notebook without cells", ["student", "--notebooks", str(nocells), "--out", str(tmp / "s2")], {}),
        ("student notebook not JSON", ["student", "--notebooks", str(garbage_nb), "--out", str(tmp / "s3")], {}),
        ("headers --notebooks missing", ["headers", "--check", "--notebooks", missing], {}),
        ("headers notebook without cells", ["headers", "--check", "--notebooks", str(nocells)], {}),
        ("headers notebook not JSON", ["headers", "--check", "--notebooks", str(garbage_nb)], {}),
        ("reproduce --notebooks missing", ["reproduce", "oamixer", "--notebooks", missing, "--out", str(tmp)], {}),
        ("reproduce --out a file", ["reproduce", "oamixer", "--profile", "smoke", "--out", str(a_file)], {}),
        ("reproduce notebook without cells", ["reproduce", "oamixer", "--notebooks", str(nocells)], {}),
        ("convert-clevr garbage", ["convert-clevr", str(garbage), str(tmp / "clevr")], {}),
        ("convert-clevr missing", ["convert-clevr", missing, str(tmp / "clevr")], {}),
        ("convert-clevr out a file", ["convert-clevr", str(garbage), str(a_file)], {}),
        ("convert-clevr truncated gzip", ["convert-clevr", str(truncated), str(tmp / "clevr")], {}),
        ("convert-clevr empty file", ["convert-clevr", str(empty), str(tmp / "clevr")], {}),
        ("convert-clevr a folder", ["convert-clevr", str(tmp), str(tmp / "clevr")], {}),
        ("headers --notebooks a file", ["headers", "--check", "--notebooks", str(a_file)], {}),
        ("reproduce --notebooks a file", ["reproduce", "oamixer", "--notebooks", str(a_file)], {}),
        ("env OAEDU_THREADS=0", ["env"], {"OAEDU_THREADS": "0"}),
        ("env OAEDU_THREADS=-1", ["env"], {"OAEDU_THREADS": "-1"}),
        ("env OAEDU_THREADS=10**9", ["env"], {"OAEDU_THREADS": "1000000000"}),
        ("env OAEDU_DEVICE=cuda:99", ["env"], {"OAEDU_DEVICE": "cuda:99"}),
        ("reproduce --seeds 0", ["reproduce", "oamixer", "--seeds", "0"], {}),
        ("reproduce --profile bad", ["reproduce", "oamixer", "--profile", "fast"], {}),
        ("env OAEDU_THREADS=abc", ["env"], {"OAEDU_THREADS": "abc"}),
        ("env OAEDU_DEVICE=gpu9", ["env"], {"OAEDU_DEVICE": "gpu9"}),
        ("env OAEDU_PROFILE=fast", ["env"], {"OAEDU_PROFILE": "fast"}),
        ("reproduce OAEDU_PROFILE=fast", ["reproduce", "oamixer", "--out", str(tmp / "r")], {"OAEDU_PROFILE": "fast"}),
    ]


def probe_cli(add, tmp) -> None:
    import contextlib
    import io
    import os

    from oaedu.__main__ import main

    for label, argv, env in cli_cases(tmp):
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        err, out = io.StringIO(), io.StringIO()
        threads = torch.get_num_threads()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                status, value = run(main, argv, limit=20.0)
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
            torch.set_num_threads(threads)
        name = "cli." + argv[0]
        message = err.getvalue().strip().splitlines()
        if status == "hang":
            add(name, "-", label, "hang")
        elif (
            status == "error"
            and isinstance(value, SystemExit)
            and value.code == 2
            and "Traceback" not in err.getvalue()
        ):
            add(name, "-", label, "clear")
        elif status == "error":
            add(name, "-", label, "obscure", f"{type(value).__name__}: {str(value)[:150]} {message[-1:]}")
        else:
            add(name, "-", label, "silent", f"exit {value}: {out.getvalue().strip()[-120:]}")


def complexity_cases():
    """Readable references that enumerate (permutations, rectangles): a size they cannot finish must be refused
    quickly, with the limit in the message."""
    from oaedu import contracam, metrics, slots
    from oaedu.maps import connected_components_reference

    g = torch.Generator().manual_seed(0)
    return [
        (
            "slots.hungarian_match_reference",
            "cost",
            "K=11",
            lambda: slots.hungarian_match_reference(torch.rand(1, 11, 11, generator=g)),
        ),
        (
            "slots.hungarian_match_reference",
            "cost",
            "K=14",
            lambda: slots.hungarian_match_reference(torch.rand(1, 14, 14, generator=g)),
        ),
        (
            "contracam.largest_empty_rectangle_reference",
            "mask",
            "256×256",
            lambda: contracam.largest_empty_rectangle_reference(torch.rand(1, 256, 256, generator=g) > 0.999),
        ),
        (
            "maps.connected_components_reference",
            "mask",
            "512×512",
            lambda: connected_components_reference(torch.rand(1, 512, 512, generator=g) > 0.5),
        ),
        (
            "metrics.adjusted_rand_index_reference",
            "true",
            "10^5 points",
            lambda: metrics.adjusted_rand_index_reference(
                torch.randint(0, 50, (1, 100_000), generator=g), torch.randint(0, 50, (1, 100_000), generator=g)
            ),
        ),
        (
            "slots.otsu_threshold_reference",
            "maps",
            "10^5 values",
            lambda: slots.otsu_threshold_reference(torch.rand(1, 100_000, generator=g)),
        ),
    ]


def probe_complexity(add) -> None:
    for name, arg, label, fn in complexity_cases():
        status, value = run(fn, limit=TIME_LIMIT)
        if status == "hang":
            add(name, arg, label, "hang", f"over {TIME_LIMIT} s")
        elif status == "error":
            cls, detail = error_class(value, (arg,))
            add(name, arg, label, cls, detail)
        else:
            add(name, arg, label, "ok" if finite(value) else "silent")

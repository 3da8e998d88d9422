"""Every exercise's check passes on the notebook's solution and fails on the student's stub and on a plausible
wrong answer; the messages say what is wrong without giving the answer.

The solutions are the ``solution`` cells of notebooks/ (run with the notebook's own imports); the stubs are those
of the student copies that git stores; the wrong answers are written here, one mistake a student could make each.
"""

import ast
import json
import re
from pathlib import Path

import pytest
import torch

from oaedu import exercises
from oaedu.exercises import EXERCISES, ExerciseFailed
from oaedu.notebook import stored_in_git

ROOT = Path(__file__).resolve().parents[1]
CHECK = re.compile(r'exercises\.check\("(\w+)", (\w+)\)')


def _cells(folder: str, notebook: str) -> list[dict]:
    path = ROOT / folder / f"{notebook}.ipynb"
    return json.loads(stored_in_git(path) or path.read_text())["cells"]


def _src(cell: dict) -> str:
    return "".join(cell["source"])


def _imports(cells: list[dict]) -> str:
    """The notebook's import statements, which its solution cells rely on (``torch``, ``F``, ``minmax``, …)."""
    lines = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        code = "\n".join(re.sub(r"^(\s*)[%!].*", r"\1pass", line) for line in _src(cell).splitlines())
        for node in ast.parse(code).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                lines.append(ast.unparse(node))
    return "\n".join(lines)


def _exercise_cells(folder: str, notebook: str) -> tuple[str, list[tuple[str, str, str]]]:
    """The imports and, per exercise in order, ``(name, function name, source of the cell before the check)``."""
    cells = _cells(folder, notebook)
    found = []
    for i, cell in enumerate(cells):
        for name, fn in CHECK.findall(_src(cell)) if cell["cell_type"] == "code" else []:
            found.append((name, fn, _src(cells[i - 1])))
    return _imports(cells), found


def _namespace(imports: str, *sources: str) -> dict:
    ns: dict = {}
    exec(imports, ns)
    for source in sources:
        exec(source, ns)
    return ns


NOTEBOOKS = sorted({ex.notebook for ex in EXERCISES.values()})


def test_every_exercise_has_a_check_cell_in_its_notebook_and_nowhere_else():
    seen = {}
    for notebook in NOTEBOOKS:
        for name, _, _ in _exercise_cells("notebooks", notebook)[1]:
            assert name not in seen, f"{name} is checked twice"
            seen[name] = notebook
    assert seen == {name: ex.notebook for name, ex in EXERCISES.items()}


def test_the_paper_notebooks_have_three_to_five_exercises_and_the_others_one_or_two():
    for notebook in NOTEBOOKS:
        count = sum(ex.notebook == notebook for ex in EXERCISES.values())
        paper = notebook[:2] in {"02", "03", "04", "05", "06"}
        assert (3 <= count <= 5) if paper else (1 <= count <= 2), (notebook, count)


# One plausible mistake per exercise: the same function name, a wrong body.
WRONG = {
    "foreground_share": "def foreground_share(masks):\n    return masks.float().sum().item() / masks.shape[0]",
    "bg_gap": "def bg_gap_of(row):\n    return row['original'] - row['mixed_rand']",
    "oamixer_mask": (
        "def object_mask(labels, kappa):\n    y = labels[..., 0]\n"
        "    return torch.exp(-kappa * (y[:, :, None] - y[:, None, :]))"  # no absolute value
    ),
    "oamixer_attention": (
        "def masked_attention(q, k, v, log_mask):\n"  # the 1/√d scaling forgotten
        "    return torch.softmax(q @ k.transpose(-2, -1) + log_mask[:, None], dim=-1) @ v"
    ),
    "linear_log_mask": (
        "def linear_log_mask(labels, kappa):\n"  # κ not clamped
        "    return (1.0 - kappa * pairwise_distance(labels, 'l1')).clamp_min(1e-6).log()"
    ),
    "oamixer_token_mixing": (
        "def token_mixing(f_x, x, lin, mask):\n"  # only the masked linear part, the remainder f(x) − Lx dropped
        "    return torch.einsum('bij,bcj->bci', mask * lin, x)"
    ),
    "sar_threshold": "def threshold_scores(S):\n    return torch.relu(S - S.mean())",  # the mean of the whole batch
    "blob_probabilities": (
        "def blob_probabilities(B, labels):\n"  # cell counts instead of masses
        "    counts = torch.bincount(labels.flatten())[1:].to(B.dtype)\n    return counts / counts.sum()"
    ),
    "entropy": "def blob_entropy(p):\n    return -(p * p.log()).sum()",  # 0·log 0 gives NaN
    "spatial_entropy": (
        "def my_spatial_entropy(S):\n"  # thresholded at 0 instead of the mean
        "    return torch.stack([blob_entropy(blob_probabilities(torch.relu(s), connected_components(s > 0))) "
        "for s in S])"
    ),
    "contrastive_score": (
        "def contrastive_score(q, keys, tau):\n"  # the positive left out of the denominator
        "    logits = q @ keys.T / tau\n"
        "    others = logits.masked_fill(torch.eye(len(q), dtype=torch.bool), float('-inf'))\n"
        "    return logits.diagonal() - torch.logsumexp(others, dim=1)"
    ),
    "cam_step": (
        "def cam_step(acts, grads):\n"  # Grad-CAM without negative-signal removal
        "    return (grads.mean(dim=(2, 3), keepdim=True) * acts).sum(1).clamp_min(0)"
    ),
    "bg_mixup": (
        "def bg_mixup(images, cams, backgrounds):\n"  # the two weights swapped
        "    return (1 - cams[:, None]) * images + cams[:, None] * backgrounds"
    ),
    "rollout_step": (
        "def rollout_step(R, attn, grad):\n"  # head mean before the positive part
        "    return R + (grad * attn).mean(dim=1).clamp(min=0) @ R"
    ),
    "background_loss": (
        "def background_loss(relevance, fg_mask):\n"  # not normalised
        "    return (relevance * (1 - fg_mask.to(relevance.dtype))).square().mean()"
    ),
    "foreground_loss": (
        "def foreground_loss(relevance, fg_mask):\n"  # the printed target 1 instead of the released S
        "    r, s = minmax(relevance), fg_mask.to(relevance.dtype)\n    return (r * s - 1).square().mean()"
    ),
    "slot_softmax": "def slot_softmax(phi):\n    return torch.softmax(phi, dim=-1)",  # over the patches
    "slot_update": (
        "def slot_update(attn, v, eps=1e-8):\n    return attn @ v"  # a weighted sum, not a weighted mean
    ),
    "hungarian_pairing": (
        "def hungarian_pairing(cost):\n"  # greedy, row by row
        "    out = []\n"
        "    for c in cost:\n"
        "        free, row = list(range(c.shape[1])), []\n"
        "        for k in range(c.shape[0]):\n"
        "            j = min(free, key=lambda j: c[k, j].item())\n"
        "            free.remove(j)\n"
        "            row.append(j)\n"
        "        out.append(row)\n"
        "    return torch.tensor(out)"
    ),
    "ctrimg_loss": (
        "def ctrimg_loss(p0, p1, perm, tau=0.1):\n"  # the matching ignored: slot i paired with slot i
        "    b, k, _ = p0.shape\n"
        "    z = F.normalize(torch.cat([p0, p1], dim=1), dim=-1)\n"
        "    logits = (z @ z.transpose(1, 2) / tau).masked_fill(torch.eye(2 * k, dtype=torch.bool), float('-inf'))\n"
        "    target = torch.cat([k + torch.arange(k), torch.arange(k)]).expand(b, -1)\n"
        "    return F.cross_entropy(logits.reshape(-1, 2 * k), target.reshape(-1))"
    ),
    "relative_robustness": (
        "def relative_robustness(table):\n    return {n: r['original'] / r['mixed_rand'] for n, r in table.items()}"
    ),
}


def test_every_exercise_has_a_wrong_answer_here():
    assert set(WRONG) == set(EXERCISES)


CASES = [
    (notebook, i) for notebook in NOTEBOOKS for i in range(sum(e.notebook == notebook for e in EXERCISES.values()))
]


@pytest.mark.parametrize("notebook,index", CASES, ids=lambda v: str(v))
def test_check_passes_on_the_solution_fails_on_the_stub_and_on_a_wrong_answer(notebook, index, capsys):
    imports, solved = _exercise_cells("notebooks", notebook)
    _, stubs = _exercise_cells("student", notebook)
    assert [s[:2] for s in stubs] == [s[:2] for s in solved], "student copy is stale: run `make student`"
    name, fn, solution = solved[index]
    earlier = [s[2] for s in solved[:index]]  # a later exercise may build on the earlier solutions
    # the solution passes, and a check cell holds no answer: it names the exercise and the function only
    ns = _namespace(imports, *earlier, solution)
    exercises.check(name, ns[fn])
    assert f"✓ {name}" in capsys.readouterr().out
    assert "### BEGIN SOLUTION" in solution and "### END SOLUTION" in solution
    # the stub: a function that raises until the student writes it
    stub = stubs[index][2]
    assert "### BEGIN SOLUTION" not in stub and "raise NotImplementedError" in stub
    ns = _namespace(imports, *earlier, stub)
    with pytest.raises(NotImplementedError):
        exercises.check(name, ns[fn])
    assert exercises.use(name, ns[fn]) is EXERCISES[name].reference  # later cells fall back to the package
    # the wrong answer: the message says what differs and gives the hint
    ns = _namespace(imports, *earlier, WRONG[name])
    with pytest.raises(ExerciseFailed) as failed:
        exercises.check(name, ns[fn])
    message = str(failed.value)
    assert name in message and "hint:" in message and re.search(r"input \d of \d", message)
    assert re.search(r"differ|value:|NaN|entry|keys|shape|dtype", message), message


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_check_cells_hold_no_answer(notebook):
    cells = _cells("notebooks", notebook)
    for i, cell in enumerate(cells):
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade"):
            assert CHECK.search(_src(cell)), f"{notebook}: a grade cell that is not an exercises.check"
            assert "BEGIN SOLUTION" not in _src(cell)
            previous = cells[i - 1]["metadata"].get("nbgrader", {})
            assert previous.get("solution") and "solution" in cells[i - 1]["metadata"].get("tags", [])


def _fail(name, fn):
    with pytest.raises(ExerciseFailed) as failed:
        exercises.check(name, fn)
    return str(failed.value)


def test_messages_name_shape_dtype_type_and_differing_entries():
    assert "shape: got" in _fail("oamixer_mask", lambda labels, kappa: labels)
    assert "dtype: got torch.float32, expected torch.float64" in _fail(
        "sar_threshold", lambda s: torch.relu(s - s.mean((-2, -1), keepdim=True)).float()
    )
    assert "dtype: got torch.float32, expected torch.int64" in _fail(
        "hungarian_pairing", lambda c: c.argmin(-1).float()
    )
    assert "type: got NoneType, expected a torch.Tensor" in _fail("slot_softmax", lambda phi: None)
    message = _fail("slot_softmax", lambda phi: phi.softmax(1) + (phi > 2.5) * 0.25)
    assert re.search(r"\d+ of \d+ entries differ, the largest by 0\.25 at index \[", message)
    assert "NaN" in _fail("entropy", lambda p: -(p * p.log()).sum())
    assert "changed its input 1 in place" in _fail("slot_softmax", lambda phi: phi.copy_(phi.softmax(1)))


def test_use_gives_the_students_function_once_it_passes(capsys):
    def mine(phi):
        return phi.softmax(dim=1)

    assert exercises.use("slot_softmax", mine) is mine
    assert "using your mine" in capsys.readouterr().out


def test_bad_names_and_functions_are_refused():
    with pytest.raises(ValueError, match="name must be one of the exercises"):
        exercises.check("no_such_exercise", print)
    with pytest.raises(TypeError, match="fn must be your function"):
        exercises.check("slot_softmax", 3)

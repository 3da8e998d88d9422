# Two commands on a fresh machine: `make lab` opens the course, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.oaedu-installed
NB_TIMEOUT ?= 900
# PyPI's torch brings CUDA libraries (a ~6 GB .venv). On a machine without an NVIDIA GPU, a CPU build is
# much smaller: make lab TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
export OMP_NUM_THREADS ?= 2
export MPLBACKEND ?= Agg
# Containers (Docker, some cloud shells) run as root, which JupyterLab refuses without this flag.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)
LAB := MPLBACKEND=module://matplotlib_inline.backend_inline $(BIN)/jupyter lab $(LAB_ARGS)

.PHONY: setup git-filter lab exercises test lint unit notebooks bench student headers clean

# Editable in compat mode: the clone's folder goes on sys.path, so `python -m oaedu` also works from the folder
# above a clone named oaedu (with setuptools' default editable finder, that folder shadows the package).
# [lab] is JupyterLab (make lab, make exercises); Colab installs the package without it.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(if $(TORCH_INDEX),$(BIN)/python -m pip install --quiet --index-url $(TORCH_INDEX) torch torchvision)
	$(BIN)/python -m pip install --quiet -e '.[dev,lab]' --config-settings editable_mode=compat
	touch $(STAMP)

setup: $(STAMP) git-filter

# Outputs never reach a commit: git stores notebooks through nbstripout (.gitattributes), without outputs and
# without the metadata that running a notebook rewrites (the kernel's language_info, editors' own keys), so
# opening or running a notebook never changes what git stores. The command is relative to the work tree, so
# every clone and worktree uses its own .venv.
NBSTRIPOUT := -m nbstripout --keep-id --extra-keys "metadata.language_info metadata.vscode metadata.colab"
git-filter:
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git config filter.nbstripout.clean '$(BIN)/python $(NBSTRIPOUT)' && \
		git config filter.nbstripout.smudge cat && \
		git config diff.ipynb.textconv '$(BIN)/python $(NBSTRIPOUT) -t'; \
	fi

# The course (the notebooks with their solutions).
lab: setup
	$(LAB) notebooks/

# Students: the exercise copies in student/, yours to edit (`make student` never overwrites your changes).
# Under the smoke profile unless you ask for another: make exercises OAEDU_PROFILE=cpu
exercises: OAEDU_PROFILE ?= smoke
exercises: setup
	OAEDU_PROFILE=$(OAEDU_PROFILE) $(LAB) student/

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# make test: ruff, the unit tests on UNIT_WORKERS pytest-xdist workers (one torch thread each; the tests that start
# Jupyter kernels share one worker, see conftest.py), then the notebooks.
UNIT_WORKERS ?= 2
unit: setup
	OMP_NUM_THREADS=1 OAEDU_THREADS=1 $(BIN)/python -m pytest tests -q -n $(UNIT_WORKERS) --dist loadgroup \
		-p no:cacheprovider --durations=20

notebooks: setup
	OAEDU_PROFILE=smoke $(BIN)/python -m pytest notebooks -q -p no:cacheprovider --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=$(NB_TIMEOUT) --nbval-sanitize-with tests/nbval_sanitize.cfg --durations=0

test: lint unit notebooks

# Maintainers, after editing notebooks/: nbgrader regenerates the student copies (a copy a person edited is
# left alone, with a message).
student: setup
	$(BIN)/python -m oaedu student

# Maintainers, after changing [project.urls] Repository in pyproject.toml: regenerate badges and Colab cells.
headers: setup
	$(BIN)/python -m oaedu headers

# Timings do not belong in `make test`: the goals of docs/benchmarks.md are checked here (--check).
bench: setup
	$(BIN)/python -m oaedu.bench --check --markdown docs/benchmarks.md

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Two commands on a fresh machine: `make lab` opens the course, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.oaedu-installed
NB_TIMEOUT ?= 900
export OMP_NUM_THREADS ?= 2
export MPLBACKEND ?= Agg
# Containers (Docker, some cloud shells) run as root, which JupyterLab refuses without this flag.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: setup lab test lint unit notebooks bench student clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

lab: setup
	MPLBACKEND=module://matplotlib_inline.backend_inline $(BIN)/jupyter lab notebooks/ $(LAB_ARGS)

lint: setup
	$(BIN)/ruff check .

unit: setup
	$(BIN)/python -m pytest tests -q

notebooks: setup
	OAEDU_PROFILE=smoke $(BIN)/python -m pytest notebooks -q -p no:cacheprovider --nbval-lax \
		--nbval-current-env --nbval-cell-timeout=$(NB_TIMEOUT) \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --durations=0

test: lint unit notebooks

student: setup
	$(BIN)/python -m oaedu student

# Timings do not belong in `make test`: the goals of docs/benchmarks.md are checked here (--check).
bench: setup
	$(BIN)/python -m oaedu.bench --check --markdown docs/benchmarks.md

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

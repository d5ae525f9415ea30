# Quick start:  make run   (set up .venv and run the default workflow)
#               make test  (set up .venv, check lint and formatting (make lint), run the tests)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORES  ?= all
RUN    ?= $(shell sed -n 's/^run_name: *\([A-Za-z0-9_.-]*\).*/\1/p' config.yaml)
PYTEST_ARGS ?=

.PHONY: setup run report lint test verify clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES)
	$(BIN)/snakemake --profile profiles/default --cores 1 --report results/$(RUN)/report.html

report: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --cores 1 --report results/$(RUN)/report.html

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile rules

test: $(STAMP) lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

verify: $(STAMP)
	$(BIN)/python -m dgex.verify results/$(RUN)

clean:
	rm -rf .snakemake results/$(RUN)

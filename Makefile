# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORES  ?= all

.PHONY: run test venv slurm-venv bench clean-results

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

venv: $(STAMP)

# The SLURM executor plugin, for `snakemake --workflow-profile workflow/profiles/slurm`.
slurm-venv: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,slurm]"

run: $(STAMP)
	$(BIN)/snakemake --workflow-profile workflow/profiles/local --cores $(CORES)

# One test file per process (pytest-xdist), as many processes as cores, at most 4: a file's
# module fixtures (each a whole scratch run of the workflow) then run once. `make test
# PYTEST_ARGS=` runs it in one process.
PYTEST_ARGS ?= -n auto --maxprocesses 4 --dist loadfile

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/train_speed.py
	$(BIN)/python benchmarks/saliency_speed.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/calibration.py --reps 1 --jobs 2
	$(BIN)/python benchmarks/harm_interval.py --reps 2000
	$(BIN)/python benchmarks/harm_level.py --reps 125

clean-results:
	rm -rf results .snakemake

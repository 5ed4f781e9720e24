# arabic-pref-bench. `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: help venv sweep report test test-fast bench bench-gpu tune baseline regress golden mutants clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0  # the CPU wheel on disk; pyproject allows >=2.6,<2.14
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed  ## create the virtual environment (pip, from pyproject.toml)

sweep: venv  ## the default sweep (5 methods x 8 seeds, CPU, ~15 min), then the report
	$(PY) -m harness.train -m sweep=default
	$(PY) -m harness.report runs --sweep default

report: venv  ## render reports/<sweep>/ from runs/
	$(PY) -m harness.report runs

test: venv  ## the whole test suite, slow end-to-end sweeps included
	$(PY) -m pytest -q

test-fast: venv  ## the test suite without the slow sweeps
	$(PY) -m pytest -q -m "not slow"

baseline: venv  ## run the CI sweep afresh into runs/ci/ and write reports/baseline/rankings.json from it
	$(PY) -m harness.train -m sweep=ci force=true
	$(PY) -m harness.regress runs/ci --write-baseline reports/baseline/rankings.json

regress: venv  ## run the CI sweep into runs/ci/, then compare its rankings with the committed baseline
	$(PY) -m harness.train -m sweep=ci force=true; sweep=$$?; \
	$(PY) -m harness.regress runs/ci --baseline reports/baseline/rankings.json && exit $$sweep

golden: venv  ## refresh tests/golden/trajectories.json (every method's first steps); review the diff
	APB_UPDATE_GOLDEN=1 $(PY) -m pytest -q tests/test_golden.py -rs

mutants: venv  ## plant known bugs in copies of the project and show that `make regress` fails on each
	$(PY) tests/mutants.py $(MUTANTS_ARGS)

bench: venv  ## performance: harness vs plain TRL, reference-cache speed-up, scaling, cheap wins
	$(PY) -m bench.harness_vs_plain

BENCH_GPU_ARGS ?=
bench-gpu: venv  ## on a GPU: each card method at Qwen3-1.7B scale (random-init, cost data), harness vs plain TRL, ~8 min
	$(PY) -m bench.gpu $(BENCH_GPU_ARGS)

TUNE_ARGS ?=
tune: venv  ## fair ranking: each method's grid on validation (1 seed), best config x 5 seeds, reports/tune/
	$(PY) -m harness.tune run runs $(TUNE_ARGS)

clean:  ## remove runs, caches and the venv
	rm -rf runs/*/ .cache $(VENV)

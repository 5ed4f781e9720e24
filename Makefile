# arabic-pref-bench. `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: help venv lock sweep report test test-fast bench bench-gpu tune baseline regress golden mutants clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# The CPU environment is installed from requirements.lock (every package at one version: the versions the
# baseline and the golden trajectories were made with). uv when it is on PATH, pip otherwise; both find the
# CPU torch wheel in TORCH_WHEELS (a PyPI torch for Linux is the multi-GB CUDA build).
TORCH_WHEELS ?= /opt/wheels
LOCK := requirements.lock
UV := $(shell command -v uv 2>/dev/null || (python3 -m uv --version >/dev/null 2>&1 && echo python3 -m uv))

$(VENV)/.installed: pyproject.toml $(LOCK)
ifneq ($(UV),)
	$(UV) venv -q --allow-existing --python python3 $(VENV)
	VIRTUAL_ENV=$(VENV) $(UV) pip sync -q --find-links $(TORCH_WHEELS) $(LOCK)
	VIRTUAL_ENV=$(VENV) $(UV) pip install -q --no-deps -e .
else
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --find-links $(TORCH_WHEELS) -r $(LOCK)
	$(PY) -m pip install -q --no-deps -e .
endif
	touch $@

venv: $(VENV)/.installed  ## create the virtual environment from requirements.lock (uv, or pip without uv)

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
tune: venv  ## each card method's validation search (conf/search.yaml) -> conf/tuned/<method>.yaml, reports/tune/
	$(PY) -m harness.tune run $(TUNE_ARGS)
	$(PY) -m harness.tune report

# Deliberate upgrades only: a new lock moves every measured number's library set, so refresh the baseline
# (make baseline) and the golden trajectories (make golden) in the same reviewed change. LOCK_ARGS, e.g.
# --upgrade-package pandas, or --upgrade for everything; without them every pin already in the lock is kept.
LOCK_ARGS ?=
lock:  ## re-resolve requirements.lock from pyproject.toml and lock-constraints.txt (uv); then make baseline golden
	$(UV) pip compile -q pyproject.toml --extra dev --find-links $(TORCH_WHEELS) --constraint lock-constraints.txt \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 --output-file $(LOCK) $(LOCK_ARGS)

clean:  ## remove runs, caches and the venv
	rm -rf runs/*/ .cache $(VENV)

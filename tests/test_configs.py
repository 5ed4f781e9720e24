"""Bad configuration fails before any training, with a clear message and nothing written; every sweep
preset composes and says how to run it; thread division follows the launcher.

    .venv/bin/python -m pytest tests/test_configs.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONF, compose_cfg, run_cli

from harness.sweep import concurrent_jobs

BAD = [  # (override, rc, words the message must contain)
    ("method=nope", 1, "method/nope"),                                      # Hydra: no such config
    ("method.learnin_rate=1e-3", 2, "Did you mean method.learning_rate"),   # ours: typo with a hint
    ("model.nme=x", 1, "nme"),                                              # Hydra: key not in struct
    ("method.learning_rate=-1e-3", 2, "method.learning_rate=-0.001 is out of range"),
    ("method.beta=0", 2, "method.beta=0 is out of range"),
]


@pytest.mark.parametrize("override,rc,words", BAD, ids=[b[0] for b in BAD])
def test_bad_config_fails_before_training(override: str, rc: int, words: str, runs_dir: Path, cache_dir: Path):
    r = run_cli("harness.train", ["data=verifiable", override], runs_dir, cache_dir)
    assert r.returncode == rc, r.stderr[-2000:]
    assert words in r.stderr, r.stderr[-2000:]
    assert "Traceback" not in r.stderr or rc == 1  # ours: one paragraph; Hydra prints its own short error
    assert not list(runs_dir.rglob("*.parquet")), "a rejected config must write no row"
    assert not list(runs_dir.rglob(".trainer")), "a rejected config must not start a trainer"


@pytest.mark.parametrize("preset", sorted(p.stem for p in (CONF / "sweep").glob("*.yaml")))
def test_sweep_presets_compose(preset: str):
    text = (CONF / "sweep" / f"{preset}.yaml").read_text().splitlines()
    assert text[0] == "# @package _global_"
    assert text[1].startswith("# python -m harness.train -m sweep=" + preset)
    cfg = compose_cfg([f"sweep={preset}"], shrink=False, hydra_node=True)
    assert cfg.sweep_name == preset
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    assert preset == "search" or "method" in cfg.hydra.sweeper.params  # search: harness.tune passes method, grid


def test_compute_matched_sets_a_budget():
    assert compose_cfg(["sweep=compute_matched"]).budget.train_flops > 0
    assert compose_cfg([]).budget.train_flops is None


def test_slurm_launcher_preset():
    cfg = compose_cfg(["hydra/launcher=slurm"], hydra_node=True)
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    for key in ("partition", "gpus_per_node", "timeout_min", "array_parallelism", "cpus_per_task", "mem_gb"):
        assert key in cfg.hydra.launcher


JOBLIB = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
LOCAL = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"


def test_threads_divided_among_parallel_jobs(monkeypatch):
    from harness import sweep

    monkeypatch.setitem(sweep._SWEEP_JOBS, "total", None)
    assert concurrent_jobs(JOBLIB, {"n_jobs": 2}, 16) == 2
    assert concurrent_jobs(JOBLIB, {"n_jobs": -1}, 16) == 16     # joblib: all cores
    assert concurrent_jobs(JOBLIB, {"n_jobs": -2}, 16) == 15
    assert concurrent_jobs("hydra._internal.core_plugins.basic_launcher.BasicLauncher", {}, 16) == 1
    monkeypatch.setitem(sweep._SWEEP_JOBS, "total", 3)           # a 3-job sweep never runs more than 3 at once
    assert concurrent_jobs(JOBLIB, {"n_jobs": -1}, 16) == 3
    assert concurrent_jobs(LOCAL, {}, 16) == 3

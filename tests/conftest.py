"""Shared test fixtures: compose the real Hydra config and shrink it; run the real CLI in a subprocess
with runs/ and the cache pointed at temporary directories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from harness.train import open_method_overrides

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ[var] = "1"

# Shrinks any job to seconds: few pairs, short pre-training, small evaluation and benchmark.
SHRINK = [
    "data.max_train_pairs=48", "data.max_val_pairs=16", "data.max_test_pairs=16",
    "eval.max_em_questions=8", "eval.kl_prompts=8", "eval.max_new_tokens=8",
    "infer.min_runs=2", "infer.min_seconds=0", "infer.warmup_runs=1", "infer.max_new_tokens=8",
    "model.pretrain.epochs=2", "trainer.logging_steps=1",
]


def compose_cfg(overrides: list[str] | None = None, shrink: bool = True, hydra_node: bool = False):
    """The real config as Hydra composes it for `python -m harness.train <overrides>` (shrunk by default)."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=open_method_overrides((SHRINK if shrink else []) + (overrides or [])),
                       return_hydra_config=hydra_node)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One cache per test session: the shrunken embedded base is built once and shared."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def runs_dir(tmp_path) -> Path:
    return tmp_path / "runs"


def run_cli(module: str, args: list[str], runs: Path, cache: Path, shrink: bool = True,
            timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m <module> <args>` as a user would run it, output captured."""
    env = {**os.environ, "APB_RUNS_DIR": str(runs), "APB_CACHE_DIR": str(cache)}
    flags = [a for a in args if a in ("-m", "--multirun")]  # Hydra's argparse wants flags before overrides
    rest = [a for a in args if a not in flags]
    argv = [sys.executable, "-m", module, *flags, *((SHRINK if shrink and module == "harness.train" else []) + rest)]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)

"""Tools that measure the harness itself (not part of the package a user imports):

    python -m bench.harness_vs_plain     # `make bench`: harness vs plain TRL, reference cache, scaling
    python -m bench.gpu                  # `make bench-gpu`: every card method at Qwen3-1.7B scale, on a GPU

What both benches share: the offline environment of their child processes, timing one, and running the plain
TRL script (bench/plain_trl.py) on a config.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
       "TOKENIZERS_PARALLELISM": "false"}


def timed(argv: list[str], env: dict) -> tuple[float, str]:
    """(wall seconds, stdout + stderr) of one child process run from the checkout."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, proc.stdout + proc.stderr


def run_plain(trainer: str, config: Path, result: Path, label: str) -> dict[str, Any]:
    """bench/plain_trl.py with --trainer and --config; its result json plus the process wall time."""
    argv = [sys.executable, str(ROOT / "bench" / "plain_trl.py"), "--trainer", trainer, "--config", str(config),
            "--result_json", str(result)]
    wall, log = timed(argv, {**os.environ, **ENV})
    if not result.exists():
        raise RuntimeError(f"plain TRL script failed: {label}\n{log[-3000:]}")
    row = json.loads(result.read_text())
    result.unlink()
    return row | {"wall_seconds": wall}

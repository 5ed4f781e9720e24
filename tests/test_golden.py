"""Golden trajectories: every registered method, a few optimizer steps on a fixed slice from a fixed base, every
logged loss and margin compared with committed values at a tight tolerance (the way TRL guards its trainers).

A change to any objective's math, a data view, the tokenizer, the sampler, a method's yaml or the library
version trips this within seconds. Refreshing the committed values is a deliberate, reviewed step:

    make golden        # APB_UPDATE_GOLDEN=1 pytest tests/test_golden.py; then review `git diff tests/golden/`
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch

from conftest import compose_cfg
from harness import data as datalib
from harness import methods, models
from harness.job import Job

GOLDEN = Path(__file__).parent / "golden" / "trajectories.json"
UPDATE = os.environ.get("APB_UPDATE_GOLDEN") == "1"
STEPS = 4
RTOL, ATOL = 1e-3, 1e-5
# What the trainers log per step that the objective determines (not timings, not the epoch counter).
KEEP = ("loss", "grad_norm", "learning_rate", "rewards/", "logps/", "logits/", "kl", "nll")


def trajectory(method: str, cache_dir: Path, tmp_path: Path) -> dict[str, list[float]]:
    cfg = compose_cfg([f"method={method}", f"paths.cache_dir={cache_dir}", f"paths.runs_dir={tmp_path}",
                       f"method.max_steps={STEPS}", "trainer.logging_steps=1"])
    job = Job.start(cfg)
    spec, kwargs = job.method_args()
    canonical = datalib.load(job.data_cfg)
    base_dir = models.resolve_base(job.model_cfg, canonical, job.cache_dir)
    trainer = methods.build_trainer(spec, kwargs, base_dir, datalib.view(canonical, spec.view), None, cache_dir,
                                    cfg["batching"]["length_bucket"])
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h and "train_runtime" not in h]
    keys = sorted({k for h in logs for k in h if any(k.startswith(p) or p in k for p in KEEP)})
    return {k: [float(h[k]) for h in logs if k in h] for k in keys}


def _golden() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8")) if GOLDEN.exists() else {}


@pytest.mark.parametrize("method", sorted(methods.REGISTRY))
def test_golden_trajectory(method, cache_dir, tmp_path):
    got = trajectory(method, cache_dir, tmp_path)
    assert len(got["loss"]) == STEPS and all(math.isfinite(x) for x in got["loss"])
    if UPDATE:
        store = _golden() | {method: {"torch": torch.__version__.split("+")[0], **got}}
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(dict(sorted(store.items())), indent=1) + "\n", encoding="utf-8")
        pytest.skip(f"updated {GOLDEN.name}[{method}]: review the diff before committing")
    want = _golden().get(method)
    assert want is not None, f"no golden trajectory for {method}: run `make golden` and commit the file"
    want = {k: v for k, v in want.items() if k != "torch"}
    assert sorted(got) == sorted(want), f"{method}: logged keys changed: {sorted(set(got) ^ set(want))}"
    for key in want:
        for step, (g, w) in enumerate(zip(got[key], want[key]), 1):
            assert math.isclose(g, w, rel_tol=RTOL, abs_tol=ATOL), (
                f"{method}: {key} at step {step} is {g:.6g}, golden {w:.6g} (rtol {RTOL}). If the change is "
                "intended (objective, data view, tokenizer, library), refresh with `make golden` and review.")

"""Reference log-probs from the on-disk cache (harness.refcache) train exactly like recomputing them every step,
and later jobs with another seed, beta or method (IPO after DPO) reuse the stored entry.

    .venv/bin/python -m pytest -q tests/test_ref_cache.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import data as datalib
from harness import methods, models, refcache
from harness.job import Job
from tests.conftest import compose_cfg


def build(base_cache: Path, ref_root: Path, overrides: list[str], precompute: bool = True):
    """A job's trainer as harness.train builds it (Job.start resets seed and threads), not yet trained; the
    base comes from the session cache, the reference log-probs go to ref_root/refcache."""
    cfg = compose_cfg(["data=verifiable", f"paths.cache_dir={base_cache}", f"paths.runs_dir={ref_root}/runs",
                       f"++method.precompute_ref_log_probs={str(precompute).lower()}", *overrides])
    job = Job.start(cfg)
    method, kwargs = job.method_args()
    canonical = datalib.load(job.data_cfg)
    base = models.resolve_base(job.model_cfg, canonical, job.cache_dir)
    rows = datalib.view(canonical, method.view)
    return methods.build_trainer(method, kwargs, base, rows, None, cache_dir=ref_root)


def losses(trainer) -> list[float]:
    trainer.train()
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


@pytest.mark.parametrize("method", ["dpo", "kto"])
def test_cached_reference_matches_recomputed(method, cache_dir, tmp_path):
    recomputed = losses(build(cache_dir, tmp_path, [f"method={method}"], precompute=False))
    cold = build(cache_dir, tmp_path, [f"method={method}"])
    assert cold.ref_cache_status == "miss" and cold.ref_model is None  # no reference model kept in memory
    cold_losses = losses(cold)
    warm = build(cache_dir, tmp_path, [f"method={method}"])
    assert warm.ref_cache_status == "hit" and warm.ref_cache_path == cold.ref_cache_path
    warm_losses = losses(warm)

    assert len(recomputed) >= 3
    assert cold_losses == pytest.approx(recomputed, abs=1e-5)
    assert warm_losses == pytest.approx(recomputed, abs=1e-5)
    assert refcache.entries(tmp_path) == [cold.ref_cache_path]
    if method == "kto":  # the KL term's reference log-probs are stored and reused too
        assert "ref_KL_logps" in warm.train_dataset.column_names


def test_other_seed_beta_and_ipo_reuse_the_dpo_entry(cache_dir, tmp_path):
    first = build(cache_dir, tmp_path, ["method=dpo"])
    assert first.ref_cache_status == "miss"
    for other in (["method=dpo", "seed=1", "method.beta=0.3"], ["method=ipo", "seed=2"]):
        again = build(cache_dir, tmp_path, other)
        assert again.ref_cache_status == "hit" and again.ref_cache_path == first.ref_cache_path
    shorter = build(cache_dir, tmp_path, ["method=dpo", "method.max_length=64"])
    assert shorter.ref_cache_status == "miss"  # max_length changes the truncated sequences: a new entry
    assert len(refcache.entries(tmp_path)) == 2

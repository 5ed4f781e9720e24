"""End to end, as a user runs it: a five-method multirun into a temporary runs directory, then the report."""

from __future__ import annotations

import pytest

from conftest import run_cli
from harness import results

CARD_METHODS = {"sft", "dpo", "ipo", "cpo", "kto"}


@pytest.mark.slow
def test_five_method_sweep_then_report(cache_dir, tmp_path):
    runs = tmp_path / "runs"
    out = run_cli("harness.train", ["sweep=smoke"], runs, cache_dir)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "ok=5 failed=0 diverged=0" in out.stdout
    df = results.load_runs(runs)
    assert set(df.method) == CARD_METHODS and (df.status == "ok").all() and len(df) == 5
    assert (df.train_seconds > 0).all() and (df.samples_per_second > 0).all()

    reports = tmp_path / "reports"
    rep = run_cli("harness.report", [str(runs), "--out", str(reports)], runs, cache_dir)
    assert rep.returncode == 0, rep.stderr
    text = (reports / "smoke" / "report.md").read_text()
    for table in ("Training Results", "Inference Benchmarks", "Training Efficiency Comparison",
                  "Complete Performance Comparison"):
        assert f"## {table}" in text
    for method in CARD_METHODS:
        assert method.upper() in text and (reports / "smoke" / "model_cards" / f"{method}.md").exists()
    assert len(list((reports / "smoke" / "plots").glob("*.png"))) >= 4

"""Report plumbing on hand-made rows (written with harness.results.write_row into tmp dirs): the card's
efficiency formula, the shared-rank rule, determinism, the empty-directory message, failed runs listed
and not averaged, one-seed rendering, overrides and the no-training-imports rule.

    .venv/bin/python -m pytest -q tests/test_report.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.report.__main__ import load_config, main
from harness.metrics import card_efficiency, loss_reduction_rate
from harness.report.summary import summarize
from harness.results import load_runs, write_row

ROOT = Path(__file__).resolve().parents[1]


def fake_row(method: str, seed: int, sweep: str = "fake", **kw) -> dict:
    """A plausible ok row; numbers are made up, which is fine for plumbing tests."""
    row = {
        "run_id": f"{sweep}-{method}-{seed}", "sweep": sweep, "method": method, "seed": seed, "status": "ok",
        "trainer": f"{method.upper()}Trainer", "model": "tiny-qwen3", "model_weights": "pretrained",
        "dataset": "verifiable", "device": "cpu", "dtype": "float32", "finished_at": f"2026-01-01T00:00:0{seed}",
        "hparams_json": json.dumps({"beta": 0.1, "learning_rate": 1e-3}), "config_json": "{}",
        "trl_version": "1.16.0", "transformers_version": "5", "torch_version": "2", "git_commit": "abc",
        "train_samples": 48, "train_examples": 48, "epochs": 1.0, "optimizer_steps": 6, "train_tokens": 1000,
        "train_seconds": 1.0 + 0.1 * seed, "samples_per_second": 100.0, "tokens_per_second": 2000.0,
        "final_loss": 0.5, "initial_loss": 0.7, "loss_steps": [1, 2, 3], "loss_values": [0.7, 0.6, 0.5],
        "train_flops": 1e12, "mfu": 0.1, "peak_memory_mb": 500.0, "n_params": 800_000,
        "infer_tokens_per_second": 2500.0, "infer_latency_ms_mean": 100.0, "infer_latency_ms_p95": 110.0,
        "infer_runs": 10, "pref_accuracy": 0.6, "exact_match": 0.1, "reward_margin": 0.01, "kl_to_base": 0.1,
        "pref_accuracy_gain": 0.05, "eval_pairs": 16, "eval_em_questions": 8, "flags": [],
    }
    return row | kw


def write(tmp: Path, rows: list[dict]) -> Path:
    for r in rows:
        write_row(r, tmp / r["sweep"])
    return tmp


def cfg(**kw) -> dict:
    return load_config([f"report.{k}={v}" for k, v in kw.items()])


def render(runs: Path, out: Path, *extra: str) -> str:
    assert main([str(runs), "--sweep", "fake", "--out", str(out), *extra]) == 0
    return (out / "fake" / "report.md").read_text(encoding="utf-8")


def section(md: str, title: str) -> str:
    return md.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_card_formula_on_hand_made_rows(tmp_path):
    assert loss_reduction_rate(0.25) == 0.75
    assert loss_reduction_rate(1.0) == 0.0 and loss_reduction_rate(3.2) == 0.0
    assert loss_reduction_rate(-0.5) == 1.5  # the card's rule, kept exactly, negative losses included
    rows = [fake_row("dpo", 0, final_loss=0.25, samples_per_second=80.0),
            fake_row("ipo", 0, final_loss=25.0, samples_per_second=90.0)]
    s = summarize(load_runs(write(tmp_path / "runs", rows)), "fake", cfg())
    assert s.est["card_efficiency"]["dpo"].mean == pytest.approx(60.0) == card_efficiency(80.0, 0.25)
    assert s.est["card_efficiency"]["ipo"].mean == 0.0
    assert s.ranks["card_efficiency"] == {"dpo": "1", "ipo": "2"}


def test_quality_per_compute_is_gain_per_second_and_per_pflop(tmp_path):
    rows = [fake_row("dpo", 0, pref_accuracy_gain=0.1, train_seconds=2.0, train_flops=5e14)]
    s = summarize(load_runs(write(tmp_path / "runs", rows)), "fake", cfg())
    assert s.est["quality_per_second"]["dpo"].mean == pytest.approx(0.05)
    assert s.est["quality_per_compute"]["dpo"].mean == pytest.approx(0.2)


def test_shared_rank_rule(tmp_path):
    # a is far ahead; b and c overlap: ranks 1, 2-3, 2-3, and only pairs with a are significant
    gains = {"a": [0.30, 0.31, 0.32], "b": [0.10, 0.12, 0.14], "c": [0.13, 0.11, 0.15]}
    rows = [fake_row(m, s, pref_accuracy_gain=g, train_flops=1e15) for m, gs in gains.items()
            for s, g in enumerate(gs)]
    s = summarize(load_runs(write(tmp_path / "runs", rows)), "fake", cfg())
    assert s.ranks["quality_per_compute"] == {"a": "1", "b": "2-3", "c": "2-3"}
    assert s.methods[0] == "a"
    sig = {(a, b): x for a, b, x in zip(s.pairwise["a"], s.pairwise["b"], s.pairwise["significant"])}
    assert sig[("a", "c")] and sig[("a", "b")] and not sig.get(("c", "b"), sig.get(("b", "c")))
    md = render(tmp_path / "runs", tmp_path / "out")
    assert "| 2-3 |" in section(md, "Ranking by quality_per_compute")


def test_render_is_byte_identical(tmp_path):
    rows = [fake_row(m, s, pref_accuracy_gain=0.01 * (s + i)) for i, m in enumerate(["sft", "dpo", "kto"])
            for s in range(3)]
    runs = write(tmp_path / "runs", rows)
    first = render(runs, tmp_path / "o1")
    second = render(runs, tmp_path / "o2")
    assert first == second
    for card in ("sft", "dpo", "kto"):
        a = (tmp_path / "o1/fake/model_cards" / f"{card}.md").read_bytes()
        assert a == (tmp_path / "o2/fake/model_cards" / f"{card}.md").read_bytes()
    assert (tmp_path / "o1/fake/csv/ranking.csv").read_bytes() == (tmp_path / "o2/fake/csv/ranking.csv").read_bytes()
    for png in ("loss_curves", "efficiency", "quality_vs_time", "throughput"):
        assert (tmp_path / "o1/fake/plots" / f"{png}.png").stat().st_size > 0
        assert f"(plots/{png}.png)" in first


@pytest.mark.parametrize("make", [False, True])
def test_empty_or_missing_runs_dir(tmp_path, capsys, make):
    runs = tmp_path / "runs"
    if make:
        runs.mkdir()
    assert main([str(runs), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("no runs:") and str(runs) in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_failed_runs_listed_not_averaged(tmp_path):
    rows = [fake_row("dpo", s, final_loss=0.5) for s in range(3)]
    rows.append(fake_row("dpo", 3, status="failed", error="RuntimeError: boom at step 2", final_loss=99.0,
                         run_id="fake-dpo-failed"))
    rows.append(fake_row("ipo", 0, status="diverged", error="loss is nan", final_loss=float("nan")))
    runs = write(tmp_path / "runs", rows)
    s = summarize(load_runs(runs), "fake", cfg())
    assert s.est["final_loss"]["dpo"].mean == pytest.approx(0.5) and s.est["final_loss"]["dpo"].n == 3
    assert s.methods == ["dpo"]
    md = render(runs, tmp_path / "out")
    failed = section(md, "Failed and diverged runs (not averaged)")
    assert "RuntimeError: boom at step 2" in failed and "loss is nan" in failed and "diverged" in failed


def test_one_seed_renders_without_intervals(tmp_path):
    rows = [fake_row(m, 0) for m in ("sft", "dpo")]
    md = render(write(tmp_path / "runs", rows), tmp_path / "out")
    assert "One seed per method: no intervals" in md
    assert "[" not in section(md, "Training Results")
    card = (tmp_path / "out/fake/model_cards/dpo.md").read_text(encoding="utf-8")
    assert "One seed: no confidence intervals." in card


def test_intervals_flags_and_random_init(tmp_path):
    rows = [fake_row("dpo", s, final_loss=0.5 + 0.01 * s, model_weights="random-init",
                     flags=["few_steps: fewer than 3 optimizer steps"] if s == 1 else []) for s in range(3)]
    md = render(write(tmp_path / "runs", rows), tmp_path / "out")
    results = section(md, "Training Results")
    assert "0.51 [" in results and "few_steps (s1)" in results
    assert "Cost only (random-init weights" in md and " †" in section(md, "Complete Performance Comparison")


def test_rank_by_override_and_bad_key(tmp_path, capsys):
    runs = write(tmp_path / "runs", [fake_row("dpo", 0), fake_row("kto", 0, final_loss=0.1)])
    md = render(runs, tmp_path / "out", "report.rank_by=card")
    assert "## Ranking by card_efficiency" in md
    assert main([str(runs), "--out", str(tmp_path / "o2"), "report.rank_by=no_such_column"]) == 2
    assert "rank_by" in capsys.readouterr().err


def test_model_card_front_matter(tmp_path):
    from huggingface_hub import ModelCard
    render(write(tmp_path / "runs", [fake_row("kto", s) for s in range(2)]), tmp_path / "out")
    card = ModelCard.load(tmp_path / "out/fake/model_cards/kto.md")
    metrics = {m.metric_type: m.metric_value for m in card.data.eval_results}
    assert metrics["pref_accuracy"] == pytest.approx(0.6) and metrics["final_loss"] == pytest.approx(0.5)
    assert "KTOTrainer" in card.text and "learning_rate" in card.text


def test_report_never_imports_training_code():
    code = ("import sys, harness.report.__main__, harness.report.cards, harness.report.plots; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('trl', 'torch', 'transformers') or m in "
            "('harness.train', 'harness.job', 'harness.methods', 'harness.measure', 'harness.evaluate', "
            "'harness.models')]; print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_csv_matches_table(tmp_path):
    rows = [fake_row("dpo", s, samples_per_second=100.0 + s) for s in range(3)]
    render(write(tmp_path / "runs", rows), tmp_path / "out")
    df = pd.read_csv(tmp_path / "out/fake/csv/training_results.csv")
    assert df.loc[0, "samples_per_second_mean"] == pytest.approx(101.0) and df.loc[0, "n_seeds"] == 3


def test_default_ci_and_adhoc_user_sweeps_all_render(tmp_path, capsys):
    """A runs/ directory as a user leaves it: a default and a ci sweep, and an adhoc sweep of single jobs on
    their own files (two datasets, one method without quality values, one failed). Every sweep renders;
    the adhoc one gets a section per (dataset, model); nothing raises."""
    rows = [fake_row(m, s, sweep=sw, dataset="arabic_mix") for sw in ("default", "ci")
            for m in ("sft", "dpo", "kto") for s in (0, 1, 2)]
    rows += [fake_row("dpo", 0, sweep="adhoc", dataset="file", run_id="a1"),
             fake_row("cpo", 0, sweep="adhoc", dataset="file", run_id="a2", pref_accuracy=None,
                      pref_accuracy_gain=None, exact_match=None, reward_margin=None, kl_to_base=None),
             fake_row("kto", 0, sweep="adhoc", dataset="hub", model="/ckpt/qwen", run_id="a3"),
             fake_row("sft", 1, sweep="adhoc", dataset="hub", model="/ckpt/qwen", run_id="a4", status="failed",
                      error="RuntimeError: boom")]
    runs = write(tmp_path / "runs", rows)
    assert main([str(runs), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    for sweep in ("default", "ci"):
        assert (tmp_path / "out" / sweep / "report.md").exists()
    index = (tmp_path / "out" / "adhoc" / "report.md").read_text(encoding="utf-8")
    sections = sorted(p.parent.name for p in (tmp_path / "out" / "adhoc").glob("*/report.md"))
    assert sections == ["file__tiny-qwen3", "hub__ckpt-qwen"], sections
    assert "file__tiny-qwen3/report.md" in index and "cannot be compared" in index
    cpo = (tmp_path / "out" / "adhoc" / "file__tiny-qwen3" / "report.md").read_text(encoding="utf-8")
    assert "| CPO |" in cpo and "n/a" in cpo
    assert "adhoc" in out


def test_unrenderable_sweep_gets_one_paragraph_and_exit_2(tmp_path, capsys):
    """A sweep whose rows cannot be ranked (rank_by names a text column) is refused in one paragraph."""
    runs = write(tmp_path / "runs", [fake_row("dpo", s) for s in (0, 1)])
    assert main([str(runs), "--out", str(tmp_path / "out"), "report.rank_by=trainer"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "report.rank_by='trainer'" in err and len(err.strip().splitlines()) == 1


def pair_rows(sweep: str = "pairs") -> list[dict]:
    """Rows with per-pair scores on 200 test pairs in two parts: dpo and sft learn part `a` only (sft less);
    the base is at chance; the length control is right on 60% of pairs."""
    import numpy as np

    rng = np.random.default_rng(0)
    parts = ["a"] * 120 + ["b"] * 80
    cats = ["a1"] * 60 + ["a2"] * 60 + ["b1"] * 80
    base = (rng.random(200) < 0.5).astype(float)
    p = {"dpo": np.where(np.array(parts) == "a", 0.9, 0.45), "sft": np.where(np.array(parts) == "a", 0.7, 0.45)}
    controls = {"longer": (rng.random(200) < 0.6).astype(float).tolist(),
                "shorter": (rng.random(200) < 0.4).astype(float).tolist()}
    rows = []
    for m in ("dpo", "sft"):
        for s in (0, 1, 2):
            y = (rng.random(200) < p[m]).astype(float)
            rows.append(fake_row(m, s, sweep=sweep, pref_accuracy=float(y.mean()),
                                 pref_accuracy_gain=float(y.mean() - base.mean()), eval_pairs=200,
                                 base_pref_accuracy=float(base.mean()),
                                 test_pair_ids=[f"p{i}" for i in range(200)], test_pair_parts=parts,
                                 test_pair_categories=cats, test_pair_scores=y.tolist(),
                                 test_pair_scores_norm=y.tolist(), base_test_pair_scores=base.tolist(),
                                 base_test_pair_scores_norm=base.tolist(), controls_json=json.dumps(controls)))
    return rows


def test_quality_section_shows_controls_base_parts_and_two_level_intervals(tmp_path):
    from harness import intervals

    runs = write(tmp_path / "runs", pair_rows())
    assert main([str(runs), "--out", str(tmp_path / "out")]) == 0
    md = (tmp_path / "out" / "pairs" / "report.md").read_text(encoding="utf-8")
    quality = section(md, "Held-out preference accuracy: methods, the base and trivial controls")
    for name in ("| DPO | method", "| SFT | method", "| base | base model", "| longer | control", "| shorter | control"):
        assert name in quality, name
    assert intervals.INTERVAL_METHOD in quality and "best control on these pairs is `longer`" in quality
    assert "a (120)" in quality and "b (80)" in quality and "a/a1 (60)" in quality
    assert "**Not learned:**" in quality and "b (80 pairs)" in quality and "a (120" not in quality.split("Not learned")[1]
    ranking = section(md, "Ranking by quality_per_compute")
    assert "longer (control)" in ranking and "base (base)" in ranking
    assert (tmp_path / "out" / "pairs" / "plots" / "frontier.png").stat().st_size > 5000


def test_headline_interval_counts_test_pairs_not_only_seeds(tmp_path):
    """Three seeds that agree exactly give a zero-width seeds-only bootstrap; the two-level interval still
    reflects the 200 test pairs (about +-0.07 at p=0.7)."""
    rows = pair_rows()
    for r in rows:
        if r["method"] == "sft":
            r["test_pair_scores"] = rows[0]["test_pair_scores"]  # every sft seed identical
    s = summarize(load_runs(write(tmp_path / "runs", rows)), "pairs", cfg())
    e = s.est["pref_accuracy"]["sft"]
    assert 0.04 < (e.hi - e.lo) / 2 < 0.1

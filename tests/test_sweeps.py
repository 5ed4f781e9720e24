"""Sweeps that survive and scale: resume after SIGKILL, a failing job inside a multirun, joblib and
submitit_local giving the same rows as the basic launcher, the schema-unifying reader, a local checkpoint in
the hub layout, LoRA, and a shrunken random-init real architecture. Every run is tiny (16 pairs).

    .venv/bin/python -m pytest tests/test_sweeps.py -q               # slow ones too (several minutes)
    .venv/bin/python -m pytest tests/test_sweeps.py -q -m "not slow"
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, SHRINK, run_cli

from harness import results

TINY = ["data=verifiable", "data.max_train_pairs=16"]  # verifiable: generated, needs no shipped file


def rows(runs: Path, sweep: str):
    return results.load_runs(runs / sweep)


# ------------------------------------------------------------------------------------------------ resume
@pytest.mark.slow
def test_resume_after_sigkill(runs_dir: Path, cache_dir: Path):
    args = ["hydra.mode=MULTIRUN", "method=sft,dpo", "sweep_name=resume", *TINY]
    env = {**os.environ, "APB_RUNS_DIR": str(runs_dir), "APB_CACHE_DIR": str(cache_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "harness.train", *SHRINK, *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    out = runs_dir / "resume"
    deadline = time.time() + 400
    # kill as soon as the second job (dpo) has started: its Hydra job directory exists, and it still has to
    # load, train and evaluate, so no fixed sleep decides whether it finished first
    while (not list(out.glob("*.parquet")) or not list(out.glob(".hydra/*/1"))) \
            and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = results.run_files(out)
    assert len(first) == 1, "the first job's row, and only it, must exist after the kill"
    done = results.read_row(first[0])
    assert done["status"] == "ok" and done["method"] == "sft"
    mtime = first[0].stat().st_mtime_ns

    r = run_cli("harness.train", args, runs_dir, cache_dir)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"[skip] sft seed=0 run_id={done['run_id']}" in r.stdout
    df = rows(runs_dir, "resume")
    assert sorted(df.method) == ["dpo", "sft"] and df.run_id.is_unique and set(df.status) == {"ok"}
    assert first[0].stat().st_mtime_ns == mtime, "an ok run must not be re-run"
    assert "skipped=1" in r.stdout

    r = run_cli("harness.train", ["method=sft", "sweep_name=resume", "force=true", *TINY], runs_dir, cache_dir)
    assert r.returncode == 0, r.stderr[-3000:]
    assert first[0].stat().st_mtime_ns != mtime, "force=true re-runs an ok run"
    assert len(results.run_files(out)) == 2  # same run_id: replaced, not duplicated


# ------------------------------------------------------------------------------------- failure isolation
@pytest.mark.slow
def test_failing_job_recorded_and_sweep_exits_nonzero(runs_dir: Path, cache_dir: Path):
    # job 0 fails inside trainer construction (an invalid scheduler name), after validation: a failed row;
    # job 1 must still run and finish ok
    args = ["hydra.mode=MULTIRUN", "method=sft", "trainer.lr_scheduler_type=bogus,linear", "sweep_name=failing", *TINY]
    r = run_cli("harness.train", args, runs_dir, cache_dir)
    assert r.returncode != 0
    assert "ok=1 failed=1" in r.stdout, r.stdout[-3000:]
    df = rows(runs_dir, "failing").set_index("status")
    assert sorted(df.index) == ["failed", "ok"]
    assert "bogus" in df.loc["failed", "error"]
    assert df.loc["ok", "optimizer_steps"] > 0


# ---------------------------------------------------------------------------------------------- launchers
@pytest.mark.slow
def test_launchers_give_the_same_rows(runs_dir: Path, cache_dir: Path):
    sweep = ["hydra.mode=MULTIRUN", "method=sft", "seed=0,1", *TINY]
    launchers = {
        "basic": [],
        "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        "submitit": ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=20"],
    }
    found = {}
    for name, extra in launchers.items():
        r = run_cli("harness.train", [*sweep, *extra, f"sweep_name={name}"], runs_dir, cache_dir)
        assert r.returncode == 0, f"{name}: {r.stderr[-3000:]}"
        df = rows(runs_dir, name)
        assert set(df.status) == {"ok"}, f"{name}: {df[['status', 'error']]}"
        found[name] = set(zip(df.run_id, df.seed, df.train_samples))
    assert len(found["basic"]) == 2
    assert found["joblib"] == found["basic"] == found["submitit"]


# ------------------------------------------------------------------------------------------------ reader
def test_load_runs_unifies_old_and_new_schemas(tmp_path: Path):
    old = pa.table({"schema_version": [1], "run_id": ["old1"], "method": ["dpo"], "status": ["ok"],
                    "final_loss": [0.5], "legacy_metric": [3.0]})
    pq.write_table(old, tmp_path / "old1.parquet")
    results.write_row({"run_id": "new1", "method": "kto", "status": "ok", "pref_accuracy": 0.75,
                       "loss_values": [1.0, 0.9]}, tmp_path)
    (tmp_path / ".new2.123.tmp").write_bytes(b"half-written")  # a killed writer's temp file: ignored
    df = results.load_runs(tmp_path).set_index("run_id")
    assert sorted(df.index) == ["new1", "old1"]
    assert df.loc["old1", "pref_accuracy"] is None or df.loc["old1", "pref_accuracy"] != df.loc["old1", "pref_accuracy"]
    assert df.loc["new1", "pref_accuracy"] == 0.75 and list(df.loc["new1", "loss_values"]) == [1.0, 0.9]
    assert df.loc["old1", "legacy_metric"] == 3.0, "an old file's own columns are kept"
    assert df.loc["old1", "schema_version"] == 1 and df.loc["new1", "schema_version"] == results.SCHEMA_VERSION
    assert set(results.COLUMNS) <= set(df.reset_index().columns)


# ------------------------------------------------------------------------------------------- real models
def _save_hub_layout(root: Path) -> Path:
    """A tiny Qwen3 + tokenizer saved with save_pretrained into the hub cache layout."""
    from transformers import AutoModelForCausalLM

    from harness.data.verifiable import generate
    from harness.models import tiny_config, train_tokenizer

    texts = [t for r in generate(seed=0)[:200] for t in (r["prompt"], r["chosen"], r["rejected"])
             if isinstance(t, str)]
    tok = train_tokenizer(texts, 500)
    arch = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                intermediate_size=64, max_position_embeddings=256, tie_word_embeddings=True)
    snap = root / "models--Qwen--Qwen3-tiny" / "snapshots" / ("0" * 40)
    AutoModelForCausalLM.from_config(tiny_config(arch, tok)).save_pretrained(snap)
    tok.save_pretrained(snap)
    return snap


@pytest.mark.slow
def test_hub_layout_checkpoint_trains(tmp_path: Path, runs_dir: Path, cache_dir: Path):
    snap = _save_hub_layout(tmp_path / "hub")
    r = run_cli("harness.train", ["method=sft", f"model.name_or_path={snap}", *TINY], runs_dir, cache_dir)
    assert r.returncode == 0, r.stderr[-3000:]
    row = rows(runs_dir, "adhoc").iloc[0]
    assert row.status == "ok" and row.model == str(snap) and row.optimizer_steps > 0


@pytest.mark.slow
def test_lora_trains_on_cpu(runs_dir: Path, cache_dir: Path):
    lora = "model.lora={r:8,lora_alpha:16,target_modules:all-linear}"
    r = run_cli("harness.train", ["method=dpo", lora, "hardware=cpu", *TINY], runs_dir, cache_dir)
    assert r.returncode == 0, r.stderr[-3000:]
    row = rows(runs_dir, "adhoc").iloc[0]
    assert row.status == "ok" and row.optimizer_steps > 0 and row.final_loss == row.final_loss


def test_random_init_shrunken_architecture(runs_dir: Path, cache_dir: Path):
    arch = {"vocab_size": 4096, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
            "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32}
    args = ["model=qwen3_0_6b", "model.weights=random-init", "hardware=cpu", "method=sft",
            *[f"model.architecture.{k}={v}" for k, v in arch.items()], *TINY]
    shrink = [s for s in SHRINK if not s.startswith("model.pretrain")]  # random-init has no pre-training
    r = run_cli("harness.train", shrink + args, runs_dir, cache_dir, shrink=False)
    assert r.returncode == 0, r.stderr[-3000:]
    row = rows(runs_dir, "adhoc").iloc[0]
    assert row.status == "ok" and row.model_weights == "random-init" and row.model == "Qwen/Qwen3-0.6B"

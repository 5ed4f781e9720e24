"""Cost-only data (data=cost) and `make bench-gpu` (bench/gpu.py): the lengths follow the configured distribution
in tokens, the rows are Arabic, deterministic and say cost only; the hardware options reach the TRL arguments;
and the bench script runs end to end on the CPU with a tiny architecture.

    .venv/bin/python -m pytest tests/test_bench_gpu.py -q
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from conftest import ROOT, compose_cfg
from omegaconf import OmegaConf

from harness import methods, results
from harness.data import SPLITS, cost
from harness.data.arabic import arabic_share


def cost_cfg(*overrides: str) -> dict:
    return OmegaConf.to_container(compose_cfg(["data=cost", *overrides], shrink=False), resolve=True)["data"]


def test_lengths_follow_the_configured_log_normal():
    cfg = cost_cfg("data.max_tokens=100000", "data.rows.train=3000")
    for field, med, conf_med, p90, conf_p90 in cost.length_table(cost.generate("train", 3000, cfg), cfg):
        assert abs(med / conf_med - 1) < 0.06, (field, med, conf_med)
        assert abs(p90 / conf_p90 - 1) < 0.12, (field, p90, conf_p90)
    narrow = cost_cfg("data.max_tokens=100000", "data.answer_tokens.median=40", "data.answer_tokens.sigma=0.1")
    rows = cost.generate("train", 500, narrow)
    assert 35 <= sorted(len(r["chosen"].split()) for r in rows)[250] <= 45  # the knobs are read, not ignored


def test_lengths_are_capped_like_max_length():
    cfg = cost_cfg("data.max_tokens=300", "data.min_tokens=8")
    for r in cost.generate("train", 500, cfg):
        p = len(r["prompt"].split())
        assert p >= 8 and all(8 <= len(r[k].split()) <= 300 - p - 1 for k in ("chosen", "rejected"))  # + EOS


def test_rows_are_arabic_deterministic_and_say_cost_only():
    cfg = cost_cfg()
    first = cost.load(cfg)
    assert {s: len(first.splits[s]) for s in SPLITS} == cfg["rows"]
    assert first.splits == cost.load(cfg).splits                        # same seed: the same rows
    assert first.train != cost.load(cost_cfg("data.seed=1")).train      # another seed: other rows
    assert cost.generate("train", 10, cfg) == first.train[:10]          # a split does not depend on its size
    prompts = {s: {r["prompt"] for r in first.splits[s]} for s in SPLITS}
    assert not (prompts["train"] & prompts["test"]) and not (prompts["val"] & prompts["test"])
    for r in first.train + first.splits["test"]:
        assert r["cost_only"] is True and r["chosen"] != r["rejected"]
        assert all(arabic_share(r[k]) == 1.0 for k in ("prompt", "chosen", "rejected"))


def test_a_word_is_a_token_of_the_random_init_tokenizer():
    """The lengths are in tokens of the tokenizer a random-init base trains on the rows (harness.models), and
    SFT's joined tokenization keeps the prompt's tokens as a prefix (no merge across the boundary)."""
    from harness.data.encoding import encode
    from harness.models import _flat, train_tokenizer

    rows = cost.load(cost_cfg()).train
    tok = train_tokenizer([_flat(r[k]) for r in rows for k in ("prompt", "chosen", "rejected")], 2000)
    for r in rows[:40]:
        p, c = encode(tok, r["prompt"], r["chosen"], None)
        assert len(p) == len(r["prompt"].split()) and len(c) == len(r["chosen"].split()) + 1  # + EOS
        joined = tok(r["prompt"] + r["chosen"], add_special_tokens=False)["input_ids"]
        assert joined[: len(p)] == p


def test_result_row_says_cost_only(tmp_path):
    from harness.job import Job

    assert Job.start(compose_cfg(["data=cost"])).row["cost_only"] is True
    assert Job.start(compose_cfg(["model.weights=random-init"])).row["cost_only"] is True
    row = Job.start(compose_cfg([])).row
    assert row["cost_only"] is False
    path = results.write_row({"run_id": "x", "status": "ok", "cost_only": True}, tmp_path)
    assert results.read_row(path)["cost_only"] is True


def test_hardware_options_reach_the_trl_arguments(tmp_path):
    def kwargs(method: str, *overrides: str) -> dict:
        cfg = OmegaConf.to_container(compose_cfg([f"method={method}", "hardware=gpu", *overrides]), resolve=True)
        return methods.job_kwargs(cfg, str(tmp_path), "cpu", "float32")[1]

    assert kwargs("dpo")["model_init_kwargs"] == {"dtype": "float32", "attn_implementation": "sdpa"}
    assert "attn_implementation" not in kwargs("dpo", "hardware=cpu")["model_init_kwargs"]
    on = ["+hardware.trainer.padding_free=true", "+hardware.trainer.use_liger_kernel=true"]
    assert kwargs("sft", *on)["padding_free"] is True
    assert "padding_free" not in kwargs("kto", *on) and kwargs("kto", *on)["use_liger_kernel"] is True
    assert kwargs("sft", *on, "method.padding_free=false")["padding_free"] is False  # the method wins
    from harness.job import Job

    job = Job.start(compose_cfg(["method=sft", "hardware=cpu", "+hardware.trainer.padding_free=true"]))
    job.method_args()
    assert json.loads(job.row["hparams_json"])["padding_free"] is True  # the row records what the trainer got


def test_overrides_merge_by_key():
    from bench.gpu import merge

    got = merge(["model=qwen3_1_7b", "hardware=gpu", "eval.max_length=1024"], ["model=tiny_qwen3", "+a.b=1"])
    assert got == ["hardware=gpu", "eval.max_length=1024", "model=tiny_qwen3", "+a.b=1"]


TINY = ["model=tiny_qwen3", "hardware=cpu", "+model.architecture.vocab_size=2048", "data.rows.train=64",
        "data.rows.val=8", "data.rows.test=8", "data.prompt_tokens.median=24", "data.answer_tokens.median=40",
        "data.max_tokens=120", "eval.kl_prompts=2", "eval.max_new_tokens=4",
        "infer.batch_size=8", "infer.max_new_tokens=4", "infer.warmup_runs=0", "infer.min_runs=1"]


@pytest.mark.slow
def test_bench_gpu_end_to_end_on_cpu(tmp_path):
    """The script `make bench-gpu` runs, with a tiny architecture: every card method through the harness and the
    plain TRL script, a json and a table; an ablation past the time budget is skipped and says so."""
    env = {**os.environ, "APB_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    argv = [sys.executable, "-m", "bench.gpu", "--steps", "2", "--ablations", "grad_ckpt", "--budget-s", "1",
            "--out", str(tmp_path / "out"), *TINY]
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    res = json.loads((tmp_path / "out" / "bench_gpu.json").read_text())
    assert list(res["methods"]) == ["sft", "dpo", "ipo", "cpo", "kto"]
    for m, r in res["methods"].items():
        assert r["harness_tokens_per_s"] > 0 and r["plain_tokens_per_s"] > 0, m
        assert math.isfinite(r["harness_over_plain_time_per_token"]) and r["harness_over_plain_time_per_token"] > 0
        assert r["harness_mfu"] > 0 and r["plain_mfu"] > 0 and r["harness_peak_memory_mb"] > 0, m
        assert r["eval_s"] > 0 and r["infer_s"] > 0 and r["optimizer_steps"] == [2, 2], m
        assert r["cost_only"] is True and r["model_weights"] == "random-init" and r["dataset"] == "cost"
        assert r["max_length"] == 120, "the trainers must get data.max_tokens, not the method yamls' max_length"
    assert "time budget" in res["ablations"]["grad_ckpt"]["skipped"]
    table = (tmp_path / "out" / "bench_gpu.md").read_text()
    assert "cost only" in table and all(f"| {m} |" in table for m in res["methods"])

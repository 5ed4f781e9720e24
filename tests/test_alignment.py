"""Alignment tax (lm-evaluation-harness, harness.lmeval) and judged answers (a reward model, harness.judge),
offline: the shipped lm-eval task scored on the embedded model, a reward model trained with TRL's
RewardTrainer on the shipped train split (learning asserted), and one sweep that fills both sets of columns
and renders both report sections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy import stats

from harness import judge, lmeval
from harness import data as datalib
from harness.data.errors import DataError
from harness.data.mc_task import items
from harness.results import load_runs
from conftest import SHRINK, compose_cfg, run_cli

LM = {"tasks": ["apb_arabic_mc"], "metric": "acc", "limit": None, "num_fewshot": None, "batch_size": 16,
      "include_path": []}


def test_shipped_task_file_is_what_the_generator_writes():
    shipped = [json.loads(x) for x in (lmeval.TASKS_DIR / "apb_arabic_mc" / "apb_arabic_mc.jsonl").read_text(
        encoding="utf-8").splitlines()]
    assert shipped == items()  # regenerate with `python -m harness.data.mc_task` after changing the generator
    assert len(shipped) == 200 and all(len(r["choices"]) == 4 and r["choices"][r["label"]] for r in shipped)
    assert len({r["question"] for r in shipped}) == 200
    # no question type is a fixed answer position: the right answer is spread over the 4 slots
    assert all(30 <= sum(r["label"] == k for r in shipped) <= 70 for k in range(4))


def test_unknown_task_and_missing_folder_are_one_paragraph():
    with pytest.raises(DataError, match="unknown task.*no_such_task_xyz"):
        lmeval.check(LM | {"tasks": ["no_such_task_xyz"]})
    with pytest.raises(DataError, match="no such folder"):
        lmeval.check(LM | {"include_path": ["/nonexistent/tasks"]})


def test_hub_task_offline_says_how_to_snapshot_it():
    """arabicmmlu's data lives on the hub: offline, the check names the task and the way to get it."""
    with pytest.raises(DataError, match=r"(?s)arabicmmlu.*could not load its data.*include_path"):
        lmeval.check(LM | {"tasks": ["arabicmmlu_biology_high_school"]})


def test_judge_rejects_a_directory_that_is_not_a_reward_model(tmp_path):
    with pytest.raises(DataError, match="no config.json"):
        judge.check({"reward_model": str(tmp_path)})
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["Qwen3ForCausalLM"]}))
    with pytest.raises(DataError, match="ForSequenceClassification with num_labels 1"):
        judge.check({"reward_model": str(tmp_path)})


@pytest.fixture(scope="session")
def reward_model(cache_dir, tmp_path_factory) -> tuple[Path, dict]:
    """A reward model trained with RewardTrainer on 1,200 shipped train pairs, from a base pre-trained on them
    as briefly as the tests' shrunk config says (about 35 s on 2 cores)."""
    out = tmp_path_factory.mktemp("rm")
    card = judge.train([*SHRINK, "data.max_train_pairs=1200", "data.max_val_pairs=400", f"paths.cache_dir={cache_dir}"],
                       out, epochs=2, learning_rate=1e-3)
    return out, card


@pytest.mark.slow
def test_reward_model_learns_the_preference(reward_model):
    """Held-out pairs (validation, items never trained on): the reward model rewards chosen above rejected
    well above chance, and its training loss fell."""
    path, card = reward_model
    assert card["loss_last"] < card["loss_first"] - 0.05, card
    # 400 val pairs: one-sided binomial test against chance (measured here: 0.5775, p = 0.001)
    wins = round(card["val_pair_accuracy"] * 400)
    assert stats.binomtest(wins, 400, 0.5, alternative="greater").pvalue < 0.01, card
    judge.check({"reward_model": str(path)})


@pytest.mark.slow
def test_sweep_fills_tax_and_judge_columns_and_the_report_shows_them(reward_model, cache_dir, runs_dir, tmp_path):
    path, _ = reward_model
    args = ["-m", "method=sft,dpo", "sweep_name=optional", "eval.lm_eval.tasks=[apb_arabic_mc]", "eval.lm_eval.limit=48",
            f"eval.judge.reward_model={path}", "eval.judge.prompts=12", "eval.judge.samples=2"]
    out = run_cli("harness.train", args, runs_dir, cache_dir)
    assert out.returncode == 0, out.stderr[-3000:]
    df = load_runs(runs_dir).set_index("method")
    assert set(df.index) == {"sft", "dpo"} and (df["status"] == "ok").all()
    for m in ("sft", "dpo"):
        r = df.loc[m]
        task = json.loads(r["lm_eval_json"])["apb_arabic_mc"]
        assert task["n"] == 48 and len(task["item_scores"]) == len(task["base_item_scores"]) == 48
        assert r["lm_eval_score"] == pytest.approx(sum(task["item_scores"]) / 48)
        assert r["lm_eval_gain"] == pytest.approx(r["lm_eval_score"] - r["base_lm_eval_score"])
        assert len(r["judge_rewards"]) == len(r["base_judge_rewards"]) == len(r["judge_prompt_ids"]) == 12
        wins = [1.0 if a > b else 0.0 if a < b else 0.5 for a, b in zip(r["judge_rewards"], r["base_judge_rewards"])]
        assert r["judge_win_rate"] == pytest.approx(sum(wins) / 12)
        assert r["judge_reward_sampled"] is not None and r["lm_eval_seconds"] > 0 and r["judge_seconds"] > 0
    # both jobs judged the same prompts and lm-eval items; the base's side was computed once and cached
    assert list(df.loc["sft", "judge_prompt_ids"]) == list(df.loc["dpo", "judge_prompt_ids"])
    assert df.loc["sft", "base_lm_eval_score"] == df.loc["dpo", "base_lm_eval_score"]
    assert len(list(cache_dir.glob("lm-eval-base-*.json"))) == 1 and len(list(cache_dir.glob("judge-base-*.json"))) == 1
    rep = run_cli("harness.report", [str(runs_dir), "--out", str(tmp_path / "rep")], runs_dir, cache_dir)
    assert rep.returncode == 0, rep.stderr
    md = (tmp_path / "rep" / "optional" / "report.md").read_text(encoding="utf-8")
    assert "## Alignment tax (lm-evaluation-harness)" in md and "| DPO | apb_arabic_mc | acc |" in md
    assert "## Judged answers (reward model)" in md and "no SFT in sweep" not in md


def test_judged_prompts_are_a_fixed_draw_of_distinct_test_prompts():
    cfg = compose_cfg()
    test = datalib.load(datalib.as_dict(cfg.data)).splits["test"]
    ids, prompts = judge.judged_prompts(test, 10)
    assert len(set(ids)) == len(set(map(str, prompts))) == 10
    assert judge.judged_prompts(test, 10) == (ids, prompts)

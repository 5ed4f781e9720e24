"""The report's optional sections, shown when the rows carry them: the alignment tax (lm-evaluation-harness
tasks, policy minus base on the same items; harness.lmeval) and judged answers (a reward model's scores of
greedy answers, win rates against the base and against SFT on the same prompts and seeds; harness.judge).
Intervals are two-level (seeds x items or prompts, harness.intervals), like the preference-accuracy section.

Used by harness.report.markdown.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from harness import intervals
from harness.report.quality import families, grouped
from harness.report.summary import Summary
from harness.report.tables import cell, num, to_markdown


def _wins(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 where a > b, 0 where a < b, 0.5 on a tie (elementwise)."""
    return np.where(a > b, 1.0, np.where(a < b, 0.0, 0.5))


def _estimate(Y: np.ndarray):
    return intervals.method_interval(Y) if Y.shape[1] >= 2 else None


def _cell(e) -> str:
    return "-" if e is None else cell(e)


def tax_rows(s: Summary) -> list[dict]:
    """One row per (method, task): the policy's and the base's score and policy - base, with intervals."""
    if "lm_eval_json" not in s.runs:
        return []
    runs = s.runs[s.runs["lm_eval_json"].notna()]
    out = []
    for method in grouped([m for m in s.methods if m in set(runs["method"])], families(s)):
        parsed = [json.loads(j) for j in runs.loc[runs["method"] == method, "lm_eval_json"]]
        for task in sorted({t for p in parsed for t in p}):
            seeds = [p[task] for p in parsed if task in p]
            ids = seeds[0]["item_ids"]
            seeds = [r for r in seeds if r["item_ids"] == ids]  # the same items in every seed
            if len(ids) < 2:
                continue
            Y = np.array([r["item_scores"] for r in seeds])
            base = np.array(seeds[0]["base_item_scores"])
            diff, _ = intervals.margin_over(Y, base)
            out.append({"Method": method.upper(), "Task": task, "Metric": seeds[0]["metric"],
                        "Policy": cell(intervals.method_interval(Y)), "Base": cell(intervals.control_interval(base)),
                        "Policy - base": cell(diff), "Tax": ("one seed: no interval" if not diff.has_interval else
                                                            "yes" if diff.hi < 0 else "no" if diff.lo > 0 else "not shown"),
                        "Items": str(len(ids)), "Seeds": str(len(seeds))})
    return out


def tax_section(s: Summary) -> list[str]:
    rows = tax_rows(s)
    if not rows:
        return []
    return ["## Alignment tax (lm-evaluation-harness)", "",
            "Each task scored by lm-evaluation-harness on the trained policy and on the base it started from, item "
            "by item on the same items. Policy - base below zero is a tax: preference training cost that ability. "
            f"Intervals: {intervals.INTERVAL_METHOD} (items in place of pairs); the base's cover item sampling only. "
            "\"Tax\" says whether the interval of policy - base lies below zero (yes), above it (no: a gain) or "
            "spans it (not shown).", "", to_markdown(pd.DataFrame(rows)), ""]


def judge_frame(s: Summary) -> tuple[pd.DataFrame, str | None, list[str]]:
    """The ok rows judged by the most common reward model on one prompt set; that model; methods left out."""
    if "judge_model" not in s.runs:
        return s.runs.iloc[0:0], None, []
    runs = s.runs[s.runs["judge_model"].notna()]
    if runs.empty:
        return runs, None, []
    model = runs["judge_model"].mode().iloc[0]
    same = runs[runs["judge_model"] == model]
    ids = list(same["judge_prompt_ids"].iloc[0])
    keep = same[[list(x) == ids for x in same["judge_prompt_ids"]]]
    left = sorted(set(runs["method"]) - set(keep["method"]))
    return keep, model, left


def judge_rows(s: Summary) -> list[dict]:
    runs, _, _ = judge_frame(s)
    if runs.empty:
        return []
    by = {m: {int(r.seed): r for r in g.itertuples()} for m, g in runs.groupby("method")}
    sft = by.get("sft")
    out = []
    first = next(iter(by.values()))
    base = np.array(next(iter(first.values())).base_judge_rewards, dtype=float)
    for method in grouped([m for m in s.methods if m in by], families(s)):
        seeds = sorted(by[method])
        R = np.array([by[method][k].judge_rewards for k in seeds], dtype=float)
        vs_base = _estimate(_wins(R, base[None, :]))
        shared = sorted(set(seeds) & set(sft or {})) if method != "sft" else []
        vs_sft = (_estimate(_wins(np.array([by[method][k].judge_rewards for k in shared], dtype=float),
                                  np.array([sft[k].judge_rewards for k in shared], dtype=float)))
                  if shared else None)
        sampled = [by[method][k].judge_reward_sampled for k in seeds]
        out.append({"Method": method.upper(), "Mean reward (greedy)": _cell(_estimate(R)),
                    "Win rate vs base": _cell(vs_base),
                    "Win rate vs SFT": _cell(vs_sft) if sft else "no SFT in sweep",
                    "Mean reward (sampled)": num(float(np.mean(sampled))) if all(pd.notna(sampled)) else "-",
                    "Prompts": str(R.shape[1]), "Seeds": str(len(seeds))})
    base_sampled = next(iter(first.values())).base_judge_reward_sampled
    out.append({"Method": "base (no training)", "Mean reward (greedy)": cell(intervals.control_interval(base)),
                "Win rate vs base": "-", "Win rate vs SFT": "-",
                "Mean reward (sampled)": num(float(base_sampled)) if pd.notna(base_sampled) else "-",
                "Prompts": str(len(base)), "Seeds": "-"})
    return out


def judge_section(s: Summary) -> list[str]:
    rows = judge_rows(s)
    if not rows:
        return []
    _, model, left = judge_frame(s)
    lines = ["## Judged answers (reward model)", "",
             f"The reward model `{model}` scores each method's greedy answer to the same held-out prompts, and the "
             "base's. Win rate: share of prompts whose answer it rewards above the base's (or, against SFT, above "
             "SFT's answer from the same seed); ties count half. Rewards are in the reward model's own units: "
             "compare them within this table only. A reward model trained on this data's train split knows its "
             "preferences; one trained elsewhere judges by its own. "
             f"Intervals: {intervals.INTERVAL_METHOD} (prompts in place of pairs); the base's cover prompts only.", "",
             to_markdown(pd.DataFrame(rows)), ""]
    if left:
        lines += [f"Left out (another reward model or prompt set): {', '.join(left)}.", ""]
    return lines

"""The metric table: every number a row carries or the report derives, defined once: its name, what it
measures, its unit, the split it is computed on, whether higher is better and its kind. The row schema
(harness.results), the report (glossary, directions, the random-init mark), the regression check and the
tuning selection all read it, so a new metric is one line here plus its computation.

    python -m harness.metrics        # print the table

Kinds:
  quality     held-out quality of the trained policy (harness.evaluate); also stored with a `val_` prefix
              (validation split) and, where the base has it, a `base_` prefix (the base model, test split)
  gain        quality minus the base model's on the same pairs
  efficiency  quality gain per unit of cost (derived from row columns)
  timing      depends on wall-clock time: machine and load move it
  compute     counted, not timed (FLOPs, tokens, steps) or the memory high-water mark
  loss        the method's own objective: never comparable across methods
  inference   the generate() benchmark (timed)
Derived metrics (`derived=True`) are not row columns: `derive(df)` computes them per row, before any
averaging, so seeds stay paired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PFLOP = 1e15


@dataclass(frozen=True)
class Metric:
    name: str
    doc: str
    unit: str
    split: str                        # test | val | train | test prompts | test / train
    higher_is_better: bool | None     # None: no direction (a count, a loss of its own scale)
    kind: str
    derived: bool = False             # computed by derive(), not stored in the row


_M = Metric
TABLE: list[Metric] = [
    # ---------------------------------------------------------------- held-out quality (harness.evaluate)
    _M("pref_accuracy", "share of held-out pairs where the policy gives chosen a higher summed log-prob than "
       "rejected", "fraction", "test", True, "quality"),
    _M("pref_accuracy_norm", "same with log-probs averaged per completion token (length-normalised)",
       "fraction", "test", True, "quality"),
    _M("reward_margin", "mean of report_beta*[(log pi(c)-log pi_base(c)) - (log pi(r)-log pi_base(r))], one "
       "beta for every method", "nats x beta", "test", True, "quality"),
    _M("chosen_nll", "mean per-token negative log-likelihood of held-out chosen completions", "nats/token",
       "test", False, "quality"),
    _M("exact_match", "share of held-out verifiable questions whose greedy answer, normalised, equals the "
       "reference; null if none", "fraction", "test", True, "quality"),
    _M("gen_pref_accuracy", "share of held-out pair prompts whose greedy answer is closer (character edit "
       "distance, normalised text) to the chosen than to the rejected answer; equal distance counts 0.5",
       "fraction", "test", True, "quality"),
    _M("kl_to_base", "sampled estimate of KL(policy || base) per completion token on held-out prompts",
       "nats/token", "test prompts", False, "quality"),
    _M("lm_eval_score", "mean over the eval.lm_eval tasks of each task's per-item metric (eval.lm_eval.metric, "
       "scored by lm-evaluation-harness); per-task scores, stderrs and items in lm_eval_json", "fraction",
       "lm-eval tasks", True, "quality"),
    _M("judge_reward", "mean reward the eval.judge reward model gives the greedy answers to held-out prompts",
       "reward model's units", "test prompts", True, "quality"),
    _M("judge_reward_sampled", "mean reward of the eval.judge.samples sampled answers (temperature 1) per "
       "held-out prompt; null when samples is 0", "reward model's units", "test prompts", True, "quality"),
    _M("lm_eval_gain", "lm_eval_score minus the base model's on the same items; negative is an alignment tax",
       "fraction", "lm-eval tasks", True, "gain"),
    _M("judge_win_rate", "share of held-out prompts where the judge rewards the policy's greedy answer above "
       "the base's (ties count 0.5)", "fraction", "test prompts", True, "gain"),
    _M("pref_accuracy_gain", "pref_accuracy minus the base model's pref_accuracy on the same pairs",
       "fraction", "test", True, "gain"),
    _M("gen_pref_accuracy_gain", "gen_pref_accuracy minus the base model's on the same prompts", "fraction",
       "test", True, "gain"),
    _M("exact_match_gain", "exact_match minus the base model's exact_match on the same questions", "fraction",
       "test", True, "gain"),
    # ------------------------------------------------------------------------------ efficiency (derived)
    _M("quality_per_compute", "pref accuracy gain over the base / training PFLOPs (1e15 FLOP)",
       "gain per PFLOP", "test / train", True, "efficiency", derived=True),
    _M("quality_per_second", "pref accuracy gain over the base / training seconds", "gain per s",
       "test / train", True, "efficiency", derived=True),
    _M("card_efficiency", "the reference card's score: samples/s x loss reduction rate (see footnote)",
       "pairs/s", "train", True, "efficiency", derived=True),
    _M("loss_reduction_rate", "the card's rule: 1 - final loss if final loss < 1, else 0", "fraction", "train",
       True, "loss", derived=True),
    # ----------------------------------------------------------------------------------------- training
    _M("train_seconds", "wall time of trainer.train() only (no model load, tokenisation, evaluation)", "s",
       "train", False, "timing"),
    _M("setup_seconds", "model load + tokenization + reference log-prob precompute, before trainer.train()",
       "s", "train", False, "timing"),
    _M("samples_per_second", "preference pairs x epochs / training time; a pair counts once for every method "
       "(KTO's two unpaired rows are one pair)", "pairs/s", "train", True, "timing"),
    _M("tokens_per_second", "non-padding training tokens (chosen and rejected both count; KTO's KL pass does "
       "not) / training time", "tokens/s", "train", True, "timing"),
    _M("step_time_median_s", "median optimizer-step wall time after warm-up", "s", "train", False, "timing"),
    _M("eval_seconds", "held-out quality evaluation time (never counted as training)", "s", "val + test",
       False, "timing"),
    _M("peak_memory_mb", "job peak memory: RSS high-water mark on CPU (reset at job start), torch max "
       "allocated on GPU", "MB", "train", False, "compute"),
    _M("train_flops", "estimated training FLOPs: 6N per policy token + 2N per reference-forward token (+ KTO's "
       "KL pass)", "FLOP", "train", False, "compute"),
    _M("train_tokens", "non-padding tokens the policy processed in training (chosen + rejected for pairwise; "
       "KL pass excluded)", "tokens", "train", None, "compute"),
    _M("optimizer_steps", "optimizer steps taken", "steps", "train", None, "compute"),
    _M("mfu", "achieved FLOP/s / peak FLOP/s of the device (model FLOP utilisation)", "fraction", "train",
       True, "timing"),
    _M("final_loss", "last training loss of the method's own objective; not comparable across methods",
       "objective's own units", "train", None, "loss"),
    _M("initial_loss", "first logged training loss of the method's own objective", "objective's own units",
       "train", None, "loss"),
    # ---------------------------------------------------------------------------------------- inference
    _M("infer_latency_ms_mean", "mean wall time of one greedy generate() call (one batch, KV cache, warm-up "
       "excluded)", "ms", "test prompts", False, "inference"),
    _M("infer_latency_ms_p95", "95th percentile of the same", "ms", "test prompts", False, "inference"),
    _M("infer_tokens_per_second", "generated tokens (each sequence up to its EOS) / second in the inference "
       "benchmark; depends on how long the model's answers are", "tokens/s", "test prompts", True, "inference"),
    _M("infer_runs", "timed generate() calls per run", "calls", "test prompts", None, "inference"),
]
BY_NAME: dict[str, Metric] = {m.name: m for m in TABLE}

QUALITY = [m for m in TABLE if m.kind == "quality"]
# base_ columns: the base model's own test numbers (reward margin and KL are 0 for the base by definition)
BASE_SCORED = [m.name for m in QUALITY if m.name not in ("reward_margin", "kl_to_base")]
# Scored on test only: KL to the base is sampled on test prompts; lm-eval tasks and the judge are optional and costly.
TEST_ONLY = ("kl_to_base", "lm_eval_score", "judge_reward", "judge_reward_sampled")
VAL_SCORED = [m.name for m in QUALITY if m.name not in TEST_ONLY]
# Filled by harness.evaluate.score_split (the others by harness.lmeval and harness.judge)
PAIR_SCORED = [m.name for m in QUALITY if m.name not in TEST_ONLY[1:]]


def get(name: str) -> Metric:
    """A metric by name; `val_x` and `base_x` resolve to x with the split or model said in the doc."""
    if name in BY_NAME:
        return BY_NAME[name]
    for prefix, split, what in (("val_", "val", "on the validation split"), ("base_", "test", "of the base model")):
        if name.startswith(prefix) and name[len(prefix):] in BY_NAME:
            m = BY_NAME[name[len(prefix):]]
            return Metric(name, f"{m.doc} ({what})", m.unit, split, m.higher_is_better, m.kind)
    raise KeyError(f"unknown metric {name!r}: not in harness/metrics.py's table")


def higher_is_better(name: str) -> bool:
    """Direction for ranking; metrics without one (counts, own-scale losses) rank higher-first."""
    try:
        return get(name).higher_is_better is not False
    except KeyError:
        return True


def is_quality(name: str) -> bool:
    """Held-out quality, its gain or a ratio of it: meaningless for random-init weights."""
    try:
        return get(name).kind in ("quality", "gain", "efficiency")
    except KeyError:
        return False


def numeric_metrics() -> list[str]:
    """Every metric the report aggregates over seeds, with the validation and base variants it shows."""
    return [m.name for m in TABLE] + ["val_" + n for n in VAL_SCORED] + ["base_" + n for n in BASE_SCORED]


# ------------------------------------------------------------------------------------------ derived
def loss_reduction_rate(final_loss: float) -> float:
    """The reference card's rule, kept exactly: 1 - final_loss when final_loss < 1, else 0."""
    if final_loss is None or math.isnan(final_loss):
        return math.nan
    return 1.0 - final_loss if final_loss < 1 else 0.0


def card_efficiency(samples_per_second: float, final_loss: float) -> float:
    """The reference card's efficiency score: samples per second x loss reduction rate."""
    return samples_per_second * loss_reduction_rate(final_loss)


def derive(df):
    """A copy of the rows (a pandas DataFrame) with every derived metric added, per row."""
    import pandas as pd

    df = df.copy()
    for col in ("final_loss", "samples_per_second", "train_seconds", "train_flops", "pref_accuracy_gain"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df["loss_reduction_rate"] = df["final_loss"].map(loss_reduction_rate)
    df["card_efficiency"] = [card_efficiency(s, f) for s, f in zip(df["samples_per_second"], df["final_loss"])]
    df["quality_per_second"] = df["pref_accuracy_gain"] / df["train_seconds"]
    df["quality_per_compute"] = df["pref_accuracy_gain"] / (df["train_flops"] / PFLOP)
    return df


def main() -> None:
    for m in TABLE:
        arrow = {True: "higher", False: "lower", None: "-"}[m.higher_is_better]
        print(f"{m.name:24s} {m.kind:10s} {m.split:13s} {arrow:6s} [{m.unit}] {m.doc}")


if __name__ == "__main__":
    main()

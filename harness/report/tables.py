"""The report's tables: the reference card's four tables with measured values, the ranking, the pairwise
comparisons and the column glossary, each built as a pandas DataFrame of numbers (written as CSV) and
rendered as markdown strings (mean [low, high] over seeds).

Used by `python -m harness.report` (see harness/report/__main__.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from harness.stats import Estimate
from harness import metrics
from harness.report.summary import Summary


@dataclass(frozen=True)
class Col:
    label: str
    metric: str


TRAINING_RESULTS = [Col("Final Loss", "final_loss"), Col("Training Time (s)", "train_seconds"),
                    Col("Samples per Second", "samples_per_second"),
                    Col("Efficiency Score (card)", "card_efficiency"),
                    Col("Loss Reduction Rate", "loss_reduction_rate")]
INFERENCE = [Col("Average Latency (ms)", "infer_latency_ms_mean"), Col("p95 Latency (ms)", "infer_latency_ms_p95"),
             Col("Throughput (tokens/s)", "infer_tokens_per_second"), Col("Benchmark Runs", "infer_runs")]
EFFICIENCY = [Col("Efficiency Score (card)", "card_efficiency"), Col("Training Time (s)", "train_seconds")]
COMPLETE = [Col("Training Time (s)", "train_seconds"), Col("Efficiency (card)", "card_efficiency"),
            Col("Inference Speed (tokens/s)", "infer_tokens_per_second"), Col("Final Loss", "final_loss"),
            Col("Pref Accuracy", "pref_accuracy"), Col("Exact Match", "exact_match"),
            Col("Greedy Answer Pref", "gen_pref_accuracy"), Col("Reward Margin", "reward_margin"), Col("Gain over Base", "pref_accuracy_gain"),
            Col("KL to Base", "kl_to_base"), Col("Train tokens/s", "tokens_per_second"),
            Col("Peak Memory (MB)", "peak_memory_mb"), Col("Est. FLOPs", "train_flops"), Col("MFU", "mfu")]


def num(x: float) -> str:
    """Fixed-width-ish number formatting, stable across runs."""
    if x is None or math.isnan(x):
        return "n/a"
    if x == 0:
        return "0"
    if abs(x) >= 1e6 or abs(x) < 1e-3:
        return f"{x:.3e}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def cell(e: Estimate) -> str:
    if e.n == 0:
        return "n/a"
    return f"{num(e.mean)} [{num(e.lo)}, {num(e.hi)}]" if e.has_interval else num(e.mean)


def cell_diff(mean: float, lo: float, hi: float) -> str:
    return f"{num(mean)} [{num(lo)}, {num(hi)}]"


def metric_cell(s: Summary, metric: str, method: str) -> str:
    text = cell(s.est[metric][method])
    # random-init rows: the quality numbers exist but measure nothing
    if metrics.is_quality(metric) and s.cost_only_method(method):  # cost-only rows: quality measures nothing
        text += " †"
    return text


def flag_text(s: Summary, method: str) -> str:
    """Flag codes with the seeds that raised them, e.g. `few_steps (s0,s1)`."""
    sub = s.runs[s.runs["method"] == method]
    seen: dict[str, list[int]] = {}
    for seed, flags in zip(sub["seed"], sub["flags"]):
        for f in flags:
            seen.setdefault(f.split(":")[0], []).append(int(seed))
    return "; ".join(f"{k} (" + ",".join(f"s{x}" for x in sorted(v)) + ")" for k, v in sorted(seen.items()))


def display(s: Summary, cols: list[Col], extra: dict[str, dict[str, str]] | None = None,
            order: list[str] | None = None) -> pd.DataFrame:
    """Markdown-ready strings: Method, the metric columns, extra text columns, Seeds, Flags."""
    rows = []
    for m in order or s.methods:
        row = {"Method": m.upper()} | {c.label: metric_cell(s, c.metric, m) for c in cols}
        row |= {k: v.get(m, "n/a") for k, v in (extra or {}).items()}
        row |= {"Seeds": str(len(s.seeds(m))), "Flags": flag_text(s, m) or "-"}
        rows.append(row)
    return pd.DataFrame(rows)


def numeric(s: Summary, cols: list[Col], extra: dict[str, dict[str, str]] | None = None,
            order: list[str] | None = None) -> pd.DataFrame:
    """The same table as numbers for CSV: <metric>_mean/_lo/_hi and n seeds."""
    rows = []
    for m in order or s.methods:
        row: dict[str, object] = {"method": m}
        for c in cols:
            e = s.est[c.metric][m]
            row |= {f"{c.metric}_mean": e.mean, f"{c.metric}_lo": e.lo, f"{c.metric}_hi": e.hi}
        row |= {k.lower().replace(" ", "_"): v.get(m) for k, v in (extra or {}).items()}
        row |= {"n_seeds": len(s.seeds(m)), "flags": flag_text(s, m)}
        rows.append(row)
    return pd.DataFrame(rows)


def devices(s: Summary) -> dict[str, str]:
    return {m: ", ".join(sorted(set(s.runs.loc[s.runs["method"] == m, "device"].dropna().astype(str))))
            for m in s.methods}


def card_tables(s: Summary) -> dict[str, tuple[str, pd.DataFrame, pd.DataFrame]]:
    """slug -> (title, display frame, numeric frame) for the card's four tables and the ranking."""
    card_rank = {"Rank": s.ranks.get("card_efficiency", {})}
    rank_cols = [Col(f"{s.rank_by}", s.rank_by)] + [Col(c, c) for c in ("quality_per_second", "quality_per_compute")
                                                  if c != s.rank_by] + [Col("Test pref accuracy", "pref_accuracy")]
    ranking = {"Rank": s.ranks.get(s.rank_by, {})}
    # the card's own table is ordered by the card's score, like the card; the rest by report.rank_by
    by_card = s.order_by("card_efficiency")
    specs = {
        "training_results": ("Training Results", TRAINING_RESULTS, None, None),
        "inference_benchmarks": ("Inference Benchmarks", INFERENCE, {"Device": devices(s)}, None),
        "training_efficiency_comparison": ("Training Efficiency Comparison", EFFICIENCY, card_rank, by_card),
        "ranking": (f"Ranking by {s.rank_by}", rank_cols, ranking, None),
        "complete_performance_comparison": ("Complete Performance Comparison", COMPLETE, None, None),
    }
    return {k: (t, display(s, c, e, o), numeric(s, c, e, o)) for k, (t, c, e, o) in specs.items()}


def pairwise_display(s: Summary) -> pd.DataFrame:
    p = s.pairwise
    return pd.DataFrame({
        "Pair": [f"{a.upper()} - {b.upper()}" for a, b in zip(p["a"], p["b"])],
        f"Difference in {s.rank_by}": [cell(Estimate(m, lo, hi, n)) for m, lo, hi, n in
                                       zip(p["diff_mean"], p["diff_lo"], p["diff_hi"], p["shared_seeds"])],
        "Shared seeds": [str(n) for n in p["shared_seeds"]],
        "Significant": ["yes" if x else "no" for x in p["significant"]],
    })


def glossary() -> pd.DataFrame:
    """Every metric the tables show, as harness.metrics defines it."""
    shown = sorted({c.metric for cols in (TRAINING_RESULTS, INFERENCE, EFFICIENCY, COMPLETE) for c in cols}
                   | {"quality_per_second", "quality_per_compute"})
    return pd.DataFrame([{"Column": n, "What it measures": metrics.get(n).doc, "Split": metrics.get(n).split,
                          "Unit": metrics.get(n).unit} for n in shown])


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub table without the tabulate dependency; pipes in cells are escaped."""
    esc = lambda v: str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(esc(c) for c in df.columns) + " |",
             "|" + "|".join("---" for _ in df.columns) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)

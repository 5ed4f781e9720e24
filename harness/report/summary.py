"""The numbers behind the report: pick the rows that count, derive per-run metrics, aggregate over seeds,
rank with shared ranks and compare methods pairwise.

Input is only the DataFrame from harness.results.load_runs; nothing here imports training code.
Used by `python -m harness.report` (see harness/report/__main__.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from harness import metrics
from harness.report import pairs
from harness.report.pairs import PairData
from harness.stats import Estimate, mean_ci, paired_difference, rank_sort_key, shared_ranks

# rank_by aliases users type -> derived column
ALIASES = {"card": "card_efficiency", "quality-per-compute": "quality_per_compute",
           "quality-per-second": "quality_per_second"}


def cost_only(runs: pd.DataFrame) -> pd.Series:
    """Per row: only its cost figures count (the row's cost_only, or random-init weights in rows before it)."""
    flag = runs["cost_only"].fillna(False).astype(bool) if "cost_only" in runs else False
    return (runs["model_weights"] == "random-init") | flag


@dataclass
class Summary:
    """Everything one sweep's report shows, computed once."""
    sweep: str
    cfg: dict[str, Any]
    runs: pd.DataFrame            # ok rows, one per (method, seed), with derived columns
    failed: pd.DataFrame          # status != ok: listed, never averaged
    superseded: pd.DataFrame      # older ok rows of a (method, seed) that a newer row replaced
    methods: list[str]            # display order: by rank under rank_by, then name
    est: dict[str, dict[str, Estimate]] = field(default_factory=dict)   # metric -> method -> estimate
    ranks: dict[str, dict[str, str]] = field(default_factory=dict)      # metric -> method -> "2-3"
    pairwise: pd.DataFrame = field(default_factory=pd.DataFrame)
    pairs: PairData | None = None  # per-test-pair scores: two-level intervals, base, controls, parts

    @property
    def rank_by(self) -> str:
        return resolve_metric(self.cfg["rank_by"])

    @property
    def max_seeds(self) -> int:
        return int(self.runs.groupby("method")["seed"].nunique().max()) if len(self.runs) else 0

    @property
    def random_init(self) -> bool:
        """Any cost-only row: random-init weights or synthetic cost data (data=cost)."""
        return bool(cost_only(self.runs).any()) if len(self.runs) else False

    def cost_only_method(self, method: str) -> bool:
        return bool(cost_only(self.runs[self.runs["method"] == method]).any())

    def order_by(self, metric: str) -> list[str]:
        """Methods by shared rank under metric, then by mean (better first), then by name."""
        return rank_order(self.est.get(metric, {}), self.ranks.get(metric, {}), metrics.higher_is_better(metric))

    def seeds(self, method: str) -> list[int]:
        return sorted(int(s) for s in self.runs.loc[self.runs["method"] == method, "seed"])


def resolve_metric(name: str) -> str:
    return ALIASES.get(name, name)


def _flags(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return sorted(str(f) for f in value)


def arm_labels(df: pd.DataFrame) -> pd.Series:
    """A grid sweep (beta_grid, lr_grid) holds several arms of one method: label each by the TRL arguments
    that differ between that method's rows ("dpo[beta=0.1]"), so arms are compared, never merged as re-runs."""
    hp = df["hparams_json"].map(lambda s: json.loads(s) if isinstance(s, str) else {})
    labels = df["method"].astype(str).copy()
    for method in labels.unique():
        idx = df.index[df["method"] == method]
        keys = sorted({k for i in idx for k in hp[i]})
        varying = [k for k in keys if len({json.dumps(hp[i].get(k), sort_keys=True) for i in idx}) > 1]
        if varying:
            for i in idx:
                labels[i] = method + "[" + ",".join(f"{k}={hp[i].get(k)}" for k in varying) + "]"
    return labels


def split_runs(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(ok, failed, superseded). A (method, seed) run twice (changed config, re-run) keeps its newest
    ok row so that one seed is never counted twice; the older rows are listed, not averaged."""
    df = df.sort_values(["method", "seed", "finished_at", "run_id"], na_position="first").reset_index(drop=True)
    df["flags"] = df["flags"].map(_flags)
    failed = df[df["status"] != "ok"].reset_index(drop=True)
    ok = df[df["status"] == "ok"]
    newest = ok.duplicated(["method", "seed"], keep="last")
    return ok[~newest].reset_index(drop=True), failed, ok[newest].reset_index(drop=True)


def per_seed(runs: pd.DataFrame, method: str, metric: str) -> dict[int, float]:
    sub = runs[runs["method"] == method]
    vals = pd.to_numeric(sub[metric], errors="coerce").astype(float)
    return {int(s): float(v) for s, v in zip(sub["seed"], vals) if not math.isnan(v)}


def estimate_all(runs: pd.DataFrame, metrics: list[str], cfg: dict[str, Any]) -> dict[str, dict[str, Estimate]]:
    out: dict[str, dict[str, Estimate]] = {}
    for metric in metrics:
        if metric not in runs:
            continue
        out[metric] = {m: mean_ci(list(per_seed(runs, m, metric).values()), cfg["confidence"],
                                  seed=cfg["bootstrap_seed"])
                       for m in sorted(runs["method"].unique())}
    return out


def pairwise_table(runs: pd.DataFrame, methods: list[str], metric: str, cfg: dict[str, Any]) -> pd.DataFrame:
    """a - b over shared seeds for every pair in display order, with its interval and significance."""
    rows = []
    for a, b in combinations(methods, 2):
        est, sig = paired_difference(per_seed(runs, a, metric), per_seed(runs, b, metric), cfg["confidence"])
        shared = len(set(per_seed(runs, a, metric)) & set(per_seed(runs, b, metric)))
        rows.append({"a": a, "b": b, "metric": metric, "diff_mean": est.mean, "diff_lo": est.lo,
                     "diff_hi": est.hi, "shared_seeds": shared, "significant": bool(sig)})
    cols = ["a", "b", "metric", "diff_mean", "diff_lo", "diff_hi", "shared_seeds", "significant"]
    return pd.DataFrame(rows, columns=cols)


def summarize(df: pd.DataFrame, sweep: str, cfg: dict[str, Any]) -> Summary:
    """One sweep's rows -> Summary. cfg is the `report` node of conf/report.yaml (plus overrides)."""
    rows = df[df["sweep"] == sweep].copy()
    rows["method"] = arm_labels(rows)
    ok, failed, superseded = split_runs(rows)
    runs = metrics.derive(ok)
    rank_by = resolve_metric(cfg["rank_by"])
    if len(runs) and (rank_by not in runs or not pd.to_numeric(runs[rank_by], errors="coerce").notna().any()):
        raise ValueError(f"report.rank_by={cfg['rank_by']!r} is not a numeric row column or a derived metric "
                         f"(card, quality_per_compute, quality_per_second)")
    est = estimate_all(runs, sorted(set(metrics.numeric_metrics()) | {rank_by}), cfg)
    data = pairs.collect(runs) if len(runs) else None
    if data is not None:  # intervals over seeds AND test pairs replace the seeds-only ones
        for metric in pairs.PAIR_METRICS:
            est.setdefault(metric, {}).update(pairs.estimates(data, metric))
    ranks = {m: shared_ranks(est[m], metrics.higher_is_better(m)) for m in (rank_by, "card_efficiency") if m in est}
    methods = rank_order(est.get(rank_by, {}), ranks.get(rank_by, {}), metrics.higher_is_better(rank_by))
    pairwise = (pairs.differences(data, methods, rank_by) if data is not None and rank_by in pairs.PAIR_METRICS
                else pairwise_table(runs, methods, rank_by, cfg))
    return Summary(sweep, cfg, runs, failed, superseded, methods, est, ranks, pairwise, data)


def rank_order(est: dict[str, Estimate], ranks: dict[str, str], higher: bool) -> list[str]:
    sign = 1 if higher else -1

    def key(m: str) -> tuple:
        mean = -sign * est[m].mean
        return rank_sort_key(ranks.get(m, "999")), math.inf if math.isnan(mean) else mean, m
    return sorted(est, key=key)


def first_json(runs: pd.DataFrame, method: str, column: str) -> dict[str, Any]:
    """The JSON column of a method's lowest-seed row (hparams and config agree across seeds but the seed)."""
    sub = runs[runs["method"] == method].sort_values("seed")
    raw = sub[column].dropna()
    return json.loads(raw.iloc[0]) if len(raw) else {}


def loss_curve(runs: pd.DataFrame, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(steps, mean, min, max) over seeds at the steps every seed logged."""
    curves = [dict(zip((int(s) for s in st), (float(v) for v in va)))
              for st, va in zip(runs.loc[runs["method"] == method, "loss_steps"],
                                runs.loc[runs["method"] == method, "loss_values"])
              if st is not None and va is not None and len(st)]
    if not curves:
        return (np.array([]),) * 4
    steps = sorted(set.intersection(*(set(c) for c in curves)))
    vals = np.array([[c[s] for s in steps] for c in curves], dtype=float)
    return np.array(steps), vals.mean(axis=0), vals.min(axis=0), vals.max(axis=0)

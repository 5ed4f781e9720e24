"""Held-out preference quality pair by pair: each row stores, per test pair, whether the policy preferred the
chosen answer, and the same for the base and the trivial controls (harness.controls). From those this module
gives the report intervals over BOTH sources of variance (training seeds and test pairs, harness.intervals),
paired method differences, gains over the base, margins over the best control, and the same per part and
category of the data.

Used by harness.report.summary (numbers) and harness.report.markdown (the quality section).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from harness import intervals
from harness.metrics import PFLOP
from harness.stats import Estimate

# metric -> (score column, what to subtract, cost column to divide by)
PAIR_METRICS = {
    "pref_accuracy": ("test_pair_scores", None, None),
    "pref_accuracy_norm": ("test_pair_scores_norm", None, None),
    "pref_accuracy_gain": ("test_pair_scores", "base", None),
    "quality_per_compute": ("test_pair_scores", "base", "train_pflops"),
    "quality_per_second": ("test_pair_scores", "base", "train_seconds"),
}
MIN_PART_PAIRS = 30   # parts and categories with fewer test pairs are not broken out


@dataclass
class PairData:
    """Every ok row's per-pair scores on one shared list of test pairs."""
    ids: list[str]
    parts: np.ndarray
    categories: np.ndarray
    scores: dict[str, dict[str, dict[int, np.ndarray]]] = field(default_factory=dict)  # column -> method -> seed
    base: dict[str, np.ndarray] = field(default_factory=dict)                          # column -> vector
    controls: dict[str, np.ndarray] = field(default_factory=dict)                      # control -> vector
    cost: dict[str, dict[str, float]] = field(default_factory=dict)                    # method -> column -> mean
    excluded: list[str] = field(default_factory=list)                                  # run ids on other pairs

    @property
    def n(self) -> int:
        return len(self.ids)

    def masks(self) -> dict[str, np.ndarray]:
        """'all', each part and each part/category with at least MIN_PART_PAIRS test pairs."""
        out = {"all": np.ones(self.n, bool)}
        for part in sorted(set(self.parts)):
            mask = self.parts == part
            if mask.sum() >= MIN_PART_PAIRS and mask.sum() < self.n:
                out[part] = mask
        for part in sorted(set(self.parts)):
            for cat in sorted(set(self.categories[self.parts == part])):
                mask = (self.parts == part) & (self.categories == cat)
                if mask.sum() >= MIN_PART_PAIRS and mask.sum() < (self.parts == part).sum():
                    out[f"{part}/{cat}"] = mask
        return out


def collect(runs: pd.DataFrame) -> PairData | None:
    """The per-pair scores of the ok rows (harness.report.summary's `runs`), or None when no row has them
    (rows from before schema 3). Rows scored on another list of test pairs than the first are left out."""
    has = runs[runs["test_pair_scores"].map(lambda v: v is not None and len(v) > 0)] if "test_pair_scores" in runs else runs.iloc[:0]
    if has.empty:
        return None
    first = has.iloc[0]
    ids = list(first["test_pair_ids"])
    data = PairData(ids, np.asarray(first["test_pair_parts"], dtype=object),
                    np.asarray(first["test_pair_categories"], dtype=object))
    for col in ("base_test_pair_scores", "base_test_pair_scores_norm"):
        if first[col] is not None:
            data.base[col.removeprefix("base_")] = np.asarray(first[col], float)
    data.controls = {k: np.asarray(v, float) for k, v in sorted(json.loads(first["controls_json"] or "{}").items())}
    for _, r in has.iterrows():
        if list(r["test_pair_ids"]) != ids:
            data.excluded.append(str(r["run_id"]))
            continue
        for col in ("test_pair_scores", "test_pair_scores_norm"):
            if r[col] is not None:
                data.scores.setdefault(col, {}).setdefault(r["method"], {})[int(r["seed"])] = np.asarray(r[col], float)
    for method, g in has[~has["run_id"].astype(str).isin(data.excluded)].groupby("method"):
        mean = {c: float(pd.to_numeric(g[c], errors="coerce").mean()) for c in ("train_flops", "train_seconds")}
        data.cost[method] = {"train_pflops": mean["train_flops"] / PFLOP, "train_seconds": mean["train_seconds"]}
    return data


def transformed(data: PairData, method: str, metric: str, mask: np.ndarray | None = None) -> dict[int, np.ndarray]:
    """{seed: per-pair values} whose mean is the metric: scores, minus the base's, divided by a mean cost."""
    column, minus, per = PAIR_METRICS[metric]
    seeds = data.scores.get(column, {}).get(method, {})
    base = data.base.get(column.removeprefix("base_"), None) if minus else None
    if minus and base is None:
        return {}
    scale = 1.0 / data.cost[method][per] if per else 1.0
    if per and not (math.isfinite(scale) and scale > 0):
        return {}
    mask = np.ones(data.n, bool) if mask is None else mask
    return {s: ((y - base) * scale if minus else y)[mask] for s, y in seeds.items()}


def estimates(data: PairData, metric: str, mask: np.ndarray | None = None) -> dict[str, Estimate]:
    out = {}
    for method in sorted(data.scores.get(PAIR_METRICS[metric][0], {})):
        values = transformed(data, method, metric, mask)
        if values:
            out[method] = intervals.method_interval(values)
    return out


def differences(data: PairData, methods: list[str], metric: str) -> pd.DataFrame:
    """a - b for every pair of methods in display order, paired by seed and test pair."""
    from itertools import combinations

    rows = []
    for a, b in combinations(methods, 2):
        ya, yb = transformed(data, a, metric), transformed(data, b, metric)
        if not ya or not yb:
            continue
        est, sig = intervals.paired_difference(ya, yb)
        rows.append({"a": a, "b": b, "metric": metric, "diff_mean": est.mean, "diff_lo": est.lo, "diff_hi": est.hi,
                     "shared_seeds": len(set(ya) & set(yb)), "significant": bool(sig)})
    cols = ["a", "b", "metric", "diff_mean", "diff_lo", "diff_hi", "shared_seeds", "significant"]
    return pd.DataFrame(rows, columns=cols)


def best_control(data: PairData, mask: np.ndarray | None = None) -> tuple[str, np.ndarray] | None:
    """The control with the highest mean on these pairs (ties: the first by name)."""
    if not data.controls:
        return None
    mask = np.ones(data.n, bool) if mask is None else mask
    name = max(sorted(data.controls), key=lambda k: float(data.controls[k][mask].mean()))
    return name, data.controls[name]


@dataclass(frozen=True)
class QualityRow:
    name: str
    kind: str                    # method | base | control
    acc: Estimate
    acc_norm: Estimate | None
    gain: Estimate | None        # over the base (methods)
    margin: Estimate | None      # over the best control on the same pairs (methods)


def quality_rows(data: PairData, methods: list[str], mask: np.ndarray) -> list[QualityRow]:
    """Methods (two-level intervals), the base and each control (intervals over test pairs), on `mask`."""
    mask = np.ones(data.n, bool) if mask is None else mask
    best = best_control(data, mask)
    rows = []
    for m in methods:
        y = transformed(data, m, "pref_accuracy", mask)
        if not y:
            continue
        yn = transformed(data, m, "pref_accuracy_norm", mask)
        base = data.base.get("test_pair_scores")
        rows.append(QualityRow(
            m, "method", intervals.method_interval(y), intervals.method_interval(yn) if yn else None,
            intervals.margin_over(y, base[mask])[0] if base is not None else None,
            intervals.margin_over(y, best[1][mask])[0] if best else None))
    if "test_pair_scores" in data.base:
        norm = data.base.get("test_pair_scores_norm")
        rows.append(QualityRow("base", "base", intervals.control_interval(data.base["test_pair_scores"][mask]),
                               intervals.control_interval(norm[mask]) if norm is not None else None, None, None))
    for name, y in data.controls.items():
        rows.append(QualityRow(name, "control", intervals.control_interval(y[mask]), None, None, None))
    return rows


def unlearned(data: PairData, methods: list[str]) -> list[str]:
    """Parts and categories where no method's gain over the base has an interval above zero."""
    out = []
    base = data.base.get("test_pair_scores")
    if base is None:
        return out
    for label, mask in data.masks().items():
        gains = [intervals.margin_over(y, base[mask])[0] for m in methods
                 if (y := transformed(data, m, "pref_accuracy", mask))]
        if gains and not any(g.lo > 0 for g in gains if not math.isnan(g.lo)):
            out.append(f"{label} ({int(mask.sum())} pairs)")
    return out

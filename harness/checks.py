"""Per-method checks of the regression check (harness.regress): did each method still learn, did its held-out
accuracy stay where reseeding alone would leave it, and did its training start the way it did.

Pairwise orderings (harness.regress) only see a bug that reorders methods. The bugs a CI check exists for (a
view that pairs the wrong answers, a flipped or mis-averaged loss, a learning rate or beta off by 10x, a
library upgrade) often leave the order alone. Three checks per method, from the rows' per-pair test scores
and loss curves, each against what the baseline stored:

  learning    the baseline's gain over the base model (pref_accuracy minus the base's, pair by pair, over
              seeds and test pairs; harness.intervals.margin_over) excluded zero: the new gain must too.
  mean        |new mean - baseline mean| of pref_accuracy within the 95% half-width of the difference of two
              sweeps with independent seeds on the same test pairs, t(S-1) * sqrt(2 * seed part): the seed
              part of the baseline's own two-level variance (harness.intervals.variance_components). The test
              pairs are shared, so their sampling cancels. A method whose mean moves more than reseeding
              explains has changed.
  trajectory  the training loss logged at every step up to `max_step`, per seed: a CI sweep re-runs the same
              seeds on the same data, so the first steps repeat up to floating-point noise; a change to an
              objective, a view, the tokenization, a hyper-parameter or the library moves them at once.
              Tolerance: rtol of the baseline's value (conf/regress.yaml).

Each failing row names the method, the check, the baseline and new values and the interval or tolerance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from harness import intervals


def _matrix(g: pd.DataFrame, column: str) -> np.ndarray | None:
    vals = [v for v in g[column] if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals or len({len(v) for v in vals}) != 1:
        return None
    return np.stack([np.asarray(v, dtype=float) for v in vals])


def summarize(df: pd.DataFrame, cfg: dict) -> dict[str, Any]:
    """Per method: the two-level pref_accuracy estimate, its gain over the base, the tolerance of its mean,
    and the logged losses of every seed up to max_step."""
    out: dict[str, Any] = {}
    max_step = int(cfg["trajectory"]["max_step"])
    for method, g in df.sort_values("seed").groupby("method"):
        entry: dict[str, Any] = {"seeds": [int(s) for s in g["seed"]]}
        Y = _matrix(g, "test_pair_scores")
        base = _matrix(g, "base_test_pair_scores")
        if Y is not None:
            est = intervals.method_interval(Y)
            comp = intervals.variance_components(Y)
            seed_var, df_seed = comp.parts[0] if comp.seeds > 1 else (math.nan, 0.0)
            tol = (float(stats.t.ppf(0.975, df_seed) * math.sqrt(2 * seed_var))
                   if df_seed > 0 and seed_var == seed_var else math.nan)
            entry["pref_accuracy"] = {"mean": est.mean, "lo": est.lo, "hi": est.hi, "tolerance": tol,
                                      "pairs": int(Y.shape[1])}
            if base is not None:
                gain, excludes = intervals.margin_over(Y, base[0])
                entry["gain"] = {"mean": gain.mean, "lo": gain.lo, "hi": gain.hi, "learned": bool(excludes and gain.lo > 0)}
        entry["trajectory"] = {
            str(int(seed)): {"steps": [int(s) for s in steps if s <= max_step],
                             "losses": [float(x) for s, x in zip(steps, losses) if s <= max_step]}
            for seed, steps, losses in zip(g["seed"], g["loss_steps"], g["loss_values"])
            if steps is not None and losses is not None}
        out[method] = entry
    return out


def compare(base: dict[str, Any], new: dict[str, Any], cfg: dict) -> list[dict]:
    rows: list[dict] = []
    for method in sorted(base):
        was, now = base[method], new.get(method)
        if now is None:
            continue  # a missing method fails in harness.regress.missing_methods
        rows += learning(method, was, now) + mean(method, was, now) + trajectory(method, was, now, cfg)
    return rows


def learning(method: str, was: dict, now: dict) -> list[dict]:
    if not (was.get("gain") or {}).get("learned"):
        return []
    g0, g1 = was["gain"], now.get("gain")
    base_txt = f"gain {_pm(g0)}"
    if g1 is None:
        return [_row(f"{method} learning", base_txt, "no per-pair scores", "NOT LEARNED", True)]
    ok = g1["learned"]
    return [_row(f"{method} learning", base_txt, f"gain {_pm(g1)}",
                 "ok (gain over base excludes 0)" if ok else "NOT LEARNED (gain interval reaches 0)", not ok)]


def mean(method: str, was: dict, now: dict) -> list[dict]:
    a0, a1 = was.get("pref_accuracy"), now.get("pref_accuracy")
    if not a0 or not a1 or not (a0["tolerance"] == a0["tolerance"]):
        return []
    move, tol = a1["mean"] - a0["mean"], a0["tolerance"]
    bad = abs(move) > tol
    return [_row(f"{method} mean", f"{a0['mean']:.3f}", f"{a1['mean']:.3f} ({move:+.3f})",
                 f"{'MOVED' if bad else 'ok'} (reseeding 95%: +-{tol:.3f})", bad)]


def trajectory(method: str, was: dict, now: dict, cfg: dict) -> list[dict]:
    """One row per method: the logged step that moved most (relative to its tolerance) over all seeds."""
    rtol, floor = float(cfg["trajectory"]["rtol"]), float(cfg["trajectory"].get("atol", 0.0))
    worst, compared = None, 0  # worst: (excess ratio, seed, step, old, new)
    for seed, t0 in was.get("trajectory", {}).items():
        t1 = now.get("trajectory", {}).get(seed, {})
        new_at = dict(zip(t1.get("steps", []), t1.get("losses", [])))
        for step, old in zip(t0["steps"], t0["losses"]):
            x = new_at.get(step, math.nan)
            allowed = rtol * abs(old) + floor
            ratio = abs(x - old) / allowed if math.isfinite(x) and allowed > 0 else (0.0 if x == old else math.inf)
            compared += 1
            if worst is None or ratio > worst[0]:
                worst = (ratio, seed, step, old, x)
    if worst is None:
        return []
    ratio, seed, step, old, x = worst
    bad = ratio > 1
    change = f"({(x - old) / abs(old):+.1%})" if old and math.isfinite(x) else "(not logged)" if x != x else ""
    return [_row(f"{method} trajectory", f"seed {seed} step {step}: loss {old:.4f}", f"{x:.4f} {change}",
                 f"{'CHANGED' if bad else 'ok'} (tol +-{rtol:.0%}{f' + {floor:g}' if floor else ''}; "
                 f"worst of {compared} logged steps)", bad)]


def _pm(e: dict) -> str:
    return f"{e['mean']:+.3f} [{e['lo']:+.3f}, {e['hi']:+.3f}]"


def _row(pair: str, was: str, now: str, verdict: str, fail: bool) -> dict:
    return {"metric": "per method", "pair": pair, "baseline": was, "new": now, "verdict": verdict, "fail": fail}

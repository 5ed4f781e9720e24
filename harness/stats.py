"""Statistics over seeds, shared by the report, the regression check and the tuning selection.

Seeds are the unit of replication: means with 95% bootstrap intervals over seeds (scipy.stats.bootstrap),
paired comparisons over the seeds two methods share, and shared ranks where intervals overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    mean: float
    lo: float  # nan when n < 2: one seed has no interval
    hi: float
    n: int

    @property
    def has_interval(self) -> bool:
        return self.n >= 2 and not math.isnan(self.lo)


def mean_ci(values, confidence: float = CONFIDENCE, seed: int = 0) -> Estimate:
    """Mean and percentile-bootstrap interval of the mean (percentile: BCa is unstable with 3-5 seeds)."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(x) == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    if len(x) == 1:
        return Estimate(float(x[0]), math.nan, math.nan, 1)
    if np.all(x == x[0]):
        return Estimate(float(x[0]), float(x[0]), float(x[0]), len(x))
    res = stats.bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=RESAMPLES,
                          method="percentile", random_state=np.random.default_rng(seed))
    return Estimate(float(x.mean()), float(res.confidence_interval.low), float(res.confidence_interval.high), len(x))


def paired_difference(a: dict, b: dict, confidence: float = CONFIDENCE) -> tuple[Estimate, bool]:
    """Mean of a - b over the seeds both have, its bootstrap interval, and whether it excludes zero.
    Without shared seeds the difference of the two means is bootstrapped unpaired."""
    shared = sorted(set(a) & set(b))
    if len(shared) >= 2:
        est = mean_ci([a[s] - b[s] for s in shared], confidence)
    else:
        xa, xb = np.asarray(list(a.values()), float), np.asarray(list(b.values()), float)
        if min(len(xa), len(xb)) == 0:  # a method without values for this metric: nothing to compare
            return Estimate(math.nan, math.nan, math.nan, 0), False
        if min(len(xa), len(xb)) < 2:
            return Estimate(float(xa.mean() - xb.mean()), math.nan, math.nan, 1), False
        res = stats.bootstrap((xa, xb), lambda u, v: np.mean(u) - np.mean(v), confidence_level=confidence,
                              n_resamples=RESAMPLES, method="percentile", random_state=np.random.default_rng(0))
        est = Estimate(float(xa.mean() - xb.mean()), float(res.confidence_interval.low),
                       float(res.confidence_interval.high), min(len(xa), len(xb)))
    significant = est.has_interval and (est.lo > 0 or est.hi < 0)
    return est, significant


def shared_ranks(estimates: dict[str, Estimate], higher_is_better: bool = True) -> dict[str, str]:
    """Rank of each method as a range: a method is placed behind every method whose interval lies
    entirely better than its own, and ahead of every method whose interval lies entirely worse; methods
    with overlapping intervals share the range ("2-3"). Without intervals, plain ranks by mean."""
    sign = 1 if higher_is_better else -1
    names = [n for n in estimates if not math.isnan(estimates[n].mean)]
    if not all(estimates[n].has_interval for n in names):  # no intervals: ranks by mean, equal means tie
        return {n: str(1 + sum(sign * estimates[m].mean > sign * estimates[n].mean for m in names)) for n in names}
    out = {}
    for n in names:
        lo, hi = sorted((sign * estimates[n].lo, sign * estimates[n].hi))
        better = sum(1 for m in names if m != n and min(sign * estimates[m].lo, sign * estimates[m].hi) > hi)
        worse = sum(1 for m in names if m != n and max(sign * estimates[m].lo, sign * estimates[m].hi) < lo)
        best, worst = better + 1, len(names) - worse
        out[n] = str(best) if best == worst else f"{best}-{worst}"
    return out


def rank_sort_key(rank: str) -> tuple[int, int]:
    first, _, last = rank.partition("-")
    return int(first), int(last or first)

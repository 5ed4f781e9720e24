"""Intervals for a method's accuracy on held-out preference pairs, with two sources of variance.

A method is trained with S seeds and every run is scored on the same P test pairs, giving a matrix
Y[seed, pair] (1 = preferred the chosen answer, 0 = the rejected one, 0.5 = tie; any real score works).
The headline number is the grand mean of Y. It varies with the training seeds (a finite sample of runs)
and with the test pairs (a finite sample of pairs), and the two are crossed: every seed sees the same
pairs. A percentile bootstrap over 3 seed means sees neither the pair sampling (shared by all seeds, it
moves every seed mean together) nor, with 3 values, the real seed spread (it gives about [min, max]).

Model: Y_sp = mu + a_s + b_p + e_sp, crossed random effects for seeds (variance s2_seed) and pairs
(s2_pair) and a residual holding the seed x pair interaction (s2_resid), so
Var(grand mean) = s2_seed/S + s2_pair/P + s2_resid/(S*P). From the two-way ANOVA mean squares (method of
moments) this splits into two parts that are estimated independently:

    seed part  MS_seed/(S*P)                    = variance of the S seed means / S   (df S - 1)
    pair part  max(0, MS_pair - MS_resid)/(S*P) = s2_pair/P, common to all seeds   (df P - 1)

whose sum is the unbiased (MS_seed + MS_pair - MS_resid)/(S*P) (clipped). The half-width is
sqrt(t(S-1)^2 * seed part + t(P-1)^2 * pair part): each part carries its own t quantile, combined in
quadrature. A single Satterthwaite t on the sum covers about 0.92 with 3 seeds when the seed spread
dominates (its estimated df is large exactly when the seed variance is underestimated); this keeps
>= 0.94 in simulation and is exact in both limits (t on the seed means; t on the pairs), at the price of
being conservative (about 0.97) when seeds barely differ. The estimand is the method's accuracy over the
population of training seeds and the population of test pairs the test set is drawn from;
tests/test_intervals.py checks the coverage by simulation.

    method_interval(Y)                  one method (Y: seeds x pairs, or {seed: per-pair scores})
    paired_difference(Ya, Yb)           A - B on shared seeds and pairs, and whether it excludes 0
    control_interval(y)                 a deterministic control (one score per pair, no seeds)
    margin_over(Y, y_control)           method - control, pair by pair, and whether it excludes 0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

from harness.stats import CONFIDENCE, Estimate

INTERVAL_METHOD = ("crossed seeds x test-pairs random-effects ANOVA: t(S-1) on the seed-mean variance plus "
                   "t(P-1) on the pair variance, in quadrature, 95%")


@dataclass(frozen=True)
class Components:
    """Variance components of one seeds x pairs matrix (nan where one seed cannot show them) and the
    independent parts of the variance of its grand mean, each as (variance, degrees of freedom)."""

    seeds: int
    pairs: int
    s2_seed: float
    s2_pair: float
    s2_resid: float
    parts: tuple[tuple[float, float], ...]

    @property
    def var_mean(self) -> float:
        return sum(v for v, _ in self.parts)

    def half_width(self, confidence: float = CONFIDENCE) -> float:
        return half_width(self.parts, confidence)


def half_width(parts, confidence: float = CONFIDENCE) -> float:
    """sqrt(sum of t(df)^2 * variance) over independent parts."""
    q = (1 + confidence) / 2
    return math.sqrt(sum(stats.t.ppf(q, df) ** 2 * v for v, df in parts if v > 0))


def as_matrix(Y) -> np.ndarray:
    """Seeds x pairs float matrix from an array (a 1-D array is one seed) or {seed: per-pair scores},
    rows in sorted seed order."""
    if isinstance(Y, Mapping):
        Y = [Y[s] for s in sorted(Y)]
    m = np.asarray(Y, dtype=float)
    m = m[None, :] if m.ndim == 1 else m
    if m.ndim != 2 or m.shape[0] < 1 or m.shape[1] < 2:
        raise ValueError(f"need a seeds x pairs matrix with at least 2 pairs, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("scores must be finite (every seed scored on every pair)")
    return m


def variance_components(Y) -> Components:
    """Method-of-moments components and variance parts (module docstring). With one seed only the pair
    sampling is seen: one part, the variance over pairs / P with P - 1 df."""
    m = as_matrix(Y)
    S, P = m.shape
    if S == 1:
        v = float(m[0].var(ddof=1))
        return Components(1, P, math.nan, v, math.nan, ((v / P, P - 1.0),))
    seed_means, pair_means, grand = m.mean(1), m.mean(0), m.mean()
    ms_seed = P * np.sum((seed_means - grand) ** 2) / (S - 1)
    ms_pair = S * np.sum((pair_means - grand) ** 2) / (P - 1)
    ms_resid = np.sum((m - seed_means[:, None] - pair_means[None, :] + grand) ** 2) / ((S - 1) * (P - 1))
    parts = ((float(ms_seed / (S * P)), S - 1.0), (float(max(0.0, ms_pair - ms_resid) / (S * P)), P - 1.0))
    return Components(S, P, float(max(0.0, ms_seed - ms_resid) / P), float(max(0.0, ms_pair - ms_resid) / S),
                      float(ms_resid), parts)


def _estimate(mean: float, parts, n: int, confidence: float) -> Estimate:
    half = half_width(parts, confidence)
    return Estimate(float(mean), float(mean - half), float(mean + half), n)


def _excludes_zero(est: Estimate) -> bool:
    return not math.isnan(est.lo) and (est.lo > 0 or est.hi < 0)


def method_interval(Y, confidence: float = CONFIDENCE) -> Estimate:
    """Grand mean of Y (seeds x pairs) and its interval over seeds and pairs; n = number of seeds.
    With one seed (n = 1) the interval covers the test-pair sampling only, not the seed-to-seed spread:
    the caller must label it so (Estimate.has_interval is False for n = 1)."""
    m = as_matrix(Y)
    c = variance_components(m)
    return _estimate(m.mean(), c.parts, c.seeds, confidence)


def paired_difference(Ya, Yb, confidence: float = CONFIDENCE) -> tuple[Estimate, bool]:
    """A - B on the same test pairs, and whether the interval excludes zero.

    Paired (D = Ya - Yb seed by seed and pair by pair, then method_interval(D)) when the seeds match:
    for {seed: scores} mappings, over the seeds both have if at least 2 (or both have the same single
    seed); for arrays, when both have as many rows (row i is the same seed in both). Otherwise the seeds
    are not shared and the seed parts of the two methods add up (see unpaired_seeds)."""
    paired = None  # arrays: decided by the number of rows
    if isinstance(Ya, Mapping) and isinstance(Yb, Mapping):
        shared = sorted(set(Ya) & set(Yb))
        paired = len(shared) >= 2 or (len(shared) == 1 and len(Ya) == len(Yb) == 1)
        if paired:
            Ya, Yb = [Ya[s] for s in shared], [Yb[s] for s in shared]
    a, b = as_matrix(Ya), as_matrix(Yb)
    if paired or (paired is None and a.shape[0] == b.shape[0]):
        if a.shape[1] != b.shape[1]:
            raise ValueError(f"methods scored on different numbers of test pairs: {a.shape[1]} vs {b.shape[1]}")
        est = method_interval(a - b, confidence)
    else:
        est = _estimate(a.mean() - b.mean(), unpaired_seeds(a, b), min(a.shape[0], b.shape[0]), confidence)
    return est, _excludes_zero(est)


def unpaired_seeds(a: np.ndarray, b: np.ndarray) -> tuple[tuple[float, float], ...]:
    """Variance parts of mean(a) - mean(b) when the seeds differ. On the same pairs (and >= 2 seeds each):
    the two seed-mean variances / S, one part with Welch-Satterthwaite df, plus the variance over pairs of
    the difference of the per-pair means, less the residual noise it carries (MS_resid / S of each), / P
    (df P - 1): the pairs stay paired. Otherwise the two methods' own parts are added, which ignores the
    covariance the shared pairs induce (conservative when the methods agree on which pairs are hard)."""
    ca, cb = variance_components(a), variance_components(b)
    if a.shape[1] != b.shape[1] or min(ca.seeds, cb.seeds) < 2:
        return ca.parts + cb.parts
    P = a.shape[1]
    d = a.mean(0) - b.mean(0)
    pair = max(0.0, float(d.var(ddof=1)) - ca.s2_resid / ca.seeds - cb.s2_resid / cb.seeds) / P
    (va, dfa), (vb, dfb) = ca.parts[0], cb.parts[0]
    denom = va * va / dfa + vb * vb / dfb
    seeds = (va + vb, (va + vb) ** 2 / denom if denom > 0 else dfa + dfb)
    return seeds, (pair, P - 1.0)


def control_interval(y, confidence: float = CONFIDENCE) -> Estimate:
    """Mean of a deterministic control's per-pair scores and its t interval over the test pairs (the only
    variance a control has). n is the number of test pairs: a control has no seeds."""
    v = np.asarray(y, dtype=float)
    if v.ndim != 1:
        raise ValueError("a control has one score per pair (a 1-D vector)")
    c = variance_components(v)
    return _estimate(v.mean(), c.parts, c.pairs, confidence)


def margin_over(Y, y_control, confidence: float = CONFIDENCE) -> tuple[Estimate, bool]:
    """Method minus control, pair by pair (the control's score repeated for every seed), with its interval
    over seeds and pairs (method_interval of the differences; n = seeds), and whether it excludes zero."""
    m, ctl = as_matrix(Y), np.asarray(y_control, dtype=float)
    if ctl.shape != (m.shape[1],):
        raise ValueError(f"control has {ctl.shape} scores for {m.shape[1]} test pairs")
    est = method_interval(m - ctl[None, :], confidence)
    return est, _excludes_zero(est)

"""Coverage of harness.intervals by simulation from a crossed model whose truth is known.

Each simulated method has seed effects a_s ~ N(0, sd_seed) and pair difficulties b_p ~ N(0, 1.5) on the
logit scale, a seed x pair noise n_sp ~ N(0, 0.5), p_sp = sigmoid(mu + a_s + b_p + n_sp) and
Y_sp ~ Bernoulli(p_sp). The estimand is the accuracy over new seeds and new pairs,
E[sigmoid(mu + Z)] with Z ~ N(0, sd_seed^2 + 1.5^2 + 0.5^2), computed by Gauss-Hermite quadrature.
sd_seed 0.07 and 0.2 give a seed-to-seed SD of accuracy of about 0.01 and 0.03 (checked below).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit

from harness.intervals import (INTERVAL_METHOD, control_interval, margin_over, method_interval,
                               paired_difference, variance_components)
from harness.stats import mean_ci

SD_PAIR, SD_NOISE, MU = 1.5, 0.5, 1.2  # MU 1.2 -> accuracy about 0.70
REPLICATES = 1000
NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(80)
WEIGHTS = WEIGHTS / WEIGHTS.sum()


def true_accuracy(mu: float, sd_seed: float) -> float:
    return float(np.sum(WEIGHTS * expit(mu + math.hypot(sd_seed, SD_PAIR, SD_NOISE) * NODES)))


def seed_sd_of_accuracy(mu: float, sd_seed: float) -> float:
    """SD over seeds of a seed's accuracy on the pair population."""
    acc = np.array([true_accuracy(mu + sd_seed * z, 0.0) for z in NODES])
    return float(np.sqrt(np.sum(WEIGHTS * (acc - np.sum(WEIGHTS * acc)) ** 2)))


def bernoulli(rng, logits):
    return (rng.random(logits.shape) < expit(logits)).astype(float)


def simulate(rng, R, S, P, sd_seed, mu=MU):
    """R replicate seeds x pairs matrices of one method: shape (R, S, P)."""
    a = rng.normal(0, sd_seed, (R, S, 1))
    b = rng.normal(0, SD_PAIR, (R, 1, P))
    return bernoulli(rng, mu + a + b + rng.normal(0, SD_NOISE, (R, S, P)))


def simulate_pair_of_methods(rng, R, S, P, sd_seed, mu_a=MU, mu_b=1.0, seed_corr=0.5):
    """Two correlated methods on the same pairs: pair difficulties correlate 0.8 (they agree on which
    pairs are hard), seed effects seed_corr (same seed, same data order); marginals as in simulate()."""
    za, zc = rng.normal(size=(2, R, S, 1))
    ba, bc = rng.normal(0, SD_PAIR, (2, R, 1, P))
    a_b, b_b = seed_corr * za + math.sqrt(1 - seed_corr ** 2) * zc, 0.8 * ba + 0.6 * bc
    ya = bernoulli(rng, mu_a + sd_seed * za + ba + rng.normal(0, SD_NOISE, (R, S, P)))
    yb = bernoulli(rng, mu_b + sd_seed * a_b + b_b + rng.normal(0, SD_NOISE, (R, S, P)))
    return ya, yb, true_accuracy(mu_a, sd_seed) - true_accuracy(mu_b, sd_seed)


def coverage(estimates, truth) -> float:
    return float(np.mean([e.lo <= truth <= e.hi for e in estimates]))


SETTINGS = [(S, P, sd) for S in (3, 5) for P in (200, 1000) for sd in (0.07, 0.2)]


def test_simulated_seed_spread_is_the_intended_one():
    assert 0.008 < seed_sd_of_accuracy(MU, 0.07) < 0.012
    assert 0.027 < seed_sd_of_accuracy(MU, 0.2) < 0.033
    assert 0.68 < true_accuracy(MU, 0.2) < 0.72


@pytest.mark.parametrize("S,P,sd_seed", SETTINGS)
def test_method_interval_covers_95(S, P, sd_seed):
    rng = np.random.default_rng(1000 * S + P + int(100 * sd_seed))
    Y = simulate(rng, REPLICATES, S, P, sd_seed)
    cov = coverage([method_interval(y) for y in Y], true_accuracy(MU, sd_seed))
    print(f"method_interval S={S} P={P} sd_seed={sd_seed}: coverage {cov:.3f}")
    assert cov >= 0.93


@pytest.mark.parametrize("S,P,sd_seed", SETTINGS)
def test_paired_difference_covers_95(S, P, sd_seed):
    rng = np.random.default_rng(7000 + 1000 * S + P + int(100 * sd_seed))
    ya, yb, truth = simulate_pair_of_methods(rng, REPLICATES, S, P, sd_seed)
    cov = coverage([paired_difference(a, b)[0] for a, b in zip(ya, yb)], truth)
    print(f"paired_difference S={S} P={P} sd_seed={sd_seed}: coverage {cov:.3f}")
    assert cov >= 0.93


@pytest.mark.parametrize("P", [200, 1000])
def test_naive_seed_bootstrap_undercovers(P):
    """Documents why this module exists: harness.stats.mean_ci over the 3 seed means (percentile
    bootstrap) misses the pair sampling and, with 3 values, most of the seed spread."""
    rng = np.random.default_rng(31 + P)
    Y = simulate(rng, 400, 3, P, 0.2)
    cov = coverage([mean_ci(y.mean(1)) for y in Y], true_accuracy(MU, 0.2))
    print(f"naive seed bootstrap S=3 P={P} sd_seed=0.2: coverage {cov:.3f}")
    assert cov < 0.85


def test_interval_is_not_absurdly_wide():
    """3 seeds, 1000 pairs, accuracy about 0.7, seed SD of accuracy about 0.0075."""
    rng = np.random.default_rng(5)
    half = np.array([(e.hi - e.lo) / 2 for e in map(method_interval, simulate(rng, 400, 3, 1000, 0.05))])
    print(f"half-width S=3 P=1000 sd_seed=0.05: median {np.median(half):.4f} mean {half.mean():.4f}")
    assert np.median(half) <= 0.04 and half.mean() <= 0.04


def test_components_are_the_anova_moments():
    rng = np.random.default_rng(0)
    Y = simulate(rng, 1, 4, 50, 0.3)[0]
    S, P = Y.shape
    resid = Y - Y.mean(1, keepdims=True) - Y.mean(0, keepdims=True) + Y.mean()
    ms_seed, ms_pair = P * Y.mean(1).var(ddof=1), S * Y.mean(0).var(ddof=1)
    ms_resid = np.sum(resid ** 2) / ((S - 1) * (P - 1))
    c = variance_components(Y)
    assert c.var_mean == pytest.approx(max(ms_seed + ms_pair - ms_resid, ms_seed) / (S * P))
    assert c.parts[0][0] == pytest.approx(Y.mean(1).var(ddof=1) / S) and c.parts[0][1] == S - 1
    assert c.s2_resid == pytest.approx(ms_resid)


def test_one_seed_and_control_are_t_intervals_over_pairs():
    y = np.array([1, 0, 1, 1, 0.5, 1, 0, 1, 1, 1.0])
    half = stats.t.ppf(0.975, len(y) - 1) * y.std(ddof=1) / math.sqrt(len(y))
    one = method_interval(y[None, :])
    ctl = control_interval(y)
    assert (one.mean, one.lo, one.hi, one.n) == pytest.approx((y.mean(), y.mean() - half, y.mean() + half, 1))
    assert (ctl.lo, ctl.hi, ctl.n) == pytest.approx((one.lo, one.hi, len(y)))
    assert not one.has_interval and ctl.has_interval


def test_constant_scores_give_a_point():
    e = method_interval(np.ones((3, 20)))
    assert (e.mean, e.lo, e.hi) == (1.0, 1.0, 1.0)


def test_margin_over_a_control_is_the_paired_shift():
    rng = np.random.default_rng(2)
    Y = simulate(rng, 1, 3, 300, 0.2)[0]
    ctl = np.full(300, 0.5)
    est, significant = margin_over(Y, ctl)
    base = method_interval(Y)
    assert (est.mean, est.lo, est.hi) == pytest.approx((base.mean - 0.5, base.lo - 0.5, base.hi - 0.5))
    assert significant and est.n == 3
    with pytest.raises(ValueError):
        margin_over(Y, ctl[:-1])


def test_paired_difference_by_seed_id_and_unpaired_fallback():
    rng = np.random.default_rng(3)
    ya, yb, _ = simulate_pair_of_methods(rng, 1, 3, 400, 0.1)
    a = {10: ya[0, 0], 11: ya[0, 1], 12: ya[0, 2]}
    b = {12: yb[0, 2], 10: yb[0, 0], 11: yb[0, 1], 99: yb[0, 1]}  # extra seed 99 is ignored
    est, _ = paired_difference(a, b)
    assert est == method_interval(ya[0] - yb[0])
    disjoint, _ = paired_difference(a, {20: yb[0, 0], 21: yb[0, 1], 22: yb[0, 2]})
    assert disjoint.mean == pytest.approx(est.mean)
    assert disjoint.n == 3 and disjoint.lo < disjoint.mean < disjoint.hi and disjoint != est
    with pytest.raises(ValueError):
        paired_difference(ya[0], yb[0, :, :-1])
    # Different test sets (and seeds): the two methods' own variances add up.
    other, _ = paired_difference(ya[0, :2], yb[0, :, :-1])
    own = [method_interval(y) for y in (ya[0, :2], yb[0, :, :-1])]
    assert other.hi - other.lo > max(e.hi - e.lo for e in own)


@pytest.mark.parametrize("P", [200, 1000])
def test_unpaired_seeds_cover(P):
    """Different seed sets (independent seed effects) on the same pairs."""
    rng = np.random.default_rng(11 + P)
    ya, yb, truth = simulate_pair_of_methods(rng, 400, 3, P, 0.2, seed_corr=0.0)
    cov = coverage([paired_difference(dict(enumerate(a)), {s + 3: v for s, v in enumerate(b)})[0]
                    for a, b in zip(ya, yb)], truth)
    print(f"unpaired seeds S=3 P={P} sd_seed=0.2: coverage {cov:.3f}")
    assert cov >= 0.93


def test_method_is_named():
    assert "seed" in INTERVAL_METHOD and "pair" in INTERVAL_METHOD

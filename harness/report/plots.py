"""The report's PNG plots (matplotlib, Agg backend): loss curves per method, efficiency bars with error
bars, quality vs. training time (Pareto view) and training/inference throughput bars.

Labels are plain strings: matplotlib >= 3.11 shapes Arabic and lays it out right to left by itself.
Used by `python -m harness.report` (see harness/report/__main__.py).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from matplotlib.ticker import MaxNLocator  # noqa: E402

from harness.report.pairs import best_control  # noqa: E402
from harness.report.summary import Summary, loss_curve  # noqa: E402
from harness.report.tables import num  # noqa: E402
from harness.stats import Estimate  # noqa: E402

DPI = 110
MANY = 8  # above this many methods, bar charts turn horizontal and legends take two columns


def _legend(ax: plt.Axes, n: int) -> None:
    ax.legend(fontsize=7 if n > MANY else 8, loc="center left", bbox_to_anchor=(1.02, 0.5),
              ncol=2 if n > 2 * MANY else 1)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def _err(ests: list[Estimate]) -> np.ndarray | None:
    """Asymmetric error bars from the intervals; None when no method has one (one seed)."""
    if not any(e.has_interval for e in ests):
        return None
    lo = [e.mean - e.lo if e.has_interval else 0.0 for e in ests]
    hi = [e.hi - e.mean if e.has_interval else 0.0 for e in ests]
    return np.array([lo, hi])


def _bars(ax: plt.Axes, s: Summary, metric: str, title: str, ylabel: str) -> None:
    ests = [s.est[metric][m] for m in s.methods]
    means = [0.0 if math.isnan(e.mean) else e.mean for e in ests]
    # the value goes under the method name: a zero-height bar is otherwise indistinguishable from a
    # missing one, and a label on the bar collides with its error bar
    if len(s.methods) > MANY:  # a zoo: horizontal bars, one readable label per row
        labels = [f"{m.upper()} {num(e.mean)}" for m, e in zip(s.methods, ests)]
        ax.barh(labels, means, xerr=_err(ests), capsize=3, color="tab:blue", alpha=0.8)
        ax.invert_yaxis()
        ax.axvline(0, color="black", linewidth=0.6)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(ylabel)
        ax.grid(axis="x", alpha=0.3)
        return
    labels = [f"{m.upper()}\n{num(e.mean)}" for m, e in zip(s.methods, ests)]
    bars = ax.bar(labels, means, yerr=_err(ests), capsize=4, color="tab:blue", alpha=0.8)
    if min(means) < 0:  # let the margins pad past 0 so all-negative panels keep room under the title
        for b in bars:
            b.sticky_edges.y[:] = []
        ax.margins(y=0.08)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)


def loss_curves(s: Summary, path: Path) -> Path:
    """One subplot per method with its own y scale: each objective's loss has its own units."""
    n = len(s.methods)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, m in zip(axes.flat, s.methods):
        steps, mean, lo, hi = loss_curve(s.runs, m)
        if len(steps):
            ax.plot(steps, mean, marker="o", markersize=3, label="mean over seeds")
            if len(s.seeds(m)) > 1 and len(steps) > 1:
                ax.fill_between(steps, lo, hi, alpha=0.25, label="min-max over seeds")
            elif len(s.seeds(m)) > 1:  # one logged step: a band has no width, show the spread as a bar
                ax.errorbar(steps, mean, yerr=[mean - lo, hi - mean], fmt="none", capsize=4,
                            label="min-max over seeds")
            if len(steps) <= 12:
                ax.set_xticks(steps)
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        seeds = len(s.seeds(m))
        ax.set_title(f"{m.upper()} ({seeds} seed{'' if seeds == 1 else 's'})", fontsize=10)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("training loss (own scale)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"Training loss per method - sweep {s.sweep} (scales differ: do not compare across panels)",
                 fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def efficiency(s: Summary, path: Path) -> Path:
    return _bar_panels(s, path, "Efficiency", (14, 4), [
        ("card_efficiency", "Card efficiency\n(samples/s x loss reduction rate)", "pairs/s"),
        ("quality_per_second", "Pref-accuracy gain over base\nper training second", "gain / s"),
        ("quality_per_compute", "Pref-accuracy gain over base\nper training PFLOP", "gain / PFLOP")])


def throughput(s: Summary, path: Path) -> Path:
    return _bar_panels(s, path, "Throughput", (10, 4), [
        ("tokens_per_second", "Training throughput\n(non-padding tokens/s)", "tokens/s"),
        ("infer_tokens_per_second", "Inference throughput\n(generated tokens/s, greedy)", "tokens/s")])


def _bar_panels(s: Summary, path: Path, title: str, size: tuple[float, float],
                panels: list[tuple[str, str, str]]) -> Path:
    """One bar chart per (metric, panel title, unit), side by side, with the interval note as title."""
    if len(s.methods) > MANY:
        size = (size[0] * 1.3, max(size[1], 0.3 * len(s.methods) + 1.5))
    fig, axes = plt.subplots(1, len(panels), figsize=size)
    for ax, (metric, label, unit) in zip(axes, panels):
        _bars(ax, s, metric, label, unit)
    fig.suptitle(_interval_note(s, title), fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def quality_vs_time(s: Summary, path: Path) -> Path:
    """Gain over base against training time; the Pareto front joins methods no other beats on both."""
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    pts = []
    markers = iter(["o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">"] * 4)
    for m in s.methods:
        t, g = s.est["train_seconds"][m], s.est["pref_accuracy_gain"][m]
        if math.isnan(t.mean) or math.isnan(g.mean):
            continue
        xerr = _err([t])
        yerr = _err([g])
        # a legend, not text labels: methods with equal numbers would print on top of each other
        ax.errorbar([t.mean], [g.mean], xerr=xerr, yerr=yerr, fmt=next(markers), markersize=8, capsize=3,
                    label=m.upper(), alpha=0.85)
        pts.append((t.mean, g.mean))
    front = _pareto(pts)
    if len(front) > 1:
        ax.plot(*zip(*front), linestyle="--", color="gray", label="Pareto front")
    _legend(ax, len(s.methods))
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("held-out pref-accuracy gain over base")
    ax.set_title(_interval_note(s, "Quality vs. training time"), fontsize=10)
    ax.grid(alpha=0.3)
    ax.margins(x=0.15, y=0.2)
    fig.tight_layout()
    return _save(fig, path)


def frontier(s: Summary, path: Path) -> Path:
    """Held-out pref accuracy against KL(policy || base), one point per run: the analogue of the DPO paper's
    reward/KL frontier. The base sits at KL 0; the best control is a dashed line (it has no KL)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    markers = iter(["o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">"] * 4)
    for m in s.methods:
        sub = s.runs[s.runs["method"] == m]
        kl, acc = sub["kl_to_base"].astype(float), sub["pref_accuracy"].astype(float)
        if kl.notna().any() and acc.notna().any():
            ax.scatter(kl, acc, marker=next(markers), s=50, alpha=0.8, label=f"{m.upper()} ({len(sub)} runs)")
    base = s.runs["base_pref_accuracy"].dropna().astype(float)
    if len(base):
        ax.scatter([0.0], [base.iloc[0]], marker="*", s=160, color="black", label="base model (KL 0)", zorder=3)
    best = best_control(s.pairs) if s.pairs is not None else None
    if best:
        ax.axhline(float(best[1].mean()), color="gray", linestyle="--", label=f"best control: {best[0]}")
    _legend(ax, len(s.methods))
    ax.set_xlabel("KL(policy || base) per completion token (nats), sampled on test prompts")
    ax.set_ylabel("held-out pref accuracy (test)")
    ax.set_title(f"Quality vs. KL to the base - sweep {s.sweep} (one point per run)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.margins(x=0.1, y=0.15)
    fig.tight_layout()
    return _save(fig, path)


def _pareto(pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    front, best = [], -math.inf
    for t, g in sorted(pts, key=lambda p: (p[0], -p[1])):
        if g > best:
            front.append((t, g))
            best = g
    return front


def _interval_note(s: Summary, title: str) -> str:
    conf = int(round(100 * s.cfg["confidence"]))
    bars = f"error bars: {conf}% CI" if s.max_seeds > 1 else "one seed: no error bars"
    return f"{title} - sweep {s.sweep} ({bars})"


def render_all(s: Summary, plot_dir: Path) -> dict[str, Path]:
    """name -> PNG path, in the order the report embeds them."""
    plot_dir.mkdir(parents=True, exist_ok=True)
    return {
        "Loss curves": loss_curves(s, plot_dir / "loss_curves.png"),
        "Efficiency": efficiency(s, plot_dir / "efficiency.png"),
        "Quality vs. training time": quality_vs_time(s, plot_dir / "quality_vs_time.png"),
        "Quality vs. KL to the base (frontier)": frontier(s, plot_dir / "frontier.png"),
        "Throughput": throughput(s, plot_dir / "throughput.png"),
    }

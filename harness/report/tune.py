"""The tuning report: reports/tune/report.md and one validation heatmap per method, rendered from the rows of
the two tuning stages (sweeps `tune` and `tune_confirm`) with the selection of harness.tune, and the
table helpers of the sweep report.

    python -m harness.tune report runs [--out reports/tune]     # re-render from rows only
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness import metrics, results
from harness.report.tables import cell, num, to_markdown
from harness.stats import Estimate, mean_ci, rank_sort_key, shared_ranks
from harness.tune import (CONFIRM, FIXED, SEARCH, SELECT_BY, Selection, config_key, grid_axes, hparams_text,
                          selections)


def _v(x: object) -> str:
    return num(x) if isinstance(x, float) else str(x)


def _md(header: list[str], rows: list[list[str]]) -> list[str]:
    return [to_markdown(pd.DataFrame(rows, columns=header))]


def confirm_rows(confirm: pd.DataFrame, sel: Selection) -> pd.DataFrame:
    """Stage-2 rows of exactly the selected configuration (stale rows of another selection are ignored)."""
    if confirm.empty:
        return confirm
    ok = confirm[(confirm["method"] == sel.method) & (confirm["status"] == "ok")]
    return ok[ok["config_json"].map(config_key) == sel.config_key].sort_values("seed", kind="mergesort")


def ranking(groups: dict[str, pd.DataFrame], metric: str) -> tuple[dict[str, Estimate], dict[str, str]]:
    est = {m: mean_ci(g[metric].astype(float).tolist()) for m, g in groups.items()}
    return est, shared_ranks(est, metrics.higher_is_better(metric))


def section_ranking(chosen: dict[str, Selection], tuned: dict[str, pd.DataFrame], metric: str) -> list[str]:
    est, ranks = ranking(tuned, metric)
    em, _ = ranking(tuned, "exact_match")
    order = sorted(est, key=lambda m: (rank_sort_key(ranks[m]) if m in ranks else (99, 99), m))
    rows = [[ranks.get(m, "-"), m, cell(est[m]), cell(em[m]), str(est[m].n), hparams_text(chosen[m].hparams)] for m in order]
    return [f"## Tuned ranking (test `{metric}`, mean and 95% CI over seeds)", "",
            "Each method at its own selected configuration; ranks are shared where intervals overlap.", "",
            *_md(["rank", "method", f"test {metric}", "test exact_match", "seeds", "selected"], rows), ""]


def section_selected(chosen: dict[str, Selection], select_by: str) -> list[str]:
    rows = [[m, hparams_text(s.hparams), f"{s.score:.4f}", str(s.n_points), f"`{s.run_id}`"] for m, s in sorted(chosen.items())]
    return ["## Selected hyperparameters", "",
            f"Chosen on `{select_by}` (validation split) from stage-1 rows with every test column dropped first; "
            "ties go to the lower val_chosen_nll.", "",
            *_md(["method", "selected", select_by, "grid points (ok)", "stage-1 run"], rows), ""]


def section_sensitivity(search: pd.DataFrame, select_by: str) -> list[str]:
    rows = []
    for m, g in search.groupby("method", sort=True):
        ok = g[g["status"] == "ok"][select_by].dropna().astype(float)
        if ok.empty:
            continue
        rows.append([m, f"{len(ok)}/{len(g)}", f"{ok.max():.4f}", f"{ok.min():.4f}", f"{ok.max() - ok.min():.4f}",
                     f"{ok.std(ddof=0):.4f}"])
    return ["## Sensitivity (how much tuning matters)", "",
            f"`{select_by}` across each method's grid (one seed per point): a large best-minus-worst means a "
            "method ranked at one fixed setting can land far from its best.", "",
            *_md(["method", "ok/points", "best", "worst", "best - worst", "spread (sd)"], rows), ""]


def _job_seconds(g: pd.DataFrame) -> float:
    t = pd.to_datetime(g["finished_at"]) - pd.to_datetime(g["started_at"])
    return float(t.dt.total_seconds().sum())


def section_cost(chosen: dict[str, Selection], tuned: dict[str, pd.DataFrame], search: pd.DataFrame) -> list[str]:
    rows = []
    for m in sorted(chosen):
        t, s = tuned[m], search[search["method"] == m]
        rows.append([m, num(t["train_seconds"].mean()), num(float(t["train_tokens"].mean())),
                     num(t["train_flops"].mean()), str(len(s)), num(s["train_seconds"].sum()),
                     num(s["train_flops"].sum()), num(_job_seconds(s))])
    return ["## Cost beside quality", "",
            "Training seconds, tokens (non-padding, per pair for every method) and estimated FLOPs at the "
            "selected configuration (mean over its seeds), and what the whole grid search cost per method.", "",
            *_md(["method", "train s", "train tokens", "train FLOPs", "search jobs", "search train s",
                     "search FLOPs", "search job wall s"], rows), ""]


def heatmap(search: pd.DataFrame, method: str, select_by: str, sel: Selection | None, path: Path) -> None:
    """Validation metric over one method's grid: learning rate across, the other axes down; the selected
    point outlined, failed or diverged points left blank."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    g = search[search["method"] == method]
    axes = grid_axes(g["hparams_json"])
    hp = [json.loads(h) for h in g["hparams_json"]]
    label = {tuple(d.get(a) for a in axes[:-1]): ", ".join(f"{a}={_v(d.get(a))}" for a in axes[:-1]) or method
             for d in hp}
    row_of = [label[tuple(d.get(a) for a in axes[:-1])] for d in hp]
    lrs = sorted({d["learning_rate"] for d in hp})
    ys = [label[k] for k in sorted(label, key=lambda k: tuple(json.dumps(v) if not isinstance(v, (int, float)) else v
                                                             for v in k))]
    grid = np.full((len(ys), len(lrs)), np.nan)
    for d, r, status, v in zip(hp, row_of, g["status"], g[select_by]):
        if status == "ok" and v is not None and not pd.isna(v):
            grid[ys.index(r), lrs.index(d["learning_rate"])] = float(v)
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(lrs), 1.2 + 0.7 * len(ys)))
    im = ax.imshow(grid, cmap="viridis", aspect="auto")
    for i in range(len(ys)):
        for j in range(len(lrs)):
            nan = np.isnan(grid[i, j])
            ax.text(j, i, "no ok row" if nan else f"{grid[i, j]:.3f}", ha="center", va="center", fontsize=9,
                    color="gray" if nan else "white" if grid[i, j] < np.nanmean(grid) else "black")
    if sel is not None:
        srow = ", ".join(f"{a}={_v(sel.hparams.get(a))}" for a in axes[:-1]) or method
        if srow in ys and sel.hparams.get("learning_rate") in lrs:
            ax.add_patch(plt.Rectangle((lrs.index(sel.hparams["learning_rate"]) - 0.5, ys.index(srow) - 0.5), 1, 1,
                                       fill=False, edgecolor="red", linewidth=2.5))
    ax.set_xticks(range(len(lrs)), [num(x) for x in lrs])
    ax.set_yticks(range(len(ys)), ys)
    ax.set_xlabel("learning_rate")
    ax.set_title(f"{method}: {select_by} over the grid (red: selected)", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})  # no version stamp: same rows, same bytes
    plt.close(fig)


def section_heatmaps(search: pd.DataFrame, chosen: dict[str, Selection], select_by: str, out: Path) -> list[str]:
    lines = ["## Validation metric over each grid", ""]
    for m in sorted(search["method"].unique()):
        name = f"heatmap_{m}.png"
        heatmap(search, m, select_by, chosen.get(m), out / name)
        lines += [f"### {m}", "", f"![{m} {select_by}]({name})", ""]
    return lines


def section_fixed(fixed: pd.DataFrame, tuned: dict[str, pd.DataFrame], metric: str) -> list[str]:
    """The fixed-setting ranking (sweep `default`, each method at its yaml defaults) beside the tuned one."""
    fixed = fixed[fixed["status"] == "ok"] if not fixed.empty else fixed
    if fixed.empty:
        return ["## Fixed setting vs tuned", "", "No rows of sweep `default` in this runs directory: "
                "run `make sweep` to compare with the fixed-setting ranking.", ""]
    f_est, f_rank = ranking({m: g for m, g in fixed.groupby("method", sort=True)}, metric)
    t_est, t_rank = ranking(tuned, metric)
    rows = [[m, f_rank.get(m, "-"), cell(f_est[m]) if m in f_est else "-", t_rank.get(m, "-"),
             cell(t_est[m]) if m in t_est else "-",
             num(t_est[m].mean - f_est[m].mean) if m in t_est and m in f_est else "-"]
            for m in sorted(set(f_est) | set(t_est))]
    return ["## Fixed setting vs tuned", "",
            f"Test `{metric}`: sweep `default` (every method at its yaml defaults) against each method at its "
            "selected configuration. Ranks are shared within overlapping intervals.", "",
            *_md(["method", "fixed rank", "fixed", "tuned rank", "tuned", "tuned - fixed"], rows), ""]


def render(runs_dir: Path, out: Path, select_by: str = SELECT_BY) -> Path:
    """reports/tune/report.md and its heatmaps from the rows under runs_dir (byte-identical on the same rows)."""
    runs_dir, out = Path(runs_dir), Path(out)
    search = results.load_runs(runs_dir / SEARCH).sort_values(["method", "run_id"], kind="mergesort")
    confirm = results.load_runs(runs_dir / CONFIRM)
    chosen = selections(runs_dir, select_by)
    tuned = {m: confirm_rows(confirm, s) for m, s in chosen.items()}
    metric = select_by.removeprefix("val_")
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Tuned ranking: each method at its best, chosen on validation, reported on test", "",
             f"Stage 1 (sweep `{SEARCH}`): {len(search)} rows, one seed per grid point. Stage 2 (sweep `{CONFIRM}`): "
             f"{sum(len(t) for t in tuned.values())} rows of the selected configurations. Selection metric: "
             f"`{select_by}`; the test split is never read during selection.", "",
             *section_ranking(chosen, tuned, metric), *section_selected(chosen, select_by),
             *section_sensitivity(search, select_by), *section_cost(chosen, tuned, search),
             *section_fixed(results.load_runs(runs_dir / FIXED), tuned, metric),
             *section_heatmaps(search, chosen, select_by, out)]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path



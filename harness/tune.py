"""Search, then confirm: every method tuned on the validation split, ranked on the test split it never saw.

Stage 1 runs each method's own grid (conf/sweep/tune/<method>.yaml, one seed per point, sweep `tune`).
Selection picks each method's best grid point on a VALIDATION metric only (`report.select_by`, default
val_pref_accuracy). Stage 2 re-runs each selected configuration with 5 seeds (sweep `tune_confirm`).
The report is rendered from the parquet rows alone (no training code is imported here).

    python -m harness.tune run                                   # both stages, then reports/tune/ (`make tune`)
    python -m harness.tune run --methods dpo,kto --seeds 0,1 \\
        --grid method.learning_rate=1e-3,3e-3 -- data.max_train_pairs=32   # a shrunken pipeline check
    python -m harness.tune select runs [report.select_by=val_exact_match]  # print the selections
    python -m harness.tune report runs [--out reports/tune]                 # re-render from rows only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness import results
from harness.stats import Estimate, mean_ci, rank_sort_key, shared_ranks

ROOT = Path(__file__).resolve().parents[1]
SEARCH, CONFIRM, FIXED = "tune", "tune_confirm", "default"
METHODS = ("sft", "dpo", "ipo", "cpo", "kto", "simpo")
SEEDS = (0, 1, 2, 3, 4)
SELECT_BY = "val_pref_accuracy"
# Identity columns selection may see besides val_*: none of them holds a held-out metric.
SELECTION_ID = ("run_id", "method", "seed", "status", "hparams_json", "config_json", "overrides")
QUALITY = tuple(n for n, _, _ in results._QUALITY)
# Overrides of a stage-1 row that are not part of the selected configuration (stage 2 sets its own).
NOT_CONFIG = ("sweep=", "seed=", "paths.", "force=", "sweep_name=")


# --------------------------------------------------------------------------------------- selection
def selection_view(df: pd.DataFrame) -> pd.DataFrame:
    """The only columns selection receives: identity, the configuration and val_* metrics. Every test
    metric (unprefixed), base metric and gain is dropped here, before selection runs."""
    keep = [c for c in df.columns if c in SELECTION_ID or c.startswith("val_")]
    return df[keep].copy()


@dataclass(frozen=True)
class Selection:
    method: str
    run_id: str
    score: float                 # the validation metric of the selected grid point
    hparams: dict[str, Any]      # the grid axes' values at the selected point
    overrides: tuple[str, ...]   # what stage 2 passes to harness.train to rebuild this configuration
    config_key: str              # resolved config without seed/sweep/paths: matches its stage-2 rows
    n_points: int


def select(view: pd.DataFrame, select_by: str = SELECT_BY) -> dict[str, Selection]:
    """Each method's best ok grid point on `select_by` (a val_* column). Ties go to the lower val
    chosen_nll, then to the smaller hparams string, so the same rows always give the same choice."""
    leaked = [c for c in view.columns if not (c in SELECTION_ID or c.startswith("val_"))]
    if leaked or not select_by.startswith("val_"):
        raise ValueError(f"selection sees validation metrics only; got {leaked or select_by}")
    out = {}
    for method, rows in view[view["status"] == "ok"].groupby("method", sort=True):
        rows = rows[rows[select_by].notna()]
        if rows.empty:
            print(f"warning: {method}: no ok stage-1 row has {select_by}", file=sys.stderr)
            continue
        nll = rows["val_chosen_nll"] if "val_chosen_nll" in rows else pd.Series(0.0, index=rows.index)
        rows = rows.assign(_nll=nll.astype(float).fillna(math.inf))
        best = rows.sort_values([select_by, "_nll", "hparams_json"], ascending=[False, True, True],
                                kind="mergesort").iloc[0]
        axes = grid_axes(rows["hparams_json"])
        hp = json.loads(best["hparams_json"])
        out[method] = Selection(method, best["run_id"], float(best[select_by]), {a: hp.get(a) for a in axes},
                                config_overrides(best["overrides"]), config_key(best["config_json"]), len(rows))
    return out


def grid_axes(hparams_json: pd.Series) -> list[str]:
    """The hyperparameters that vary across a method's grid, learning rate last (the heatmap's x axis)."""
    dicts = [json.loads(h) for h in hparams_json]
    keys = sorted({k for d in dicts for k in d})
    varying = [k for k in keys if len({json.dumps(d.get(k)) for d in dicts}) > 1]
    axes = [k for k in varying if k != "learning_rate"] + ["learning_rate"]
    return axes


def config_overrides(overrides: str) -> tuple[str, ...]:
    return tuple(o for o in (overrides or "").split() if not o.startswith(NOT_CONFIG))


def config_key(config_json: str) -> str:
    cfg = json.loads(config_json)
    for k in ("seed", "sweep_name", "paths", "force"):
        cfg.pop(k, None)
    return json.dumps(cfg, sort_keys=True)


def resolve_select_by(argv: list[str]) -> str:
    """`report.select_by=` on the command line, else conf/report.yaml's report.select_by, else the default."""
    for a in argv:
        if a.startswith("report.select_by="):
            return a.split("=", 1)[1]
    path = ROOT / "conf" / "report.yaml"
    if path.exists():
        from omegaconf import OmegaConf

        return OmegaConf.load(path).get("report", {}).get("select_by", SELECT_BY)
    return SELECT_BY


def selections(runs_dir: Path, select_by: str) -> dict[str, Selection]:
    return select(selection_view(results.load_runs(Path(runs_dir) / SEARCH)), select_by)


# ------------------------------------------------------------------------------------------ stages
def launch(overrides: list[str], runs_dir: Path) -> tuple[int, float]:
    """One `harness.train` multirun in a subprocess. A failed job makes the sweep exit non-zero; the other
    grid points still wrote their rows, so the caller warns and goes on."""
    argv = [sys.executable, "-m", "harness.train", "-m", *overrides, f"paths.runs_dir={runs_dir}"]
    print("+ " + " ".join(argv[1:]), flush=True)
    t0 = time.perf_counter()
    rc = subprocess.run(argv, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}).returncode
    if rc:
        print(f"warning: exit {rc} from {' '.join(overrides[:2])}: selection uses the ok rows", file=sys.stderr)
    return rc, time.perf_counter() - t0


def run(args: argparse.Namespace, extra: list[str]) -> int:
    """Stage 1 per method, selection on validation, stage 2 per method, then the report."""
    runs_dir, methods = Path(args.runs_dir).resolve(), args.methods.split(",")
    walls: dict[str, float] = {}
    for m in methods:
        walls[f"search {m}"] = launch([f"sweep={SEARCH}/{m}", *args.grid, *extra], runs_dir)[1]
    chosen = selections(runs_dir, args.select_by)
    seeds = ",".join(str(s) for s in args.seeds)
    for m in methods:
        if m not in chosen:
            print(f"warning: {m}: nothing to confirm (no ok stage-1 row)", file=sys.stderr)
            continue
        s = chosen[m]
        print(f"[select] {m}: {s.hparams} {args.select_by}={s.score:.4f} run_id={s.run_id}", flush=True)
        # Stage-1 overrides (method choice, grid values, the shared extras) rebuild the exact config.
        walls[f"confirm {m}"] = launch([f"sweep={SEARCH}/confirm", *s.overrides, f"seed={seeds}"], runs_dir)[1]
    for k, v in walls.items():
        print(f"[wall] {k}: {v:.0f}s", flush=True)
    print(f"[wall] total: {sum(walls.values()):.0f}s", flush=True)
    out = render(runs_dir, Path(args.out), args.select_by)
    print(f"wrote {out}", flush=True)
    return 0


# ------------------------------------------------------------------------------------------ report
def _fmt(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def _ci(e: Estimate) -> str:
    if e.n == 0:
        return "-"
    return f"{e.mean:.3f} [{e.lo:.3f}, {e.hi:.3f}]" if e.has_interval else f"{e.mean:.3f} (n={e.n})"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def confirm_rows(confirm: pd.DataFrame, sel: Selection) -> pd.DataFrame:
    """Stage-2 rows of exactly the selected configuration (stale rows of another selection are ignored)."""
    if confirm.empty:
        return confirm
    ok = confirm[(confirm["method"] == sel.method) & (confirm["status"] == "ok")]
    return ok[ok["config_json"].map(config_key) == sel.config_key].sort_values("seed", kind="mergesort")


def ranking(groups: dict[str, pd.DataFrame], metric: str) -> tuple[dict[str, Estimate], dict[str, str]]:
    est = {m: mean_ci(g[metric].astype(float).tolist()) for m, g in groups.items()}
    return est, shared_ranks(est, higher_is_better=metric not in ("chosen_nll", "kl_to_base"))


def section_ranking(chosen: dict[str, Selection], tuned: dict[str, pd.DataFrame], metric: str) -> list[str]:
    est, ranks = ranking(tuned, metric)
    em, _ = ranking(tuned, "exact_match")
    order = sorted(est, key=lambda m: (rank_sort_key(ranks[m]) if m in ranks else (99, 99), m))
    rows = [[ranks.get(m, "-"), m, _ci(est[m]), _ci(em[m]), str(est[m].n), _hp(chosen[m].hparams)] for m in order]
    return [f"## Tuned ranking (test `{metric}`, mean and 95% CI over seeds)", "",
            "Each method at its own selected configuration; ranks are shared where intervals overlap.", "",
            *_table(["rank", "method", f"test {metric}", "test exact_match", "seeds", "selected"], rows), ""]


def _hp(hp: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in hp.items())


def section_selected(chosen: dict[str, Selection], select_by: str) -> list[str]:
    rows = [[m, _hp(s.hparams), f"{s.score:.4f}", str(s.n_points), f"`{s.run_id}`"] for m, s in sorted(chosen.items())]
    return ["## Selected hyperparameters", "",
            f"Chosen on `{select_by}` (validation split) from stage-1 rows with every test column dropped first; "
            "ties go to the lower val_chosen_nll.", "",
            *_table(["method", "selected", select_by, "grid points (ok)", "stage-1 run"], rows), ""]


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
            *_table(["method", "ok/points", "best", "worst", "best - worst", "spread (sd)"], rows), ""]


def _job_seconds(g: pd.DataFrame) -> float:
    t = pd.to_datetime(g["finished_at"]) - pd.to_datetime(g["started_at"])
    return float(t.dt.total_seconds().sum())


def section_cost(chosen: dict[str, Selection], tuned: dict[str, pd.DataFrame], search: pd.DataFrame) -> list[str]:
    rows = []
    for m in sorted(chosen):
        t, s = tuned[m], search[search["method"] == m]
        rows.append([m, _fmt(t["train_seconds"].mean(), 3), _fmt(float(t["train_tokens"].mean()), 4),
                     _fmt(t["train_flops"].mean(), 3), str(len(s)), _fmt(s["train_seconds"].sum(), 4),
                     _fmt(s["train_flops"].sum(), 3), _fmt(_job_seconds(s), 4)])
    return ["## Cost beside quality", "",
            "Training seconds, tokens (non-padding, per pair for every method) and estimated FLOPs at the "
            "selected configuration (mean over its seeds), and what the whole grid search cost per method.", "",
            *_table(["method", "train s", "train tokens", "train FLOPs", "search jobs", "search train s",
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
    label = {tuple(d.get(a) for a in axes[:-1]): ", ".join(f"{a}={_fmt(d.get(a))}" for a in axes[:-1]) or method
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
        srow = ", ".join(f"{a}={_fmt(sel.hparams.get(a))}" for a in axes[:-1]) or method
        if srow in ys and sel.hparams.get("learning_rate") in lrs:
            ax.add_patch(plt.Rectangle((lrs.index(sel.hparams["learning_rate"]) - 0.5, ys.index(srow) - 0.5), 1, 1,
                                       fill=False, edgecolor="red", linewidth=2.5))
    ax.set_xticks(range(len(lrs)), [_fmt(x, 3) for x in lrs])
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
    rows = [[m, f_rank.get(m, "-"), _ci(f_est[m]) if m in f_est else "-", t_rank.get(m, "-"),
             _ci(t_est[m]) if m in t_est else "-",
             _fmt(t_est[m].mean - f_est[m].mean, 3) if m in t_est and m in f_est else "-"]
            for m in sorted(set(f_est) | set(t_est))]
    return ["## Fixed setting vs tuned", "",
            f"Test `{metric}`: sweep `default` (every method at its yaml defaults) against each method at its "
            "selected configuration. Ranks are shared within overlapping intervals.", "",
            *_table(["method", "fixed rank", "fixed", "tuned rank", "tuned", "tuned - fixed"], rows), ""]


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


# --------------------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    select_by = resolve_select_by(own)
    own = [a for a in own if not a.startswith("report.select_by=")]
    p = argparse.ArgumentParser(prog="python -m harness.tune", description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("run", "select", "report"))
    p.add_argument("runs_dir", nargs="?", default=os.environ.get("APB_RUNS_DIR", "runs"))
    p.add_argument("--runs-dir", dest="runs_dir_opt", help="same as the positional RUNS_DIR")
    p.add_argument("--out", default="reports/tune")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated; each needs conf/sweep/tune/<m>.yaml")
    p.add_argument("--seeds", default=",".join(map(str, SEEDS)), type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--grid", action="append", default=[],
                   help="stage-1-only override, e.g. method.learning_rate=1e-3,3e-3 (shrinks the grid)")
    args = p.parse_args(own)
    args.runs_dir, args.select_by = args.runs_dir_opt or args.runs_dir, select_by
    if args.command == "run":
        return run(args, extra)
    if args.command == "select":
        for m, s in selections(Path(args.runs_dir), select_by).items():
            print(f"{m}: {_hp(s.hparams)}  {select_by}={s.score:.4f}  run_id={s.run_id}  overrides={' '.join(s.overrides)}")
        return 0
    print(f"wrote {render(Path(args.runs_dir), Path(args.out), select_by)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

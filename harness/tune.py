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

from harness import ROOT, metrics, results
from harness.store import config_hash

SEARCH, CONFIRM, FIXED = "tune", "tune_confirm", "default"
SEEDS = (0, 1, 2, 3, 4)
SELECT_BY = "val_pref_accuracy"
# Identity columns selection may see besides val_*: none of them holds a held-out metric.
SELECTION_ID = ("run_id", "method", "seed", "status", "hparams_json", "config_json", "overrides")
# Held-out metric columns selection must never see (the metric table's quality kind and their gains).
QUALITY = tuple(m.name for m in metrics.TABLE if m.kind in ("quality", "gain"))
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
    return config_hash(json.loads(config_json), without_seed=True)


def tunable_methods() -> list[str]:
    """Registered methods (harness.methods' registry) that have a grid preset; the others are named."""
    from harness.methods import REGISTRY

    have = [m for m in sorted(REGISTRY) if (ROOT / "conf" / "sweep" / SEARCH / f"{m}.yaml").exists()]
    missing = sorted(set(REGISTRY) - set(have))
    if missing:
        print(f"note: no grid in conf/sweep/{SEARCH}/ for {', '.join(missing)}: not tuned", file=sys.stderr)
    return have


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


def hparams_text(hp: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in hp.items())


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
    from harness.report.tune import render

    out = render(runs_dir, Path(args.out), args.select_by)
    print(f"wrote {out}", flush=True)
    return 0


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
    p.add_argument("--methods", default=",".join(tunable_methods()),
                   help="comma-separated registered methods with a grid in conf/sweep/tune/<m>.yaml (default: all)")
    p.add_argument("--seeds", default=",".join(map(str, SEEDS)), type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--grid", action="append", default=[],
                   help="stage-1-only override, e.g. method.learning_rate=1e-3,3e-3 (shrinks the grid)")
    args = p.parse_args(own)
    args.runs_dir, args.select_by = args.runs_dir_opt or args.runs_dir, select_by
    if args.command == "run":
        return run(args, extra)
    if args.command == "select":
        for m, s in selections(Path(args.runs_dir), select_by).items():
            print(f"{m}: {hparams_text(s.hparams)}  {select_by}={s.score:.4f}  run_id={s.run_id}  overrides={' '.join(s.overrides)}")
        return 0
    from harness.report.tune import render

    print(f"wrote {render(Path(args.runs_dir), Path(args.out), select_by)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

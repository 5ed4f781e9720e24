"""Render the report from run rows.

    python -m harness.report [RUNS_DIR] [--sweep NAME] [--out DIR] [report.<key>=value ...]
    python -m harness.report runs --sweep default report.rank_by=card

RUNS_DIR defaults to runs/; without --sweep every sweep found there is rendered into <out>/<sweep>/
(default out: reports/). Settings come from conf/report.yaml; `report.<key>=value` overrides them.
Exit codes: 0 rendered, 2 nothing to render (missing or empty runs directory, unknown sweep) or bad
arguments.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf

from harness import CONF_DIR, require_checkout
from harness.report.markdown import write_report
from harness.report.summary import summarize
from harness.results import load_runs

CONFIG = CONF_DIR / "report.yaml"


def load_config(overrides: list[str]) -> dict[str, Any]:
    """conf/report.yaml's `report` node with `report.<key>=value` overrides merged over it."""
    bad = [o for o in overrides if not o.startswith("report.") or "=" not in o]
    if bad:
        raise ValueError(f"overrides must look like report.<key>=value: {bad}")
    cfg = OmegaConf.merge(OmegaConf.load(CONFIG), OmegaConf.from_dotlist(overrides))
    return OmegaConf.to_container(cfg.report, resolve=True)  # type: ignore[return-value]


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    ap = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__.split("\n\n")[0])
    ap.add_argument("args", nargs="*", metavar="RUNS_DIR | report.KEY=VALUE")
    ap.add_argument("--sweep", help="render only this sweep (default: every sweep found)")
    ap.add_argument("--out", default="reports", help="output root; each sweep goes to OUT/<sweep>/")
    ns = ap.parse_intermixed_args(argv)  # RUNS_DIR and overrides may sit on either side of options
    overrides = [a for a in ns.args if "=" in a]
    paths = [a for a in ns.args if "=" not in a]
    if len(paths) > 1:
        ap.error(f"one RUNS_DIR expected, got {paths}")
    ns.runs_dir = Path(paths[0] if paths else "runs")
    return ns, overrides


def main(argv: list[str] | None = None) -> int:
    ns, overrides = parse_args(sys.argv[1:] if argv is None else argv)
    require_checkout()
    try:
        cfg = load_config(overrides)
    except Exception as exc:  # a bad override is a usage error, not a crash
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not ns.runs_dir.is_dir():
        print(f"no runs: {ns.runs_dir} does not exist (run `python -m harness.train ...` first)", file=sys.stderr)
        return 2
    df = load_runs(ns.runs_dir)
    if df.empty:
        print(f"no runs: no parquet rows under {ns.runs_dir} (run `python -m harness.train ...` first)",
              file=sys.stderr)
        return 2
    sweeps = sorted(set(df["sweep"].dropna().astype(str)))
    if ns.sweep is not None and ns.sweep not in sweeps:
        print(f"no runs for sweep {ns.sweep!r} under {ns.runs_dir}; sweeps found: {', '.join(sweeps)}",
              file=sys.stderr)
        return 2
    # the validation search has its own report (python -m harness.tune report), written to reports/tune/
    refused = 0
    for sweep in [ns.sweep] if ns.sweep else [s for s in sweeps if s != "search"]:
        refused += render_sweep(df[df["sweep"] == sweep], sweep, cfg, Path(ns.out) / sweep)
    return 2 if refused else 0


def render_sweep(rows: pd.DataFrame, sweep: str, cfg: dict[str, Any], out: Path) -> int:
    """One sweep's report; a sweep that mixes datasets or base models gets one report per (dataset, model)
    under out/<dataset>__<model>/ and an index at out/report.md, since their numbers cannot be compared.
    Returns how many reports were refused (each with one paragraph on stderr)."""
    groups = {k: g for k, g in rows.groupby([rows["dataset"].fillna("?").astype(str),
                                             rows["model"].fillna("?").astype(str)], sort=True)}
    if len(groups) == 1:
        return render_one(rows, sweep, cfg, out)
    refused, links = 0, []
    for (dataset, model), g in groups.items():
        slug = f"{_slug(dataset)}__{_slug(model)}"
        refused += render_one(g, sweep, cfg, out / slug, label=f"{sweep} [{dataset} / {model}]")
        links.append(f"- dataset `{dataset}`, base model `{model}`: {len(g)} rows -> [{slug}/report.md]({slug}/report.md)")
    out.mkdir(parents=True, exist_ok=True)
    index = [f"# Report: sweep `{sweep}`", "",
             f"This sweep holds runs on {len(groups)} (dataset, base model) combinations. Their numbers cannot be "
             "compared with each other (other data, other base), so each has its own report:", "", *links, ""]
    (out / "report.md").write_text("\n".join(index), encoding="utf-8")
    print(f"{sweep}: {len(rows)} rows in {len(groups)} (dataset, model) sections -> {out / 'report.md'}")
    return refused


def render_one(rows: pd.DataFrame, sweep: str, cfg: dict[str, Any], out: Path, label: str | None = None) -> int:
    try:
        summary = summarize(rows, sweep, cfg)
        path = write_report(summary, out)
    except Exception as exc:  # one paragraph naming the sweep and the cause, never a traceback
        print(f"error: sweep {label or sweep!r} was not rendered: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{label or sweep}: {len(summary.runs)} runs, {len(summary.failed)} failed -> {path}")
    return 0


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "unnamed"


if __name__ == "__main__":
    sys.exit(main())

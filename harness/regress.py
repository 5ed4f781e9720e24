"""CI regression of the method rankings: compare a sweep's rankings with a committed baseline.

    python -m harness.regress runs/ci --write-baseline reports/baseline/rankings.json   # after `-m sweep=ci`
    python -m harness.regress runs/ci --baseline reports/baseline/rankings.json         # exit 0 pass, 1 fail
    python -m harness.regress runs/ci --baseline ... --config conf/regress.yaml         # tolerances (default)

Reads parquet rows only (harness.results.load_runs). For each ranked metric in conf/regress.yaml it
summarises every method over seeds (mean, 95% bootstrap interval, shared rank) and every pair of methods
(paired difference over seeds). A pair fails when the baseline ordered it significantly and the new sweep
orders it the other way, also significantly; a quality mean fails when it moves more than its tolerance.
Everything else is noise and is shown as `~`. Timings are divided by a reference method's from the same
sweep, and only orderings with a large baseline gap are checked. Exit codes: 0 pass, 1 regression,
2 unusable input (no baseline, another dataset or model, no ok rows).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf

from harness import CONF_DIR, checks, environment, metrics, require_checkout
from harness.results import load_runs
from harness.stats import mean_ci, paired_difference, shared_ranks
from harness.store import config_hash, config_identity

DEFAULT_CONFIG = CONF_DIR / "regress.yaml"
BASELINE_FORMAT = 2  # 2: per-method learning, mean and trajectory checks (harness.checks)
VERSION_COLUMNS = ("torch_version", "transformers_version", "trl_version", "datasets_version", "python_version")
IDENTITY = ("dataset", "dataset_fingerprint", "model")  # the baseline only speaks for these


class Unusable(Exception):
    """The comparison cannot be made (exit 2): said in one paragraph, no traceback."""


# ------------------------------------------------------------------------------------------ rows
def ok_rows(runs_dir: Path) -> pd.DataFrame:
    """The ok rows, one per (method, seed): a resumed directory can hold stale rows from an older config,
    and the newest one is what this code produced."""
    df = load_runs(runs_dir)
    df = df[df["status"] == "ok"]
    if df.empty:
        raise Unusable(f"no ok rows under {runs_dir}: run the sweep first (python -m harness.train -m sweep=ci)")
    df = metrics.derive(df.sort_values("finished_at").drop_duplicates(["method", "seed"], keep="last"))
    for col in IDENTITY:
        if df[col].nunique(dropna=False) > 1:
            raise Unusable(f"{runs_dir} mixes several {col} values ({sorted(map(str, df[col].unique()))}); "
                           "point it at one sweep's directory")
    return df


def per_seed(df: pd.DataFrame, values: pd.Series) -> dict[str, dict[int, float]]:
    """{method: {seed: value}} without missing values."""
    out: dict[str, dict[int, float]] = {}
    for method, seed, v in zip(df["method"], df["seed"], values):
        if v is not None and not math.isnan(v):
            out.setdefault(method, {})[int(seed)] = float(v)
    return out


def as_ratios(values: dict[str, dict[int, float]], reference: str) -> dict[str, dict[int, float]]:
    """Each method's value divided by the reference method's on the same seed of the same sweep: a busy
    machine slows every job, and the ratio keeps only what the method itself changes."""
    if reference not in values:
        raise Unusable(f"timing reference method {reference!r} has no ok rows; set timing_reference in the config")
    ref = values[reference]
    return {m: {s: v / ref[s] for s, v in seeds.items() if s in ref} for m, seeds in values.items()}


# ------------------------------------------------------------------------------------- summary
def summarize_metric(df: pd.DataFrame, name: str, reference: str) -> dict[str, Any]:
    kind, hib = metrics.get(name).kind, metrics.higher_is_better(name)
    values = per_seed(df, pd.to_numeric(df[name], errors="coerce").astype(float))
    if kind == "timing":
        values = as_ratios(values, reference)
    estimates = {m: mean_ci(list(v.values())) for m, v in sorted(values.items())}
    ranks = shared_ranks(estimates, hib)
    methods = {m: {"mean": e.mean, "lo": e.lo, "hi": e.hi, "n": e.n, "rank": ranks.get(m),
                   "values": {str(s): v for s, v in sorted(values[m].items())}} for m, e in estimates.items()}
    pairs = {}
    for a, b in combinations(sorted(m for m in methods if values[m]), 2):
        est, sig = paired_difference(values[a], values[b])
        pairs[f"{a}|{b}"] = {"diff": est.mean, "lo": est.lo, "hi": est.hi, "significant": sig}
    return {"kind": kind, "higher_is_better": hib, "unit": f"ratio to {reference}" if kind == "timing" else None,
            "methods": methods, "pairs": pairs}


def summarize(df: pd.DataFrame, cfg: dict) -> dict[str, Any]:
    return {name: summarize_metric(df, name, cfg["timing_reference"]) for name in cfg["metrics"]}


def provenance(df: pd.DataFrame) -> dict[str, Any]:
    """What the rankings were made with: data, model, each method's config, library versions."""
    first = df.iloc[0]
    methods = {}
    for m, g in df.groupby("method"):
        methods[m] = {"config_hashes": sorted({_config_hash(c) for c in g["config_json"]}),
                      "config": _flat(config_identity(json.loads(g["config_json"].iloc[0]), without_seed=True)),
                      "learning_rate": _one(g["learning_rate"]), "beta": _one(g["beta"]),
                      "seeds": sorted(int(s) for s in g["seed"])}
    return {"config": {"sweep": _one(df["sweep"]), **{c: first[c] for c in IDENTITY},
                       "model_weights": _one(df["model_weights"]), "device": _one(df["device"]),
                       "methods": methods},
            "versions": {c.removesuffix("_version"): sorted(map(str, df[c].dropna().unique()))
                         for c in (*VERSION_COLUMNS, "git_commit")}}


def _config_hash(config_json: str | None) -> str | None:
    """The resolved config without the seed and output paths: equal across a method's seeds."""
    if not config_json:
        return None
    return config_hash(json.loads(config_json), without_seed=True)


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config as dotted keys (`method.learning_rate`), so a change can be named key by key."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out |= _flat(v, f"{prefix}.{k}" if prefix else str(k))
    return out


def config_changes(was: dict[str, Any], now: dict[str, Any], limit: int = 6) -> str:
    """`key old -> new` for every dotted key that differs, the first `limit` of them named."""
    keys = sorted(k for k in set(was) | set(now) if was.get(k, "<absent>") != now.get(k, "<absent>"))
    text = ", ".join(f"{k} {was.get(k, '<absent>')} -> {now.get(k, '<absent>')}" for k in keys[:limit])
    return text + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _one(series: pd.Series) -> Any:
    vals = sorted({v for v in series if v is not None and not (isinstance(v, float) and math.isnan(v))}, key=str)
    return vals[0] if len(vals) == 1 else (vals or None)


def build_baseline(df: pd.DataFrame, cfg: dict, runs_dir: Path) -> dict[str, Any]:
    return {"format": BASELINE_FORMAT, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "runs_dir": str(runs_dir), **provenance(df), "environment": environment.snapshot(),
            "regress_config": cfg, "metrics": summarize(df, cfg),
            "per_method": checks.summarize(df, cfg)}


# ---------------------------------------------------------------------------------- comparison
def load_baseline(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise Unusable(f"baseline file {path} not found. Make one from a CI sweep with `make baseline` "
                       f"(python -m harness.regress runs/ci --write-baseline {path}).")
    base = json.loads(path.read_text(encoding="utf-8"))
    if base.get("format") != BASELINE_FORMAT or "metrics" not in base:
        raise Unusable(f"{path} is not a rankings baseline of format {BASELINE_FORMAT}; "
                       "regenerate it with `make baseline`")
    return base


def check_identity(base: dict, df: pd.DataFrame, path: Path) -> None:
    """A baseline speaks only for the data and model it was made with."""
    now = df.iloc[0]
    for col in IDENTITY:
        was = base["config"].get(col)
        if str(was) != str(now[col]):
            raise Unusable(f"the baseline {path} was made with {col}={was}, these runs have {col}={now[col]}: "
                           "the rankings are not comparable. If the data or model changed on purpose, "
                           "refresh the baseline with `make baseline` and commit it with the change.")


def order(pair: str, diff: float, significant: bool, higher_is_better: bool,
          min_effect: float = 0.0) -> tuple[str, int]:
    """'a > b' (a better, significant), 'a ~ b' (within noise); and the sign: +1 a better, -1 b better, 0.
    With 3 seeds a percentile bootstrap calls any difference whose seeds agree in sign significant, so an
    ordering also needs |diff| >= min_effect to count."""
    a, b = pair.split("|")
    if not significant or math.isnan(diff) or abs(diff) < min_effect:
        return (f"{a} ~ {b}" if (diff >= 0) == higher_is_better else f"{b} ~ {a}"), 0
    better_a = (diff > 0) == higher_is_better
    return (f"{a} > {b}" if better_a else f"{b} > {a}"), (1 if better_a else -1)


def compare_pair(name: str, pair: str, was: dict, now: dict | None, base_metric: dict, spec: dict,
                 cfg: dict) -> dict:
    hib, eff = base_metric["higher_is_better"], float(spec.get("min_effect") or 0.0)
    was_order, was_sign = order(pair, was["diff"], was["significant"], hib, eff)
    if now is None:
        return _row(name, pair, was_order, "missing", "MISSING" if was_sign else "~", fail=bool(was_sign))
    now_order, now_sign = order(pair, now["diff"], now["significant"], hib, eff)
    if base_metric["kind"] == "timing" and was_sign and _gap(base_metric, pair) < cfg["min_timing_gap_ratio"]:
        return _row(name, pair, was_order, now_order, f"skip (gap {_gap(base_metric, pair):.2f}x)", fail=False)
    if was_sign and now_sign == -was_sign:
        return _row(name, pair, was_order, now_order, "FLIP", fail=True)
    verdict = "ok" if was_sign and now_sign == was_sign else "~" if now_sign == 0 else "ok (newly ordered)"
    return _row(name, pair, was_order, now_order, verdict, fail=False)


def better_first(pair: str, metric: dict) -> str:
    """The pair named with the baseline's better method first, so the table reads like the ranking."""
    a, b = pair.split("|")
    ma, mb = metric["methods"][a]["mean"], metric["methods"][b]["mean"]
    return f"{b}|{a}" if (mb > ma) == metric["higher_is_better"] and mb != ma else pair


def _pair_key(pair: str, metric: dict) -> tuple[int, int]:
    """Pairs in the baseline's ranking order: the best method's pairs first."""
    sign = 1 if metric["higher_is_better"] else -1
    ranked = sorted(metric["methods"], key=lambda m: -sign * metric["methods"][m]["mean"])
    a, b = pair.split("|")
    return ranked.index(a), ranked.index(b)


def _gap(metric: dict, pair: str) -> float:
    """Baseline ratio of the larger mean to the smaller one."""
    a, b = (metric["methods"][m]["mean"] for m in pair.split("|"))
    lo, hi = sorted((a, b))
    return hi / lo if lo > 0 else math.inf


def _row(metric: str, pair: str, was: str, now: str, verdict: str, fail: bool) -> dict:
    return {"metric": metric, "pair": pair.replace("|", "-"), "baseline": was, "new": now, "verdict": verdict,
            "fail": fail}


def compare_tolerance(name: str, base_metric: dict, new_metric: dict, tol: float) -> list[dict]:
    """One row per method that moved more than tol; when none did, one row for the largest move."""
    deltas = {}
    for m, was in base_metric["methods"].items():
        now = new_metric["methods"].get(m)
        if now is not None and not math.isnan(now["mean"]) and not math.isnan(was["mean"]):
            deltas[m] = (was["mean"], now["mean"])  # a missing method already fails on its pairs
    if not deltas:
        return []
    moved = [m for m, (w, n) in deltas.items() if abs(n - w) > tol]
    shown = moved or [max(deltas, key=lambda m: abs(deltas[m][1] - deltas[m][0]))]
    return [_row(name, f"{m} mean" if moved else f"max move: {m}", f"{deltas[m][0]:.3f}",
                 f"{deltas[m][1]:.3f} ({deltas[m][1] - deltas[m][0]:+.3f})",
                 f"MOVED (tol {tol:g})" if moved else f"~ (tol {tol:g})", fail=bool(moved)) for m in shown]


def missing_methods(base: dict, new: dict) -> list[dict]:
    """A method the baseline ranked that has no ok row now: it crashed or was dropped, either way a change."""
    first = next(iter(base["metrics"].values()))["methods"]
    now = set().union(*(m["methods"] for m in new.values()))
    return [_row("all", m, f"n={first[m]['n']}", "no ok rows", "MISSING", fail=True) for m in sorted(set(first) - now)]


def compare(base: dict, new: dict, cfg: dict) -> list[dict]:
    rows = missing_methods(base, new)
    for name, spec in cfg["metrics"].items():
        if name not in base["metrics"]:
            continue  # a metric added to the config after the baseline: nothing to compare yet
        base_metric, new_metric = base["metrics"][name], new[name]
        label = f"{name}/{cfg['timing_reference']}" if base_metric["kind"] == "timing" else name
        for pair in sorted(base_metric["pairs"], key=lambda p: _pair_key(better_first(p, base_metric), base_metric)):
            row = compare_pair(label, pair, base_metric["pairs"][pair], new_metric["pairs"].get(pair), base_metric,
                               spec, cfg)
            rows.append(row | {"pair": better_first(pair, base_metric).replace("|", "-")})
        if spec.get("tolerance") is not None:
            rows += compare_tolerance(label, base_metric, new_metric, float(spec["tolerance"]))
    return rows


# -------------------------------------------------------------------------------------- output
def render(rows: list[dict]) -> str:
    cols = ("metric", "pair", "baseline", "new", "verdict")
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols} if rows else {c: len(c) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in cols).rstrip() for r in rows]
    return "\n".join(lines)


def ranks_line(name: str, metric: dict) -> str:
    ordered = sorted(metric["methods"].items(), key=lambda kv: (_rank_key(kv[1]["rank"]), kv[0]))
    return f"  {name}: " + ", ".join(f"{m} {v['rank']}" for m, v in ordered)


def _rank_key(rank: str | None) -> tuple[int, int]:
    first, _, last = (rank or "99").partition("-")
    return int(first), int(last or first)


def version_notes(base: dict, df: pd.DataFrame) -> list[str]:
    """Changes that explain a reordering without being failures themselves."""
    now = provenance(df)
    notes = [f"note: {lib} {'/'.join(was)} -> {'/'.join(now['versions'].get(lib, []))}"
             for lib, was in base["versions"].items() if lib != "git_commit" and was != now["versions"].get(lib, [])]
    for m, was in base["config"]["methods"].items():
        cur = now["config"]["methods"].get(m)
        if not cur or cur["config_hashes"] == was["config_hashes"]:
            continue
        if "config" in was:
            changes = config_changes(was["config"], cur["config"])
            if changes:
                notes.append(f"note: {m}'s config differs from the baseline's: {changes}")
        else:
            notes.append(f"note: {m}'s config hash differs from the baseline's, which predates per-key configs "
                         "and cannot say which key changed (refresh it with `make baseline`)")
    return notes


def verdict_line(rows: list[dict]) -> str:
    flips = sum(r["fail"] and r["verdict"] == "FLIP" for r in rows)
    moved = sum(r["fail"] and r["verdict"].startswith("MOVED") for r in rows)
    missing = sum(r["fail"] and r["verdict"] == "MISSING" for r in rows)
    unlearned = sum(r["fail"] and r["verdict"].startswith("NOT LEARNED") for r in rows)
    changed = sum(r["fail"] and r["verdict"].startswith("CHANGED") for r in rows)
    checked = sum(r["verdict"] in ("ok", "FLIP") for r in rows)
    per_method = sum(r["metric"] == "per method" for r in rows)
    noise = sum(r["verdict"].startswith("~") for r in rows)
    word = "FAIL" if any(r["fail"] for r in rows) else "PASS"
    line = (f"{word}: {flips} significant flips, {moved} means outside tolerance, {unlearned} methods no longer "
            f"learning, {changed} training trajectories changed, {missing} missing; {checked} significant "
            f"orderings and {per_method} per-method checks made, {noise} within noise (~)")
    failed = failed_methods(rows)
    return (f"failed methods: {failed}\n" if failed else "") + line


def failed_methods(rows: list[dict]) -> str:
    """`dpo (trajectory, mean), kto (learning)`: where a red CI should look first."""
    names: dict[str, list[str]] = {}
    for r in rows:
        if not r["fail"]:
            continue
        if r["metric"] == "per method":
            method, _, check = r["pair"].partition(" ")
        elif r["verdict"] == "MISSING":
            method, check = r["pair"], "missing"
        else:  # an ordering names both of its methods; a tolerance row names its one
            for method in r["pair"].split(" ")[0].split("-"):
                names.setdefault(method, []).append(f"{r['metric']} {r['verdict'].split(' ')[0].lower()}")
            continue
        names.setdefault(method, []).append(check)
    def counted(checks: list[str]) -> str:
        return ", ".join(c + (f" x{checks.count(c)}" if checks.count(c) > 1 else "") for c in dict.fromkeys(checks))

    return ", ".join(f"{m} ({counted(c)})" for m, c in sorted(names.items()))


# ---------------------------------------------------------------------------------------- main
def load_config(path: Path) -> dict:
    return OmegaConf.to_container(OmegaConf.load(path), resolve=True)


def write_baseline(runs_dir: Path, out: Path, cfg: dict) -> int:
    df = ok_rows(runs_dir)
    base = build_baseline(df, cfg, runs_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(base, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print(f"wrote {out} from {len(df)} ok rows ({df['method'].nunique()} methods) under {runs_dir}; ranks:")
    for name, metric in base["metrics"].items():
        print(ranks_line(name, metric))
    return 0


def run_check(runs_dir: Path, baseline: Path, cfg: dict) -> int:
    base = load_baseline(baseline)
    df = ok_rows(runs_dir)
    check_identity(base, df, baseline)
    new = summarize(df, cfg)
    rows = compare(base, new, cfg) + checks.compare(base["per_method"], checks.summarize(df, cfg), cfg)
    print(f"harness.regress: {runs_dir} ({len(df)} ok rows) vs {baseline} (made {base['created_at']})")
    print(render(rows))
    print("ranks now:")
    for name, metric in new.items():
        print(ranks_line(name, metric))
    for note in version_notes(base, df):
        print(note)
    for line in environment.lines(base.get("environment")):
        print(line)
    line = verdict_line(rows)
    print(line)
    return 1 if line.splitlines()[-1].startswith("FAIL") else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.regress", description=__doc__.split("\n")[0])
    p.add_argument("runs_dir", type=Path, help="a sweep's rows, e.g. runs/ci")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--baseline", type=Path, help="compare with this rankings.json")
    mode.add_argument("--write-baseline", type=Path, help="write the runs' rankings to this file")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="metrics and tolerances (conf/regress.yaml)")
    args = p.parse_args(argv)
    if args.config == DEFAULT_CONFIG:
        require_checkout()
    try:
        cfg = load_config(args.config)
        if args.write_baseline:
            return write_baseline(args.runs_dir, args.write_baseline, cfg)
        return run_check(args.runs_dir, args.baseline, cfg)
    except Unusable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The validation search behind every method's setting, and the generated files that hold what it chose.

The protocol is conf/search.yaml: per method, a learning rate grid (log-spaced, a factor of 3 apart) crossed
with the knob its paper or TRL's docs call decisive, every point trained with the default data and recipe on
two search seeds and scored on the validation split (`sweep=search`, rows in runs/search/). Selection takes the
best mean over seeds of a validation column; a best learning rate on the edge of the grid widens the grid past
that edge and selects again. A neighbour check then re-runs the selected point and its learning rate x3 and /3
on two fresh seeds. The result, with every point's mean and interval, the data fingerprint and the date, is
written to conf/tuned/<method>.yaml, which conf/method/<method>.yaml composes: `make sweep`, the zoo preset and
CI use it, and every row carries it in its config. Search seeds never rank anything (conf/search.yaml).

    python -m harness.tune run                          # the five card methods (`make tune`)
    python -m harness.tune run --methods zoo            # every other method in conf/search.yaml
    python -m harness.tune run --methods dpo -- data.max_train_pairs=32   # a shrunken pipeline check
    python -m harness.tune select [--methods ...]      # print each selection from the rows, write nothing
    python -m harness.tune report                       # reports/tune/ from runs/search/ and conf/tuned/
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from harness import CONF_DIR, ROOT, intervals, results

PROTOCOL = CONF_DIR / "search.yaml"
TUNED_DIR = CONF_DIR / "tuned"
SEARCH = "search"  # the sweep name (runs/search/) and the preset (conf/sweep/search.yaml)
# Identity columns selection may see besides val_*: none of them holds a held-out metric.
SELECTION_ID = ("run_id", "method", "seed", "status", "hparams_json", "config_json", "overrides")


# ------------------------------------------------------------------------------------------ protocol
def protocol(path: Path = PROTOCOL) -> dict[str, Any]:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.load(path), resolve=True)  # type: ignore[return-value]


def method_list(spec: str, proto: dict[str, Any]) -> list[str]:
    """`card` (default), `zoo` (every other method of the protocol), `all`, or a comma-separated list."""
    every = list(proto["methods"])
    named = {"card": proto["card"], "zoo": [m for m in every if m not in proto["card"]], "all": every}
    out = named.get(spec, spec.split(","))
    unknown = [m for m in out if m not in every]
    if unknown:
        raise SystemExit(f"error: {', '.join(unknown)} not in the search protocol's methods; "
                         f"known: {', '.join(every)}")
    return out


def lr_at(proto: dict[str, Any], k: int) -> float:
    """The k-th learning rate of the grid, center * factor**k, to 4 significant digits."""
    lr = proto["learning_rate"]
    return float(f"{lr['center'] * lr['factor'] ** k:.4g}")


def knob_points(knobs: dict[str, list]) -> list[dict[str, Any]]:
    """Every combination of a method's knob values ([{}] when it has none)."""
    points: list[dict[str, Any]] = [{}]
    for name, values in knobs.items():
        points = [{**p, name: v} for p in points for v in values]
    return points


def _value(v: Any) -> str:
    return "null" if v is None else repr(v) if isinstance(v, float) else str(v)


def job_overrides(method: str, knobs: dict[str, Any], lr: float, seed: int) -> list[str]:
    """One search job's overrides. `method.tuning=null` keeps a previous selection out of the search's configs
    (so a search row's run_id does not depend on what conf/tuned/ held when it ran)."""
    return [f"sweep={SEARCH}", f"method={method}", "method.tuning=null",
            *(f"method.{k}={_value(v)}" for k, v in knobs.items()), f"method.learning_rate={_value(lr)}",
            f"seed={seed}"]


# ------------------------------------------------------------------------------------------- points
@dataclass
class Point:
    knobs: dict[str, Any]
    learning_rate: float
    k: int                                       # the learning rate's grid index
    seeds: dict[int, dict | None] = field(default_factory=dict)   # seed -> row (None: not run yet)

    def ok(self, select_by: str) -> dict[int, dict]:
        return {s: r for s, r in self.seeds.items() if r and r.get("status") == "ok" and _num(r.get(select_by))}

    def complete(self, select_by: str) -> bool:
        """Every seed ran ok: only such points are selectable (a diverged seed rules its point out)."""
        return bool(self.seeds) and len(self.ok(select_by)) == len(self.seeds)

    def mean(self, select_by: str) -> float:
        ok = self.ok(select_by)
        return sum(float(r[select_by]) for r in ok.values()) / len(ok) if ok else math.nan

    def interval(self, select_by: str) -> tuple[float, float]:
        """95% two-level interval over the seeds and the validation pairs (harness.intervals), when the rows
        carry their per-pair validation scores; else the t interval over seeds alone."""
        ok = self.ok(select_by)
        if len(ok) < 2:
            return math.nan, math.nan
        pairs = {s: r.get("val_pair_scores") for s, r in ok.items()}
        if select_by == "val_pref_accuracy" and all(p is not None and len(p) for p in pairs.values()):
            est = intervals.method_interval({s: list(p) for s, p in pairs.items()})
        else:
            from harness.stats import mean_ci

            est = mean_ci([float(r[select_by]) for r in ok.values()])
        return est.lo, est.hi

    def status(self, select_by: str) -> str:
        states = [("not run" if r is None else r.get("status") or "?") for r in self.seeds.values()]
        return "ok" if self.complete(select_by) else "/".join(sorted(set(states)))

    def label(self) -> str:
        return ", ".join(f"{k}={_value(v)}" for k, v in {**self.knobs, "learning_rate": self.learning_rate}.items())


def _num(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def run_id(overrides: list[str], extra: list[str]) -> str:
    """The run_id harness.train gives this job (its resume key and row file name)."""
    from harness import compose_config
    from harness.job import run_id_of
    from harness.train import open_method_overrides

    return run_id_of(compose_config(open_method_overrides([*overrides, *extra])))


def collect(runs_dir: Path, method: str, knobs: dict[str, list], ks: list[int], seeds: list[int],
            proto: dict[str, Any], extra: list[str]) -> list[Point]:
    """The points of a method's grid at learning-rate indices ks, each with its rows (read by run_id)."""
    out = []
    for kp in knob_points(knobs):
        for k in ks:
            lr = lr_at(proto, k)
            p = Point(kp, lr, k)
            for s in seeds:
                p.seeds[s] = results.read_row(runs_dir / SEARCH / f"{run_id(job_overrides(method, kp, lr, s), extra)}.parquet")
            out.append(p)
    return out


def selection_view(row: dict) -> dict:
    """What selection may read of a row: identity, configuration and validation columns; every test column is
    dropped here, before any score is compared."""
    return {k: v for k, v in row.items() if k in SELECTION_ID or k.startswith("val_")}


def best(points: list[Point], select_by: str) -> Point | None:
    """The complete point with the highest mean over seeds; ties go to the smaller learning rate, then to the
    knob values' text, so the same rows always give the same choice."""
    if not select_by.startswith("val_"):
        raise ValueError(f"selection reads validation columns only; got {select_by}")
    done = [p for p in points if p.complete(select_by)]
    return max(done, key=lambda p: (round(p.mean(select_by), 12), -p.learning_rate, _neg(p.label())), default=None)


def _neg(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


# ------------------------------------------------------------------------------------------- stages
def launch(overrides: list[str], runs_dir: Path) -> float:
    """One `harness.train` multirun in a subprocess; failed jobs are recorded in their rows and the rest go on."""
    argv = [sys.executable, "-m", "harness.train", "-m", *overrides, f"paths.runs_dir={runs_dir}"]
    print("+ " + " ".join(argv[1:]), flush=True)
    t0 = time.perf_counter()
    rc = subprocess.run(argv, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}).returncode
    if rc:
        print(f"warning: exit {rc} from {' '.join(overrides[:3])}: selection uses the ok rows", file=sys.stderr)
    return time.perf_counter() - t0


def ensure(runs_dir: Path, method: str, knobs: dict[str, list], ks: list[int], seeds: list[int],
           proto: dict[str, Any], extra: list[str]) -> list[Point]:
    """The points at ks with every seed run: one multirun for whatever is missing (resume skips the rest)."""
    points = collect(runs_dir, method, knobs, ks, seeds, proto, extra)
    if any(r is None for p in points for r in p.seeds.values()):
        axes = [f"method.{k}=" + ",".join(_value(v) for v in vals) for k, vals in knobs.items()]
        lrs = ",".join(_value(lr_at(proto, k)) for k in ks)
        launch([f"sweep={SEARCH}", f"method={method}", "method.tuning=null", *axes, f"method.learning_rate={lrs}",
                "seed=" + ",".join(map(str, seeds)), *extra], runs_dir)
        points = collect(runs_dir, method, knobs, ks, seeds, proto, extra)
    return points


def search(runs_dir: Path, method: str, proto: dict[str, Any], extra: list[str], dry: bool = False) -> dict[str, Any]:
    """Stage 1 with edge widening, then the neighbour check; returns the tuned file's content (or {} when no
    point completed)."""
    knobs, select_by, lrp = proto["methods"][method] or {}, proto["select_by"], proto["learning_rate"]
    lo, hi = lrp["lowest"], lrp["lowest"] + lrp["points"] - 1
    run = collect if dry else ensure
    k_min, k_max = lo - lrp["widen"], hi + lrp["widen"]
    while True:
        points = run(runs_dir, method, knobs, list(range(lo, hi + 1)), proto["seeds"], proto, extra)
        chosen = best(points, select_by)
        if chosen is None or dry:
            break
        if chosen.k == lo and lo > k_min:
            lo -= 1
        elif chosen.k == hi and hi < k_max:
            hi += 1
        else:
            break
    if chosen is None:
        print(f"warning: {method}: no point completed on every seed; nothing selected", file=sys.stderr)
        return {}
    ks = [k for k in (chosen.k - 1, chosen.k, chosen.k + 1)]
    check = run(runs_dir, method, {k: [v] for k, v in chosen.knobs.items()}, ks, proto["check_seeds"], proto, extra)
    return tuned_content(method, points, chosen, check, proto, (lo, hi), extra)


def tuned_content(method: str, points: list[Point], chosen: Point, check: list[Point], proto: dict[str, Any],
                  span: tuple[int, int], extra: list[str]) -> dict[str, Any]:
    select_by = proto["select_by"]
    means = [p.mean(select_by) for p in points if p.complete(select_by)]
    at = {p.k: p for p in check}
    sel = at[chosen.k].mean(select_by)
    neighbours = {name: {"learning_rate": at[k].learning_rate, "mean": _r(at[k].mean(select_by)),
                         "beats_selected_by": _r(at[k].mean(select_by) - sel)}
                  for name, k in (("lr_div3", chosen.k - 1), ("lr_x3", chosen.k + 1))}
    margins = [v["beats_selected_by"] for v in neighbours.values() if v["beats_selected_by"] is not None]
    lo, hi = chosen.interval(select_by)
    return {
        **chosen.knobs, "learning_rate": chosen.learning_rate,
        "tuning": {
            "selected": {**chosen.knobs, "learning_rate": chosen.learning_rate},
            "select_by": select_by, "score": _r(chosen.mean(select_by)), "interval": [_r(lo), _r(hi)],
            "sensitivity": _r(max(means) - min(means)), "points": len(points), "seeds": list(proto["seeds"]),
            "jobs": sum(len(p.seeds) for p in points) + sum(len(p.seeds) for p in check),
            "edge": chosen.k in span,  # still on an edge after widening: not a selection (the report says so)
            "learning_rates": [lr_at(proto, k) for k in range(span[0], span[1] + 1)],
            "knobs": proto["methods"][method] or {},
            "check": {"seeds": list(proto["check_seeds"]), "selected": _r(sel), **neighbours,
                      "margin": proto["check_margin"],
                      "passed": bool(margins) and all(m <= proto["check_margin"] for m in margins)},
            "data_fingerprint": search_fingerprint(extra), "date": date.today().isoformat(),
            "shrunk": list(extra),
            "grid": [{**p.knobs, "learning_rate": p.learning_rate, "mean": _r(p.mean(select_by)),
                      "lo": _r(p.interval(select_by)[0]), "hi": _r(p.interval(select_by)[1]),
                      "ok_seeds": len(p.ok(select_by)), "status": p.status(select_by)} for p in points],
        },
    }


def _r(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), 4)


def search_fingerprint(extra: list[str] = ()) -> str:
    """Fingerprint of the train and validation splits the search trains and selects on (the default data unless
    `extra` shrinks it): what a tuned file is only valid for."""
    from harness import compose_config
    from harness import data as datalib

    return datalib.load(compose_config([f"sweep={SEARCH}", *extra])["data"]).fingerprint(("train", "val"))


# ------------------------------------------------------------------------------------------ tuned files
HEADER = """# Generated by `python -m harness.tune run` on {date} from runs/{sweep}/ (protocol: conf/search.yaml).
# Do not edit: re-run the search. conf/method/{method}.yaml composes this file, so every preset uses the values
# below; method.<field>= on the command line still overrides them (the report then says so).
# `tuning` is evidence, not a TRL argument: every grid point's validation mean and 95% interval (seeds x val
# pairs), the neighbour check on fresh seeds, and the fingerprint of the data the search ran on.
"""


def write_tuned(method: str, content: dict[str, Any], out_dir: Path = TUNED_DIR) -> Path:
    from omegaconf import OmegaConf

    from harness.store import write_text

    path = out_dir / f"{method}.yaml"
    text = HEADER.format(date=content["tuning"]["date"], sweep=SEARCH, method=method) + OmegaConf.to_yaml(content)
    write_text(path, text)
    return path


def read_tuned(method: str, tuned_dir: Path = TUNED_DIR) -> dict[str, Any] | None:
    from omegaconf import OmegaConf

    path = tuned_dir / f"{method}.yaml"
    return OmegaConf.to_container(OmegaConf.load(path)) if path.exists() else None  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(prog="python -m harness.tune", description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("run", "select", "report"))
    p.add_argument("--runs-dir", default=os.environ.get("APB_RUNS_DIR", "runs"))
    p.add_argument("--methods", default="card", help="card (default), zoo, all, or a comma-separated list")
    p.add_argument("--tuned-dir", default=str(TUNED_DIR), help="where tuned files are written (default conf/tuned)")
    p.add_argument("--out", default="reports/tune")
    p.add_argument("--protocol", default=str(PROTOCOL), help="the search protocol (default conf/search.yaml)")
    args = p.parse_args(own)
    proto, runs_dir = protocol(Path(args.protocol)), Path(args.runs_dir).resolve()
    if args.command == "report":
        from harness.report.tune import render

        print(f"wrote {render(runs_dir, Path(args.out), Path(args.tuned_dir), method_list('all', proto), proto)}")
        return 0
    t_all = time.perf_counter()
    for m in method_list(args.methods, proto):
        t0 = time.perf_counter()
        content = search(runs_dir, m, proto, extra, dry=args.command == "select")
        if not content:
            continue
        t = content["tuning"]
        print(f"[select] {m}: {', '.join(f'{k}={_value(v)}' for k, v in t['selected'].items())} "
              f"{t['select_by']}={t['score']} sensitivity={t['sensitivity']} edge={t['edge']} "
              f"check passed={t['check']['passed']} ({time.perf_counter() - t0:.0f}s)", flush=True)
        if args.command == "run":
            print(f"wrote {write_tuned(m, content, Path(args.tuned_dir))}", flush=True)
    print(f"[wall] {time.perf_counter() - t_all:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The report's "How each method was set" section, from the rows alone: each row's config carries its method's
tuning evidence (conf/tuned/<method>.yaml, written by harness.tune) when the method was searched. Per method: the
values it ran at, whether those are the search's selection, the validation score there, the method's
sensitivity (best minus worst validation mean over its search), the search's budget and its neighbour check, so a
reader can see how much of a gap between two methods is the objective and how much the knob.

Used by harness.report.markdown.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from harness.report.summary import Summary
from harness.report.tables import to_markdown


def how_set(method_node: dict[str, Any]) -> str:
    """`tuned` when the method config holds its tuning block's selected values, `overridden` when it carries a
    tuning block but runs at other values (method.<field>= on the command line), `not searched` without one."""
    tuning = method_node.get("tuning")
    if not tuning:
        return "not searched"
    same = all(_same(method_node.get(k), v) for k, v in tuning["selected"].items())
    return "tuned" if same else "overridden"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9)
    return a == b


def _v(x: Any) -> str:
    return "off" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)


def _method_node(config_json: str) -> dict[str, Any]:
    return (json.loads(config_json) or {}).get("method") or {}


def rows(runs: pd.DataFrame) -> list[dict[str, str]]:
    out = []
    for method, g in runs.groupby("method", sort=True):
        node = _method_node(g["config_json"].iloc[0])
        t = node.get("tuning") or {}
        knobs = list((t.get("knobs") or {}).keys())
        values = ", ".join(f"{k}={_v(node.get(k))}" for k in [*knobs, "learning_rate"])
        row = {"Method": method.upper(), "Set by": how_set(node), "Values run": values or f"learning_rate={_v(node.get('learning_rate'))}"}
        if t:
            c = t.get("check") or {}
            worst = max((c[n]["beats_selected_by"] for n in ("lr_div3", "lr_x3")
                         if c.get(n) and c[n].get("beats_selected_by") is not None), default=None)
            lo, hi = t.get("interval") or [None, None]
            row |= {f"Validation {t['select_by'].removeprefix('val_')} at selection":
                        f"{t['score']:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else ""),
                    "Sensitivity (best - worst)": f"{t['sensitivity']:.3f}",
                    "Search budget": f"{t['points']} points x {len(t['seeds'])} seeds ({t['jobs']} jobs)",
                    "Neighbour check (lr x3, /3)": ("passed" if c.get("passed") else "FAILED")
                        + (f", best neighbour {worst:+.3f}" if worst is not None else ""),
                    "Searched": f"{t['date']}, data {t['data_fingerprint']}" + (" (EDGE)" if t.get("edge") else "")}
        out.append(row)
    return out


def section(s: Summary) -> list[str]:
    if "config_json" not in s.runs or s.runs.empty:
        return []
    table = pd.DataFrame(rows(s.runs)).fillna("-")
    return ["## How each method was set", "",
            "Each method runs at the setting its own validation search selected (conf/search.yaml: the learning rate "
            "crossed with the method's main knob, 2 search seeds per point, seeds disjoint from the ones ranked here; "
            "`make tune`). The score is the validation mean over the search seeds at the selected point with its 95% "
            "interval over seeds and validation pairs. Sensitivity is the best minus the worst validation mean over the "
            "whole search: a method whose sensitivity is larger than a gap in the ranking would have lost that gap at "
            "a worse setting. The neighbour check re-ran the selected point and its learning rate x3 and /3 on two "
            "fresh seeds; `best neighbour` is by how much the better neighbour beat the selection there (passed: "
            "at most +0.02). `not searched`: the method's yaml value, with no evidence behind it; `overridden`: "
            "set on the command line.", "", to_markdown(table), ""]

"""The search report: reports/tune/report.md and one validation heatmap per method, rendered from the generated
conf/tuned/<method>.yaml files alone (each holds every grid point's validation mean and interval, the neighbour
check and the data fingerprint; harness.tune writes them from runs/search/).

    python -m harness.tune report [--out reports/tune]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness.report.tables import to_markdown


def _v(x: Any) -> str:
    return "off" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)


def _knob_label(point: dict, knobs: list[str]) -> str:
    return ", ".join(f"{k}={_v(point.get(k))}" for k in knobs) or "-"


def grid_table(t: dict[str, Any]) -> pd.DataFrame:
    """Knob values down, learning rates across; each cell the validation mean [95% interval] over the search
    seeds, the selected cell in bold."""
    knobs = list((t.get("knobs") or {}).keys())
    lrs = sorted({p["learning_rate"] for p in t["grid"]})
    rows: dict[str, dict[str, str]] = {}
    for p in t["grid"]:
        label = _knob_label(p, knobs)
        text = "-" if p["mean"] is None else f"{p['mean']:.3f}" + (
            f" [{p['lo']:.3f}, {p['hi']:.3f}]" if p.get("lo") is not None else "")
        if p["status"] != "ok":
            text += f" ({p['status']})"
        if all(p.get(k) == v for k, v in t["selected"].items()):
            text = f"**{text}**"
        rows.setdefault(label, {})[_v(p["learning_rate"])] = text
    return pd.DataFrame([{"knob": k, **{f"lr {_v(lr)}": r.get(_v(lr), "-") for lr in lrs}} for k, r in rows.items()])


def heatmap(method: str, t: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    knobs = list((t.get("knobs") or {}).keys())
    lrs = sorted({p["learning_rate"] for p in t["grid"]})
    labels = list(dict.fromkeys(_knob_label(p, knobs) for p in t["grid"]))
    grid = np.full((len(labels), len(lrs)), np.nan)
    for p in t["grid"]:
        if p["mean"] is not None and p["status"] == "ok":
            grid[labels.index(_knob_label(p, knobs)), lrs.index(p["learning_rate"])] = p["mean"]
    fig, ax = plt.subplots(figsize=(2.2 + 1.3 * len(lrs), 1.4 + 0.6 * len(labels)))
    im = ax.imshow(grid, cmap="viridis", aspect="auto")
    mid = np.nanmean(grid) if np.isfinite(grid).any() else 0
    for i in range(len(labels)):
        for j in range(len(lrs)):
            nan = np.isnan(grid[i, j])
            ax.text(j, i, "not ok" if nan else f"{grid[i, j]:.3f}", ha="center", va="center", fontsize=9,
                    color="gray" if nan else "white" if grid[i, j] < mid else "black")
    sel = t["selected"]
    ax.add_patch(plt.Rectangle((lrs.index(sel["learning_rate"]) - 0.5, labels.index(_knob_label(sel, knobs)) - 0.5),
                               1, 1, fill=False, edgecolor="red", linewidth=2.5))
    ax.set_xticks(range(len(lrs)), [_v(x) for x in lrs])
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("learning_rate")
    ax.set_title(f"{method}: {t['select_by']}, mean of {len(t['seeds'])} search seeds (red: selected)", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})  # no version stamp: same files, same bytes
    plt.close(fig)


def summary_row(method: str, t: dict[str, Any]) -> dict[str, str]:
    c = t["check"]
    lo, hi = t["interval"]
    return {"method": method.upper(), "selected": ", ".join(f"{k}={_v(v)}" for k, v in t["selected"].items()),
            t["select_by"]: f"{t['score']:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else ""),
            "sensitivity": f"{t['sensitivity']:.3f}",
            "learning rates searched": f"{_v(min(t['learning_rates']))}..{_v(max(t['learning_rates']))} "
                                       f"({len(t['learning_rates'])})",
            "on an edge": "YES" if t["edge"] else "no",
            "budget": f"{t['points']} x {len(t['seeds'])} seeds ({t['jobs']} jobs)",
            "check: lr/3, selected, lr x3": f"{_v(c['lr_div3']['mean'])}, {_v(c['selected'])}, {_v(c['lr_x3']['mean'])}",
            "check": "passed" if c["passed"] else "FAILED", "searched": f"{t['date']} ({t['data_fingerprint']})"}


def render(runs_dir: Path, out: Path, tuned_dir: Path, methods: list[str], proto: dict[str, Any]) -> Path:
    """reports/tune/report.md and heatmap_<method>.png for every method with a tuned file."""
    from omegaconf import OmegaConf

    out.mkdir(parents=True, exist_ok=True)
    tuned = {m: OmegaConf.to_container(OmegaConf.load(tuned_dir / f"{m}.yaml"))["tuning"]
             for m in methods if (tuned_dir / f"{m}.yaml").exists()}
    missing = [m for m in methods if m not in tuned]
    lr = proto["learning_rate"]
    lines = ["# How every method's setting was chosen: the validation search", "",
             f"Protocol (conf/search.yaml): each method's learning rate, a factor of {lr['factor']} apart around "
             f"{lr['center']:g} ({lr['points']} values, widened past an edge up to {lr['widen']} times), crossed with "
             f"its main knob; every point trained with the default data and recipe on search seeds "
             f"{proto['seeds']} and scored on the validation split; the best mean of `{proto['select_by']}` is "
             f"selected. The neighbour check re-runs the selected point and its learning rate x3 and /3 on seeds "
             f"{proto['check_seeds']}; it passes when neither neighbour beats the selection by more than "
             f"{proto['check_margin']}. Intervals: 95%, over seeds and validation pairs (harness.intervals). "
             f"The ranking sweeps use other seeds (default 0-7, ci 0-2) and the test split only.", "",
             "## Selected settings", "", to_markdown(pd.DataFrame([summary_row(m, t) for m, t in tuned.items()])), ""]
    if missing:
        lines += [f"Not searched yet (their yaml values stand, with no evidence): {', '.join(missing)}. "
                  "Run `python -m harness.tune run --methods zoo`.", ""]
    for m, t in tuned.items():
        heatmap(m, t, out / f"heatmap_{m}.png")
        lines += [f"## {m.upper()}", "", to_markdown(grid_table(t)), "", f"![{m} validation grid](heatmap_{m}.png)", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path

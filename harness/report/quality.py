"""The report's first section: held-out preference accuracy of every method beside the base model and the
trivial controls, on the same test pairs, with intervals over seeds and test pairs, overall and per part and
category of the data, and the parts no method learned. Numbers come from harness.report.pairs.

Used by harness.report.markdown.
"""

from __future__ import annotations

import pandas as pd

from harness import intervals
from harness.report.pairs import PairData, best_control, quality_rows, unlearned
from harness.report.summary import Summary
from harness.report.tables import cell, to_markdown

KIND = {"method": "method", "base": "base model (no training)", "control": "control (never reads meaning)"}


def _cell(e) -> str:
    return "-" if e is None else cell(e)


def table(data: PairData, methods: list[str], mask) -> pd.DataFrame:
    rows = quality_rows(data, methods, mask)
    return pd.DataFrame([{
        "Name": r.name.upper() if r.kind == "method" else r.name, "Kind": KIND[r.kind],
        "Pref accuracy (summed log-prob)": cell(r.acc), "Length-normalised": _cell(r.acc_norm),
        "Gain over base": _cell(r.gain), "Margin over best control": _cell(r.margin),
        "n": str(r.acc.n) + (" seeds" if r.kind == "method" else " pairs")} for r in rows])


def breakdown(data: PairData, methods: list[str]) -> pd.DataFrame:
    """Pref accuracy per part and category (rows, test pairs in brackets) for every method, the base and the
    controls (columns)."""
    rows = []
    for label, mask in data.masks().items():
        cells = {(r.name.upper() if r.kind == "method" else r.name): cell(r.acc)
                 for r in quality_rows(data, methods, mask)}
        rows.append({"Part / category": f"{label} ({int(mask.sum())})", **cells})
    return pd.DataFrame(rows)


def section(s: Summary) -> list[str]:
    data = s.pairs
    if data is None:
        return ["## Held-out preference accuracy with controls", "",
                "These rows carry no per-pair scores (written before schema 3): no control rows or two-level "
                "intervals can be shown. Re-run the sweep to get them.", ""]
    best = best_control(data)
    lines = ["## Held-out preference accuracy: methods, the base and trivial controls", "",
             f"All on the same {data.n} test pairs. A method's number means something only where it beats every "
             "control, rules that never read meaning (longer / shorter answer, more Arabic / fewer Latin letters, "
             "a bag-of-words classifier fit on the train split), and the base model it started from. "
             f"Intervals ({int(round(100 * s.cfg['confidence']))}%): {intervals.INTERVAL_METHOD}; the base and the "
             "controls are deterministic, so theirs cover test-pair sampling only. Gain and margin are paired by "
             "test pair" + (f"; the best control on these pairs is `{best[0]}`." if best else "."), "",
             to_markdown(table(data, s.methods, None)), ""]
    if len(data.masks()) > 1:
        lines += ["### By part and category", "",
                  "Preference accuracy (summed log-prob) on each part of the data and each category with at "
                  "least 30 test pairs (pairs in brackets).", "", to_markdown(breakdown(data, s.methods)), ""]
    missing = unlearned(data, s.methods)
    if missing:
        lines += ["**Not learned:** no method's gain over the base has an interval above zero on: "
                  + ", ".join(missing) + ". The embedded model does not learn these at this size and budget; "
                  "their numbers are shown, not hidden.", ""]
    if data.excluded:
        lines += [f"Rows scored on other test pairs were left out of this section: {', '.join(data.excluded)}.", ""]
    return lines


def reference_rows(s: Summary, columns: list[str]) -> pd.DataFrame:
    """The base and each control as rows of another table: their test pref accuracy, n/a elsewhere."""
    rows = [r for r in quality_rows(s.pairs, [], None) if r.kind != "method"]
    return pd.DataFrame([{c: "n/a" for c in columns} | {"Method": f"{r.name} ({r.kind})", "Rank": "-",
                                                        "Test pref accuracy": cell(r.acc), "Seeds": "-",
                                                        "Flags": "-"} for r in rows], columns=columns)

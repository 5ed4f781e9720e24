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


def families(s: Summary) -> dict[str, str]:
    """{method: family} from the rows (empty for rows written before the family was recorded)."""
    if "method_family" not in s.runs:
        return {}
    return {m: f for m, f in zip(s.runs["method"], s.runs["method_family"]) if isinstance(f, str) and f}


def grouped(methods: list[str], family: dict[str, str]) -> list[str]:
    """Methods grouped by family (families in order of first appearance), the given order kept within one."""
    order = list(dict.fromkeys(family.get(m, "") for m in methods))
    return sorted(methods, key=lambda m: order.index(family.get(m, "")))


def table(data: PairData, methods: list[str], mask, family: dict[str, str] | None = None) -> pd.DataFrame:
    family = family or {}
    rows = quality_rows(data, grouped(methods, family), mask)
    return pd.DataFrame([({"Family": family.get(r.name, "-") if r.kind == "method" else "-"} if family else {}) | {
        "Name": r.name.upper() if r.kind == "method" else r.name, "Kind": KIND[r.kind],
        "Pref accuracy (summed log-prob)": cell(r.acc), "Length-normalised": _cell(r.acc_norm),
        "Gain over base": _cell(r.gain), "Margin over best control": _cell(r.margin),
        "n": str(r.acc.n) + (" seeds" if r.kind == "method" else " pairs")} for r in rows])


def breakdown(data: PairData, methods: list[str], family: dict[str, str] | None = None) -> pd.DataFrame:
    """Pref accuracy per part and category (test pairs in brackets) for every method, the base and the
    controls: parts as rows and methods as columns, or transposed when there are more than 6 methods (a zoo)
    so that the table stays readable."""
    rows = []
    for label, mask in data.masks().items():
        cells = {(r.name.upper() if r.kind == "method" else r.name): cell(r.acc)
                 for r in quality_rows(data, grouped(methods, family or {}), mask)}
        rows.append({"Part / category": f"{label} ({int(mask.sum())})", **cells})
    table = pd.DataFrame(rows)
    if len(methods) <= 6:
        return table
    wide = table.set_index("Part / category").T.reset_index().rename(columns={"index": "Name"})
    return wide


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
             to_markdown(table(data, s.methods, None, families(s))), ""]
    if len(data.masks()) > 1:
        lines += ["### By part and category", "",
                  "Preference accuracy (summed log-prob) on each part of the data and each category with at "
                  "least 30 test pairs (pairs in brackets).", "", to_markdown(breakdown(data, s.methods, families(s))), ""]
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

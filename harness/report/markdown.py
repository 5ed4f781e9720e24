"""Assembles reports/<sweep>/: report.md (tables, ranking, significance, plots, flags, failures,
glossary, footnotes), the same data as CSV under csv/, the PNG plots and the model cards.

Nothing time-dependent is written into report.md, so the same rows give byte-identical markdown.
Used by `python -m harness.report` (see harness/report/__main__.py).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness import intervals
from harness.report import cards, optional, plots, quality, settings, tables
from harness.report.summary import Summary

CARD_FOOTNOTE = (
    "[^card]: The card's efficiency score is samples/s x loss reduction rate, where loss reduction rate = "
    "1 - final loss if final loss < 1, else 0, reproduced exactly so it can be set beside published cards. "
    "It mixes incomparable quantities: each objective's loss has its own scale (SFT's is a per-token NLL, "
    "DPO's a log-sigmoid of a beta-scaled log-ratio that starts at ln 2, IPO's a squared per-token "
    "log-ratio error, CPO adds an NLL term, KTO a sigmoid of a KL-shifted reward), so the same "
    "'loss reduction' means different things, any loss >= 1 scores 0 however much it fell, and a "
    "negative loss scores above the samples/s. Use the quality-per-compute ranking to compare methods.")


def _header(s: Summary) -> list[str]:
    r = s.runs
    uniq = lambda c: ", ".join(f"`{v}`" for v in sorted(set(r[c].dropna().astype(str)))) or "n/a"  # noqa: E731
    conf = int(round(100 * s.cfg["confidence"]))
    lines = [f"# Report: sweep `{s.sweep}`", "",
             f"- Runs averaged: {len(r)} ok rows, {len(s.methods)} methods; failed or diverged: {len(s.failed)}; "
             f"superseded duplicates: {len(s.superseded)}",
             f"- Base model: {uniq('model')} ({uniq('model_weights')}); dataset: {uniq('dataset')}; "
             f"device: {uniq('device')}; dtype: {uniq('dtype')}",
             f"- TRL: {uniq('trl_version')}; harness commit: {uniq('git_commit')}",
             f"- Cells: mean over seeds with a {conf}% interval in brackets; `Seeds` is n. Preference accuracy, its "
             "length-normalised form, the gain over the base and the quality-per-cost ratios count both sources "
             f"of variance, training seeds and test pairs ({intervals.INTERVAL_METHOD})"
             + (" " if s.pairs is not None else ", when the rows carry per-pair scores (these do not: "
                "seeds only) ")
             + f"and other metrics use a percentile bootstrap over seeds (fixed bootstrap seed {s.cfg['bootstrap_seed']}).",
             "- Training samples are counted per preference pair for every method (KTO's two unpaired rows are "
             "one pair); tokens are non-padding tokens; losses are each objective's own and not comparable "
             "across methods."]
    if s.max_seeds < 2:
        lines.append("- **One seed per method: no intervals are shown and no difference can be called "
                     "significant.**")
    if s.random_init:
        lines.append("- **† Cost only (random-init weights or synthetic cost data, `cost_only` in the row): quality "
                     "numbers (accuracy, exact match, margins, gains, KL and the quality-per-compute ranking) mean "
                     "nothing for those rows; cost figures hold.**")
    return lines


def _significance(s: Summary) -> list[str]:
    p = s.pairwise
    if p.empty:
        return ["Only one method: nothing to compare."]
    sig = p[p["significant"]]
    out = [f"Differences in `{s.rank_by}`, paired over the seeds both methods share (bootstrap interval of "
           "the per-seed differences; significant when it excludes 0)."]
    if sig.empty:
        out.append("\nNo difference is significant.")
    else:
        out.append("\nSignificant:\n")
        out += [f"- {a.upper()} - {b.upper()}: {tables.cell_diff(m, lo, hi)}"
                for a, b, m, lo, hi in zip(sig["a"], sig["b"], sig["diff_mean"], sig["diff_lo"], sig["diff_hi"])]
    return out + ["", tables.to_markdown(tables.pairwise_display(s))]


def _flags(s: Summary) -> list[str]:
    rows = [{"Method": m.upper(), "Seed": str(seed), "Flag": f}
            for m, seed, fl in zip(s.runs["method"], s.runs["seed"], s.runs["flags"]) for f in fl]
    if not rows:
        return ["No row raised a sanity flag."]
    return [tables.to_markdown(pd.DataFrame(rows).sort_values(["Method", "Seed", "Flag"]))]


def _runs_list(df: pd.DataFrame, none: str, with_error: bool) -> list[str]:
    if df.empty:
        return [none]
    cols = {"method": "Method", "seed": "Seed", "status": "Status", "run_id": "Run id"}
    out = df[list(cols)].rename(columns=cols).astype(str)
    out["Method"] = out["Method"].str.upper()
    if with_error:
        out["Error"] = df["error"].fillna("(no message)").astype(str).str.slice(0, 300).values
    return [tables.to_markdown(out.sort_values(["Method", "Seed", "Run id"]))]


def _tables(s: Summary) -> list[str]:
    out = []
    built = tables.card_tables(s)
    for slug, (title, disp, _) in built.items():
        out += [f"## {title}", ""]
        if slug == "ranking":
            out += [f"Ranked by `{s.rank_by}` (`report.rank_by`). Methods whose intervals overlap share a rank "
                    "shown as a range (\"2-3\")." + (" With one seed there are no intervals: ranks follow the "
                                                      "means, ties in name order." if s.max_seeds < 2 else ""), ""]
        if slug == "ranking" and s.pairs is not None:  # the base and the controls on the same test pairs
            disp = pd.concat([disp, quality.reference_rows(s, list(disp.columns))], ignore_index=True)
        out += [tables.to_markdown(disp), ""]
        if slug == "training_efficiency_comparison":
            out += ["Efficiency Score is the card's formula[^card]; Rank is by it, shared where intervals "
                    "overlap.", ""]
        if slug == "ranking":
            out += ["### Pairwise differences", ""] + _significance(s) + [""]
    return out


def render_markdown(s: Summary, plot_paths: dict[str, Path], out_dir: Path) -> str:
    lines = _header(s) + [""]
    if s.methods:
        lines += quality.section(s)
        lines += settings.section(s)
        lines += optional.tax_section(s) + optional.judge_section(s)   # when the rows carry them
        lines += _tables(s)
        lines += ["## Plots", ""]
        lines += [f"### {name}\n\n![{name}]({p.relative_to(out_dir).as_posix()})\n" for name, p in plot_paths.items()]
        lines += ["## Model cards", ""] + [f"- [{m.upper()}](model_cards/{m}.md)" for m in sorted(s.methods)] + [""]
        lines += ["## Flags", ""] + _flags(s) + [""]
    else:
        lines += ["No successful run in this sweep: no tables, plots or model cards.", ""]
    lines += ["## Failed and diverged runs (not averaged)", ""]
    lines += _runs_list(s.failed, "None.", with_error=True) + [""]
    if not s.superseded.empty:
        lines += ["## Superseded rows (a newer ok row of the same method and seed replaced them)", ""]
        lines += _runs_list(s.superseded, "None.", with_error=False) + [""]
    lines += ["## Columns", "", tables.to_markdown(tables.glossary()), "", CARD_FOOTNOTE, ""]
    return "\n".join(lines)


def write_csvs(s: Summary, csv_dir: Path) -> None:
    csv_dir.mkdir(parents=True, exist_ok=True)
    if s.methods:
        for slug, (_, _, num) in tables.card_tables(s).items():
            num.to_csv(csv_dir / f"{slug}.csv", index=False)
        s.pairwise.to_csv(csv_dir / "pairwise.csv", index=False)
    keep = ["sweep", "method", "seed", "status", "run_id", "error", "train_seconds", "final_loss",
            "samples_per_second", "card_efficiency", "quality_per_second", "quality_per_compute",
            "pref_accuracy", "pref_accuracy_gain", "exact_match", "flags"]
    parts = [s.runs.assign(report_use="averaged"), s.failed.assign(report_use="failed"),
             s.superseded.assign(report_use="superseded")]
    runs = pd.concat([p.reindex(columns=keep + ["report_use"]) for p in parts], ignore_index=True)
    runs["flags"] = runs["flags"].map(lambda f: "; ".join(f) if isinstance(f, list) else "")
    runs.sort_values(["method", "seed", "run_id"]).to_csv(csv_dir / "runs.csv", index=False)


def write_report(s: Summary, out_dir: Path) -> Path:
    """Write everything for one sweep under out_dir; returns report.md's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_paths = plots.render_all(s, out_dir / "plots") if s.methods else {}
    if s.methods:
        cards.write_cards(s, out_dir / "model_cards")
    write_csvs(s, out_dir / "csv")
    path = out_dir / "report.md"
    path.write_text(render_markdown(s, plot_paths, out_dir), encoding="utf-8")
    return path

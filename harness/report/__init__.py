"""The report: reads run rows (harness.results.load_runs) and nothing else, and writes reports/<sweep>/
with report.md (the reference card's tables with measured values, rankings with shared ranks, pairwise
significance), CSVs, PNG plots and one model card per method.

    python -m harness.report [RUNS_DIR] [--sweep NAME] [--out DIR] [report.rank_by=card]

Modules: summary (numbers), tables (tables and formatting), plots, cards, markdown (assembly),
__main__ (CLI). It never imports training code or TRL: the parquet rows are the only contract.
"""

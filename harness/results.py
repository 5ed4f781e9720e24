"""The results contract: one parquet file per run, with an explicit, versioned pyarrow schema.

Training writes rows with `write_row`; the report and the regression check read them with `load_runs`.
Nothing else passes between them.

    python -m harness.results runs/            # print a one-line summary per run
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from harness import metrics
from harness.store import atomic_path

SCHEMA_VERSION = 6  # 3: per-pair test scores, the base's and the controls' (two-level intervals, controls);
                    # 4: gen_pref_accuracy; exact-match questions a seeded draw over the split
                    # 5: alignment tax (lm-eval tasks) and judged answers (a reward model), both optional
                    # 6: val_pair_scores (the validation search's two-level intervals, harness.tune)

_F64, _I64, _STR, _BOOL = pa.float64(), pa.int64(), pa.string(), pa.bool_()


def _metric(name: str, dtype: pa.DataType) -> tuple[str, pa.DataType, str]:
    """A row column that is a metric: its documentation lives in harness.metrics' table."""
    return name, dtype, metrics.get(name).doc

FIELDS: list[tuple[str, pa.DataType, str]] = [
    # identity
    ("schema_version", _I64, "version of this schema; bump on any change of meaning"),
    ("run_id", _STR, "hash of the resolved config without output paths: the resume key"),
    ("sweep", _STR, "sweep name (runs/<sweep>/)"),
    ("method", _STR, "method registry name (sft, dpo, ipo, cpo, kto, ...)"),
    ("trainer", _STR, "TRL trainer class that ran"),
    ("method_family", _STR, "the objective's family (harness.methods): sft, reference-based pairwise, "
                            "reference-free pairwise or unpaired"),
    ("seed", _I64, "training seed (the unit of replication)"),
    ("model", _STR, "base model: checkpoint path / hub id, or the embedded model's name"),
    ("model_weights", _STR, "'pretrained' or 'random-init' (random-init quality numbers mean nothing)"),
    ("dataset", _STR, "dataset config name"),
    ("cost_only", _BOOL, "true when only the cost figures count and every quality figure means nothing: "
                         "synthetic cost data (data=cost) or random-init weights"),
    ("dataset_fingerprint", _STR, "hash of the canonical train/val/test rows"),
    ("status", _STR, "ok | failed | diverged"),
    ("error", _STR, "error message for failed/diverged runs, else null"),
    ("started_at", _STR, "UTC ISO-8601 time the job started"),
    ("finished_at", _STR, "UTC ISO-8601 time the row was written"),
    ("device", _STR, "device the job trained and generated on (cpu, cuda:0 ...)"),
    ("dtype", _STR, "training dtype"),
    ("hostname", _STR, "machine name"),
    ("config_json", _STR, "the resolved Hydra config as JSON"),
    ("hparams_json", _STR, "the TRL arguments the trainer got (method node merged over shared trainer args) as JSON"),
    ("overrides", _STR, "the command-line / sweep overrides of this job"),
    ("learning_rate", _F64, "learning rate (copied from hparams for easy grouping)"),
    ("beta", _F64, "method beta (null where the method has none)"),
    # versions
    ("python_version", _STR, "Python version"),
    ("torch_version", _STR, "torch version"),
    ("transformers_version", _STR, "transformers version"),
    ("trl_version", _STR, "TRL version"),
    ("datasets_version", _STR, "datasets version"),
    ("git_commit", _STR, "git commit of the harness (with '-dirty' if uncommitted changes), null outside git"),
    # sizes
    ("train_samples", _I64, "preference pairs in the train split; samples are counted per pair for every method"),
    ("train_examples", _I64, "rows of the method's view (sft: pairs, pairwise: pairs, kto: 2 x pairs)"),
    ("epochs", _F64, "training epochs"),
    _metric("optimizer_steps", _I64),
    _metric("train_tokens", _I64),
    # timings (seconds)
    _metric("setup_seconds", _F64),
    _metric("train_seconds", _F64),
    ("warmup_seconds", _F64, "wall time of the first warmup_steps optimizer steps (inside train_seconds, reported apart)"),
    ("warmup_steps", _I64, "how many first steps count as warm-up"),
    _metric("step_time_median_s", _F64),
    ("step_time_p95_s", _F64, "95th percentile optimizer-step wall time after warm-up"),
    _metric("eval_seconds", _F64),
    ("infer_seconds", _F64, "inference benchmark wall time including warm-up"),
    # throughput
    _metric("samples_per_second", _F64),
    _metric("tokens_per_second", _F64),
    # memory
    _metric("peak_memory_mb", _F64),
    ("memory_kind", _STR, "'rss_hwm' or 'cuda_max_allocated'"),
    # compute
    ("n_params", _I64, "policy parameters"),
    ("n_params_non_embedding", _I64, "policy parameters without the token embedding (N in the FLOP formula)"),
    _metric("train_flops", _F64),
    ("achieved_flops_per_s", _F64, "train_flops / train_seconds"),
    ("peak_flops", _F64, "peak FLOP/s used for MFU"),
    ("peak_flops_source", _STR, "'config' (hardware yaml) or 'probe' (measured matmul, cached per machine)"),
    _metric("mfu", _F64),
    # losses (each objective's own scale: never compare across methods)
    _metric("initial_loss", _F64),
    _metric("final_loss", _F64),
    ("loss_steps", pa.list_(_I64), "optimizer step of each logged loss"),
    ("loss_values", pa.list_(_F64), "logged training loss curve"),
    # inference benchmark
    _metric("infer_tokens_per_second", _F64),
    _metric("infer_latency_ms_mean", _F64),
    ("infer_latency_ms_p50", _F64, "median latency of one generate() call (one batch)"),
    _metric("infer_latency_ms_p95", _F64),
    _metric("infer_runs", _I64),
    ("infer_batch_size", _I64, "prompts per generate() call"),
    ("infer_max_new_tokens", _I64, "max_new_tokens per generate() call"),
    # quality
    ("report_beta", _F64, "the fixed beta used for reward_margin in every row"),
    ("eval_pairs", _I64, "held-out test pairs evaluated"),
    ("eval_em_questions", _I64, "held-out test verifiable questions for exact match"),
    *[_metric(m.name, _F64) for m in metrics.QUALITY],
    *[_metric("val_" + n, _F64) for n in metrics.VAL_SCORED],
    *[_metric("base_" + n, _F64) for n in metrics.BASE_SCORED],
    *[_metric(m.name, _F64) for m in metrics.TABLE if m.kind == "gain"],
    # per test pair: what the report resamples (seeds x pairs) and pairs method by method, base and controls
    ("test_pair_ids", pa.list_(_STR), "id of each held-out test pair, in the order of the score lists"),
    ("test_pair_parts", pa.list_(_STR), "part of the data each test pair comes from (minimal, helpful, ...)"),
    ("test_pair_categories", pa.list_(_STR), "category of each test pair within its part (rule or failure type)"),
    ("test_pair_scores", pa.list_(_F64), "per test pair: 1 if the policy's summed log-prob of chosen beats rejected's, 0 if not, 0.5 on a tie"),
    ("test_pair_scores_norm", pa.list_(_F64), "the same with per-token (length-normalised) log-probs"),
    ("base_test_pair_scores", pa.list_(_F64), "the base model's test_pair_scores (same pairs)"),
    ("base_test_pair_scores_norm", pa.list_(_F64), "the base model's test_pair_scores_norm (same pairs)"),
    ("val_pair_scores", pa.list_(_F64), "per validation pair, as test_pair_scores: the search's intervals over "
     "seeds and validation pairs (harness.tune)"),
    ("controls_json", _STR, "JSON {control: [score per test pair]} of the trivial controls (harness.controls: longer, shorter, more_arabic, fewer_latin, bag_of_words fit on train), same pairs and scoring"),
    # optional: alignment tax (harness.lmeval) and judged answers (harness.judge)
    ("lm_eval_json", _STR, "JSON {task: {metric, score, stderr, n, base_score, base_stderr, item_ids, item_scores, "
                           "base_item_scores}} from lm-evaluation-harness, policy and base on the same items; null when off"),
    ("lm_eval_seconds", _F64, "wall time of the policy's lm-evaluation-harness run (the base's is cached)"),
    ("judge_model", _STR, "the eval.judge reward model directory; null when off"),
    ("judge_prompt_ids", pa.list_(_STR), "id of each judged held-out prompt, in the order of the reward lists"),
    ("judge_rewards", pa.list_(_F64), "per judged prompt: the reward of the policy's greedy answer"),
    ("base_judge_rewards", pa.list_(_F64), "per judged prompt: the reward of the base's greedy answer"),
    ("judge_seconds", _F64, "wall time of generating and judging the policy's answers (the base's are cached)"),
    # sanity
    ("flags", pa.list_(_STR), "implausible-number warnings (see harness.measure.sanity_flags)"),
]

SCHEMA = pa.schema([pa.field(n, t, metadata={"doc": d}) for n, t, d in FIELDS],
                   metadata={"schema_version": str(SCHEMA_VERSION)})
COLUMNS = [n for n, _, _ in FIELDS]
# Filled only when eval.lm_eval / eval.judge are on (harness.lmeval, harness.judge); null otherwise.
OPTIONAL = tuple(c for c in COLUMNS if c.removeprefix("base_").startswith(("lm_eval", "judge")))


def write_row(row: dict[str, Any], directory: Path) -> Path:
    """Write one run as <directory>/<run_id>.parquet atomically (dot-temp name, then os.replace)."""
    unknown = set(row) - set(COLUMNS)
    if unknown:
        raise KeyError(f"row has fields the schema does not define: {sorted(unknown)}")
    full = {n: row.get(n) for n in COLUMNS} | {"schema_version": SCHEMA_VERSION}
    table = pa.Table.from_pylist([full], schema=SCHEMA)
    final = Path(directory) / f"{row['run_id']}.parquet"
    with atomic_path(final) as tmp:
        pq.write_table(table, tmp)
    return final


def run_files(path: Path) -> list[Path]:
    """Every finished row file below path (temp files start with '.' and are skipped)."""
    path = Path(path)
    return sorted(p for p in path.rglob("*.parquet") if not p.name.startswith(".")
                  and not any(part.startswith(".") for part in p.relative_to(path).parts[:-1]))


def load_runs(path: Path) -> pd.DataFrame:
    """All rows below path as one DataFrame. Files are read one by one and unified on column names, so
    files written by older schema versions keep their columns and missing ones become null."""
    tables = []
    for f in run_files(path):
        try:
            tables.append(pq.read_table(f))
        except Exception as exc:  # a corrupt file must not hide the others; say which one
            print(f"warning: skipping unreadable run file {f}: {exc}", file=sys.stderr)
    if not tables:
        return pd.DataFrame(columns=COLUMNS)
    merged = pa.concat_tables(tables, promote_options="permissive")
    df = merged.to_pandas()
    for col in COLUMNS:
        if col not in df:
            df[col] = None
    return df


def read_row(path: Path) -> dict[str, Any] | None:
    """One row file as a dict, or None if it is absent or unreadable."""
    try:
        return pq.read_table(path).to_pylist()[0]
    except Exception:
        return None


def main(argv: list[str] | None = None) -> None:
    path = Path((argv or sys.argv[1:] or ["runs"])[0])
    df = load_runs(path)
    cols = ["sweep", "method", "seed", "status", "train_seconds", "final_loss", "pref_accuracy", "run_id"]
    print(df[cols].to_string(index=False) if len(df) else f"no runs under {path}")


if __name__ == "__main__":
    main()

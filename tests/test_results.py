"""The results contract: explicit schema, atomic one-file-per-run writes, schema-unifying reads."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness import results


def test_every_field_is_documented_and_versioned():
    assert results.SCHEMA.metadata[b"schema_version"] == str(results.SCHEMA_VERSION).encode()
    for f in results.SCHEMA:
        assert f.metadata and f.metadata[b"doc"].strip(), f"field {f.name} has no comment"
    required = {"run_id", "sweep", "method", "seed", "status", "error", "model", "dataset", "train_samples",
                "epochs", "train_seconds", "setup_seconds", "samples_per_second", "tokens_per_second",
                "final_loss", "pref_accuracy", "torch_version", "transformers_version", "trl_version", "started_at"}
    assert required <= set(results.COLUMNS)


def test_write_row_is_atomic_and_one_file_per_run(tmp_path):
    path = results.write_row({"run_id": "abc", "method": "dpo", "status": "ok", "loss_values": [1.0, 0.5]}, tmp_path)
    assert path.name == "abc.parquet"
    assert [p.name for p in tmp_path.iterdir()] == ["abc.parquet"]  # no temp file left behind
    results.write_row({"run_id": "abc", "method": "dpo", "status": "failed"}, tmp_path)  # replaced, not duplicated
    df = results.load_runs(tmp_path)
    assert len(df) == 1 and df.status[0] == "failed"


def test_unknown_fields_are_refused(tmp_path):
    with pytest.raises(KeyError, match="bogus"):
        results.write_row({"run_id": "x", "bogus": 1}, tmp_path)


def test_reader_unifies_old_and_new_schemas_and_skips_temp_files(tmp_path):
    old = pa.table({"run_id": ["old"], "method": ["sft"], "legacy_metric": [3.0]})
    pq.write_table(old, tmp_path / "old.parquet")
    results.write_row({"run_id": "new", "method": "dpo", "pref_accuracy": 0.7}, tmp_path)
    (tmp_path / ".half-written.tmp.parquet").write_bytes(b"garbage")
    df = results.load_runs(tmp_path).set_index("run_id")
    assert set(df.index) == {"old", "new"}
    assert df.loc["old", "legacy_metric"] == 3.0 and df.loc["new", "legacy_metric"] != df.loc["new", "legacy_metric"]
    assert df.loc["new", "pref_accuracy"] == 0.7 and pd.isna(df.loc["old", "pref_accuracy"])


def test_empty_directory_gives_empty_frame_with_columns(tmp_path):
    df = results.load_runs(tmp_path / "missing")
    assert df.empty and "run_id" in df.columns

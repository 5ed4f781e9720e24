"""Bad input data: every case stops `python -m harness.train` before training with a one-paragraph error
naming the file, the line and the field, a non-zero exit, no traceback and no result row; over-long and
duplicated rows are dropped and counted; in a multirun the bad job fails alone.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from harness import data as datalib
from harness.data.errors import DataError
from harness.results import load_runs
from tests.conftest import SHRINK, compose_cfg, run_cli

GOOD = {"prompt": "كيف أبدأ الادخار؟", "chosen": "ابدأ بمبلغ صغير ثابت كل شهر.", "rejected": "لا داعي للادخار."}


def good(i: int) -> dict:
    return {k: f"{v} ({i})" for k, v in GOOD.items()}


def lines(*rows: dict | str | bytes) -> bytes:
    """A JSONL file's bytes: good rows around the given row objects / raw lines."""
    out = []
    for r in rows:
        out.append(r if isinstance(r, bytes) else r.encode() if isinstance(r, str)
                   else json.dumps(r, ensure_ascii=False).encode())
    return b"\n".join(out) + b"\n"


# name -> (file bytes, extra overrides, expected line, expected field, words in the message)
CASES = {
    "invalid_utf8": (lines(good(1), b'{"prompt": "\xd8\xb3\xd8\xa4\xd8\xa7\xd9\x84", "chosen": "\xd9\x86\xff\xfe", '
                                    b'"rejected": "x"}', good(3)), [], 2, "chosen", "invalid UTF-8"),
    "invalid_json": (lines(good(1), good(2), '{"prompt": "سؤال", "chosen": "نعم", "rejected": '), [], 3,
                     "rejected", "invalid JSON"),
    "missing_field": (lines(good(1), {"prompt": "سؤال", "chosen": "نعم"}), [], 2, "rejected", "missing required"),
    "empty_string": (lines(good(1), {**good(2), "chosen": ""}), [], 2, "chosen", "empty"),
    "whitespace_only": (lines(good(1), good(2), {**good(3), "prompt": "  \u200f\u0640 "}), [], 3, "prompt", "empty"),
    "chosen_equals_rejected": (lines(good(1), {**good(2), "rejected": good(2)["chosen"]}), [], 2, "rejected",
                               "identical"),
    "label_not_boolean": (lines({"prompt": "س", "completion": "ج", "label": True},
                                {"prompt": "س", "completion": "د", "label": "yes"}), ["method=kto"], 2, "label",
                          "true or false"),
    "all_rows_too_long": (lines(good(1), good(2), good(3)), ["data.max_chars=20"], 1, "chosen", "data.max_chars"),
    "no_rows": (b"\n \n", [], None, None, "no rows"),
}


def assert_rejected(proc, runs: Path, path: Path, line: int | None, field: str | None, words: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert f"file {path}" in proc.stderr and words in proc.stderr, proc.stderr[-2000:]
    if line:
        assert f"line {line}" in proc.stderr
    if field:
        assert f"field '{field}'" in proc.stderr
    assert not list(runs.rglob("*.parquet")), "a row was written for rejected input"


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_is_rejected_before_training(tmp_path, cache_dir, runs_dir, case):
    content, extra, line, field, words = CASES[case]
    path = tmp_path / f"{case}.jsonl"
    path.write_bytes(content)
    proc = run_cli("harness.train", ["data=file", f"data.path={path}", *extra], runs_dir, cache_dir)
    assert_rejected(proc, runs_dir, path, line, field, words)
    assert proc.stderr.count("error:") == 1


def test_missing_path(tmp_path, cache_dir, runs_dir):
    path = tmp_path / "nope.jsonl"
    proc = run_cli("harness.train", ["data=file", f"data.path={path}"], runs_dir, cache_dir)
    assert_rejected(proc, runs_dir, path, None, None, "does not exist")


def test_method_needing_another_view_stops_before_training(tmp_path, cache_dir, runs_dir):
    path = tmp_path / "unpaired.jsonl"
    path.write_bytes(lines(*({"prompt": f"س{i}", "completion": "ج", "label": i % 2 == 0} for i in range(12))))
    proc = run_cli("harness.train", ["method=dpo", "data=file", f"data.path={path}"], runs_dir, cache_dir)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "prompt, chosen, rejected" in proc.stderr and "unpaired" in proc.stderr
    assert not list(runs_dir.rglob("*.parquet")) and not list(cache_dir.glob("base-*unpaired*"))


@pytest.mark.slow
def test_multirun_bad_job_fails_alone(tmp_path, cache_dir, runs_dir):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(CASES["missing_field"][0])
    ok = tmp_path / "ok.jsonl"
    ok.write_bytes(lines(*(good(i) for i in range(30))))
    # -m must precede every override (Hydra's argparse), so SHRINK goes after it by hand
    proc = run_cli("harness.train", ["-m", *SHRINK, "method=dpo", "data=file", f"data.path={bad},{ok}"], runs_dir,
                   cache_dir, shrink=False)
    assert f"file {bad}, line 2, field 'rejected'" in proc.stderr + proc.stdout
    rows = load_runs(runs_dir)
    assert len(rows) == 1 and rows["status"].iloc[0] == "ok"
    assert json.loads(rows["config_json"].iloc[0])["data"]["path"] == str(ok)


# ------------------------------------------------------------------ dropped rows are counted (in-process)
def load(path: Path, *overrides: str) -> datalib.Canonical:
    cfg = compose_cfg(["data=file", f"data.path={path}", *overrides], shrink=False)
    return datalib.load(OmegaConf.to_container(cfg.data, resolve=True))


def test_long_rows_dropped_and_counted(tmp_path, caplog):
    long = {**good(0), "chosen": "طويل " * 100}
    path = tmp_path / "d.jsonl"
    path.write_bytes(lines(long, *(good(i) for i in range(1, 30))))
    with caplog.at_level(logging.WARNING):
        c = load(path, "data.max_chars=300")
    assert sum(map(len, c.splits.values())) == 29
    assert "dropped 1 of 30 rows longer than data.max_chars=300" in caplog.text


def test_duplicated_prompt_chosen_pairs_dropped_and_counted(tmp_path, caplog):
    path = tmp_path / "d.jsonl"
    rows = [good(i) for i in range(30)]
    path.write_bytes(lines(*rows, rows[3], {**rows[4], "rejected": "رفض آخر."}))
    with caplog.at_level(logging.WARNING):
        c = load(path)
    assert sum(map(len, c.splits.values())) == 30
    assert "dropped 2 duplicated (prompt, chosen) rows" in caplog.text


def test_json_list_errors_name_the_element_line(tmp_path):
    path = tmp_path / "d.json"
    rows = [good(1), good(2), {"prompt": "س", "chosen": "نعم", "rejected": "نعم"}]
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    with pytest.raises(DataError) as err:
        load(path)
    assert (err.value.line, err.value.field) == (12, "rejected")
    assert str(err.value).startswith(f"file {path}, line 12, field 'rejected'")


def test_parquet_errors_name_the_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist([good(1), {**good(2), "chosen": " "}]), path)
    with pytest.raises(DataError) as err:
        load(path)
    assert (err.value.path, err.value.line, err.value.field) == (str(path), 2, "chosen")


def test_renamed_column_is_named_in_the_error(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(lines({"q": "س", "chosen": "نعم", "rejected": "لا"}, {"chosen": "نعم", "rejected": "لا"}))
    with pytest.raises(DataError) as err:
        load(path, "data.columns.prompt=q")
    assert (err.value.line, err.value.field) == (2, "q")

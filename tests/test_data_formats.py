"""The data users bring (harness.data.formats) and Arabic normalization (harness.data.arabic).

Each file format / row kind trains end to end through `python -m harness.train data=file data.path=...`;
hub configs' column maps are checked on local files shaped like those datasets (the hub is never called);
the offline hub error is checked in-process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness import data as datalib
from harness.data.arabic import answer_matches, normalize_for_match, normalize_training
from harness.data.errors import DataError
from harness.results import load_runs
from tests.conftest import compose_cfg, run_cli

TOPICS = ["الادخار", "السفر", "الدراسة", "العمل", "الصحة", "الأسرة", "التقنية", "الطبخ", "الرياضة", "القراءة",
          "الاستثمار", "اللغة", "التطوع", "النوم", "الوقت", "المال", "الحديقة", "السيارة", "البيت", "الأصدقاء"]


def pairwise_rows(n: int = 40) -> list[dict]:
    return [{"prompt": f"ما نصيحتك في {TOPICS[i % 20]} رقم {i}؟",
             "chosen": f"أنصحك بالتخطيط الهادئ في {TOPICS[i % 20]} والبدء بخطوة صغيرة.",
             "rejected": f"لا تهتم بـ{TOPICS[i % 20]} أبداً."} for i in range(n)]


def unpaired_rows(n: int = 40) -> list[dict]:
    return [{"prompt": r["prompt"], "completion": r[k], "label": k == "chosen"}
            for r in pairwise_rows(n // 2) for k in ("chosen", "rejected")]


def sft_rows(n: int = 40) -> list[dict]:
    return [{"prompt": r["prompt"], "completion": r["chosen"]} for r in pairwise_rows(n)]


def chat_rows(n: int = 40) -> list[dict]:
    return [{"prompt": [{"role": "user", "content": r["prompt"]}],
             "chosen": [{"role": "assistant", "content": r["chosen"]}],
             "rejected": [{"role": "assistant", "content": r["rejected"]}]} for r in pairwise_rows(n)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_json(path: Path, rows: list[dict]) -> Path:
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def load(overrides: list[str]) -> datalib.Canonical:
    from omegaconf import OmegaConf

    return datalib.load(OmegaConf.to_container(compose_cfg(overrides, shrink=False).data, resolve=True))


# ------------------------------------------------------------------------- end to end, one per format
def assert_ok_row(proc, runs: Path, method: str) -> None:
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = load_runs(runs)
    assert len(rows) == 1 and rows["status"].iloc[0] == "ok" and rows["method"].iloc[0] == method


@pytest.mark.slow
@pytest.mark.parametrize("name, writer, rows, method, extra", [
    ("pairs.jsonl", write_jsonl, pairwise_rows, "dpo", []),
    ("unpaired.json", write_json, unpaired_rows, "kto", ["method.per_device_train_batch_size=4"]),
    ("sft.parquet", write_parquet, sft_rows, "sft", []),
    ("chat.jsonl", write_jsonl, chat_rows, "dpo", []),
])
def test_format_trains_end_to_end(tmp_path, cache_dir, runs_dir, name, writer, rows, method, extra):
    path = writer(tmp_path / name, rows())
    proc = run_cli("harness.train", [f"method={method}", "data=file", f"data.path={path}", *extra], runs_dir, cache_dir)
    assert_ok_row(proc, runs_dir, method)


@pytest.mark.slow
def test_renamed_columns_and_eval_path_end_to_end(tmp_path, cache_dir, runs_dir):
    rename = lambda rows: [{"question": r["prompt"], "good": r["chosen"], "bad": r["rejected"]} for r in rows]
    train = write_jsonl(tmp_path / "train.jsonl", rename(pairwise_rows(30)))
    held = write_jsonl(tmp_path / "held.jsonl", rename(pairwise_rows(40)[30:]))
    proc = run_cli("harness.train", ["method=dpo", "data=file", f"data.path={train}", f"data.eval_path={held}",
                                     "data.columns.prompt=question", "data.columns.chosen=good",
                                     "data.columns.rejected=bad"], runs_dir, cache_dir)
    assert_ok_row(proc, runs_dir, "dpo")


# ----------------------------------------------------------------------------------- in-process loading
@pytest.mark.parametrize("writer", [write_jsonl, write_json, write_parquet])
def test_formats_give_the_same_rows(tmp_path, writer):
    path = writer(tmp_path / f"rows.{writer.__name__.split('_')[1]}", pairwise_rows())
    c = load(["data=file", f"data.path={path}"])
    ref = load(["data=file", f"data.path={write_jsonl(tmp_path / 'ref.jsonl', pairwise_rows())}"])
    strip = lambda c: {s: [{k: v for k, v in r.items() if k != "id"} for r in rows] for s, rows in c.splits.items()}
    assert c.kind == "pairwise" and strip(c) == strip(ref)


@pytest.mark.parametrize("rows, kind, views", [
    (pairwise_rows, "pairwise", {"sft", "pairwise", "unpaired"}),
    (unpaired_rows, "unpaired", {"sft", "unpaired"}),
    (sft_rows, "sft", {"sft"}),
    (chat_rows, "pairwise", {"sft", "pairwise", "unpaired"}),
])
def test_kinds_and_views(tmp_path, rows, kind, views):
    c = load(["data=file", f"data.path={write_jsonl(tmp_path / 'd.jsonl', rows())}"])
    assert c.kind == kind
    for name in ("sft", "pairwise", "unpaired"):
        if name in views:
            assert datalib.view(c, name)
        else:
            with pytest.raises(DataError, match="prompt, chosen, rejected|prompt, completion, label"):
                datalib.view(c, name)


def test_split_is_deterministic_grouped_by_prompt_and_nonempty(tmp_path):
    rows = pairwise_rows(40)
    rows += [{**r, "chosen": r["chosen"] + " حقاً", "rejected": "لا."} for r in rows[:10]]  # prompts repeated
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    a, b = (load(["data=file", f"data.path={path}"]) for _ in range(2))
    assert a.splits == b.splits
    prompts = {s: {datalib.prompt_key(r) for r in a.splits[s]} for s in datalib.SPLITS}
    assert not (prompts["train"] & prompts["val"]) and not (prompts["train"] & prompts["test"])
    assert not (prompts["val"] & prompts["test"])
    assert len(prompts["val"]) == len(prompts["test"]) == 4  # 10% of 40 prompts each
    assert sum(map(len, a.splits.values())) == 50


def test_eval_path_split_into_val_and_test_and_leaks_dropped(tmp_path):
    train = write_jsonl(tmp_path / "t.jsonl", pairwise_rows(30))
    held = write_jsonl(tmp_path / "h.jsonl", pairwise_rows(40)[28:])  # two prompts also in train
    c = load(["data=file", f"data.path={train}", f"data.eval_path={held}"])
    assert len(c.train) == 28 and len(c.splits["val"]) + len(c.splits["test"]) == 12
    assert c.splits["val"] and c.splits["test"]


def test_val_and_test_paths(tmp_path):
    rows = pairwise_rows(30)
    paths = [write_jsonl(tmp_path / f"{n}.jsonl", part) for n, part in
             (("train", rows[:20]), ("val", rows[20:25]), ("test", rows[25:]))]
    c = load(["data=file", f"data.path={paths[0]}", f"data.val_path={paths[1]}", f"data.test_path={paths[2]}"])
    assert [len(c.splits[s]) for s in datalib.SPLITS] == [20, 5, 5]


def test_string_prompt_with_message_completions_and_implicit_prompt(tmp_path):
    rows = [{"prompt": r["prompt"],
             "chosen": [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["chosen"]}],
             "rejected": [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["rejected"]}]}
            for r in pairwise_rows()]
    c = load(["data=file", f"data.path={write_jsonl(tmp_path / 'd.jsonl', rows)}"])
    r = c.train[0]
    assert r["prompt"][0]["role"] == "user" and [m["role"] for m in r["chosen"]] == ["assistant"]


def test_extra_columns_kept_as_tags(tmp_path):
    rows = [{**r, "domain": "نصائح", "answer": "نعم", "split": "bogus"} for r in pairwise_rows()]
    c = load(["data=file", f"data.path={write_jsonl(tmp_path / 'd.jsonl', rows)}"])
    assert c.train[0]["domain"] == "نصائح" and c.train[0]["answer"] == "نعم" and "split" not in c.train[0]


# ------------------------------------------------------------------------------- hub configs, offline
def argilla_row(r: dict) -> dict:
    """Shaped like 2A2I/argilla-dpo-mix-7k-arabic: no prompt column, whole conversations stored as strings
    (Python repr of the message list), ratings and the source dataset name beside them."""
    conv = lambda reply: str([{"content": r["prompt"], "role": "user"}, {"content": reply, "role": "assistant"}])
    return {"dataset": "argilla/distilabel-capybara-dpo-7k-binarized", "chosen": conv(r["chosen"]),
            "rejected": conv(r["rejected"]), "chosen_rating": 5.0, "rejected_rating": 2.0}


def aya_row(i: int, r: dict) -> dict:
    """Shaped like 2A2I/Aya-Aya.23.8B-DPO: prompt string, chosen/rejected message lists with the user turn."""
    conv = lambda reply: [{"content": r["prompt"], "role": "user"}, {"content": reply, "role": "assistant"}]
    return {"id": i, "prompt": r["prompt"], "chosen": conv(r["chosen"]), "rejected": conv(r["rejected"]),
            "model": "aya-23-8b"}


@pytest.mark.parametrize("config, shape", [
    ("argilla_dpo_arabic", lambda i, r: argilla_row(r)),
    ("aya_dpo_arabic", aya_row),
])
def test_hub_config_column_maps_on_local_files(tmp_path, config, shape):
    """The hub config's columns and options, pointed at a local parquet shaped like the hub set."""
    path = write_parquet(tmp_path / "hub.parquet", [shape(i, r) for i, r in enumerate(pairwise_rows())])
    c = load([f"data={config}", "data.source=file", f"data.path={path}", "data.eval_split=null"])
    r = c.train[0]
    assert c.kind == "pairwise" and c.name == compose_cfg([f"data={config}"]).data.name
    assert r["prompt"] == [{"role": "user", "content": r["prompt"][0]["content"]}]
    assert r["prompt"][0]["content"].startswith("ما نصيحتك")
    assert [m["role"] for m in r["chosen"]] == ["assistant"] and r["chosen"] != r["rejected"]


def test_hub_offline_fails_with_a_clear_message():
    with pytest.raises(DataError) as err:
        load(["data=hub", "data.name=2A2I/argilla-dpo-mix-7k-arabic"])
    msg = str(err.value)
    assert "hf://datasets/2A2I/argilla-dpo-mix-7k-arabic" in msg and "could not be reached" in msg
    assert "data=file data.path=" in msg


def test_hub_without_name():
    with pytest.raises(DataError, match="data.name=OWNER/NAME"):
        load(["data=hub"])


# ------------------------------------------------------------------------------------ normalization
@pytest.mark.parametrize("raw, clean", [
    ("كتـــاب", "كتاب"),                                   # tatweel (kashida) stretching removed
    ("مرحبا\u200f بكم\u200c\u200b", "مرحبا بكم"),         # RLM, ZWNJ, ZWSP removed
    ("\u202bالنص\u202c \u2067معزول\u2069", "النص معزول"),  # bidi embedding / isolate controls removed
    ("\ufeffبداية", "بداية"),                              # stray BOM
    ("ا\u0653لة", "آلة"),                                  # NFC: alef + madda above -> آ
    ("و\u0654", "ؤ"),                                      # NFC: waw + hamza above -> ؤ
    ("ﻻ ﺑﺄﺱ", "لا بأس"),                                   # presentation forms (PDF extraction) -> letters
    ("العدد ٢٠٢٤ أو 2024", "العدد ٢٠٢٤ أو 2024"),           # digits kept as written
    ("كَتَبَ الطَّالِبُ", "كَتَبَ الطَّالِبُ"),                     # diacritics kept for training
    ("على مستشفى إلى", "على مستشفى إلى"),                  # alef maqsura untouched for training
    ("عائلة 👨\u200d👩\u200d👧", "عائلة 👨\u200d👩\u200d👧"),  # ZWJ inside an emoji sequence kept
])
def test_normalize_training_is_lossless_cleanup(raw, clean):
    assert normalize_training(raw) == clean
    assert normalize_training(clean) == clean  # idempotent


def test_match_normalizer_keeps_alef_maqsura_distinct_from_alef_and_keeps_the_article():
    assert normalize_for_match("على") == "علي" != normalize_for_match("علا")
    assert normalize_for_match("مصطفى") == normalize_for_match("مصطفي") == "مصطفي"
    assert normalize_for_match("إلى القاهرة") == normalize_for_match("الى القاهرة") == "الي القاهرة"
    assert normalize_for_match("الله والتزام") == "الله والتزام"  # words starting with ال are not cut
    assert normalize_for_match("مدرسة") != normalize_for_match("مدرسه")  # taa marbuta kept
    assert answer_matches("عاصمة مصر هي القاهرة.", "القاهرة") and not answer_matches("هي الجيزة", "القاهرة")
    assert answer_matches("النتيجة ١٢", "12")


def test_loaded_text_is_normalized_unless_switched_off(tmp_path):
    rows = [{**r, "chosen": r["chosen"].replace("أنصحك", "أنصـــحك\u200f")} for r in pairwise_rows()]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    on = load(["data=file", f"data.path={path}"])
    off = load(["data=file", f"data.path={path}", "data.normalize=false"])
    assert all("ـ" not in r["chosen"] and "\u200f" not in r["chosen"] for r in on.train)
    assert all("ـ" in r["chosen"] for r in off.train)


def test_embedded_data_is_normalized():
    c = load(["data=verifiable"])
    assert all(normalize_training(r["chosen"]) == r["chosen"] for r in c.train)

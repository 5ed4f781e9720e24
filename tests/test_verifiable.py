"""Tests for harness.data.verifiable (verifiable Arabic preference pairs)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from harness.data import verifiable as V

KEYS = {"id", "prompt", "chosen", "rejected", "answer", "source", "domain", "failure", "template", "split"}
REQUIRED_TASKS = {"weekday_next", "weekday_prev", "month_next", "antonym", "number_word", "sum_words", "capital", "plural"}
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return V.generate(0)


def words(text: str) -> list[str]:
    return [t.strip(".,:؟،") for t in text.split()]


def has_phrase(text: str, phrase: str) -> bool:
    t, p = words(text), words(phrase)
    return any(t[i : i + len(p)] == p for i in range(len(t) - len(p) + 1))


def find(rows, domain, template_idx, **fields) -> dict:
    """The first row of `domain`/`template_idx` whose prompt has all field values."""
    for r in rows:
        if r["template"] == f"{domain}/{template_idx}" and all(has_phrase(r["prompt"], v) for v in fields.values()):
            return r
    raise LookupError((domain, template_idx, fields))


# ---------------------------------------------------------------- structure


def test_schema(rows):
    for r in rows:
        assert set(r) == KEYS
        assert all(isinstance(v, str) for v in r.values())
        assert r["source"] == "verifiable" and r["failure"] == "wrong_answer"
        assert r["domain"] in V.TASKS
        assert r["template"].startswith(r["domain"] + "/")
        assert r["id"].startswith(f"ver-{r['domain']}-")
        assert r["split"] in {"train", "val", "test"}


def test_tasks_present():
    assert REQUIRED_TASKS <= set(V.TASKS)
    for name, task in V.TASKS.items():
        assert len(task.templates) >= 5, name
        assert len({p for p, _ in task.templates}) == len(task.templates), name


def test_ids_unique_and_sequential(rows):
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    per_task = defaultdict(list)
    for r in rows:
        per_task[r["domain"]].append(int(r["id"].rsplit("-", 1)[1]))
    for name, ns in per_task.items():
        assert ns == list(range(len(ns))), name


def test_sizes(rows):
    c = Counter(r["split"] for r in rows)
    assert c["train"] >= 1000
    assert c["val"] >= 150 and c["test"] >= 150
    assert len(rows) <= 2500


def test_item_counts():
    assert len(V.ANTONYM_PAIRS) >= 40
    assert len(V.TASKS["antonym"].items) == 2 * len(V.ANTONYM_PAIRS)  # both directions
    assert len(V.PLURALS) >= 40
    assert len(V.CAPITALS) == 22
    assert len(V.TASKS["number_word"].items) == 31
    assert {it.answer for it in V.TASKS["weekday_next"].items} == set(V.WEEKDAYS)
    assert {it.answer for it in V.TASKS["month_next"].items} == set(V.MONTHS)


# ---------------------------------------------------------------- determinism


def test_deterministic(rows):
    assert V.generate(0) == rows
    assert V.generate(7) == V.generate(7)


def test_other_seed_changes_only_rejected(rows):
    other = V.generate(1)
    assert len(other) == len(rows)
    for a, b in zip(rows, other):
        assert {k: v for k, v in a.items() if k != "rejected"} == {k: v for k, v in b.items() if k != "rejected"}
    assert any(a["rejected"] != b["rejected"] for a, b in zip(rows, other))


# ---------------------------------------------------------------- splits


def test_template_split_rule(rows):
    for r in rows:
        k = int(r["template"].split("/")[1])
        n = len(V.TASKS[r["domain"]].templates)
        expected = "train" if k <= n - 3 else ("val" if k == n - 2 else "test")
        assert r["split"] == expected, r


def test_no_prompt_in_two_splits(rows):
    splits = defaultdict(set)
    for r in rows:
        splits[r["prompt"]].add(r["split"])
    assert all(len(s) == 1 for s in splits.values())


def test_every_item_under_every_template(rows):
    for name, task in V.TASKS.items():
        for k in range(len(task.templates)):
            prompts = {r["prompt"] for r in rows if r["template"] == f"{name}/{k}"}
            assert len(prompts) == len(task.items), (name, k)
        for split in ("val", "test"):
            n = sum(1 for r in rows if r["domain"] == name and r["split"] == split)
            assert n == len(task.items), (name, split)


# ---------------------------------------------------------------- pair quality


def test_unique_pairs(rows):
    keys = [(r["prompt"], r["chosen"], r["rejected"]) for r in rows]
    assert len(keys) == len(set(keys))


def test_answer_in_chosen_not_in_rejected(rows):
    for r in rows:
        assert r["chosen"] != r["rejected"]
        assert r["answer"] in r["chosen"]
        assert has_phrase(r["chosen"], r["answer"])
        if r["domain"] == "capital" and has_phrase(r["prompt"], r["answer"]):
            # الجزائر، تونس، الكويت، جيبوتي: the country shares its capital's name,
            # so the name stays in the frame; the answer slot is still wrong.
            assert r["rejected"].count(r["answer"]) == r["chosen"].count(r["answer"]) - 1
        else:
            assert not has_phrase(r["rejected"], r["answer"]), r
        if r["domain"] in {"number_word", "sum_words", "weekday_next", "weekday_prev", "month_next"}:
            assert r["answer"] not in r["rejected"], r  # even as a substring


def slot_fill(r: dict) -> str | None:
    """The text filling the answer slot of `rejected`, given `chosen` and `answer`."""
    c, j, a = r["chosen"], r["rejected"], r["answer"]
    start = c.find(a)
    while start != -1:
        pre, suf = c[:start], c[start + len(a) :]
        if j.startswith(pre) and j.endswith(suf) and len(j) > len(pre) + len(suf):
            return j[len(pre) : len(j) - len(suf)]
        start = c.find(a, start + 1)
    return None


def test_same_sentence_shape(rows):
    """rejected is chosen with only the answer slot swapped for a wrong answer."""
    for r in rows:
        fill = slot_fill(r)
        assert fill is not None and fill != r["answer"], r
        assert fill.strip() == fill and len(fill.split()) <= 3, r


def test_text_hygiene(rows):
    for r in rows:
        text = "".join(r.values())
        assert "\u0640" not in text  # tatweel
        assert "?" not in text
        assert r["prompt"].endswith("؟")
        assert 3 <= len(r["prompt"].split()) <= 20, r["prompt"]
        assert len(r["chosen"].split()) <= 12, r["chosen"]
        assert len(r["rejected"].split()) <= 12, r["rejected"]


# ---------------------------------------------------------------- Arabic spot checks


def test_weekday_spot_checks(rows):
    assert find(rows, "weekday_next", 0, day="الجمعة")["answer"] == "السبت"
    assert find(rows, "weekday_next", 0, day="السبت")["answer"] == "الأحد"
    assert find(rows, "weekday_prev", 0, day="الأحد")["answer"] == "السبت"
    assert find(rows, "weekday_prev", 0, day="الثلاثاء")["answer"] == "الاثنين"
    r = find(rows, "weekday_next", 0, day="الاثنين")
    assert r["prompt"] == "ما اليوم الذي يأتي بعد يوم الاثنين؟"
    assert r["chosen"] == "اليوم الذي يأتي بعد الاثنين هو الثلاثاء."


def test_month_spot_checks(rows):
    assert find(rows, "month_next", 0, month="ديسمبر")["answer"] == "يناير"
    assert find(rows, "month_next", 0, month="يوليو")["answer"] == "أغسطس"


def test_capital_spot_checks(rows):
    expected = {
        "المغرب": "الرباط", "مصر": "القاهرة", "السعودية": "الرياض", "الأردن": "عمان",
        "فلسطين": "القدس", "جزر القمر": "موروني", "الإمارات": "أبوظبي", "سلطنة عمان": "مسقط",
        "الجزائر": "الجزائر", "ليبيا": "طرابلس", "موريتانيا": "نواكشوط", "الصومال": "مقديشو",
    }
    for country, capital in expected.items():
        assert V.CAPITALS[country][0] == capital
        assert find(rows, "capital", 0, country=country)["answer"] == capital
    assert find(rows, "capital", 0, country="المغرب")["chosen"] == "عاصمة المغرب هي الرباط."


def test_capital_wrong_answers_come_from_the_table():
    cities = {c for c, _, _ in V.CAPITALS.values()} | {x for _, _, x in V.CAPITALS.values() if x}
    for item in V.TASKS["capital"].items:
        assert item.answer not in item.wrong
        assert set(item.wrong) <= cities


def test_plural_spot_checks(rows):
    for sg, pl in {"كتاب": "كتب", "قلم": "أقلام", "مدرسة": "مدارس", "امرأة": "نساء", "صورة": "صور"}.items():
        assert find(rows, "plural", 0, word=sg)["answer"] == pl
    assert find(rows, "plural", 0, word="كتاب")["chosen"] == "جمع كلمة كتاب هو كتب."
    assert V.dual("مدرسة") == "مدرستان" and V.dual("كتاب") == "كتابان" and V.dual("أب") == "أبوان"


def test_antonym_spot_checks(rows):
    assert find(rows, "antonym", 0, word="كبير")["answer"] == "صغير"
    assert find(rows, "antonym", 0, word="صغير")["answer"] == "كبير"
    assert find(rows, "antonym", 0, word="ليل")["answer"] == "نهار"
    words_ = [w for a, b, _ in V.ANTONYM_PAIRS for w in (a, b)]
    assert len(words_) == len(set(words_))  # each word has one antonym in the set


def test_number_word_spot_checks(rows):
    r = find(rows, "number_word", 0, digits="7")
    assert r["prompt"] == "ما العدد 7 مكتوبًا بالحروف؟" and r["answer"] == "سبعة"
    assert find(rows, "number_word", 0, digits="0")["answer"] == "صفر"
    assert find(rows, "number_word", 0, digits="12")["answer"] == "اثنا عشر"
    assert find(rows, "number_word", 0, digits="20")["answer"] == "عشرون"
    assert find(rows, "number_word", 0, digits="21")["answer"] == "واحد وعشرون"
    assert find(rows, "number_word", 0, digits="30")["answer"] == "ثلاثون"


def by_prompt(rows, prompt: str) -> dict:
    hits = [r for r in rows if r["prompt"] == prompt]
    assert hits, prompt
    return hits[0]


def test_sum_spot_checks(rows):
    r = by_prompt(rows, "ما ناتج جمع ثلاثة وأربعة؟")
    assert r["answer"] == "سبعة"
    assert r["chosen"] == "ناتج جمع ثلاثة وأربعة هو سبعة."
    assert by_prompt(rows, "ما ناتج جمع عشرة وعشرة؟")["answer"] == "عشرون"
    assert by_prompt(rows, "كم يساوي اثنان زائد اثنان؟")["answer"] == "أربعة"
    assert by_prompt(rows, "كم يساوي ثمانية زائد تسعة؟")["answer"] == "سبعة عشر"
    assert by_prompt(rows, "إذا أضفنا تسعة إلى واحد، فما الناتج؟")["answer"] == "عشرة"
    assert by_prompt(rows, "إذا أضفنا واحدًا إلى واحد، فما الناتج؟")["answer"] == "اثنان"
    assert by_prompt(rows, "ما مجموع العددين اثنين وخمسة؟")["answer"] == "سبعة"
    for r in rows:
        if r["domain"] == "sum_words":
            assert r["answer"] in V.NUMBER_WORDS[2:21]


def test_rejected_is_a_near_miss(rows):
    """Wrong numbers are off by one or two; wrong days/months are other days/months."""
    value = {w: n for n, w in enumerate(V.NUMBER_WORDS)}
    for r in rows:
        wrong = slot_fill(r)
        if r["domain"] in {"sum_words", "number_word"}:
            assert 1 <= abs(value[wrong] - value[r["answer"]]) <= 2, r
        elif r["domain"].startswith("weekday"):
            assert wrong in V.WEEKDAYS, r
        elif r["domain"] == "month_next":
            assert wrong in V.MONTHS, r
        elif r["domain"] == "plural":
            sg = next(s for s, p in V.PLURALS.items() if p == r["answer"])
            assert wrong in {sg, V.dual(sg)}, r


# ---------------------------------------------------------------- CLI


def test_cli_writes_jsonl(tmp_path, rows):
    out = tmp_path / "ver.jsonl"
    subprocess.run(
        [sys.executable, "-m", "harness.data.verifiable", "--out", str(out), "--seed", "0"],
        cwd=ROOT, check=True, capture_output=True,
    )
    raw = out.read_bytes()
    text = raw.decode("utf-8")  # strict UTF-8
    assert "\\u06" not in text  # Arabic written as characters, not escapes
    lines = text.splitlines()
    assert [json.loads(line) for line in lines] == rows


def test_main_in_process(tmp_path, rows):
    out = tmp_path / "v.jsonl"
    V.main(["--out", str(out), "--seed", "3"])
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert got == V.generate(3)

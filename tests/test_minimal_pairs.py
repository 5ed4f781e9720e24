"""Tests for harness.data.minimal_pairs (Arabic minimal pairs with item-level hold-out)."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict

import pytest

from harness.data import minimal_lexicon as L
from harness.data import minimal_pairs as M
from harness.data.arabic import answer_matches

KEYS = {"id", "prompt", "chosen", "rejected", "answer", "part", "domain", "failure", "source", "item", "split"}
MIN_TEST, MIN_VAL = 120, 70
DIACRITICS = re.compile("[\u064b-\u065f\u0670\u0640]")


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return M.generate(0)


@pytest.fixture(scope="module")
def by_split(rows) -> dict[str, list[dict]]:
    out = defaultdict(list)
    for r in rows:
        out[r["split"]].append(r)
    return out


# ---------------------------------------------------------------- structure


def test_deterministic(rows):
    assert M.generate(0) == rows
    other = M.generate(1)
    assert other != rows and len(other) == len(rows)  # another seed: another split and draw, same sizes


def test_schema(rows):
    for r in rows:
        assert set(r) == KEYS, r
        assert all(isinstance(v, str) and v for v in r.values()), r
        assert r["part"] == "minimal" and r["source"] == "minimal_pairs"
        assert r["domain"] in M.CATEGORIES and r["failure"] in M.FAILURES[r["domain"]]
        assert re.fullmatch(rf"min-{r['domain']}-\d+", r["id"]), r["id"]
        assert r["split"] in M.SPLITS
        assert r["answer"] == r["chosen"] and answer_matches(r["chosen"], r["answer"])
        assert not DIACRITICS.search(r["prompt"] + r["chosen"] + r["rejected"]), r
        json.dumps(r, ensure_ascii=False).encode("utf-8")


def test_unique(rows):
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({(r["prompt"], r["chosen"]) for r in rows}) == len(rows)


def test_one_word_differs(rows):
    for r in rows:
        a, b = r["chosen"].split(), r["rejected"].split()
        assert r["chosen"] != r["rejected"]
        assert len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1, r


def test_subtypes_balanced(rows):
    """Every sub-type (failure) of a category has the same share of rows in every split."""
    for cat, failures in M.FAILURES.items():
        for split in M.SPLITS:
            counts = Counter(r["failure"] for r in rows if r["domain"] == cat and r["split"] == split)
            assert set(counts) == set(failures) and len(set(counts.values())) == 1, (cat, split, counts)


def test_templates_used_in_every_split(rows):
    for cat in M.CATEGORIES:
        assert 2 <= len(M.TEMPLATES[cat]) <= 6
        for split in M.SPLITS:
            prompts = [r["prompt"] for r in rows if r["domain"] == cat and r["split"] == split]
            for t in M.TEMPLATES[cat]:
                head = t.split("{")[0]
                assert any(p.startswith(head) for p in prompts), (cat, split, t)


# ---------------------------------------------------------------- hold-out


def test_item_holdout(rows, by_split):
    index, split_of = M.form_index(), M.item_splits(0)
    for r in rows:
        for key in r["item"].split("+"):
            assert split_of[key] == r["split"], r
        for field in ("prompt", "chosen", "rejected"):
            for key in M.items_in(r[field], index):
                assert split_of[key] == r["split"], (key, r)
    # No form of a val/test item is a word of a train row, with or without the article.
    train_words = {w for r in by_split["train"] for f in ("prompt", "chosen", "rejected") for w in M.tokens(r[f])}
    train_words |= {w[2:] for w in train_words if w.startswith("ال")}
    held_out = {form for form, key in index.items() if split_of[key] != "train"}
    assert not held_out & train_words, sorted(held_out & train_words)[:10]
    # ... and the held-out rows really use held-out items.
    for split in ("val", "test"):
        assert all(M.items_in(r["prompt"] + " " + r["chosen"], index) for r in by_split[split])


def test_split_per_item_and_seeded():
    a, b = M.item_splits(0), M.item_splits(1)
    assert a == M.item_splits(0) and a != b
    share = Counter(a.values())
    assert 0.4 < share["train"] / len(a) < 0.6 and share["test"] > share["val"] > 0


# ---------------------------------------------------------------- sizes


def test_sizes(rows):
    counts = Counter((r["domain"], r["split"]) for r in rows)
    assert len(M.CATEGORIES) >= 7
    for cat in M.CATEGORIES:
        assert counts[(cat, "test")] >= MIN_TEST and counts[(cat, "val")] >= MIN_VAL, cat
    total = Counter(r["split"] for r in rows)
    assert total["test"] >= 1100 and total["val"] >= 650 and 1200 <= total["train"] <= 1800, total


def test_sentences_short(rows):
    for r in rows:
        assert len(r["prompt"].split()) <= 16 and len(r["chosen"].split()) <= 5, r


# ---------------------------------------------------------------- controls


def test_surface_controls(by_split):
    for cat in M.CATEGORIES:
        test = [r for r in by_split["test"] if r["domain"] == cat]
        for name, acc in M.surface_controls(test).items():
            assert 0.40 <= acc <= 0.60, (cat, name, acc)


def bow_accuracy(train: list[dict], test: list[dict]) -> float:
    """Logistic regression on bag-of-words(chosen) - bag-of-words(rejected), fit on train (each pair in both
    orders, no intercept); on test a pair scores 1 if the classifier prefers chosen, 1/2 on a tie."""
    from scipy.sparse import vstack
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = CountVectorizer().fit([r[k] for r in train for k in ("chosen", "rejected")])

    def diff(rs):
        return vec.transform([r["chosen"] for r in rs]) - vec.transform([r["rejected"] for r in rs])

    d = diff(train)
    clf = LogisticRegression(fit_intercept=False, max_iter=2000).fit(vstack([d, -d]), [1] * len(train) + [0] * len(train))
    score = clf.decision_function(diff(test))
    return float(sum(1.0 if s > 1e-9 else 0.0 if s < -1e-9 else 0.5 for s in score) / len(test))


def test_bag_of_words_control(by_split):
    pytest.importorskip("sklearn")
    assert bow_accuracy(by_split["train"], by_split["test"]) <= 0.60
    for cat in M.CATEGORIES:
        train = [r for r in by_split["train"] if r["domain"] == cat]
        test = [r for r in by_split["test"] if r["domain"] == cat]
        assert bow_accuracy(train, test) <= 0.60, cat


def test_rule_words_balanced(rows):
    """Closed-class words that differ between chosen and rejected are chosen as often in one form as in the
    other, so they carry no signal alone."""
    for split in M.SPLITS:
        for cat in ("number_gender", "relative_pronoun", "adjective_agreement", "verb_agreement"):
            chosen, rejected = Counter(), Counter()
            for r in rows:
                if r["domain"] == cat and r["split"] == split:
                    if r["failure"] in ("adjective_gender_agreement", "verb_subject_gender_agreement"):
                        continue  # the differing word is the held-out adjective or verb itself
                    (a,), (b,) = set(r["chosen"].split()) - set(r["rejected"].split()), set(r["rejected"].split()) - set(r["chosen"].split())
                    chosen[a] += 1
                    rejected[b] += 1
            assert chosen == rejected, (cat, split)


# ---------------------------------------------------------------- golden examples


def pairs(cat: str) -> set[tuple[str, str]]:
    """(chosen, rejected) of every candidate of a category when every item is in train."""
    everything = {k: "train" for k in M.item_splits(0)}
    return {(c.chosen, c.rejected) for c in M.BUILDERS[cat](everything, "train")}


GOLDEN = {
    "number_gender": [
        ("ثلاثة كتب", "ثلاث كتب"), ("ثلاث سيارات", "ثلاثة سيارات"), ("ثمانية أيام", "ثماني أيام"),
        ("ثماني سنوات", "ثمانية سنوات"), ("خمسة امتحانات", "خمس امتحانات"), ("أربعة مهندسين", "أربع مهندسين"),
        ("عشر طالبات", "عشرة طالبات"), ("سبعة أشهر", "سبع أشهر"), ("ست مدن", "ستة مدن"),
    ],
    "adjective_agreement": [
        ("كتاب جديد", "كتاب جديدة"), ("السيارة الجديدة", "السيارة الجديد"), ("حديقة واسعة", "حديقة واسع"),
        ("الطبيبة الماهرة", "الطبيبة الماهر"), ("الحصان السريع", "الحصان السريعة"),
        ("الثالث", "الثالثة"), ("الثامنة", "الثامن"),  # ordinals: the prompt names the noun, the answer agrees
    ],
    "verb_agreement": [
        ("نجحت الطالبة", "نجح الطالبة"), ("سافر المهندس", "سافرت المهندس"), ("جلست المعلمة", "جلس المعلمة"),
        ("نامت الطفلة", "نام الطفلة"), ("تأخر الطبيب", "تأخرت الطبيب"),
        ("كان", "كانت"), ("ما زالت", "ما زال"), ("ظل", "ظلت"),  # the verb alone, its subject in the prompt
    ],
    "plural_case": [
        ("إن المعلمين هنا", "إن المعلمون هنا"), ("كان المعلمون هنا", "كان المعلمين هنا"),
        ("كان المهندسون معنا", "كان المهندسين معنا"), ("إن الموظفين في الخارج", "إن الموظفون في الخارج"),
        ("إن الصحفيين هناك", "إن الصحفيون هناك"),
    ],
    "relative_pronoun": [
        ("الكتاب الذي هنا", "الكتاب التي هنا"), ("الحديقة التي أمامنا", "الحديقة الذي أمامنا"),
        ("المهندسون الذين هناك", "المهندسون اللواتي هناك"), ("الطالبات اللواتي خلفنا", "الطالبات الذين خلفنا"),
        ("الطلاب الذين هنا", "الطلاب اللواتي هنا"),
    ],
    "taa_marbuta": [
        ("مدرسة", "مدرسه"), ("وجه", "وجة"), ("انتباه", "انتباة"), ("كتابه", "كتابة"), ("سيارته", "سيارتة"),
        ("معلمة", "معلمه"), ("جديدة", "جديده"),
    ],
    "hamza": [
        ("إرسال", "ارسال"), ("الإرسال", "الارسال"), ("أرسل", "ارسل"), ("استخدام", "إستخدام"),
        ("الاستخدام", "الإستخدام"), ("استخدم", "إستخدم"), ("إقامة", "اقامة"), ("انتظار", "إنتظار"),
    ],
}


@pytest.mark.parametrize("cat", M.CATEGORIES)
def test_golden(cat):
    got = pairs(cat)
    for pair in GOLDEN[cat]:
        assert pair in got, (cat, pair)


def test_golden_prompts():
    everything = {k: "train" for k in M.item_splits(0)}
    cands = {(c.prompt, c.chosen, c.rejected) for c in M.BUILDERS["number_gender"](everything, "train")}
    assert ("اكتب العدد ٣ مع المعدود «كتاب» (المعدود مذكر):", "ثلاثة كتب", "ثلاث كتب") in cands
    assert ("اكتب العدد ٣ مع المعدود «سيارة» (المعدود مؤنث):", "ثلاث سيارات", "ثلاثة سيارات") in cands
    cands = {(c.prompt, c.chosen, c.rejected) for c in M.BUILDERS["verb_agreement"](everything, "train")}
    assert ("ابدأ بالفعل «نجح» ثم الفاعل «الطالبة» (الفاعل مؤنث):", "نجحت الطالبة", "نجح الطالبة") in cands
    cands = {(c.prompt, c.chosen, c.rejected) for c in M.BUILDERS["plural_case"](everything, "train")}
    assert ("حول «إن المعلم هنا» إلى جمع المذكر السالم:", "إن المعلمين هنا", "إن المعلمون هنا") in cands
    cands = {(c.prompt, c.chosen, c.rejected) for c in M.BUILDERS["taa_marbuta"](everything, "train")}
    assert ("احذف الضمير المتصل من «سيارتنا» (الاسم مؤنث):", "سيارة", "سياره") in cands
    assert ("احذف الضمير المتصل من «وجهنا» (الاسم مذكر):", "وجه", "وجة") in cands


# ---------------------------------------------------------------- lexicon


def test_lexicon_shapes():
    for sg, _, _ in L.NOUNS_MASC:
        assert not sg.endswith("ة"), sg
    for sg, _, _ in L.NOUNS_FEM:
        assert sg.endswith("ة"), sg
    for m, f, _ in L.HUMANS:
        assert f == m + "ة" and not m.endswith("ة"), m
    for v, m in L.HAMZA_QAT:
        assert v[0] == "أ" and m[0] == "إ", v
    for v, m in L.HAMZA_WASL:
        assert v[0] == "ا" and m[0] == "ا", v
    for forms in L.HA_WORDS:
        assert all(f.endswith("ه") for f in forms), forms
    sizes = (len(L.NOUNS_MASC), len(L.NOUNS_FEM), len(L.HUMANS), len(L.ADJECTIVES), len(L.VERBS))
    assert min(sizes) >= 60 and len(L.NOUNS_MASC) + len(L.NOUNS_FEM) >= 300, sizes
    assert not set(L.VERBS) & {v for v, _ in L.HAMZA_QAT + L.HAMZA_WASL}
    M.form_index()  # raises when two items share a word form or an item form is a template word


# ---------------------------------------------------------------- loader and CLI


def test_loader_honours_split(rows):
    from harness.data import load_embedded

    canonical = load_embedded({"name": "minimal", "parts": ["minimal"], "split_fractions": [0.8, 0.1, 0.1],
                               "normalize": True})
    for split in M.SPLITS:
        assert [r["id"] for r in canonical.splits[split]] == [r["id"] for r in rows if r["split"] == split]
    assert [r["chosen"] for r in canonical.train] == [r["chosen"] for r in rows if r["split"] == "train"]


def test_cli(tmp_path, rows):
    out = tmp_path / "minimal.jsonl"
    M.main(["--out", str(out)])
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == rows

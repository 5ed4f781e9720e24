"""Trivial controls on handmade Arabic pairs: each scores what it should, ties are 0.5, the bag-of-words
ranker learns a lexical tell from train, and everything is deterministic."""

from __future__ import annotations

import pytest

from harness.controls import CONTROLS, bag_of_words, pairs, score_controls, text_of

SHORT, LONG = "نعم.", "نعم، هذا صحيح تماما."
ARABIC, MIXED = "القاهرة عاصمة مصر", "Cairo عاصمة مصر"


def row(chosen, rejected, prompt="ما عاصمة مصر؟"):
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def test_length_controls():
    rows = [row(LONG, SHORT), row(SHORT, LONG), row("أب", "جد")]
    assert CONTROLS["longer"]([], rows) == [1.0, 0.0, 0.5]
    assert CONTROLS["shorter"]([], rows) == [0.0, 1.0, 0.5]


def test_script_controls():
    rows = [row(ARABIC, MIXED), row(MIXED, ARABIC), row("مصر", "مصر!")]
    assert CONTROLS["more_arabic"]([], rows) == [1.0, 0.0, 0.5]
    assert CONTROLS["fewer_latin"]([], rows) == [1.0, 0.0, 0.5]
    # Latin letters only: digits and Arabic-Indic digits are not letters of either count.
    assert CONTROLS["fewer_latin"]([], [row("عام 2024", "عام ٢٠٢٤"), row("Ok", "ok!")]) == [0.5, 0.5]
    # Accented Latin is not [A-Za-z]; both have two Arabic letters.
    assert CONTROLS["fewer_latin"]([], [row("éé مص", "ab مص")]) == [1.0]
    assert CONTROLS["more_arabic"]([], [row("éé مص", "ab مص")]) == [0.5]
    # Arabic punctuation, Arabic-Indic digits and diacritics are in the Arabic block but are not letters.
    assert CONTROLS["more_arabic"]([], [row("مصر", "مِصْرُ، ٢٠٢٤؟"), row("مصرا", "مِصْرُ")]) == [0.5, 1.0]


def test_chat_messages_are_flattened_and_unpaired_rows_skipped():
    chat = [{"role": "assistant", "content": LONG}]
    rows = [row(chat, [{"role": "assistant", "content": SHORT}]),
            {"prompt": "س", "completion": LONG, "label": True},
            row(SHORT, None),
            row(SHORT, LONG)]
    assert text_of(chat) == LONG
    assert pairs(rows) == [(LONG, SHORT), (SHORT, LONG)]
    assert CONTROLS["longer"]([], rows) == [1.0, 0.0]


def _tell_rows(n):
    """The chosen answer always says شكرا ("thanks"); the rest varies and carries no signal."""
    fillers = ["الجواب هو", "أظن أن", "ربما يكون", "في رأيي", "من المعروف أن", "يقال إن"]
    topics = ["القاهرة", "دمشق", "بغداد", "الرباط", "تونس", "عمان", "الرياض"]
    out = []
    for i in range(n):
        body_c = f"{fillers[i % 6]} {topics[i % 7]}"
        body_r = f"{fillers[(i + 2) % 6]} {topics[(i + 3) % 7]}"
        out.append(row(f"شكرا على السؤال، {body_c}", body_r + " انتهى"))
    return out


def test_bag_of_words_learns_a_lexical_tell():
    train = _tell_rows(40)
    test = [row("شكرا، مدينة جديدة", "مدينة جديدة"),      # tell present in chosen
            row("مدينة أخرى", "شكرا، مدينة أخرى"),       # tell in rejected: picks rejected
            row("كلمات لم ترها", "كلمات أخرى لم ترها")]  # nothing known: tie
    assert bag_of_words(train, test) == [1.0, 0.0, 0.5]
    # Symmetric: swapping chosen and rejected flips every score.
    swapped = [row(r["rejected"], r["chosen"]) for r in test]
    assert bag_of_words(train, swapped) == [0.0, 1.0, 0.5]


def test_bag_of_words_is_deterministic_and_needs_train_pairs():
    train, test = _tell_rows(30), _tell_rows(12)
    assert bag_of_words(train, test) == bag_of_words(list(train), list(test))
    with pytest.raises(ValueError):
        bag_of_words([{"prompt": "س", "completion": "ج", "label": True}], test)


def test_score_controls():
    train, test = _tell_rows(30), _tell_rows(10) + [{"prompt": "س", "completion": "ج", "label": False}]
    scores = score_controls(train, test)
    assert set(scores) == set(CONTROLS)
    assert all(len(v) == 10 and set(v) <= {0.0, 0.5, 1.0} for v in scores.values())
    assert scores["bag_of_words"] == [1.0] * 10
    assert score_controls(train, test) == scores
    assert "bag_of_words" not in score_controls([], test)

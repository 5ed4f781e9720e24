"""Trivial controls scored on the same test pairs as the methods: rules that never read meaning.

A method that does not beat these on held-out pairs has learned a surface tell (length, script, a few
words), not a preference. Each control maps pairwise rows `{"prompt", "chosen", "rejected", ...}` to one
score per pair: 1.0 = picks chosen, 0.0 = picks rejected, 0.5 = tie. Completions that are chat-message
lists are flattened to their contents. Rows without both chosen and rejected (unpaired rows
`{prompt, completion, label}`, or a rejected of None) are skipped: the scores are for the paired rows only,
in their order (see `pairs`). The per-pair vectors go to harness.intervals.control_interval / margin_over.

    longer / shorter      more / fewer characters
    more_arabic           more Arabic letters (ARABIC_LETTER and alphabetic: not Arabic digits, punctuation
                          or diacritics, as in harness.data.arabic.arabic_share)
    fewer_latin           fewer Latin letters [A-Za-z]
    bag_of_words          word 1-2-gram counts + logistic regression, fit on the train pairs as a pairwise
                          ranker: x = bow(chosen) - bow(rejected) labelled 1 and -x labelled 0

    score_controls(train_rows, test_rows) -> {control: [score per test pair]}
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from scipy.sparse import vstack

from harness.data.arabic import ARABIC_LETTER

LATIN_LETTER = re.compile("[A-Za-z]")
TOKEN_PATTERN = r"(?u)\b\w+\b"  # single-letter words count (و, a)
RANDOM_STATE = 0


def text_of(value) -> str:
    """A completion as plain text: a string, or the contents of a list of chat messages joined by newlines."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join((m.get("content") or "") if isinstance(m, dict) else str(m) for m in value)
    return "" if value is None else str(value)


def pairs(rows: list[dict]) -> list[tuple[str, str]]:
    """(chosen, rejected) texts of the rows that have both, in order; other rows are skipped."""
    return [(text_of(r["chosen"]), text_of(r["rejected"])) for r in rows
            if r.get("chosen") is not None and r.get("rejected") is not None]


def _compare(chosen: float, rejected: float) -> float:
    return 1.0 if chosen > rejected else 0.0 if chosen < rejected else 0.5


def _rule(feature: Callable[[str], float], sign: int) -> Callable[[list[dict], list[dict]], list[float]]:
    """Control that picks the answer with more (sign 1) or less (sign -1) of feature; ignores train."""
    def control(train_rows: list[dict], test_rows: list[dict]) -> list[float]:
        return [_compare(sign * feature(c), sign * feature(r)) for c, r in pairs(test_rows)]
    return control


def bag_of_words(train_rows: list[dict], test_rows: list[dict]) -> list[float]:
    """Pairwise bag-of-words ranker fit on train (no intercept, so swapping the answers flips the score);
    1 / 0 / 0.5 by the sign of the decision on bow(chosen) - bow(rejected). Deterministic."""
    from sklearn.feature_extraction.text import CountVectorizer  # only this control needs scikit-learn
    from sklearn.linear_model import LogisticRegression

    train, test = pairs(train_rows), pairs(test_rows)
    if not train:
        raise ValueError("bag_of_words needs pairwise train rows (chosen and rejected)")
    vec = CountVectorizer(ngram_range=(1, 2), token_pattern=TOKEN_PATTERN)
    vec.fit([t for pair in train for t in pair])

    def diff(ps):
        return vec.transform([c for c, _ in ps]) - vec.transform([r for _, r in ps])

    x = diff(train)
    clf = LogisticRegression(fit_intercept=False, max_iter=1000, random_state=RANDOM_STATE)
    clf.fit(vstack([x, -x]), np.r_[np.ones(len(train)), np.zeros(len(train))])
    if not test:
        return []
    return [_compare(d, 0.0) for d in clf.decision_function(diff(test))]


CONTROLS: dict[str, Callable[[list[dict], list[dict]], list[float]]] = {
    "longer": _rule(len, 1),
    "shorter": _rule(len, -1),
    "more_arabic": _rule(lambda t: sum(c.isalpha() for c in ARABIC_LETTER.findall(t)), 1),
    "fewer_latin": _rule(lambda t: len(LATIN_LETTER.findall(t)), -1),
    "bag_of_words": bag_of_words,
}


def score_controls(train_rows: list[dict], test_rows: list[dict]) -> dict[str, list[float]]:
    """Every control's per-pair scores on the paired test rows (same order as `pairs(test_rows)`).
    bag_of_words is left out when train has no pairs to learn from."""
    trainable = bool(pairs(train_rows))
    return {name: control(train_rows, test_rows) for name, control in CONTROLS.items()
            if trainable or name != "bag_of_words"}

"""Arabic text handling: a lossless normalizer for training text and one documented normalizer for
exact-match scoring.

Training (lossless, on by default): Unicode NFC; stray tatweel (U+0640) and zero-width / bidi control
characters removed; digits kept as written (Arabic-Indic and Western digits are not unified).

Matching (lossy, only to compare an answer with the reference): the above, plus diacritics (tashkeel)
removed, hamza-carrying alefs (أ إ آ ٱ) -> ا, alef maqsura ى -> ي (never -> ا), Arabic-Indic digits ->
Western, punctuation dropped and whitespace collapsed. Taa marbuta is kept (ة and ه differ in meaning).
"""

from __future__ import annotations

import re
import unicodedata

TATWEEL = "\u0640"
CONTROL = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u061c]")
DIACRITICS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")
ALEFS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي"})
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def normalize_training(text: str) -> str:
    """Lossless clean-up: NFC, no tatweel, no invisible control characters."""
    return CONTROL.sub("", unicodedata.normalize("NFC", text).replace(TATWEEL, ""))


def normalize_for_match(text: str) -> str:
    """Comparison form of an answer (see module docstring)."""
    text = DIACRITICS.sub("", normalize_training(text)).translate(ALEFS).translate(DIGITS)
    return " ".join(PUNCT.sub(" ", text).split())


def answer_matches(generated: str, answer: str) -> bool:
    """Exact match of a greedy answer: the first sentence of the generation, normalised, ends with the
    normalised reference answer on a word boundary (the answer sentences put the answer last), or equals it."""
    first = re.split(r"[.\n؟!]", generated.strip(), maxsplit=1)[0]
    got, want = normalize_for_match(first).split(), normalize_for_match(answer).split()
    return bool(want) and got[-len(want):] == want

"""Arabic text handling: a lossless normalizer for training text and one documented normalizer for
exact-match scoring.

Training (lossless, on by default, `data.normalize`): Unicode NFC; Arabic presentation forms (the
contextual glyph code points that PDF extraction leaves behind, U+FB50-U+FDCF / U+FE70-U+FEFC) mapped to
the letters they draw; stray tatweel (U+0640) and zero-width / bidi control characters removed, except a
zero-width joiner inside an emoji sequence (it is part of the emoji); diacritics kept; digits kept as
written (Arabic-Indic and Western digits are not unified).

Matching (lossy, only to compare an answer with the reference): the above, plus diacritics (tashkeel)
removed, hamza-carrying alefs (أ إ آ ٱ) -> ا, alef maqsura ى -> ي (never -> ا: على "on" must not become
علا "rose"), Arabic-Indic digits -> Western, punctuation dropped and whitespace collapsed. Taa marbuta is
kept (ة and ه differ in meaning) and the article ال is never stripped (public normalizers that strip it by
regex also cut words that merely start with those letters, such as الله or التزام -> تزام).
"""

from __future__ import annotations

import re
import unicodedata

TATWEEL = "\u0640"
EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf"
# A ZWJ between two emoji (or after a variation selector / skin tone) joins them into one glyph: keep it.
EMOJI_ZWJ = f"(?<=[{EMOJI}\ufe0f])\u200d(?=[{EMOJI}])"
CONTROL = re.compile(f"{EMOJI_ZWJ}|([\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u061c])")
PRESENTATION = re.compile("[\ufb50-\ufdcf\ufe70-\ufefc]")
DIACRITICS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")
ALEFS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي"})
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
ARABIC_LETTER = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")


def normalize_training(text: str) -> str:
    """Lossless clean-up (see module docstring). Idempotent."""
    text = PRESENTATION.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    text = unicodedata.normalize("NFC", text).replace(TATWEEL, "")
    return CONTROL.sub(lambda m: "" if m.group(1) else m.group(), text)


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


def closer_to_chosen(generated: str, chosen: str, rejected: str) -> float:
    """1.0 when the first sentence of a greedy answer is closer (character edit distance, whitespace collapsed)
    to the chosen than to the rejected answer, 0.0 when closer to the rejected, 0.5 when equally close. Letters
    are kept as written: a minimal pair may differ in one hamza or taa marbuta, which normalize_for_match folds."""
    first = " ".join(re.split(r"[.\n؟!]", generated.strip(), maxsplit=1)[0].split())
    dc, dr = (edit_distance(first, " ".join(str(x).split())) for x in (chosen, rejected))
    return 1.0 if dc < dr else 0.0 if dc > dr else 0.5


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute: 1 each)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def arabic_share(text: str) -> float | None:
    """Share of the letters in text that are Arabic script (None when there are no letters)."""
    letters = [c for c in text if c.isalpha()]
    return sum(bool(ARABIC_LETTER.match(c)) for c in letters) / len(letters) if letters else None

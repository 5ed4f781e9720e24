"""Verifiable Arabic preference pairs: questions with exactly one correct answer.

A deterministic, standard-library-only generator of Modern Standard Arabic
questions whose answer can be checked by exact match (weekdays, Gregorian
months, antonyms, numbers written in words, small sums in words, capitals of
the 22 Arab League states, and plurals).  Each row is a preference pair:

* ``chosen``   -- the correct answer in a short Arabic sentence;
* ``rejected`` -- the same sentence with a plausible wrong answer from the
  same category (another weekday, an off-by-one sum, another capital from the
  region, the singular or dual instead of the plural, ...);
* ``answer``   -- the bare correct answer, for exact-match scoring.

Every task has several question phrasings ("templates").  The split is made by
template: per task, templates ``0 .. n-3`` are ``train``, ``n-2`` is ``val``
and ``n-1`` is ``test``, so validation and test use phrasings never seen in
training, while every item appears under every template.  Only the choice of
wrong answers depends on the seed; ids, prompts, chosen sentences, answers and
splits are the same for every seed.

Run::

    python -m harness.data.verifiable --out verifiable.jsonl [--seed 0]

which writes one JSON object per line (UTF-8); without ``--out`` the rows go
to standard output.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass

from harness.data.lexicon import (  # noqa: F401  (re-exported: the tests and callers read them here)
    _ANTONYM_CLUSTERS,
    _DUAL_OVERRIDES,
    ANTONYM_PAIRS,
    CAPITALS,
    MONTHS,
    NUMBER_WORDS,
    PLURALS,
    WEEKDAYS,
)
from harness.store import write_jsonl

__all__ = ["TASKS", "Task", "Item", "generate", "main", "phrase_count"]

SOURCE = "verifiable"
FAILURE = "wrong_answer"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Item:
    """One question: format fields for the templates, the answer, wrong answers."""

    fields: tuple[tuple[str, str], ...]
    answer: str
    wrong: tuple[str, ...]  # plausible wrong answers, seed-independent order


@dataclass(frozen=True)
class Task:
    """A task: its phrasings (prompt, answer sentence) and its items.

    ``templates[k] = (prompt_format, sentence_format)``; the sentence format
    takes the item's fields plus ``{answer}``.  ``n_rejected_train`` rejected
    variants are emitted per (item, template) for training templates, one for
    val and test.
    """

    name: str
    templates: tuple[tuple[str, str], ...]
    items: tuple[Item, ...]
    n_rejected_train: int = 2


def _tokens(text: str) -> list[str]:
    return [t.strip(".,:;!?؟،؛\"'()") for t in text.split()]


def phrase_count(text: str, phrase: str) -> int:
    """How often ``phrase`` occurs in ``text`` as whole words (token sequence)."""
    toks, ph = _tokens(text), _tokens(phrase)
    n = len(ph)
    return sum(1 for i in range(len(toks) - n + 1) if toks[i : i + n] == ph)


def _item(answer: str, wrong, *, substring_ok: bool = False, **fields: str) -> Item:
    seen: list[str] = []
    for w in wrong:
        # A wrong answer must not be, or contain, the right one (e.g. 20 "عشرون"
        # inside 21 "واحد وعشرون"), so the answer never appears in `rejected`.
        # With substring_ok only whole words count (plural صور vs singular صورة).
        inside = phrase_count(w, answer) > 0 if substring_ok else answer in w
        if w != answer and not inside and w not in seen:
            seen.append(w)
    if len(seen) < 2:
        raise ValueError(f"item {fields} needs at least two wrong answers: {seen}")
    return Item(tuple(fields.items()), answer, tuple(seen))


# --------------------------------------------------------------------------
# Weekdays and months
# --------------------------------------------------------------------------


def _cyclic_items(names, step: int, key: str) -> tuple[Item, ...]:
    n = len(names)
    out = []
    for i, name in enumerate(names):
        ans = names[(i + step) % n]
        # the one after the answer, the one before the asked name, two after
        wrong = [names[(i + 2 * step) % n], names[(i - step) % n], names[(i + 3 * step) % n]]
        out.append(_item(ans, wrong, **{key: name}))
    return tuple(out)


WEEKDAY_NEXT = Task(
    "weekday_next",
    (
        ("ما اليوم الذي يأتي بعد يوم {day}؟", "اليوم الذي يأتي بعد {day} هو {answer}."),
        ("إذا كان اليوم {day}، فأي يوم سيكون غدًا؟", "إذا كان اليوم {day} فإن الغد هو {answer}."),
        ("أي يوم يلي يوم {day} مباشرة؟", "اليوم الذي يلي {day} مباشرة هو {answer}."),
        ("ما اليوم التالي ليوم {day} في الأسبوع؟", "اليوم التالي ليوم {day} هو {answer}."),
        ("بعد يوم {day} يأتي أي يوم من أيام الأسبوع؟", "بعد يوم {day} يأتي يوم {answer}."),
        ("ما اسم اليوم الذي يعقب يوم {day}؟", "اليوم الذي يعقب يوم {day} هو {answer}."),
    ),
    _cyclic_items(WEEKDAYS, +1, "day"),
)

WEEKDAY_PREV = Task(
    "weekday_prev",
    (
        ("ما اليوم الذي يأتي قبل يوم {day}؟", "اليوم الذي يأتي قبل {day} هو {answer}."),
        ("إذا كان اليوم {day}، فأي يوم كان أمس؟", "إذا كان اليوم {day} فإن الأمس كان {answer}."),
        ("أي يوم يسبق يوم {day} مباشرة؟", "اليوم الذي يسبق {day} مباشرة هو {answer}."),
        ("ما اليوم السابق ليوم {day} في الأسبوع؟", "اليوم السابق ليوم {day} هو {answer}."),
        ("قبل يوم {day} يأتي أي يوم من أيام الأسبوع؟", "قبل يوم {day} يأتي يوم {answer}."),
        ("ما اسم اليوم الذي يسبق يوم {day}؟", "اسم اليوم الذي يسبق يوم {day} هو {answer}."),
    ),
    _cyclic_items(WEEKDAYS, -1, "day"),
)

MONTH_NEXT = Task(
    "month_next",
    (
        ("ما الشهر الذي يأتي بعد شهر {month}؟", "الشهر الذي يأتي بعد {month} هو {answer}."),
        ("أي شهر يلي شهر {month} مباشرة؟", "الشهر الذي يلي {month} مباشرة هو {answer}."),
        ("إذا انتهى شهر {month}، فأي شهر يبدأ بعده؟", "بعد انتهاء شهر {month} يبدأ شهر {answer}."),
        ("ما الشهر التالي لشهر {month} في السنة الميلادية؟", "الشهر التالي لشهر {month} هو {answer}."),
        ("في التقويم الميلادي، ما الشهر الذي يعقب {month}؟", "الشهر الذي يعقب {month} في التقويم الميلادي هو {answer}."),
        ("ما اسم الشهر الذي يأتي بعد {month} مباشرة؟", "اسم الشهر الذي يأتي بعد {month} هو {answer}."),
    ),
    _cyclic_items(MONTHS, +1, "month"),
)

# --------------------------------------------------------------------------
# Antonyms
# --------------------------------------------------------------------------


def _antonym_items(window: int = 3) -> tuple[Item, ...]:
    by_group: dict[str, list[tuple[str, str]]] = {}
    for a, b, g in ANTONYM_PAIRS:
        by_group.setdefault(g, []).append((a, b))
    out = []
    for a, b, g in ANTONYM_PAIRS:
        pairs = by_group[g]
        i = pairs.index((a, b))
        # pairs listed next to this one are semantically close (size, speed,
        # character, time of day, ...), so their words make near misses
        nearby = [w for p in pairs[max(0, i - window) : i + window + 1] if p != (a, b) for w in p]
        for word, ans in ((a, b), (b, a)):
            syn = set().union(*(c for c in _ANTONYM_CLUSTERS if ans in c))
            # echoing the word itself is the classic mistake
            others = [w for w in nearby if w not in syn]
            out.append(_item(ans, [word, *others], word=word))
    return tuple(out)


ANTONYM = Task(
    "antonym",
    (
        ("ما عكس كلمة {word}؟", "عكس كلمة {word} هو {answer}."),
        ("ما ضد كلمة {word}؟", "ضد كلمة {word} هو {answer}."),
        ("ما الكلمة المضادة لكلمة {word}؟", "الكلمة المضادة لكلمة {word} هي {answer}."),
        ("ما الكلمة التي تعني عكس {word}؟", "الكلمة التي تعني عكس {word} هي {answer}."),
        ("ما مضاد كلمة {word} في اللغة العربية؟", "مضاد كلمة {word} في العربية هو {answer}."),
    ),
    _antonym_items(),
    n_rejected_train=1,
)

# --------------------------------------------------------------------------
# Numbers in words
# --------------------------------------------------------------------------

# Operand forms that differ from the nominative (only 1 and 2 change in writing).
_GENITIVE = {1: "واحد", 2: "اثنين"}
_ACCUSATIVE = {1: "واحدًا", 2: "اثنين"}


def _near_numbers(n: int, hi: int) -> list[str]:
    near = [n - 1, n + 1, n - 2, n + 2]
    return [NUMBER_WORDS[k] for k in near if 0 <= k <= hi]


NUMBER_WORD = Task(
    "number_word",
    (
        ("ما العدد {digits} مكتوبًا بالحروف؟", "العدد {digits} مكتوبًا بالحروف هو {answer}."),
        ("كيف يكتب العدد {digits} بالكلمات العربية؟", "يكتب العدد {digits} بالكلمات هكذا: {answer}."),
        ("ما الكلمة العربية التي تدل على العدد {digits}؟", "الكلمة التي تدل على العدد {digits} هي {answer}."),
        ("ما اسم العدد {digits} في اللغة العربية؟", "اسم العدد {digits} في العربية هو {answer}."),
        ("إذا كتبنا العدد {digits} بالحروف، فماذا نكتب؟", "نكتب العدد {digits} بالحروف هكذا: {answer}."),
    ),
    tuple(_item(NUMBER_WORDS[n], _near_numbers(n, 30), digits=str(n)) for n in range(31)),
)

# --------------------------------------------------------------------------
# Sums in words
# --------------------------------------------------------------------------


def _sum_items() -> tuple[Item, ...]:
    out = []
    for a in range(1, 11):
        for b in range(a, 11):  # 1 <= a <= b <= 10, so the sum is at most 20
            s = a + b
            out.append(
                _item(
                    NUMBER_WORDS[s],
                    _near_numbers(s, 30),  # off-by-one, then off-by-two
                    a_nom=NUMBER_WORDS[a], b_nom=NUMBER_WORDS[b],
                    a_gen=_GENITIVE.get(a, NUMBER_WORDS[a]),
                    b_gen=_GENITIVE.get(b, NUMBER_WORDS[b]),
                    b_acc=_ACCUSATIVE.get(b, NUMBER_WORDS[b]),
                )
            )
    return tuple(out)


SUM_WORDS = Task(
    "sum_words",
    (
        ("كم يساوي {a_nom} زائد {b_nom}؟", "حاصل جمع {a_gen} و{b_gen} هو {answer}."),
        ("ما ناتج جمع {a_gen} و{b_gen}؟", "ناتج جمع {a_gen} و{b_gen} هو {answer}."),
        ("ما مجموع العددين {a_gen} و{b_gen}؟", "مجموع العددين {a_gen} و{b_gen} هو {answer}."),
        ("إذا أضفنا {b_acc} إلى {a_gen}، فما الناتج؟", "إذا أضفنا {b_acc} إلى {a_gen} فالناتج {answer}."),
        ("ما العدد الناتج من جمع {a_gen} و{b_gen}؟", "العدد الناتج من جمع {a_gen} و{b_gen} هو {answer}."),
    ),
    _sum_items(),
)

# --------------------------------------------------------------------------
# Capitals of the 22 Arab League states
# --------------------------------------------------------------------------


def _capital_items() -> tuple[Item, ...]:
    out = []
    for country, (cap, region, city) in CAPITALS.items():
        wrong = [city] if city else []
        wrong += [c for k, (c, r, _) in CAPITALS.items() if r == region and k != country]
        out.append(_item(cap, wrong, country=country))
    return tuple(out)


CAPITAL = Task(
    "capital",
    (
        ("ما عاصمة {country}؟", "عاصمة {country} هي {answer}."),
        ("ما اسم عاصمة {country}؟", "اسم عاصمة {country} هو {answer}."),
        ("أي مدينة هي عاصمة {country}؟", "{answer} هي عاصمة {country}."),
        ("ما المدينة التي تعد عاصمة {country}؟", "المدينة التي تعد عاصمة {country} هي {answer}."),
        ("عاصمة {country} هي أي مدينة؟", "عاصمة {country} هي مدينة {answer}."),
        ("إلى أي مدينة تسافر إذا أردت زيارة عاصمة {country}؟", "لزيارة عاصمة {country} تسافر إلى {answer}."),
    ),
    _capital_items(),
)

# --------------------------------------------------------------------------
# Plurals
# --------------------------------------------------------------------------


def dual(singular: str) -> str:
    """Nominative dual: ة -> تان, otherwise + ان (with the few exceptions above)."""
    if singular in _DUAL_OVERRIDES:
        return _DUAL_OVERRIDES[singular]
    if singular.endswith("ة"):
        return singular[:-1] + "تان"
    return singular + "ان"


PLURAL = Task(
    "plural",
    (
        ("ما جمع كلمة {word}؟", "جمع كلمة {word} هو {answer}."),
        ("ما صيغة الجمع لكلمة {word}؟", "صيغة الجمع لكلمة {word} هي {answer}."),
        ("كيف نجمع كلمة {word}؟", "كلمة {word} جمعها {answer}."),
        ("ما الجمع الصحيح لكلمة {word}؟", "الجمع الصحيح لكلمة {word} هو {answer}."),
        ("لدينا كلمة {word} بصيغة المفرد، فما جمعها؟", "جمع المفرد {word} هو {answer}."),
    ),
    # wrong answers: the singular left unchanged, or the dual
    tuple(_item(pl, [sg, dual(sg)], substring_ok=True, word=sg) for sg, pl in PLURALS.items()),
)

# --------------------------------------------------------------------------

TASKS: dict[str, Task] = {
    t.name: t
    for t in (WEEKDAY_NEXT, WEEKDAY_PREV, MONTH_NEXT, ANTONYM, NUMBER_WORD, SUM_WORDS, CAPITAL, PLURAL)
}


def split_of(template_index: int, n_templates: int) -> str:
    """Template 0..n-3 -> train, n-2 -> val, n-1 -> test."""
    if template_index == n_templates - 1:
        return "test"
    if template_index == n_templates - 2:
        return "val"
    return "train"


def generate(seed: int = 0) -> list[dict]:
    """All rows, in a fixed order; only the wrong answers depend on ``seed``."""
    rng = random.Random(seed)
    rows: list[dict] = []
    for name, task in TASKS.items():
        n_t = len(task.templates)
        counter = 0
        for k, (prompt_fmt, sentence_fmt) in enumerate(task.templates):
            split = split_of(k, n_t)
            n_rej = task.n_rejected_train if split == "train" else 1
            for item in task.items:
                fields = dict(item.fields)
                prompt = prompt_fmt.format(**fields)
                chosen = sentence_fmt.format(**fields, answer=item.answer)
                for wrong in rng.sample(item.wrong, n_rej):
                    rejected = sentence_fmt.format(**fields, answer=wrong)
                    rows.append(
                        {
                            "id": f"ver-{name}-{counter}",
                            "prompt": prompt,
                            "chosen": chosen,
                            "rejected": rejected,
                            "answer": item.answer,
                            "source": SOURCE,
                            "domain": name,
                            "failure": FAILURE,
                            "template": f"{name}/{k}",
                            "split": split,
                        }
                    )
                    counter += 1
    _check(rows)
    return rows


def _check(rows: list[dict]) -> None:
    """Invariants every output must satisfy (raises AssertionError)."""
    split_of_prompt: dict[str, str] = {}
    seen = set()
    for r in rows:
        key = (r["prompt"], r["chosen"], r["rejected"])
        assert key not in seen, key
        seen.add(key)
        assert r["chosen"] != r["rejected"], r
        assert r["answer"] in r["chosen"], r
        assert phrase_count(r["rejected"], r["answer"]) == phrase_count(r["chosen"], r["answer"]) - 1, r
        assert split_of_prompt.setdefault(r["prompt"], r["split"]) == r["split"], r
        assert r["prompt"].endswith("؟") and "\u0640" not in "".join(r.values()), r


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m harness.data.verifiable",
        description="Write verifiable Arabic preference pairs as JSONL.",
    )
    parser.add_argument("--out", default="-", help="output JSONL path (default: stdout)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the wrong answers")
    args = parser.parse_args(argv)
    rows = generate(args.seed)
    write_jsonl(rows, args.out)
    if args.out != "-":
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["split"]] = counts.get(r["split"], 0) + 1
        print(f"split sizes: {counts}", file=sys.stderr)


if __name__ == "__main__":
    main()

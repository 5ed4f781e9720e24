"""Arabic minimal pairs: preference pairs whose chosen and rejected answers differ in one grammatical or
orthographic choice (in the spirit of BLiMP, Warstadt et al. 2020).

A deterministic, standard-library-only generator. Every rule can be applied to a word never seen in
training, because the cue it needs is in the text: the gender of a noun is shown by its singular (feminine
nouns end in ة, masculine ones do not; nouns whose gender the form hides are not used), the case by the
particle before the noun, the spelling by the form the prompt gives.

Categories (``domain``), one example each (prompt -> chosen / rejected):

* ``number_gender``: gender polarity of the numbers 3-10, which agree with the SINGULAR of the counted noun,
  written as a genitive plural. اكتب العدد ٣ مع المعدود «كتاب»: -> ثلاثة كتب / ثلاث كتب
* ``adjective_agreement``: an adjective agrees in gender with its noun (definite or indefinite noun phrase).
  صف «السيارة» بالصفة «جديد»: -> السيارة الجديدة / السيارة الجديد
* ``verb_agreement``: a verb before its subject agrees with it in gender.
  ابدأ بالفعل «نجح» ثم الفاعل «الطالبة»: -> نجحت الطالبة / نجح الطالبة
* ``plural_case``: the sound masculine plural is ـين after إن / لعل / ليت and ـون after كان / ليس / ما زال.
  ... إن ... هنا -> إن المعلمين هنا / إن المعلمون هنا
* ``relative_pronoun``: الذي / التي / الذين / اللواتي agree with their (definite) antecedent.
  -> الحديقة التي هنا / الحديقة الذي هنا
* ``taa_marbuta``: ة versus ه at the end of a word: a feminine noun whose possessed form shows ت is written
  with ة (سيارتنا -> سيارة / سياره), a root ه stays ه (وجهنا -> وجه / وجة), the pronoun "his" is ه
  (كتابه / كتابة), a feminine form ends in ة (معلمة / معلمه).
* ``hamza``: hamzat al-qat' versus hamzat al-wasl at the start of Form IV versus Form VII/VIII/X verbs and
  their verbal nouns: أرسل -> إرسال / ارسال, الإرسال / الارسال; استخدم -> استخدام / إستخدام.

Item-level hold-out: every lexical item (noun, human noun, adjective, verb, Form IV/VII/VIII/X verb with its
verbal noun, ه-final word) is assigned to train, val or test by the seed (50/20/30 of each list, stratified by
gender and class), and a row only uses items of its own split, so no word form of a val or test item appears
in any train row (prompt, chosen or rejected). Closed-class words (numbers, particles, relative pronouns,
template words) appear in every split and, within a category, in the chosen answer as often in one form as in
the other, so they carry no signal on their own.

Balance: rows are drawn at random (by the seed) from all candidates, in equal numbers per stratum (e.g. number
x gender), so "the longer answer", "the shorter answer", "more Arabic letters" and "fewer Latin letters" pick
the chosen answer in half the pairs of every category (ties count one half).

Run::

    python -m harness.data.minimal_pairs --out minimal.jsonl [--seed 0] [--stats]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable

__all__ = ["CATEGORIES", "FAILURES", "SIZES", "generate", "item_splits", "form_index", "items_in", "tokens",
           "surface_controls", "main"]
from harness import controls
from harness.data.minimal_items import (  # noqa: F401  (re-exported: the generator's public names)
    ACCUSATIVE_PARTICLES,
    ADJECTIVES,
    AUXILIARIES,
    CATEGORIES,
    FAILURES,
    GENDER,
    HA_WORDS,
    HAMZA_VERBS,
    HUMANS,
    INDIC,
    NOMINATIVE_PARTICLES,
    NOUNS,
    NUM_FOR_FEM,
    NUM_FOR_MASC,
    NUMBER_LABEL,
    ORDINALS,
    PLACE_FRAMES,
    RELATIVE,
    RELATIVE_FRAMES,
    SIZES,
    SOURCE,
    SPLITS,
    SUFFIXES,
    T_ADJECTIVE,
    T_AUXILIARY,
    T_HAMZA_DEFINITE,
    T_HAMZA_MASDAR,
    T_HAMZA_VERB,
    T_NUMBER,
    T_ORDINAL,
    T_PLURAL_CASE,
    T_RELATIVE,
    T_TAA_FEM,
    T_TAA_HIS,
    T_TAA_STRIP,
    T_VERB,
    TEMPLATES,
    VERBS,
    HamzaVerb,
    form_index,
    item_splits,
    items_in,
    tokens,
)
from harness.store import write_jsonl

# --------------------------------------------------------------------------
# Candidates per category
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    prompt: str
    chosen: str
    rejected: str
    item: str
    failure: str
    stratum: str  # rows are drawn in fixed shares per stratum (STRATUM_WEIGHTS)


def _in(split_of: dict[str, str], split: str, objs: Iterable, key: Callable = lambda o: o.key) -> list:
    return [o for o in objs if split_of[key(o)] == split]


def _number(split_of, split):
    counted = [(n.sg, n.pl, n.fem, n.key) for n in _in(split_of, split, NOUNS)]
    for h in _in(split_of, split, HUMANS):
        counted += [(h.m, h.plural(False, "gen"), False, h.key), (h.f, h.plural(True), True, h.key)]
    for sg, pl, fem, key in counted:
        for n in range(3, 11):
            good, bad = (NUM_FOR_FEM[n], NUM_FOR_MASC[n]) if fem else (NUM_FOR_MASC[n], NUM_FOR_FEM[n])
            fields = {"d": str(n).translate(INDIC), "sg": sg, "g": GENDER[fem]}
            for t in T_NUMBER:
                yield Candidate(t.format(**fields), f"{good} {pl}", f"{bad} {pl}", key, "number_gender_polarity",
                                f"{n}/{'f' if fem else 'm'}")


def _adjective(split_of, split):
    heads = [(n.sg, n.fem, n.cls, n.key) for n in _in(split_of, split, NOUNS)]
    for h in _in(split_of, split, HUMANS):
        heads += [(h.m, False, "h", h.key), (h.f, True, "h", h.key)]
    adjs = _in(split_of, split, ADJECTIVES)
    for sg, fem, cls, key in heads:
        g = GENDER[fem]
        for a in adjs:  # a lexical adjective: its feminine adds ة
            if cls not in a.classes:
                continue
            for definite in (False, True):
                noun = ("ال" if definite else "") + sg
                for t in T_ADJECTIVE:
                    yield Candidate(t.format(noun=noun, adj=a.m, g=g), f"{noun} {a.form(fem, definite)}",
                                    f"{noun} {a.form(not fem, definite)}", f"{key}+{a.key}",
                                    "adjective_gender_agreement", f"lex/{'f' if fem else 'm'}/{'def' if definite else 'indef'}")
        for d, forms in ORDINALS.items():  # an ordinal: الثالث / الثالثة, الأول / الأولى
            for t in T_ORDINAL:
                yield Candidate(t.format(noun="ال" + sg, d=str(d).translate(INDIC), g=g), forms[fem], forms[not fem],
                                key, "ordinal_gender_agreement", f"ord/{d}/{'f' if fem else 'm'}")


def _verb(split_of, split):
    verbs = _in(split_of, split, VERBS, key=lambda v: f"verb:{v}")
    subjects = []
    for h in _in(split_of, split, HUMANS):
        subjects += [("ال" + h.m, False, h.key), ("ال" + h.f, True, h.key)]
    for s, fem, key in subjects:
        g = GENDER[fem]
        for v in verbs:  # a lexical verb: the feminine adds ت
            good, bad = (v + "ت", v) if fem else (v, v + "ت")
            for t in T_VERB:
                yield Candidate(t.format(v=v, s=s, g=g), f"{good} {s}", f"{bad} {s}", f"verb:{v}+{key}",
                                "verb_subject_gender_agreement", f"lex/{'f' if fem else 'm'}")
        for forms in AUXILIARIES:  # كان / كانت (مع الطالبة)
            for t in T_AUXILIARY:
                yield Candidate(t.format(v=forms[0], s=s, g=g), forms[fem], forms[not fem], key,
                                "auxiliary_subject_gender_agreement", f"aux/{forms[0]}/{'f' if fem else 'm'}")


def _plural_case(split_of, split):
    for h in _in(split_of, split, HUMANS):
        if h.broken:
            continue
        for case, particles in (("nom", NOMINATIVE_PARTICLES), ("acc", ACCUSATIVE_PARTICLES)):
            good = "ال" + h.plural(False, "nom" if case == "nom" else "gen")
            bad = "ال" + h.plural(False, "gen" if case == "nom" else "nom")
            for p in particles:
                for f in PLACE_FRAMES:
                    for t in T_PLURAL_CASE:
                        yield Candidate(t.format(sg=h.m, p=p, f=f), f"{p} {good} {f}", f"{p} {bad} {f}", h.key,
                                        "sound_plural_case", case)


def _relative(split_of, split):
    heads = [("ال" + n.sg, "sg", n.fem, n.key) for n in _in(split_of, split, NOUNS) if n.cls in "opaf"]
    for h in _in(split_of, split, HUMANS):
        heads += [("ال" + h.m, "sg", False, h.key), ("ال" + h.f, "sg", True, h.key),
                  ("ال" + h.plural(False), "pl", False, h.key), ("ال" + h.plural(True), "pl", True, h.key)]
    for noun, number, fem, key in heads:
        good, bad = RELATIVE[(number, "f" if fem else "m")], RELATIVE[(number, "m" if fem else "f")]
        for f in RELATIVE_FRAMES:
            for t in T_RELATIVE:
                g = f"{NUMBER_LABEL[number]} {GENDER[fem]}"
                yield Candidate(t.format(noun=noun, f=f, g=g), f"{noun} {good} {f}", f"{noun} {bad} {f}", key,
                                "relative_pronoun_agreement", f"{number}/{'f' if fem else 'm'}")


def _taa(split_of, split):
    nouns = _in(split_of, split, NOUNS)
    for n in nouns:  # feminine noun with a possessive suffix -> the bare noun ends in ة
        if n.fem:
            for s in SUFFIXES:
                for t in T_TAA_STRIP:
                    yield Candidate(t.format(w=n.stem + s, g=GENDER[True]), n.sg, n.sg[:-1] + "ه", n.key,
                                    "taa_marbuta_stem", "strip/taa")
    for hw in _in(split_of, split, HA_WORDS):  # root ه with a possessive suffix -> the bare word keeps ه
        for w in hw.forms:
            for s in SUFFIXES:
                for t in T_TAA_STRIP:
                    yield Candidate(t.format(w=w + s, g=GENDER[False]), w, w[:-1] + "ة", hw.key, "haa_root_stem",
                                    "strip/ha")
    for n in nouns:  # the pronoun "his" is ه: كتابه, سيارته
        if n.sg[-1] not in "ىءئ":  # مستشفى -> مستشفاه, دواء -> دواؤه: the stem changes, left out
            for t in T_TAA_HIS:
                yield Candidate(t.format(w=n.sg), n.stem + "ه", n.stem + "ة", n.key, "haa_pronoun", "his")
    masc = [(h.m, h.key) for h in _in(split_of, split, HUMANS)] + [(a.m, a.key) for a in _in(split_of, split, ADJECTIVES)]
    for m, key in masc:  # the feminine ending is ة
        for t in T_TAA_FEM:
            yield Candidate(t.format(w=m), m + "ة", m + "ه", key, "taa_feminine", "feminine")


def _hamza(split_of, split):
    for hv in _in(split_of, split, HAMZA_VERBS):
        stratum = "qat" if hv.qat else "wasl"
        failure = f"hamzat_{stratum}"
        for t in T_HAMZA_MASDAR:
            yield Candidate(t.format(v=hv.verb), hv.masdar, HamzaVerb.wrong(hv.masdar), hv.key, failure, stratum)
        for t in T_HAMZA_DEFINITE:
            yield Candidate(t.format(v=hv.verb), "ال" + hv.masdar, "ال" + HamzaVerb.wrong(hv.masdar), hv.key, failure,
                            stratum)
        for t in T_HAMZA_VERB:
            yield Candidate(t.format(m=hv.masdar), hv.verb, HamzaVerb.wrong(hv.verb), hv.key, failure, stratum)


BUILDERS = {
    "number_gender": _number, "adjective_agreement": _adjective, "verb_agreement": _verb,
    "plural_case": _plural_case, "relative_pronoun": _relative, "taa_marbuta": _taa, "hamza": _hamza,
}
assert tuple(BUILDERS) == CATEGORIES


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------


def stratum_weight(stratum: str) -> int:
    """Share of a stratum: the lexical sub-types of the adjective and verb categories (4 and 2 strata) get as
    many rows as their closed-class sub-types (16 and 8 strata), so each sub-type is half of its category."""
    return 4 if stratum.startswith("lex/") else 1


def _sample(cands: list[Candidate], n: int, rng: random.Random, where: str) -> list[Candidate]:
    """n candidates in fixed shares per stratum, drawn at random within each stratum."""
    by: dict[str, list[Candidate]] = defaultdict(list)
    for c in cands:
        by[c.stratum].append(c)
    total = sum(stratum_weight(s) for s in by)
    if n % total:
        raise ValueError(f"{where}: {n} rows cannot be split evenly over strata {sorted(by)}")
    out = []
    for stratum in sorted(by):
        k = n // total * stratum_weight(stratum)
        if len(by[stratum]) < k:
            raise ValueError(f"{where}/{stratum}: {len(by[stratum])} candidates, {k} needed")
        out += rng.sample(by[stratum], k)
    rng.shuffle(out)
    return out


def generate(seed: int = 0) -> list[dict]:
    """All rows: for each category, SIZES[split] rows per split, drawn by the seed. Same seed, same rows."""
    split_of = item_splits(seed)
    rows: list[dict] = []
    for cat in CATEGORIES:
        n = 0
        for split in SPLITS:
            rng = random.Random(f"minimal-rows:{seed}:{cat}:{split}")
            for c in _sample(list(BUILDERS[cat](split_of, split)), SIZES[split], rng, f"{cat}/{split}"):
                rows.append({
                    "id": f"min-{cat}-{n}", "prompt": c.prompt, "chosen": c.chosen, "rejected": c.rejected,
                    "answer": c.chosen, "part": "minimal", "domain": cat, "failure": c.failure,
                    "source": SOURCE, "item": c.item, "split": split,
                })
                n += 1
    _check(rows, split_of)
    return rows


def _check(rows: list[dict], split_of: dict[str, str]) -> None:
    """Invariants of every output (raises AssertionError / ValueError)."""
    index = form_index()
    seen: set[tuple[str, str]] = set()
    for r in rows:
        assert (r["prompt"], r["chosen"]) not in seen, r
        seen.add((r["prompt"], r["chosen"]))
        a, b = r["chosen"].split(), r["rejected"].split()
        assert len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1, r
        for field in ("prompt", "chosen", "rejected"):
            for key in items_in(r[field], index):
                assert split_of[key] == r["split"], (key, split_of[key], r)


# --------------------------------------------------------------------------
# Surface controls
# --------------------------------------------------------------------------

RULES = ("longer", "shorter", "more_arabic", "fewer_latin")  # harness.controls' rules that need no training


def surface_controls(rows: list[dict]) -> dict[str, float]:
    """How often each trivial rule of harness.controls picks the chosen answer (ties count one half)."""
    return {name: sum(s := controls.CONTROLS[name]([], rows)) / len(s) for name in RULES}


def _stats(rows: list[dict]) -> str:
    lines = []
    counts = Counter((r["domain"], r["split"]) for r in rows)
    lines.append("category             " + "  ".join(f"{s:>5}" for s in SPLITS) + "  " + "  ".join(f"{c[:8]:>8}" for c in RULES))
    for cat in CATEGORIES:
        test = [r for r in rows if r["domain"] == cat and r["split"] == "test"]
        ctl = surface_controls(test)
        lines.append(f"{cat:20} " + "  ".join(f"{counts[(cat, s)]:5d}" for s in SPLITS) + "  "
                     + "  ".join(f"{ctl[c]:8.3f}" for c in RULES))
    test = [r for r in rows if r["split"] == "test"]
    ctl = surface_controls(test)
    lines.append(f"{'all':20} " + "  ".join(f"{sum(counts[(c, s)] for c in CATEGORIES):5d}" for s in SPLITS) + "  "
                 + "  ".join(f"{ctl[c]:8.3f}" for c in RULES))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.data.minimal_pairs",
                                     description="Write Arabic minimal pairs as JSONL.")
    parser.add_argument("--out", default="-", help="output JSONL path (default: stdout)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the item split and of the row draw")
    parser.add_argument("--stats", action="store_true", help="print sizes and surface controls (test) to stderr")
    args = parser.parse_args(argv)
    rows = generate(args.seed)
    write_jsonl(rows, args.out)
    if args.stats:
        print(_stats(rows), file=sys.stderr)


if __name__ == "__main__":
    main()

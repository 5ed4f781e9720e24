"""The word lists of the minimal pairs as objects (nouns, human nouns, adjectives, verbs, hamza verbs,
ه-final words), the closed-class words, prompt templates and constants they share, and the item-level split:
every lexical item is assigned to train, val or test by the seed, and `items_in` finds the items a text
mentions (used to prove no test item leaks into train). harness.data.minimal_pairs builds the rows.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass

from harness.data import minimal_lexicon as L

SOURCE = "minimal_pairs"
SPLITS = ("train", "val", "test")
# Rows per category and split (multiples of 32, so that every stratum gets its exact share).
SIZES = {"train": 256, "val": 96, "test": 192}
ITEM_FRACTIONS = (0.5, 0.2, 0.3)  # share of each word list in train / val / test

# category -> the rule names (``failure``) of its sub-types
FAILURES = {
    "number_gender": ("number_gender_polarity",),
    "adjective_agreement": ("adjective_gender_agreement", "ordinal_gender_agreement"),
    "verb_agreement": ("verb_subject_gender_agreement", "auxiliary_subject_gender_agreement"),
    "plural_case": ("sound_plural_case",),
    "relative_pronoun": ("relative_pronoun_agreement",),
    "taa_marbuta": ("taa_marbuta_stem", "haa_root_stem", "haa_pronoun", "taa_feminine"),
    "hamza": ("hamzat_qat", "hamzat_wasl"),
}
CATEGORIES = tuple(FAILURES)

# Numbers 3-10: the form with ة goes with masculine nouns, the form without with feminine ones.
NUM_FOR_MASC = {3: "ثلاثة", 4: "أربعة", 5: "خمسة", 6: "ستة", 7: "سبعة", 8: "ثمانية", 9: "تسعة", 10: "عشرة"}
NUM_FOR_FEM = {3: "ثلاث", 4: "أربع", 5: "خمس", 6: "ست", 7: "سبع", 8: "ثماني", 9: "تسع", 10: "عشر"}
INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

# Ordinal adjectives 1-8 (masculine, feminine): a closed class that agrees in gender with its noun.
ORDINALS = {1: ("الأول", "الأولى"), 2: ("الثاني", "الثانية"), 3: ("الثالث", "الثالثة"), 4: ("الرابع", "الرابعة"),
            5: ("الخامس", "الخامسة"), 6: ("السادس", "السادسة"), 7: ("السابع", "السابعة"), 8: ("الثامن", "الثامنة")}
# Auxiliary verbs of the كان family (masculine, feminine) whose meaning fits a place predicate (هنا، في الخارج).
# ليس is left out: some grammarians accept it uninflected before a feminine subject.
AUXILIARIES = (("كان", "كانت"), ("ظل", "ظلت"), ("بات", "باتت"), ("ما زال", "ما زالت"))
NOMINATIVE_PARTICLES = ("كان",)  # the subject of كان: ـون
ACCUSATIVE_PARTICLES = ("إن",)  # the subject of إن: ـين
PLACE_FRAMES = ("هنا", "هناك", "معنا", "في الخارج", "في الداخل")
RELATIVE = {("sg", "m"): "الذي", ("sg", "f"): "التي", ("pl", "m"): "الذين", ("pl", "f"): "اللواتي"}
RELATIVE_FRAMES = ("هنا", "هناك", "أمامنا", "خلفنا", "بجانبنا")
SUFFIXES = ("ي", "ك", "نا", "كم", "هم", "ها")  # possessive pronouns

# Every prompt ends with ":" or "؟" (the trainers join prompt and completion without a space). The gender
# categories name the gender of the noun that decides (المعدود / الموصوف / الفاعل / الاسم مؤنث), the
# same way in every split: the model has to apply the rule, the label does not say which form is right.
T_NUMBER = (
    "اكتب العدد {d} مع المعدود «{sg}» (المعدود {g}):",
    "اكتب بالحروف العدد {d} قبل جمع «{sg}» (المعدود {g}):",
)
T_ADJECTIVE = (
    "صف «{noun}» بالصفة «{adj}» (الموصوف {g}):",
    "أضف النعت «{adj}» إلى «{noun}» (المنعوت {g}):",
)
T_ORDINAL = (
    "ما العدد الترتيبي {d} الذي يصف «{noun}» (الموصوف {g})؟",
    "اكتب العدد الترتيبي {d} المطابق للموصوف «{noun}» (الموصوف {g}):",
)
T_VERB = (
    "ابدأ بالفعل «{v}» ثم الفاعل «{s}» (الفاعل {g}):",
    "أسند الفعل الماضي «{v}» إلى «{s}» (الفاعل {g}):",
)
T_AUXILIARY = (
    "ما صيغة الفعل «{v}» مع الفاعل «{s}» (الفاعل {g})؟",
    "أسند «{v}» إلى «{s}» واكتب الفعل وحده (الفاعل {g}):",
)
T_PLURAL_CASE = (
    "ضع جمع «{sg}» معرفا في الفراغ من «{p} ... {f}»:",
    "حول «{p} ال{sg} {f}» إلى جمع المذكر السالم:",
)
T_RELATIVE = (
    "صل «{noun}» بعبارة «{f}» باسم موصول (الاسم {g}):",
    "اكتب «{noun}» ثم اسما موصولا ثم «{f}» (الاسم {g}):",
)
T_TAA_STRIP = ("اكتب «{w}» بدون الضمير المتصل (الاسم {g}):", "احذف الضمير المتصل من «{w}» (الاسم {g}):")
T_TAA_HIS = ("أضف ضمير الغائب «هو» إلى «{w}»:",)
T_TAA_FEM = ("ما مؤنث «{w}»؟", "اكتب «{w}» بصيغة المؤنث:")
T_HAMZA_MASDAR = ("ما مصدر الفعل «{v}»؟", "اكتب مصدر الفعل «{v}»:")
T_HAMZA_DEFINITE = ("اكتب مصدر الفعل «{v}» معرفا بأل:",)
T_HAMZA_VERB = ("اكتب الفعل الماضي الذي مصدره «{m}»:",)
GENDER = {False: "مذكر", True: "مؤنث"}
NUMBER_LABEL = {"sg": "مفرد", "pl": "جمع"}

TEMPLATES = {
    "number_gender": T_NUMBER, "adjective_agreement": T_ADJECTIVE + T_ORDINAL, "verb_agreement": T_VERB + T_AUXILIARY,
    "plural_case": T_PLURAL_CASE, "relative_pronoun": T_RELATIVE,
    "taa_marbuta": T_TAA_STRIP + T_TAA_HIS + T_TAA_FEM,
    "hamza": T_HAMZA_MASDAR + T_HAMZA_DEFINITE + T_HAMZA_VERB,
}

_WORD = re.compile(r"[^\W\d_]+")


def tokens(text: str) -> list[str]:
    """The words of a text (letters only; punctuation, digits and guillemets split them off)."""
    return _WORD.findall(text)


# --------------------------------------------------------------------------
# Lexical items
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Noun:
    sg: str
    pl: str
    cls: str
    fem: bool

    @property
    def key(self) -> str:
        return f"noun:{self.sg}"

    @property
    def stem(self) -> str:  # the form before a suffix: سيارة -> سيارت
        return self.sg[:-1] + "ت" if self.fem else self.sg


@dataclass(frozen=True)
class Human:
    m: str
    f: str
    broken: str | None  # broken masculine plural, None for the sound plural

    @property
    def key(self) -> str:
        return f"human:{self.m}"

    def plural(self, fem: bool, case: str = "nom") -> str:
        if fem:
            return self.f[:-1] + "ات"
        if self.broken:
            return self.broken
        return self.m + ("ون" if case == "nom" else "ين")


@dataclass(frozen=True)
class Adjective:
    m: str
    classes: str

    @property
    def key(self) -> str:
        return f"adj:{self.m}"

    def form(self, fem: bool, definite: bool) -> str:
        return ("ال" if definite else "") + self.m + ("ة" if fem else "")


@dataclass(frozen=True)
class HamzaVerb:
    verb: str
    masdar: str
    qat: bool  # Form IV (hamzat al-qat') or VII/VIII/X (hamzat al-wasl)

    @property
    def key(self) -> str:
        return f"hamza:{self.verb}"

    @staticmethod
    def wrong(word: str) -> str:
        """The same word with the other kind of alef: أرسل -> ارسل, إرسال -> ارسال, استخدام -> إستخدام."""
        return ("ا" + word[1:]) if word[0] in "أإ" else ("إ" + word[1:])


@dataclass(frozen=True)
class HaWord:
    forms: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"ha:{self.forms[0]}"


NOUNS = tuple(Noun(sg, pl, c, False) for sg, pl, c in L.NOUNS_MASC) + tuple(Noun(sg, pl, c, True) for sg, pl, c in L.NOUNS_FEM)
HUMANS = tuple(Human(m, f, b) for m, f, b in L.HUMANS)
ADJECTIVES = tuple(Adjective(m, c) for m, c in L.ADJECTIVES)
VERBS = L.VERBS
HAMZA_VERBS = tuple(HamzaVerb(v, m, True) for v, m in L.HAMZA_QAT) + tuple(HamzaVerb(v, m, False) for v, m in L.HAMZA_WASL)
HA_WORDS = tuple(HaWord(f) for f in L.HA_WORDS)


def _noun_forms(n: Noun) -> set[str]:
    out = {n.sg, n.pl, n.stem + "ه", n.stem + "ة"}
    if n.fem:
        out |= {n.sg[:-1] + "ه"} | {n.stem + s for s in SUFFIXES}
    return out


def _human_forms(h: Human) -> set[str]:
    return {h.m, h.f, h.m + "ه", h.plural(True), h.plural(False, "nom"), h.plural(False, "gen")}


def _all_items() -> dict[str, tuple[str, set[str]]]:
    """key -> (split pool, every word form the generator can write for the item)."""
    items: dict[str, tuple[str, set[str]]] = {}

    def add(key: str, pool: str, forms: set[str]) -> None:
        if key in items:
            raise ValueError(f"duplicate lexical item {key}")
        items[key] = (pool, forms)

    for n in NOUNS:
        add(n.key, f"noun/{'f' if n.fem else 'm'}/{n.cls}", _noun_forms(n))
    for h in HUMANS:
        add(h.key, f"human/{'broken' if h.broken else 'sound'}", _human_forms(h))
    for a in ADJECTIVES:
        add(a.key, "adj", {a.m, a.m + "ة", a.m + "ه"})
    for v in VERBS:
        add(f"verb:{v}", "verb", {v, v + "ت"})
    for hv in HAMZA_VERBS:
        add(hv.key, f"hamza/{'qat' if hv.qat else 'wasl'}",
            {hv.verb, hv.masdar, HamzaVerb.wrong(hv.verb), HamzaVerb.wrong(hv.masdar)})
    for hw in HA_WORDS:
        add(hw.key, "ha", set(hw.forms) | {f + s for f in hw.forms for s in SUFFIXES} | {f[:-1] + "ة" for f in hw.forms})
    return items


def _closed_class_words() -> set[str]:
    """Words every split shares: template text, numbers, particles, frames, relative pronouns."""
    text = " ".join(t for ts in TEMPLATES.values() for t in ts)
    text = re.sub(r"\{[^}]*\}", " ", text)
    words = set(tokens(text))
    words |= set(NUM_FOR_MASC.values()) | set(NUM_FOR_FEM.values()) | set(RELATIVE.values())
    words |= {w for pair in list(ORDINALS.values()) + list(AUXILIARIES) for form in pair for w in tokens(form)}
    words |= set(GENDER.values()) | set(NUMBER_LABEL.values())
    for group in (NOMINATIVE_PARTICLES, ACCUSATIVE_PARTICLES, PLACE_FRAMES, RELATIVE_FRAMES):
        words |= {w for phrase in group for w in tokens(phrase)}
    return words


def form_index() -> dict[str, str]:
    """Every word form of every lexical item -> the item's key. Raises ValueError when two items share a
    form, or an item form is also a closed-class word (then the hold-out could not be kept)."""
    index: dict[str, str] = {}
    clashes = []
    for key, (_, forms) in _all_items().items():
        for form in forms:
            if index.setdefault(form, key) != key:
                clashes.append((form, index[form], key))
    for w in _closed_class_words():
        key = _lookup(index, w)
        if key:
            clashes.append((w, "closed-class word", key))
    if clashes:
        raise ValueError(f"word forms shared by two lexical items: {clashes}")
    return index


def _lookup(index: dict[str, str], word: str) -> str | None:
    if word in index:
        return index[word]
    if word.startswith("ال") and word[2:] in index:
        return index[word[2:]]
    return None


def items_in(text: str, index: dict[str, str] | None = None) -> set[str]:
    """Keys of the lexical items whose forms occur in text (a word, or a word with the article ال)."""
    index = index if index is not None else form_index()
    return {k for w in tokens(text) if (k := _lookup(index, w))}


def item_splits(seed: int = 0) -> dict[str, str]:
    """Item key -> split. Each list (pool: nouns by gender and class, human nouns by plural type, adjectives,
    verbs, Form IV versus VII/VIII/X verbs, ه-final words) is shuffled by the seed and cut 50/20/30."""
    pools: dict[str, list[str]] = defaultdict(list)
    for key, (pool, _) in _all_items().items():
        pools[pool].append(key)
    out: dict[str, str] = {}
    for pool, keys in sorted(pools.items()):
        keys = sorted(keys)
        random.Random(f"minimal-split:{seed}:{pool}").shuffle(keys)
        n_train = round(len(keys) * ITEM_FRACTIONS[0])
        n_val = max(1, round(len(keys) * ITEM_FRACTIONS[1]))
        for i, key in enumerate(keys):
            out[key] = "train" if i < n_train else "val" if i < n_train + n_val else "test"
    return out

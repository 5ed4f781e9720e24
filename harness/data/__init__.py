"""Canonical Arabic preference data: one list of rows per split, and the three views every method trains on.

A canonical row is `{id, prompt, chosen, rejected, ...tags}` (pairwise), `{id, prompt, completion, label}`
(unpaired) or `{id, prompt, completion}` (sft). Prompts and completions are strings or lists of chat
messages. Splits are train / val (selection) / test (reported numbers), grouped so that no prompt (and, for
the verifiable part, no question template) is in two splits.

    python -m harness.data.stats            # sizes, Arabic share, token counts (writes the datasheet table)
"""

from __future__ import annotations

import copy

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness.data.errors import DataError

HERE = Path(__file__).parent
SPLITS = ("train", "val", "test")
SAMPLE_SEED = 0  # the draw of capped splits (data.max_*_pairs): fixed, so every job sees the same rows
TEXT_FIELDS = ("prompt", "chosen", "rejected", "completion", "answer")
# Which views each kind of canonical row can produce.
VIEWS_FROM = {"pairwise": ("sft", "pairwise", "unpaired"), "unpaired": ("sft", "unpaired"), "sft": ("sft",)}
VIEW_COLUMNS = {"sft": "prompt, completion", "pairwise": "prompt, chosen, rejected", "unpaired": "prompt, completion, label"}


@dataclass
class Canonical:
    """The rows of one dataset, split three ways."""

    name: str
    kind: str  # pairwise | unpaired | sft
    splits: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def train(self) -> list[dict]:
        return self.splits["train"]

    def fingerprint(self, splits: tuple[str, ...] = SPLITS) -> str:
        """Content hash of the named splits (all three by default; harness.tune's files record train and val)."""
        from harness.store import fingerprint

        return fingerprint(self.splits if splits == SPLITS else {s: self.splits[s] for s in splits})


def group_split(key: str, fractions: tuple[float, float, float]) -> str:
    """Deterministic split of a group key by hash: the same key always lands in the same split."""
    u = int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) / 16**12
    return "train" if u < fractions[0] else "val" if u < fractions[0] + fractions[1] else "test"


def split_rows(rows: list[dict], fractions: tuple[float, float, float], group: Callable[[dict], str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for row in rows:
        out[row.get("split") or group_split(group(row), fractions)].append(row)
    return out


def prompt_key(row: dict) -> str:
    return json.dumps(row["prompt"], ensure_ascii=False, sort_keys=True)


def load_embedded(cfg: dict) -> Canonical:
    """The shipped mix: the generated verifiable questions (split by template) and/or the curated pairs
    (split by prompt)."""
    from harness.data import verifiable

    def minimal() -> list[dict]:
        from harness.data import minimal_pairs

        return minimal_pairs.generate(seed=0)

    def helpful() -> list[dict]:  # categories of the helpful part are its failure types
        return [r | {"category": r["failure"]} for r in _read_jsonl(HERE / "helpful.jsonl")]

    parts = {"verifiable": lambda: verifiable.generate(seed=0), "curated": lambda: _read_jsonl(HERE / "curated.jsonl"),
             "minimal": minimal, "helpful": helpful}
    rows: list[dict] = []
    for part in cfg["parts"]:
        if part not in parts:
            raise DataError(f"data.parts: unknown part {part!r}; choose from {sorted(parts)}")
        rows += parts[part]()
    if cfg.get("normalize", True):
        rows = [normalize_row(r) for r in rows]
    splits = split_rows(rows, tuple(cfg["split_fractions"]), prompt_key)
    return Canonical(cfg["name"], "pairwise", splits)


def load_cost(cfg: dict) -> Canonical:
    """Synthetic Arabic-script pairs with realistic lengths, for cost-only runs (harness.data.cost)."""
    from harness.data import cost

    return cost.load(cfg)


LOADERS: dict[str, Callable[[dict], Canonical]] = {"embedded": load_embedded, "cost": load_cost}


# Canonical datasets this process has loaded from the package (embedded, cost), by their config: every job of a
# sweep loads the same one. Jobs get a deep copy, so nothing a job does to its rows reaches the next job.
_LOADED: dict[str, Canonical] = {}
_MEMO_SOURCES = ("embedded", "cost")  # built from files inside the package and seeded generators only


def load(cfg: dict) -> Canonical:
    """Load, split and shrink the dataset a `data` config names."""
    from harness.store import fingerprint

    key = fingerprint(cfg)
    if cfg.get("source") in _MEMO_SOURCES and key in _LOADED:
        return copy.deepcopy(_LOADED[key])
    canonical = _load(cfg)
    if cfg.get("source") in _MEMO_SOURCES:
        _LOADED[key] = copy.deepcopy(canonical)
    return canonical


def _load(cfg: dict) -> Canonical:
    if cfg["source"] not in LOADERS:
        _register_external_loaders()
    canonical = LOADERS[cfg["source"]](cfg)
    for split in SPLITS:  # a random draw, even over parts and domains: a prefix would hold only the first tasks
        cap = cfg.get(f"max_{split}_pairs")
        if cap:
            canonical.splits[split] = stratified_sample(canonical.splits[split], int(cap), seed=SAMPLE_SEED)
    if not canonical.train:
        raise DataError(f"data={cfg['name']}: the train split is empty")
    return canonical


def view(canonical: Canonical, name: str, split: str = "train") -> list[dict]:
    """Rows of one view. KTO's unpaired rows are shuffled once, with a fixed seed: TRL pairs each row with
    its neighbour in dataset order for the KL term, and chosen/rejected of one prompt must not be neighbours.
    The order is a property of the data, not of the job: the training order comes from the trainer's sampler
    (seeded by the job), and the reference log-probs of one ordering are shared by every seed (refcache)."""
    if name not in VIEWS_FROM[canonical.kind]:
        raise DataError(
            f"data={canonical.name} holds {canonical.kind} rows; this method needs the {name} view "
            f"(columns: {VIEW_COLUMNS[name]}), which cannot be derived from {canonical.kind} rows."
        )
    rows = canonical.splits[split]
    if name == "pairwise":
        return [{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in rows]
    if name == "sft":
        if canonical.kind == "pairwise":
            return [{"prompt": r["prompt"], "completion": r["chosen"]} for r in rows]
        return [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows if r.get("label", True)]
    if canonical.kind == "pairwise":
        out = [{"prompt": r["prompt"], "completion": r[k], "label": k == "chosen"} for r in rows for k in ("chosen", "rejected")]
    else:
        out = [{"prompt": r["prompt"], "completion": r["completion"], "label": bool(r["label"])} for r in rows]
    random.Random(0).shuffle(out)
    return out


def normalize_row(row: dict) -> dict:
    """The row with harness.data.arabic.normalize_training applied to every text field (strings and the
    content of chat messages); other fields untouched."""
    from harness.data.arabic import normalize_training

    def norm(value: Any) -> Any:
        if isinstance(value, str):
            return normalize_training(value)
        if isinstance(value, list):
            return [{**m, "content": norm(m["content"])} if isinstance(m, dict) and "content" in m else m
                    for m in value]
        return value

    return {k: norm(v) if k in TEXT_FIELDS else v for k, v in row.items()}


def stratified_sample(rows: list[dict], cap: int, seed: int = 0) -> list[dict]:
    """At most cap rows drawn at random (seeded) and evenly over (part, domain) groups, round-robin, so every
    task stays represented; the result keeps the rows' original order."""
    if cap >= len(rows):
        return rows
    rng = random.Random(seed)
    by: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        by.setdefault((str(r.get("part", "")), str(r.get("domain", ""))), []).append(i)
    groups = [rng.sample(idx, len(idx)) for _, idx in sorted(by.items())]
    picked: list[int] = []
    while len(picked) < cap:
        for group in groups:
            if group and len(picked) < cap:
                picked.append(group.pop())
    return [rows[i] for i in sorted(picked)]


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _register_external_loaders() -> None:
    """User files and hub datasets live in harness.data.formats (imported lazily: it pulls `datasets`)."""
    from harness.data import formats

    LOADERS.update(formats.LOADERS)


def as_dict(cfg: Any) -> dict:
    """Plain dict of a (possibly OmegaConf) data config."""
    try:
        from omegaconf import OmegaConf

        return OmegaConf.to_container(cfg, resolve=True) if not isinstance(cfg, dict) else cfg
    except ImportError:
        return dict(cfg)

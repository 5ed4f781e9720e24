"""Cost-only data (`data=cost`): synthetic Arabic-script preference pairs whose prompt and answer lengths
follow a documented distribution, for `model.weights=random-init` runs where only cost (tokens/s, memory,
MFU, evaluation and inference time) matters. The words are real Arabic words strung together at random: the
texts mean nothing, so every quality figure of a run on them means nothing. Every row says `cost_only`, and
so does every result row (harness.job).

    python -m harness.data.cost                      # drawn length quantiles beside the configured ones
    python -m harness.train data=cost model=qwen3_1_7b model.weights=random-init hardware=gpu method=dpo
    python -m bench.gpu                              # every card method at real scale (make bench-gpu)

Lengths are in tokens. Each text is a string of words from a closed pool of 112 Arabic words, and the
byte-level BPE that a random-init base trains on these rows (harness.models, 2,000 entries) learns every pool
word as one token: a text of n words is n tokens (checked by tests/test_bench_gpu.py), and a completion adds
its EOS. A prompt is n - 1 words and a closing " ؟" (one token): SFT tokenizes prompt and answer joined, and the
question mark keeps the prompt's last word from merging with the answer's first. Another tokenizer would count
differently.

Where the default lengths come from (conf/data/cost.yaml). The dataset cards give bytes and rows, not token
lengths: 2A2I/argilla-dpo-mix-7k-arabic (the Arabic translation of argilla/dpo-mix-7k, `data=argilla_dpo_arabic`)
holds 62,886,912 bytes in 6,750 train rows, 9.3 KB per row; its chosen and rejected columns each hold a whole
conversation (prompt turns + answer), so one prompt + answer is about 4.6 KB, about 2,500 characters of
Arabic (1.8 UTF-8 bytes per character with spaces). At an *assumed* 0.4 tokens per character for a
150k-entry multilingual BPE such as Qwen3's (not measured here: no hub), that is about 1,000 tokens per prompt
+ answer. (2A2I/Aya-Aya.23.8B-DPO, `data=aya_dpo_arabic`, is much shorter: 805 bytes per row for all three
fields, about 60 tokens per field.) The defaults take the argilla set's scale: log-normal prompt lengths
(median 250 tokens) and answer lengths (median 450 tokens), both with sigma 0.7 (p90 = 2.45 x median), capped
like a trainer's max_length at 1,024 tokens for prompt + answer. The split between prompt and answer and the
sigma are assumptions, not measurements.
"""

from __future__ import annotations

import math
import random
import statistics
from typing import Any

from harness.data import SPLITS, Canonical
from harness.data.lexicon import ANTONYM_PAIRS

# A closed pool of real Arabic words (3.8 letters on average): small enough that a 2,000-entry byte-level BPE
# trained on the rows learns each one as a single token.
WORDS = tuple(sorted({w for a, b, _ in ANTONYM_PAIRS for w in (a, b)}))
Z90 = 1.2815515655446004  # standard normal 90th percentile


def load(cfg: dict) -> Canonical:
    """The cost data a `data=cost` config asks for: rows per split, drawn from the configured lengths."""
    splits = {split: generate(split, int(cfg["rows"][split]), cfg) for split in SPLITS}
    return Canonical(cfg["name"], "pairwise", splits)


def generate(split: str, n: int, cfg: dict) -> list[dict]:
    """n pairwise rows for one split; the same (seed, split, n, lengths) always gives the same rows, and a
    split's rows do not depend on the other splits' sizes."""
    rng = random.Random(f"{cfg['seed']}-{split}")
    rows = []
    for i in range(n):
        p, c, r = draw_lengths(rng, cfg)
        prompt, chosen, rejected = text(rng, p - 1) + " ؟", text(rng, c), text(rng, r)
        while rejected == chosen:
            rejected = text(rng, r)
        rows.append({"id": f"cost-{split}-{i}", "prompt": prompt, "chosen": chosen, "rejected": rejected,
                     "part": "cost", "category": "cost", "cost_only": True})
    return rows


def draw_lengths(rng: random.Random, cfg: dict) -> tuple[int, int, int]:
    """Token lengths of (prompt, chosen, rejected): log-normal draws, each at least min_tokens, prompt + answer
    + EOS at most max_tokens (the answer is cut first, as a trainer's keep_start truncation would)."""
    lo, cap = int(cfg["min_tokens"]), int(cfg["max_tokens"]) - 1
    p = min(lognormal(rng, cfg["prompt_tokens"], lo), cap - lo)
    chosen, rejected = (min(lognormal(rng, cfg["answer_tokens"], lo), cap - p) for _ in range(2))
    return p, chosen, rejected


def lognormal(rng: random.Random, dist: dict, lo: int) -> int:
    return max(lo, round(math.exp(rng.gauss(math.log(dist["median"]), dist["sigma"]))))


def quantile(dist: dict, q_z: float) -> float:
    """The configured distribution's quantile at standard-normal score q_z (0: median, Z90: p90)."""
    return dist["median"] * math.exp(dist["sigma"] * q_z)


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def length_table(rows: list[dict], cfg: dict) -> list[tuple[str, float, float, float, float]]:
    """(field, drawn median, configured median, drawn p90, configured p90) in words = tokens."""
    out = []
    for field, dist in (("prompt", cfg["prompt_tokens"]), ("chosen", cfg["answer_tokens"]),
                        ("rejected", cfg["answer_tokens"])):
        n = sorted(len(r[field].split()) for r in rows)
        out.append((field, statistics.median(n), quantile(dist, 0), n[int(0.9 * len(n))], quantile(dist, Z90)))
    return out


def _main(argv: list[str]) -> None:
    from hydra import compose, initialize
    from omegaconf import OmegaConf

    with initialize(config_path="../../conf", version_base="1.3"):
        cfg: Any = OmegaConf.to_container(compose("config", overrides=["data=cost", *argv]).data, resolve=True)
    canonical = load(cfg)
    print(f"data=cost: {', '.join(f'{s} {len(v)}' for s, v in canonical.splits.items())} rows; cost only "
          f"(quality figures mean nothing); tokens capped at {cfg['max_tokens']} per prompt + answer")
    print(f"{'field':9s} {'median':>7s} {'(conf)':>7s} {'p90':>6s} {'(conf)':>7s}   train split, tokens")
    for field, med, cmed, p90, cp90 in length_table(canonical.train, cfg):
        print(f"{field:9s} {med:7.0f} {cmed:7.0f} {p90:6.0f} {cp90:7.0f}")


if __name__ == "__main__":
    import sys

    _main(sys.argv[1:])

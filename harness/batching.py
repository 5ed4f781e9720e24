"""Length-bucketed training batches: rows of similar token length share a batch, in an order the job's seed draws.

The shipped data mixes short rows (minimal pairs, ~20 tokens) with long ones (helpfulness answers, ~60-110
tokens). Drawn at random, about 4 batches in 10 hold one long row and are padded to its length, which doubled
the training time of every method on 2 CPU cores. With `batching.length_bucket: W` rows are put in buckets of
W tokens (prompt plus the longest completion), each bucket is shuffled and cut into batches, and the batches
(not the rows) are shuffled: a batch still mixes rows at random from its bucket (every category of the minimal
pairs falls in one or two buckets), the epoch still visits every row once, and the order still varies with the
seed. Leftover rows of every bucket (fewer than a batch) are pooled into mixed batches. `null` keeps the
trainer's own sampler.

This is the idea of transformers' `train_sampling_strategy="group_by_length"`, with two differences: TRL's
prepared datasets have no `input_ids`/`length` column for it to read (prompt and completions are tokenized
apart), and its mega-batch sort orders rows by exact length, which makes batches category-homogeneous here.

    with_buckets(TrainerClass)        the trainer class with the bucketed sampler in front (harness.methods)
    bucket_order(lengths, ...)        the index order, used by the trainers and by the base model's pre-training
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any


def bucket_order(lengths: Sequence[int], batch_size: int, width: int, rng: random.Random) -> list[int]:
    """Indices of all rows, in batches of batch_size (the last one may be short) whose rows share a bucket of
    `width` tokens; rows shuffled within buckets, full batches shuffled among themselves, pooled leftovers last."""
    buckets: dict[int, list[int]] = defaultdict(list)
    for i, n in enumerate(lengths):
        buckets[int(n) // max(int(width), 1)].append(i)
    batches, leftovers = [], []
    for key in sorted(buckets):
        rows = buckets[key]
        rng.shuffle(rows)
        full = len(rows) - len(rows) % batch_size
        batches += [rows[i : i + batch_size] for i in range(0, full, batch_size)]
        leftovers += rows[full:]
    rng.shuffle(leftovers)
    tail = [leftovers[i : i + batch_size] for i in range(0, len(leftovers), batch_size)]
    if tail and len(tail[-1]) < batch_size:  # only the very last batch of the epoch may be short
        batches += tail[:-1]
        rng.shuffle(batches)
        batches.append(tail[-1])
    else:
        batches += tail
        rng.shuffle(batches)
    return [i for b in batches for i in b]


def row_lengths(dataset: Any) -> list[int]:
    """Token length of each prepared row: its prompt ids plus its longest completion ids (any TRL trainer's
    tokenized columns: prompt_ids + chosen_ids/rejected_ids, prompt_ids + completion_ids (+ KL_completion_ids),
    or SFT's input_ids)."""
    cols = [c for c in dataset.column_names if c.endswith("input_ids") or c.endswith("_ids")]
    if not cols:
        raise ValueError(f"batching.length_bucket: the prepared dataset has no token-id column ({dataset.column_names})")
    prompt = [c for c in cols if "prompt" in c]
    rest = [c for c in cols if c not in prompt]
    table = dataset.select_columns(cols).with_format("arrow")[:]
    n = len(dataset)

    def lens(col: str) -> list[int]:
        return table.column(col).combine_chunks().value_lengths().fill_null(0).to_pylist()

    p = [max(v) for v in zip(*(lens(c) for c in prompt))] if prompt else [0] * n
    r = [max(v) for v in zip(*(lens(c) for c in rest))] if rest else [0] * n
    return [a + b for a, b in zip(p, r)]


class BucketSampler:
    """A torch Sampler over bucket_order; a new order each epoch, drawn from the seed and the epoch."""

    def __init__(self, lengths: list[int], batch_size: int, width: int, seed: int):
        self.lengths, self.batch_size, self.width, self.seed = lengths, batch_size, width, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        rng = random.Random(f"{self.seed}:{self.epoch}")
        self.epoch += 1
        return iter(bucket_order(self.lengths, self.batch_size, self.width, rng))


class BucketMixin:
    """Put in front of any TRL trainer class: its training sampler becomes a BucketSampler."""

    def __init__(self, *args: Any, length_bucket: int, **kwargs: Any):
        self.length_bucket = int(length_bucket)
        super().__init__(*args, **kwargs)

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        return BucketSampler(row_lengths(dataset), self.args.train_batch_size * self.args.gradient_accumulation_steps,
                             self.length_bucket, self.args.data_seed if self.args.data_seed is not None else self.args.seed)


@lru_cache(maxsize=None)
def with_buckets(trainer_class: type) -> type:
    """The trainer class with the bucketed sampler in front (same name, so logs and rows read the same)."""
    return type(trainer_class.__name__, (BucketMixin, trainer_class), {"__module__": __name__})

"""Length-bucketed batches (harness.batching): every row once per epoch, batches within one bucket, the order
drawn from the seed, and every registered trainer's prepared columns read."""

from __future__ import annotations

import random

import pytest

from conftest import compose_cfg
from harness import batching, methods, models
from harness import data as datalib
from harness.job import Job


def test_bucket_order_is_a_seeded_permutation_in_bucketed_batches():
    rng = random.Random(0)
    lengths = [rng.choice([10, 12, 14, 20, 60, 90, 100]) for _ in range(203)]
    order = batching.bucket_order(lengths, 8, 16, random.Random(1))
    assert sorted(order) == list(range(203))
    batches = [order[i : i + 8] for i in range(0, len(order), 8)]
    mixed = [b for b in batches if len({lengths[i] // 16 for i in b}) > 1]
    # only pooled leftovers (< one batch per bucket, so fewer than buckets x batch rows) may mix buckets
    assert len(mixed) * 8 <= 8 * len({n // 16 for n in lengths})
    assert batching.bucket_order(lengths, 8, 16, random.Random(1)) == order
    assert batching.bucket_order(lengths, 8, 16, random.Random(2)) != order
    assert all(len(b) == 8 for b in batches[:-1])  # only the last batch of the epoch may be short


def test_bucketing_cuts_padding_on_the_shipped_data():
    canonical = datalib.load(compose_cfg(shrink=False)["data"])
    rows = canonical.train
    lengths = [len(r["prompt"]) + max(len(r["chosen"]), len(r["rejected"])) for r in rows]

    def padded(order):
        return sum(max(lengths[i] for i in order[k : k + 8]) * len(order[k : k + 8]) for k in range(0, len(order), 8))

    shuffled = list(range(len(rows)))
    random.Random(0).shuffle(shuffled)
    bucketed = batching.bucket_order(lengths, 8, 32, random.Random(0))  # characters here, so a wider bucket
    assert padded(bucketed) < 0.7 * padded(shuffled)


@pytest.mark.parametrize("method", sorted(methods.REGISTRY))
def test_every_trainer_gets_the_bucketed_sampler(method, cache_dir, tmp_path):
    cfg = compose_cfg([f"method={method}", f"paths.cache_dir={cache_dir}", f"paths.runs_dir={tmp_path}",
                       "data.max_train_pairs=48"])
    job = Job.start(cfg)
    spec, kwargs = job.method_args()
    canonical = datalib.load(job.data_cfg)
    assert {r["part"] for r in canonical.train} == {"minimal", "helpful"}  # short and long rows both
    base_dir = models.resolve_base(job.model_cfg, canonical, job.cache_dir)
    trainer = methods.build_trainer(spec, kwargs, base_dir, datalib.view(canonical, spec.view), None,
                                    cache_dir, length_bucket=16)
    sampler = trainer._get_train_sampler()
    assert isinstance(sampler, batching.BucketSampler)
    lengths = sampler.lengths
    assert len(lengths) == len(trainer.train_dataset) and min(lengths) > 0
    first, second = list(sampler), list(sampler)
    assert sorted(first) == list(range(len(lengths))) and first != second  # a new order each epoch
    bs = kwargs["per_device_train_batch_size"]
    batches = [first[i : i + bs] for i in range(0, len(first), bs)]
    within = sum(len({lengths[i] // 16 for i in b}) == 1 for b in batches)
    assert within >= len(batches) - len({n // 16 for n in lengths})
    batch = next(iter(trainer.get_train_dataloader()))  # the collator still takes what the sampler gives
    assert batch

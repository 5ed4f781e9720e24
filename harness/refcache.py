"""Reference log-probs computed once per sweep and reused by every job that shares them.

With `precompute_ref_log_probs: true` (dpo/ipo/kto yamls) TRL computes the frozen reference's log-probs in the
trainer's constructor, before training. TRL caches them under a fingerprint of its *tokenized* dataset, but that
fingerprint hashes the whole training config (its length filter closes over `args`: output_dir, seed, beta), so a
second job with another seed or beta never finds them. Here the same columns are stored under a key that depends
only on what determines them:

    key = hash(trainer class, token ids of every prepared row (prompt, completions, KTO's KL completions, label),
               base checkpoint (harness.models.base_key), max_length, truncation mode, dtype/autocast, device type,
               ld_alpha, KTO's KL switch)

so DPO and IPO jobs of every seed and beta on one base, one dataset and one max_length share one entry, and KTO
jobs share theirs. Entries live under <paths.cache_dir>/refcache/<key>/ (a `datasets` save_to_disk directory).

    python -m harness.refcache .cache          # list cached entries
"""

from __future__ import annotations

import hashlib
import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.store import atomic_path, fingerprint

# Columns TRL's precompute adds, per trainer (KTO's KL column only when its KL term is on).
REF_COLUMNS = ("ref_chosen_logps", "ref_rejected_logps", "ref_logps", "ref_KL_logps")
# Prepared (tokenized) columns that determine the reference log-probs.
TOKEN_COLUMNS = ("prompt_ids", "chosen_ids", "rejected_ids", "completion_ids", "KL_completion_ids", "label")


class RefCacheMixin:
    """Put in front of a TRL trainer class that has `_precompute_ref_logps` (DPOTrainer, KTOTrainer): looks the
    columns up on disk before computing them, and stores them after. One generic class, not one per method."""

    def __init__(self, *args: Any, ref_cache_dir: str | Path, base_key: str, **kwargs: Any):
        self.ref_cache_dir = Path(ref_cache_dir)
        self.ref_base_key = base_key
        self.ref_cache_status: str | None = None  # "hit" | "miss", set when the precompute runs
        self.ref_cache_path: Path | None = None
        super().__init__(*args, **kwargs)

    def _precompute_ref_logps(self, dataset, name: str, batch_size: int):
        from datasets import concatenate_datasets, load_from_disk

        path = self.ref_cache_dir / cache_key(self, dataset)
        self.ref_cache_path = path
        if (path / "state.json").exists():
            cached = load_from_disk(str(path))
            if len(cached) == len(dataset):
                self.ref_cache_status = "hit"
                print(f"[refcache] hit {path}", flush=True)
                return concatenate_datasets([dataset, cached], axis=1)
        out = super()._precompute_ref_logps(dataset, name, batch_size)
        self.ref_cache_status = "miss"
        if self.accelerator.is_main_process:
            save_atomic(out.select_columns([c for c in REF_COLUMNS if c in out.column_names]), path)
        print(f"[refcache] miss: computed and stored {path}", flush=True)
        return out


@lru_cache(maxsize=None)
def with_ref_cache(trainer_class: type) -> type:
    """The trainer class with the on-disk cache in front (same name, so logs and rows read the same)."""
    return type(trainer_class.__name__, (RefCacheMixin, trainer_class), {"__module__": __name__})


def cache_key(trainer: Any, dataset: Any) -> str:
    """Everything the reference log-probs depend on, nothing else (not seed, beta, learning rate, output_dir)."""
    args = trainer.args
    parts = {
        "trainer": type(trainer).__name__,
        "rows": content_hash(dataset),
        "base": trainer.ref_base_key,
        "max_length": args.max_length,
        "truncation_mode": getattr(args, "truncation_mode", None),
        "dtype": str(trainer.model.dtype), "bf16": bool(args.bf16), "fp16": bool(args.fp16),
        "device": trainer.accelerator.device.type,
        "ld_alpha": getattr(args, "ld_alpha", None),
        "kl": getattr(trainer, "calculate_KL", None),
        "version": 1,
    }
    return fingerprint(parts)


def content_hash(dataset: Any) -> str:
    """Hash of the prepared token ids in row order: catches any change of data, tokenizer, filter or KL pairing."""
    h = hashlib.sha256()
    table = dataset.with_format("arrow")[:]  # a pyarrow Table in row order, a filter's index mapping applied
    for col in TOKEN_COLUMNS:
        if col in table.column_names:
            h.update(col.encode())
            h.update(json.dumps(table.column(col).to_pylist()).encode())
    return h.hexdigest()


def save_atomic(columns: Any, path: Path) -> None:
    """Write to a private temp directory, then rename: jobs running side by side never read half an entry."""
    with atomic_path(path) as tmp:  # another job may store the same entry first: theirs is identical
        columns.save_to_disk(str(tmp))


def entries(cache_dir: Path) -> list[Path]:
    root = Path(cache_dir) / "refcache"
    return sorted(p for p in root.iterdir() if (p / "state.json").exists()) if root.is_dir() else []


if __name__ == "__main__":
    for entry in entries(Path(sys.argv[1] if len(sys.argv) > 1 else ".cache")):
        print(entry)

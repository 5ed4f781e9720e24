"""TRL's prepared (tokenized) training datasets, shared by the jobs of one process.

Every TRL trainer tokenizes its train dataset in its constructor (`_prepare_dataset`: a `datasets.map` over every
row). A sweep's jobs train on the same rows with the same tokenizer and the same preparation arguments, only the
seed, learning rate or loss knobs differ; the prepared dataset is then the same, so it is kept in memory and
handed to the next job instead of being rebuilt (about 1 s a job on the default data). The key holds the
trainer class, the dataset's content fingerprint (`datasets` hashes an in-memory table's content), the
tokenizer's identity and every trainer argument except those that cannot touch preparation (PER_JOB below): a
miss costs only the old tokenizing, a wrong hit is impossible unless an argument on that list did matter.
"""

from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from typing import Any

# Trainer arguments that vary from job to job and that `_prepare_dataset` does not read (optimizer, schedule,
# loss, seeds, logging and output). Anything not listed is part of the key.
PER_JOB = frozenset({
    "output_dir", "logging_dir", "run_name", "seed", "data_seed", "learning_rate", "weight_decay", "adam_beta1",
    "adam_beta2", "adam_epsilon", "max_grad_norm", "num_train_epochs", "max_steps", "lr_scheduler_type",
    "lr_scheduler_kwargs", "warmup_steps", "warmup_ratio", "logging_steps", "save_strategy", "report_to",
    "disable_tqdm", "neftune_noise_alpha", "beta", "label_smoothing", "rpo_alpha", "ld_alpha", "use_weighting",
    "f_alpha_divergence_coef", "cpo_alpha", "simpo_gamma", "alpha", "logging_nan_inf_filter",
})  # not listed on purpose: loss_type (KTO's preparation depends on it), KTO's desirable/undesirable weights
_PREPARED: dict[str, Any] = {}
_MAX = 16  # prepared datasets kept (a sweep needs one per trainer class and data)


def key(trainer: Any, dataset: Any, processing_class: Any, args: Any, rest: tuple, kwargs: dict) -> str | None:
    from harness.data.encoding import _tokenizer_key
    from harness.store import fingerprint

    fp = getattr(dataset, "_fingerprint", None)
    if fp is None:  # an IterableDataset: nothing to key on
        return None
    fields = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(args) if f.name not in PER_JOB}
    return fingerprint([type(trainer).__name__, fp, _tokenizer_key(processing_class),
                        json.dumps(fields, sort_keys=True, default=str), repr(rest), repr(sorted(kwargs.items()))])


class PrepCacheMixin:
    """Put in front of a TRL trainer class: `_prepare_dataset` looks its result up in this process first."""

    def _prepare_dataset(self, dataset, processing_class, args, *rest, **kwargs):
        k = key(self, dataset, processing_class, args, rest, kwargs)
        if k is not None and k in _PREPARED:
            return _PREPARED[k]
        out = super()._prepare_dataset(dataset, processing_class, args, *rest, **kwargs)
        if k is not None:
            if len(_PREPARED) >= _MAX:
                _PREPARED.pop(next(iter(_PREPARED)))
            _PREPARED[k] = out
        return out


@lru_cache(maxsize=None)
def with_prep_cache(trainer_class: type) -> type:
    """The trainer class with the in-process cache in front (same name, so logs and rows read the same)."""
    if not hasattr(trainer_class, "_prepare_dataset"):
        return trainer_class
    return type(trainer_class.__name__, (PrepCacheMixin, trainer_class), {"__module__": __name__})

"""The method registry: a method name maps to (TRL config class, TRL trainer class, data view) plus the
facts the FLOP estimate needs. Adding a method is a registry entry and a yaml file, never new code paths.

    python -m harness.methods        # list registered methods and their TRL classes
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Method:
    config: str  # "module:Class" of the TRL config dataclass
    trainer: str  # "module:Class" of the TRL trainer
    view: str  # which view of the canonical rows it trains on: sft | pairwise | unpaired
    ref_forwards: int  # frozen reference-model forwards per policy token (FLOP estimate)
    kl_batch: bool = False  # KTO: an extra policy and reference forward over mismatched (KL) pairs
    min_batch: int = 1  # KTO's KL term pairs each row with another row of its batch

    def config_class(self) -> type:
        return _load(self.config)

    def trainer_class(self) -> type:
        return _load(self.trainer)


REGISTRY: dict[str, Method] = {}


def register(name: str, method: Method) -> None:
    REGISTRY[name] = method


register("sft", Method("trl:SFTConfig", "trl:SFTTrainer", "sft", ref_forwards=0))
register("dpo", Method("trl:DPOConfig", "trl:DPOTrainer", "pairwise", ref_forwards=1))
register("ipo", Method("trl:DPOConfig", "trl:DPOTrainer", "pairwise", ref_forwards=1))
register("cpo", Method("trl.experimental.cpo:CPOConfig", "trl.experimental.cpo:CPOTrainer", "pairwise", ref_forwards=0))
register("simpo", Method("trl.experimental.cpo:CPOConfig", "trl.experimental.cpo:CPOTrainer", "pairwise", ref_forwards=0))
register("orpo", Method("trl.experimental.orpo:ORPOConfig", "trl.experimental.orpo:ORPOTrainer", "pairwise", ref_forwards=0))
register("kto", Method("trl:KTOConfig", "trl:KTOTrainer", "unpaired", ref_forwards=1, kl_batch=True, min_batch=2))

HARNESS_KEYS = {"name"}  # keys of the method node that are ours, not TRL arguments


class ConfigError(ValueError):
    """A configuration that cannot run; raised before any data or model is touched."""


def get(name: str) -> Method:
    if name not in REGISTRY:
        raise ConfigError(f"unknown method {name!r}; registered: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def trl_kwargs(method_node: dict[str, Any], shared: dict[str, Any]) -> dict[str, Any]:
    """TRL arguments for one job: shared trainer args, then the method node's own (method wins)."""
    return {**shared, **{k: v for k, v in method_node.items() if k not in HARNESS_KEYS}}


def validate(name: str, kwargs: dict[str, Any]) -> None:
    """Reject typos and impossible values with a message naming the key, before any training."""
    cls = get(name).config_class()
    fields = {f.name for f in dataclasses.fields(cls)}
    for key in kwargs:
        if key not in fields:
            near = difflib.get_close_matches(key, fields, n=1)
            hint = f" Did you mean method.{near[0]}?" if near else ""
            raise ConfigError(f"method.{key} is not a field of {cls.__name__} (method={name}).{hint}")
    checks = {
        "learning_rate": lambda v: v > 0,
        "beta": lambda v: v > 0,
        "num_train_epochs": lambda v: v > 0,
        "per_device_train_batch_size": lambda v: v >= 1,
        "max_length": lambda v: v is None or v >= 8,
    }
    for key, ok in checks.items():
        if key in kwargs and kwargs[key] is not None and not ok(kwargs[key]):
            raise ConfigError(f"method.{key}={kwargs[key]} is out of range for method={name}")


def job_kwargs(cfg: dict[str, Any], output_dir: str, device: str, dtype: str) -> tuple[Method, dict[str, Any]]:
    """The method's registry entry and every TRL argument of one job (validated): the method node over the
    shared trainer args, then what the job decides (output dir, seeds, precision, device)."""
    name = cfg["method"]["name"]
    method = get(name)
    kwargs = trl_kwargs(cfg["method"], cfg["trainer"])
    validate(name, kwargs)
    if method.min_batch > kwargs.get("per_device_train_batch_size", 8):
        raise ConfigError(f"method={name} needs per_device_train_batch_size >= {method.min_batch} "
                          f"(got {kwargs.get('per_device_train_batch_size')}): its loss pairs each row with "
                          "another row of the same batch")
    kwargs |= {
        "output_dir": output_dir, "seed": cfg["seed"], "data_seed": cfg["seed"],
        "bf16": dtype == "bfloat16", "fp16": dtype == "float16", "use_cpu": device == "cpu",
        "gradient_checkpointing": bool(cfg["model"].get("gradient_checkpointing")),
        "model_init_kwargs": {"dtype": dtype},
    }
    kwargs.setdefault("disable_tqdm", not sys.stderr.isatty())  # bars in a terminal, not in CI logs
    return method, kwargs


def build_trainer(method: Method, kwargs: dict[str, Any], base_dir: str, rows: list[dict], lora: dict | None,
                  cache_dir: str | Path | None = None):
    """The method's TRL trainer on the base checkpoint path (the trainers load the policy, and a reference
    where the method has one, from that path). With `precompute_ref_log_probs`, the reference log-probs come
    from (or go to) the on-disk cache of harness.refcache, shared by every job on the same base and data."""
    from datasets import Dataset
    from transformers import AutoTokenizer, PrinterCallback

    extra: dict[str, Any] = {}
    if lora:
        from peft import LoraConfig

        extra["peft_config"] = LoraConfig(task_type="CAUSAL_LM", **lora)
    trainer_class = method.trainer_class()
    if kwargs.get("precompute_ref_log_probs") and hasattr(trainer_class, "_precompute_ref_logps"):
        from harness import models, refcache

        trainer_class = refcache.with_ref_cache(trainer_class)
        root = cache_dir or os.environ.get("APB_CACHE_DIR", ".cache")  # conf/config.yaml's paths.cache_dir
        extra |= {"ref_cache_dir": Path(root) / "refcache", "base_key": models.base_key(base_dir)}
    trainer = trainer_class(
        model=str(base_dir), args=method.config_class()(**kwargs), train_dataset=Dataset.from_list(rows),
        processing_class=AutoTokenizer.from_pretrained(base_dir), **extra,
    )
    trainer.remove_callback(PrinterCallback)  # log dicts would flood CI logs; the row keeps the curve
    return trainer


def _load(spec: str) -> type:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


if __name__ == "__main__":
    for n, m in sorted(REGISTRY.items()):
        print(f"{n:6s} {m.trainer:45s} view={m.view:9s} ref_forwards={m.ref_forwards}")

"""The method registry: a method name maps to (TRL config class, TRL trainer class, data view), the facts the
FLOP estimate needs, and where the objective comes from (its family and paper). Adding a method is a registry
entry and a yaml file (conf/method/<name>.yaml, which picks the loss and its knobs), never new code paths.

    python -m harness.methods        # table of registered methods grouped by family: name, family, TRL trainer,
                                     # loss_type (from the method's yaml), paper
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import os
import sys
from dataclasses import KW_ONLY, dataclass
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
    _: KW_ONLY
    family: str  # one of FAMILIES: what the objective compares and whether it needs a frozen reference
    paper: str  # short citation with an arXiv id or URL

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family {self.family!r} is not one of {FAMILIES}")

    def config_class(self) -> type:
        return _load(self.config)

    def trainer_class(self) -> type:
        return _load(self.trainer)


FAMILIES = ("sft", "reference-based pairwise", "reference-free pairwise", "unpaired")

REGISTRY: dict[str, Method] = {}


def register(name: str, method: Method) -> None:
    REGISTRY[name] = method


_DPO = ("trl:DPOConfig", "trl:DPOTrainer", "pairwise")  # every DPOTrainer loss_type: pairs, one reference forward
_CPO = ("trl.experimental.cpo:CPOConfig", "trl.experimental.cpo:CPOTrainer", "pairwise")
_KTO = ("trl:KTOConfig", "trl:KTOTrainer", "unpaired")
REF, FREE = "reference-based pairwise", "reference-free pairwise"

register("sft", Method("trl:SFTConfig", "trl:SFTTrainer", "sft", ref_forwards=0, family="sft",
                       paper="Ouyang et al. 2022 (SFT stage), arXiv:2203.02155"))
register("dpo", Method(*_DPO, ref_forwards=1, family=REF, paper="Rafailov et al. 2023, arXiv:2305.18290"))
register("ipo", Method(*_DPO, ref_forwards=1, family=REF, paper="Azar et al. 2023, arXiv:2310.12036"))
register("cpo", Method(*_CPO, ref_forwards=0, family=FREE, paper="Xu et al. 2024, arXiv:2401.08417"))
register("simpo", Method(*_CPO, ref_forwards=0, family=FREE, paper="Meng et al. 2024, arXiv:2405.14734"))
register("orpo", Method("trl.experimental.orpo:ORPOConfig", "trl.experimental.orpo:ORPOTrainer", "pairwise",
                        ref_forwards=0, family=FREE, paper="Hong et al. 2024, arXiv:2403.07691"))
register("kto", Method(*_KTO, ref_forwards=1, kl_batch=True, min_batch=2, family="unpaired",
                       paper="Ethayarajh et al. 2024, arXiv:2402.01306"))

# The zoo: the other objectives TRL 1.16 ships for offline preference data. Each is a loss_type (plus knobs) of a
# trainer above, chosen in its yaml.
register("slic", Method(*_DPO, ref_forwards=1, family=REF, paper="Zhao et al. 2023 (SLiC-HF), arXiv:2305.10425"))
register("exo", Method(*_DPO, ref_forwards=1, family=REF, paper="Ji et al. 2024 (EXO), arXiv:2402.00856"))
register("nca", Method(*_DPO, ref_forwards=1, family=REF, paper="Chen et al. 2024 (NCA), arXiv:2402.05369"))
register("rdpo", Method(*_DPO, ref_forwards=1, family=REF,
                        paper="Chowdhury et al. 2024 (robust DPO), arXiv:2403.00409"))
register("bco", Method(*_DPO, ref_forwards=1, family=REF, paper="Jung et al. 2024 (BCO), arXiv:2404.04656"))
register("sppo", Method(*_DPO, ref_forwards=1, family=REF, paper="Wu et al. 2024 (SPPO), arXiv:2405.00675"))
register("aot", Method(*_DPO, ref_forwards=1, family=REF, paper="Melnyk et al. 2024 (AOT), arXiv:2406.05882"))
register("aot_unpaired", Method(*_DPO, ref_forwards=1, family=REF,
                                paper="Melnyk et al. 2024 (AOT, unpaired), arXiv:2406.05882"))
register("apo_zero", Method(*_DPO, ref_forwards=1, family=REF,
                            paper="D'Oosterlinck et al. 2024 (APO), arXiv:2408.06266"))
register("apo_down", Method(*_DPO, ref_forwards=1, family=REF,
                            paper="D'Oosterlinck et al. 2024 (APO), arXiv:2408.06266"))
register("discopop", Method(*_DPO, ref_forwards=1, family=REF,
                            paper="Chris Lu et al. 2024 (DiscoPOP), arXiv:2406.08414"))
register("dpo_norm", Method(*_DPO, ref_forwards=1, family=REF,
                            paper="length-normalised DPO (TRL sigmoid_norm); Rafailov et al. 2023, arXiv:2305.18290"))
register("rpo", Method(*_DPO, ref_forwards=1, family=REF, paper="Pang et al. 2024 (RPO), arXiv:2404.19733"))
register("wpo", Method(*_DPO, ref_forwards=1, family=REF, paper="Zhou et al. 2024 (WPO), arXiv:2406.11827"))
register("ld_dpo", Method(*_DPO, ref_forwards=1, family=REF, paper="Liu et al. 2024 (LD-DPO), arXiv:2409.06411"))
register("fdpo_js", Method(*_DPO, ref_forwards=1, family=REF, paper="Wang et al. 2023 (f-DPO), arXiv:2309.16240"))
# apo_zero_unpaired has no KL term: TRL's KTOTrainer sets calculate_KL=False for it (no mismatched KL batch is
# built or forwarded), so neither the KL FLOPs nor KTO's batch-of-2 minimum apply.
register("kto_apo", Method(*_KTO, ref_forwards=1, kl_batch=False, min_batch=1, family="unpaired",
                           paper="D'Oosterlinck et al. 2024 (APO, unpaired), arXiv:2408.06266"))
register("cpo_hinge", Method(*_CPO, ref_forwards=0, family=FREE,
                             paper="Xu et al. 2024, arXiv:2401.08417 + SLiC hinge, arXiv:2305.10425"))
register("cpo_ipo", Method(*_CPO, ref_forwards=0, family=FREE,
                           paper="Xu et al. 2024, arXiv:2401.08417 + IPO loss, arXiv:2310.12036"))
register("alphapo", Method(*_CPO, ref_forwards=0, family=FREE, paper="Gupta et al. 2025 (AlphaPO), arXiv:2501.03884"))

HARNESS_KEYS = {"name", "tuning"}  # keys of the method node that are ours, not TRL arguments (tuning: the
                                   # search evidence conf/tuned/<method>.yaml adds; harness.tune)


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
    hardware's trainer args over the shared trainer args, then what the job decides (output dir, seeds,
    precision, device, attention kernel)."""
    name = cfg["method"]["name"]
    method = get(name)
    hardware = cfg.get("hardware") or {}
    kwargs = trl_kwargs(cfg["method"], {**cfg["trainer"], **hardware_args(method, hardware)})
    validate(name, kwargs)
    if method.min_batch > kwargs.get("per_device_train_batch_size", 8):
        raise ConfigError(f"method={name} needs per_device_train_batch_size >= {method.min_batch} "
                          f"(got {kwargs.get('per_device_train_batch_size')}): its loss pairs each row with "
                          "another row of the same batch")
    kwargs |= {
        "output_dir": output_dir, "seed": cfg["seed"], "data_seed": cfg["seed"],
        "bf16": dtype == "bfloat16", "fp16": dtype == "float16", "use_cpu": device == "cpu",
        # transformers >= 5.2 names it activation_checkpointing (the old name is a deprecated alias that warns)
        "activation_checkpointing": bool(cfg["model"].get("gradient_checkpointing")),
        "model_init_kwargs": {"dtype": dtype, **({"attn_implementation": hardware["attn_implementation"]}
                                                 if hardware.get("attn_implementation") else {})},
    }
    kwargs.setdefault("disable_tqdm", not sys.stderr.isatty())  # bars in a terminal, not in CI logs
    return method, kwargs


def hardware_args(method: Method, hardware: dict[str, Any]) -> dict[str, Any]:
    """hardware.trainer: TRL arguments a device adds to every method whose config class has the field (so
    `padding_free` reaches SFTConfig and DPOConfig but not KTOConfig); the method's own yaml and
    method.<field>= overrides still win."""
    fields = {f.name for f in dataclasses.fields(method.config_class())}
    return {k: v for k, v in (hardware.get("trainer") or {}).items() if k in fields}


def build_trainer(method: Method, kwargs: dict[str, Any], base_dir: str, rows: list[dict], lora: dict | None,
                  cache_dir: str | Path | None = None, length_bucket: int | None = None):
    """The method's TRL trainer on the base checkpoint path (the trainers load the policy, and a reference
    where the method has one, from that path). With `precompute_ref_log_probs`, the reference log-probs come
    from (or go to) the on-disk cache of harness.refcache, shared by every job on the same base and data.
    With `length_bucket` (conf/config.yaml's batching.length_bucket), batches are length-bucketed
    (harness.batching)."""
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
    from harness import prepcache

    trainer_class = prepcache.with_prep_cache(trainer_class)  # the tokenized rows of an earlier job of this process
    if length_bucket:
        from harness import batching

        trainer_class = batching.with_buckets(trainer_class)
        extra["length_bucket"] = length_bucket
    trainer = trainer_class(
        model=str(base_dir), args=method.config_class()(**kwargs), train_dataset=Dataset.from_list(rows),
        processing_class=AutoTokenizer.from_pretrained(base_dir), **extra,
    )
    trainer.remove_callback(PrinterCallback)  # log dicts would flood CI logs; the row keeps the curve
    return trainer


def _load(spec: str) -> type:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


METHOD_CONF = Path(__file__).resolve().parents[1] / "conf" / "method"


def loss_type(name: str) -> str:
    """The loss_type the method's yaml sets ("+"-joined when it combines several), or "-" (the trainer's only loss)."""
    from omegaconf import OmegaConf

    path = METHOD_CONF / f"{name}.yaml"
    value = OmegaConf.to_container(OmegaConf.load(path)).get("loss_type") if path.exists() else None
    if value is None:
        return "-"
    return "+".join(map(str, value)) if isinstance(value, list) else str(value)


def table() -> str:
    """The registry as a text table, grouped by family (FAMILIES order), names sorted within a family."""
    rows = [(n, m.family, m.trainer.rpartition(":")[2], loss_type(n), m.paper)
            for fam in FAMILIES for n, m in sorted(REGISTRY.items()) if m.family == fam]
    head = ("name", "family", "TRL trainer", "loss_type", "paper")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    lines, last = [], None
    for i, row in enumerate([head, *rows]):
        if i and row[1] != last:
            lines.append("")
            last = row[1]
        lines.append("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
    return "\n".join(lines) + f"\n\n{len(rows)} methods"


if __name__ == "__main__":
    print(table())

"""A harness job written as a plain TRL script, the way TRL's examples (trl/scripts/dpo.py, sft.py, kto.py) are:
TrlParser over (ScriptArguments, <Trainer>Config, ModelConfig), load_dataset, the trainer, train. The benches
(bench/harness_vs_plain.py, bench/gpu.py) run it beside `python -m harness.train` with the same base, rows,
TRL arguments and seed, to measure what the harness adds.

    python bench/plain_trl.py --trainer dpo --config plain.yaml --result_json out.json
    # plain.yaml: model_name_or_path, dataset_name (a jsonl of the trainer's view), the config class's fields.
    # --trainer: sft | dpo (IPO and the other DPO losses: loss_type in the yaml) | cpo | kto
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from datasets import load_dataset
from transformers import AutoTokenizer
from trl import ModelConfig, ScriptArguments, TrlParser

# --trainer -> (module, config class, trainer class); only the one asked for is imported
TRAINERS = {"sft": ("trl", "SFTConfig", "SFTTrainer"), "dpo": ("trl", "DPOConfig", "DPOTrainer"),
            "cpo": ("trl.experimental.cpo", "CPOConfig", "CPOTrainer"), "kto": ("trl", "KTOConfig", "KTOTrainer")}


def classes(name: str) -> tuple[type, type]:
    module, config, trainer = TRAINERS[name]
    mod = importlib.import_module(module)
    return getattr(mod, config), getattr(mod, trainer)


@dataclass
class BenchArguments(ScriptArguments):
    trainer: str = field(default="dpo", metadata={"help": f"which TRL trainer: {', '.join(TRAINERS)}"})
    result_json: str = field(default="plain.json", metadata={"help": "where to write timings and the loss curve"})


def main(script_args: BenchArguments, training_args, model_args: ModelConfig) -> None:
    t0 = time.perf_counter()
    dataset = load_dataset("json", data_files={"train": script_args.dataset_name})
    tokenizer = AutoTokenizer.from_pretrained(model_args.model_name_or_path)
    trainer_class = classes(script_args.trainer)[1]
    trainer = trainer_class(model=model_args.model_name_or_path, args=training_args,
                            train_dataset=dataset[script_args.dataset_train_split], processing_class=tokenizer)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    trainer.train()
    train = time.perf_counter() - t0
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    # no save_model: the harness saves no checkpoint either (save_strategy "no")
    Path(script_args.result_json).write_text(json.dumps({
        "setup_seconds": setup, "train_seconds": train, "loss_values": losses, "epoch": trainer.state.epoch,
        "optimizer_steps": trainer.state.global_step, **peak_memory()}))


def peak_memory() -> dict:
    """The process's peak memory: CUDA's allocator peak, or the resident-set high-water mark on CPU."""
    if torch.cuda.is_available():
        return {"peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20, "memory_kind": "cuda_max_allocated"}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return {"peak_memory_mb": int(line.split()[1]) / 1024, "memory_kind": "rss_hwm"}
    return {"peak_memory_mb": None, "memory_kind": None}


if __name__ == "__main__":
    which = argparse.ArgumentParser(add_help=False)
    which.add_argument("--trainer", default="dpo", choices=sorted(TRAINERS))
    name = which.parse_known_args(sys.argv[1:])[0].trainer
    parser = TrlParser((BenchArguments, classes(name)[0], ModelConfig))
    main(*parser.parse_args_and_config())

"""The harness's default DPO job written as a plain TRL script, the way TRL's examples (trl/scripts/dpo.py) are:
TrlParser over (ScriptArguments, DPOConfig, ModelConfig), load_dataset, DPOTrainer, train. bench/harness_vs_plain.py runs
it beside `python -m harness.train` to measure what the harness adds.

    python bench/plain_dpo.py --config plain.yaml --result_json out.json
    # plain.yaml: model_name_or_path, dataset_name (a jsonl of prompt/chosen/rejected), DPOConfig fields
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from datasets import load_dataset
from trl import DPOConfig, DPOTrainer, ModelConfig, ScriptArguments, TrlParser


@dataclass
class BenchArguments(ScriptArguments):
    result_json: str = field(default="plain.json", metadata={"help": "where to write timings and the loss curve"})


def main(script_args: BenchArguments, training_args: DPOConfig, model_args: ModelConfig) -> None:
    t0 = time.perf_counter()
    dataset = load_dataset("json", data_files={"train": script_args.dataset_name})
    trainer = DPOTrainer(model=model_args.model_name_or_path, args=training_args,
                         train_dataset=dataset[script_args.dataset_train_split])
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    trainer.train()
    train = time.perf_counter() - t0
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    # no save_model: the harness saves no checkpoint either (save_strategy "no")
    with open(script_args.result_json, "w") as f:
        json.dump({"setup_seconds": setup, "train_seconds": train, "loss_values": losses}, f)


if __name__ == "__main__":
    parser = TrlParser((BenchArguments, DPOConfig, ModelConfig))
    main(*parser.parse_args_and_config())

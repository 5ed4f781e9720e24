"""Loader of the apb_arabic_mc task's rows (lm-evaluation-harness `custom_dataset`): the jsonl beside this file."""

from pathlib import Path

import datasets


def load(**kwargs) -> datasets.DatasetDict:
    path = Path(__file__).with_name("apb_arabic_mc.jsonl")
    return datasets.DatasetDict({"test": datasets.load_dataset("json", data_files=str(path), split="train")})

"""The shipped default measures the methods, not the data's shortcuts: on its exported test split every
trivial control (harness.controls) scores at most 0.60 overall and within each part of 30 or more pairs (and
within each rule category of the minimal pairs); the splits are large and balanced enough; no test item leaks from train.

    .venv/bin/python -m pytest -q tests/test_benchmark_data.py
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from conftest import compose_cfg
from harness import controls
from harness import data as datalib
from harness.data import export


@pytest.fixture(scope="module")
def default():
    from omegaconf import OmegaConf

    return datalib.load(OmegaConf.to_container(compose_cfg([], shrink=False).data, resolve=True))


def groups(rows: list[dict]) -> dict[str, np.ndarray]:
    part = np.array([r["part"] for r in rows])
    cat = np.array([f'{r["part"]}/{r.get("category") or r.get("domain")}' for r in rows])
    out = {"all": np.ones(len(rows), bool)}
    out |= {p: part == p for p in set(part)}
    out |= {c: cat == c for c in set(cat)}
    return out


def test_sizes_and_every_part_and_category_has_30_test_pairs(default):
    assert default.name == "arabic_pairs"
    assert len(default.splits["test"]) >= 1000 and len(default.splits["val"]) >= 600
    for label, mask in groups(default.splits["test"]).items():
        assert mask.sum() >= 30, f"{label}: {mask.sum()} test pairs"


def test_every_control_is_at_most_060_on_the_exported_test_split(default, tmp_path):
    out = tmp_path / "test.jsonl"
    overrides = []
    assert export.main(["--split", "test", "--out", str(out), *overrides]) == 0
    test = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(test) == len(default.splits["test"]) and Counter(r["part"] for r in test).keys() == {"minimal", "helpful"}
    scores = controls.score_controls(default.train, test)
    assert set(scores) == {"longer", "shorter", "more_arabic", "fewer_latin", "bag_of_words"}
    part = np.array([r["part"] for r in test])
    for name, s in scores.items():
        s = np.asarray(s)
        for label, mask in [("all", np.ones(len(test), bool))] + [(p, part == p) for p in set(part)]:
            if mask.sum() >= 30:
                assert s[mask].mean() <= 0.60, f"control {name} scores {s[mask].mean():.3f} on {label}"
    minimal = part == "minimal"  # the rule categories: every control at chance within each (by construction)
    cats = np.array([r.get("category") or r.get("domain") for r in test])
    for name, s in scores.items():
        for c in set(cats[minimal]):
            mask = minimal & (cats == c)
            assert np.asarray(s)[mask].mean() <= 0.60, f"control {name} on minimal/{c}"


def test_no_test_prompt_or_answer_is_in_train(default):
    train = {(r["prompt"]) for r in default.train} | {r["chosen"] for r in default.train}
    leaks = [r["id"] for r in default.splits["test"] if r["prompt"] in train]
    assert not leaks, leaks[:5]

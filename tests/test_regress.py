"""The regression check on hand-made runs directories: plumbing tests, so the rows are fakes written with
the real schema (harness.results.write_row); nothing here is trained or reported.

    pytest tests/test_regress.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness import regress
from harness.results import write_row

SEEDS = (0, 1, 2)
# Well separated quality (pairs ordered significantly and by more than min_effect) and throughput
# (dpo/ipo within a 1.5x gap of each other, so their timing ordering is never checked).
QUALITY = {"dpo": 0.70, "ipo": 0.64, "cpo": 0.58, "kto": 0.52, "sft": 0.46}
SPEED = {"sft": 120.0, "cpo": 100.0, "dpo": 60.0, "ipo": 55.0, "kto": 30.0}
JITTER = (-0.004, 0.0, 0.004)  # per seed: the seeds of one method agree closely


PAIRS = 400
DIFFICULTY = np.random.default_rng(0).random(PAIRS)  # pair p is won when its difficulty < the accuracy
BASE_ACCURACY = 0.4
STEPS = list(range(5, 55, 5))


def loss_curve(method: str, seed: int, scale: float = 1.0) -> list[float]:
    return [scale * (0.693 - 0.002 * step * (1 + len(method) / 10) + 0.001 * seed) for step in STEPS]


def rows(quality: dict[str, float] = QUALITY, speed: dict[str, float] = SPEED, fingerprint: str = "fp-a",
         noise: float = 0.0, jitter: tuple[float, ...] = JITTER, loss_scale: dict[str, float] | None = None) -> list[dict]:
    out = []
    for m in QUALITY:
        for i, s in enumerate(SEEDS):
            q = quality[m] + jitter[i] + noise * ((i * 7 + len(m)) % 3 - 1)
            scores = (DIFFICULTY < q).astype(float)
            out.append({
                "test_pair_scores": scores.tolist(), "base_test_pair_scores": (DIFFICULTY < BASE_ACCURACY).astype(float).tolist(),
                "loss_steps": STEPS, "loss_values": loss_curve(m, s, (loss_scale or {}).get(m, 1.0)),
                "run_id": f"{m}-{s}", "sweep": "ci", "method": m, "seed": s, "status": "ok", "model": "tiny-qwen3",
                "model_weights": "pretrained", "dataset": "arabic_mix", "dataset_fingerprint": fingerprint,
                "device": "cpu", "finished_at": f"2026-01-01T00:00:{len(out):02d}+00:00",
                "config_json": json.dumps({"method": {"name": m}, "seed": s}), "learning_rate": 1e-3, "beta": 0.1,
                "torch_version": "2.13.0", "transformers_version": "5.0.0", "trl_version": "1.16.0",
                "pref_accuracy": scores.mean(), "exact_match": q / 2, "pref_accuracy_gain": scores.mean() - BASE_ACCURACY,
                "train_flops": 1e11 * (2 if m == "kto" else 1), "samples_per_second": speed[m] * (1 + JITTER[i]),
            })
    return out


def write_dir(path: Path, row_list: list[dict]) -> Path:
    for r in row_list:
        write_row(r, path)
    return path


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    out = tmp_path / "baseline" / "rankings.json"
    assert regress.main([str(write_dir(tmp_path / "base_runs", rows())), "--write-baseline", str(out)]) == 0
    return out


def check(runs: Path, baseline: Path) -> int:
    return regress.main([str(runs), "--baseline", str(baseline)])


def test_baseline_holds_ranks_intervals_config_and_versions(baseline: Path):
    base = json.loads(baseline.read_text())
    acc = base["metrics"]["pref_accuracy"]["methods"]
    assert acc["dpo"]["rank"] == "1" and acc["sft"]["rank"] == "5"
    assert acc["dpo"]["n"] == 3 and acc["dpo"]["lo"] <= acc["dpo"]["mean"] <= acc["dpo"]["hi"]
    assert base["metrics"]["pref_accuracy"]["pairs"]["dpo|sft"]["significant"]
    assert set(base["metrics"]) >= {"pref_accuracy", "samples_per_second", "quality_per_compute"}
    dpo = base["per_method"]["dpo"]
    assert dpo["gain"]["learned"] and dpo["gain"]["lo"] > 0 and 0 < dpo["pref_accuracy"]["tolerance"] < 0.1
    assert dpo["trajectory"]["0"]["steps"] == STEPS
    assert base["config"]["dataset_fingerprint"] == "fp-a" and base["versions"]["trl"] == ["1.16.0"]
    assert base["metrics"]["samples_per_second"]["methods"]["sft"]["mean"] == pytest.approx(1.0)


def test_same_runs_pass(tmp_path: Path, baseline: Path, capsys):
    assert check(tmp_path / "base_runs", baseline) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("PASS")


def test_small_noise_passes(tmp_path: Path, baseline: Path, capsys):
    assert check(write_dir(tmp_path / "new", rows(noise=0.003)), baseline) == 0
    assert "FLIP" not in capsys.readouterr().out


def test_swapped_quality_fails(tmp_path: Path, baseline: Path, capsys):
    swapped = QUALITY | {"dpo": QUALITY["sft"], "sft": QUALITY["dpo"]}
    assert check(write_dir(tmp_path / "new", rows(quality=swapped)), baseline) == 1
    out = capsys.readouterr().out
    flip = next(line for line in out.splitlines() if line.startswith("pref_accuracy ") and "dpo-sft" in line)
    assert "dpo > sft" in flip and "sft > dpo" in flip and flip.rstrip().endswith("FLIP")
    assert out.strip().splitlines()[-1].startswith("FAIL")


def test_quality_outside_tolerance_fails_without_a_flip(tmp_path: Path, baseline: Path, capsys):
    shifted = {m: q + 0.1 for m, q in QUALITY.items()}  # same order, every mean 0.1 higher
    assert check(write_dir(tmp_path / "new", rows(quality=shifted)), baseline) == 1
    out = capsys.readouterr().out
    assert "MOVED" in out and "5 means outside tolerance" in out and "0 training trajectories changed" in out
    moved = next(line for line in out.splitlines() if "dpo mean" in line)
    assert "+0.1" in moved and "reseeding 95%" in moved


def test_mean_tolerance_comes_from_the_baseline_seed_spread(tmp_path: Path):
    def tolerance(jitter):
        out = tmp_path / f"{jitter[0]}.json"
        regress.main([str(write_dir(tmp_path / f"runs{jitter[0]}", rows(jitter=jitter))), "--write-baseline", str(out)])
        return json.loads(out.read_text())["per_method"]["dpo"]["pref_accuracy"]["tolerance"]

    assert tolerance((-0.03, 0.0, 0.03)) > 3 * tolerance((-0.004, 0.0, 0.004))


def test_a_method_that_stops_learning_fails_by_name(tmp_path: Path, baseline: Path, capsys):
    """kto drops to the base's accuracy: the learning check names it (beside the orderings it now loses)."""
    assert check(write_dir(tmp_path / "new", rows(quality=QUALITY | {"kto": BASE_ACCURACY})), baseline) == 1
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if "kto learning" in l)
    assert "NOT LEARNED" in line and "gain +0.1" in line
    failed = out.strip().splitlines()[-2]
    assert failed.startswith("failed methods: kto (") and "learning, mean)" in failed


def test_a_changed_training_trajectory_fails_by_name(tmp_path: Path, baseline: Path, capsys):
    """dpo's first losses 5% higher (a changed objective or hyper-parameter), its held-out scores unchanged."""
    assert check(write_dir(tmp_path / "new", rows(loss_scale={"dpo": 1.05})), baseline) == 1
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if "dpo trajectory" in l)
    assert "CHANGED" in line and "+5.0%" in line and "seed" in line and "step" in line
    assert out.strip().splitlines()[-2] == "failed methods: dpo (trajectory)"
    assert "CHANGED" not in "".join(l for l in out.splitlines() if "sft trajectory" in l)


def test_within_noise_is_shown_as_tilde(tmp_path: Path, capsys):
    close = QUALITY | {"ipo": QUALITY["dpo"] + 0.001}  # dpo and ipo within noise of each other
    out_file = tmp_path / "rankings.json"
    regress.main([str(write_dir(tmp_path / "base", rows(quality=close))), "--write-baseline", str(out_file)])
    capsys.readouterr()
    assert check(tmp_path / "base", out_file) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("pref_accuracy ") and "ipo-dpo" in l)
    assert "ipo ~ dpo" in line and line.split()[-1] == "~"  # named by mean, marked as noise


def test_missing_baseline_is_a_clear_error(tmp_path: Path, capsys):
    assert check(write_dir(tmp_path / "new", rows()), tmp_path / "nope.json") == 2
    err = capsys.readouterr().err
    assert "nope.json not found" in err and "make baseline" in err


def test_other_dataset_is_a_clear_error(tmp_path: Path, baseline: Path, capsys):
    assert check(write_dir(tmp_path / "new", rows(fingerprint="fp-b")), baseline) == 2
    err = capsys.readouterr().err
    assert "dataset_fingerprint=fp-a" in err and "fp-b" in err and "make baseline" in err


def test_slower_machine_passes_timing_as_ratios(tmp_path: Path, baseline: Path, capsys):
    slow = {m: v / 3 for m, v in SPEED.items()}  # every job 3x slower: the ratios to sft are unchanged
    assert check(write_dir(tmp_path / "new", rows(speed=slow)), baseline) == 0


def test_timing_flip_fails_only_on_a_large_baseline_gap(tmp_path: Path, baseline: Path, capsys):
    flipped = SPEED | {"kto": 110.0, "ipo": 65.0}  # kto overtakes dpo (2x gap); ipo overtakes dpo (1.09x gap)
    assert check(write_dir(tmp_path / "new", rows(speed=flipped)), baseline) == 1
    lines = capsys.readouterr().out.splitlines()
    timing = {l.split()[1]: l for l in lines if l.startswith("samples_per_second/sft")}
    assert timing["dpo-kto"].rstrip().endswith("FLIP")
    assert "skip (gap" in timing["dpo-ipo"]


def test_stale_rows_are_replaced_by_the_newest(tmp_path: Path, baseline: Path):
    runs = write_dir(tmp_path / "new", rows())
    stale = [r | {"run_id": "old-" + r["run_id"], "finished_at": "2025-01-01T00:00:00+00:00",
                  "pref_accuracy": 1 - r["pref_accuracy"]} for r in rows()]
    assert check(write_dir(runs, stale), baseline) == 0


def test_a_method_without_ok_rows_fails(tmp_path: Path, baseline: Path, capsys):
    failed = [r | {"status": "failed"} if r["method"] == "kto" else r for r in rows()]
    assert check(write_dir(tmp_path / "new", failed), baseline) == 1
    assert any(l.split()[:2] == ["all", "kto"] and "MISSING" in l for l in capsys.readouterr().out.splitlines())


def test_config_note_names_what_differs_and_is_silent_otherwise(tmp_path: Path, baseline: Path, capsys):
    assert check(write_dir(tmp_path / "same", rows()), baseline) == 0
    assert "config differs" not in capsys.readouterr().out
    changed = rows()
    for r in changed:
        if r["method"] == "dpo":
            r["config_json"] = json.dumps({"method": {"name": "dpo", "learning_rate": 3e-3}, "seed": r["seed"]})
    check(write_dir(tmp_path / "changed", changed), baseline)
    notes = [line for line in capsys.readouterr().out.splitlines() if "config differs" in line]
    assert notes == ["note: dpo's config differs from the baseline's: method.learning_rate <absent> -> 0.003"]

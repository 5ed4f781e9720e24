"""The regression check on hand-made runs directories: plumbing tests, so the rows are fakes written with
the real schema (harness.results.write_row); nothing here is trained or reported.

    pytest tests/test_regress.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import regress
from harness.results import write_row

SEEDS = (0, 1, 2)
# Well separated quality (pairs ordered significantly and by more than min_effect) and throughput
# (dpo/ipo within a 1.5x gap of each other, so their timing ordering is never checked).
QUALITY = {"dpo": 0.70, "ipo": 0.64, "cpo": 0.58, "kto": 0.52, "sft": 0.46}
SPEED = {"sft": 120.0, "cpo": 100.0, "dpo": 60.0, "ipo": 55.0, "kto": 30.0}
JITTER = (-0.004, 0.0, 0.004)  # per seed: the seeds of one method agree closely


def rows(quality: dict[str, float] = QUALITY, speed: dict[str, float] = SPEED, fingerprint: str = "fp-a",
         noise: float = 0.0) -> list[dict]:
    out = []
    for m in QUALITY:
        for i, s in enumerate(SEEDS):
            q = quality[m] + JITTER[i] + noise * ((i * 7 + len(m)) % 3 - 1)
            out.append({
                "run_id": f"{m}-{s}", "sweep": "ci", "method": m, "seed": s, "status": "ok", "model": "tiny-qwen3",
                "model_weights": "pretrained", "dataset": "arabic_mix", "dataset_fingerprint": fingerprint,
                "device": "cpu", "finished_at": f"2026-01-01T00:00:{len(out):02d}+00:00",
                "config_json": json.dumps({"method": {"name": m}, "seed": s}), "learning_rate": 1e-3, "beta": 0.1,
                "torch_version": "2.13.0", "transformers_version": "5.0.0", "trl_version": "1.16.0",
                "pref_accuracy": q, "exact_match": q / 2, "pref_accuracy_gain": q - 0.4,
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
    assert set(base["metrics"]) >= {"pref_accuracy", "exact_match", "samples_per_second", "quality_per_compute"}
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
    assert "MOVED" in out and "0 significant flips" in out


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

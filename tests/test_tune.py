"""Search-then-confirm tuning (harness.tune): the three-way split, the selection rule on hand-made rows, that
selection never reads the test split, and a byte-identical report. The end-to-end pipeline is marked slow.

    .venv/bin/python -m pytest -q tests/test_tune.py -m "not slow"
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from conftest import compose_cfg, run_cli
from harness import data as datalib
from harness import results, tune
from harness.report import tune as tune_report

GRID = {"dpo": [(b, lr) for b in (0.01, 0.1, 0.5) for lr in (3e-4, 1e-3)], "kto": [(b, lr) for b in (0.1, 0.5) for lr in (2e-3, 5e-3)]}


def make_row(method: str, seed: int, beta: float, lr: float, val: float, test: float, sweep: str = "tune",
             status: str = "ok", val_nll: float = 1.0) -> dict:
    """A row as harness.train writes it, with only the fields selection and the report read."""
    hp = {"beta": beta, "learning_rate": lr, "num_train_epochs": 1}
    cfg = {"method": {"name": method, **hp}, "data": {"name": "arabic_mix"}, "seed": seed, "sweep_name": sweep,
           "paths": {"runs_dir": "x"}, "force": False}
    rid = hashlib.sha256(json.dumps([sweep, method, seed, beta, lr]).encode()).hexdigest()[:16]
    return {"run_id": rid, "sweep": sweep, "method": method, "seed": seed, "status": status, "beta": beta,
            "learning_rate": lr, "hparams_json": json.dumps(hp, sort_keys=True), "config_json": json.dumps(cfg),
            "overrides": f"sweep=tune/{method} method={method} ++method.beta={beta} ++method.learning_rate={lr} seed={seed}",
            "val_pref_accuracy": val, "pref_accuracy": test, "val_exact_match": 1 - val, "exact_match": test / 2,
            "val_chosen_nll": val_nll, "chosen_nll": 2.0, "train_seconds": 10.0 + seed, "train_tokens": 1000,
            "train_flops": 1e12, "started_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:00:20+00:00"}


def write_search(runs: Path) -> None:
    """DPO is best on validation at beta=0.1, lr=1e-3 and KTO at beta=0.5, lr=2e-3; the test metric is
    made to disagree everywhere (its best is elsewhere) so any leak of it into selection shows."""
    for m, points in GRID.items():
        for i, (b, lr) in enumerate(points):
            best = (m, b, lr) in {("dpo", 0.1, 1e-3), ("kto", 0.5, 2e-3)}
            val = 0.8 if best else 0.5 + 0.01 * i
            results.write_row(make_row(m, 0, b, lr, val, test=1.0 - val), runs / "tune")
    results.write_row(make_row("dpo", 0, 0.5, 3e-3, val=0.99, test=0.99, status="failed"), runs / "tune")


def test_three_way_split_shares_no_prompt():
    for overrides in ([], ["data.parts=[verifiable]"]):
        cfg = datalib.as_dict(compose_cfg(overrides, shrink=False).data)
        if "curated" in cfg["parts"] and not (Path(datalib.__file__).parent / "curated.jsonl").exists():
            pytest.skip("harness/data/curated.jsonl is absent from this checkout")
        canonical = datalib.load(cfg)
        prompts = {s: {datalib.prompt_key(r) for r in canonical.splits[s]} for s in datalib.SPLITS}
        templates = {s: {r["template"] for r in canonical.splits[s] if "template" in r} for s in datalib.SPLITS}
        assert all(prompts[s] for s in datalib.SPLITS)
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            assert not prompts[a] & prompts[b], (a, b)
            assert not templates[a] & templates[b], (a, b)


def test_selection_picks_best_validation_point(tmp_path):
    write_search(tmp_path)
    chosen = tune.selections(tmp_path, "val_pref_accuracy")
    assert chosen["dpo"].hparams == {"beta": 0.1, "learning_rate": 1e-3}  # the failed 0.99 row is ignored
    assert chosen["kto"].hparams == {"beta": 0.5, "learning_rate": 2e-3}
    assert chosen["dpo"].n_points == 6 and chosen["dpo"].score == 0.8
    assert "++method.beta=0.1" in chosen["dpo"].overrides and not any(o.startswith("seed=") for o in chosen["dpo"].overrides)
    alt = tune.selections(tmp_path, "val_exact_match")  # 1 - val: the worst pref-accuracy point wins
    assert alt["dpo"].hparams == {"beta": 0.01, "learning_rate": 3e-4}


def test_selection_tie_breaks_on_validation_nll(tmp_path):
    for b, nll in ((0.01, 2.0), (0.1, 1.0), (0.5, 3.0)):
        results.write_row(make_row("ipo", 0, b, 1e-3, val=0.7, test=0.1, val_nll=nll), tmp_path / "tune")
    assert tune.selections(tmp_path, "val_pref_accuracy")["ipo"].hparams["beta"] == 0.1


def test_selection_refuses_test_columns(tmp_path):
    write_search(tmp_path)
    df = results.load_runs(tmp_path / "tune")
    with pytest.raises(ValueError):
        tune.select(df, "val_pref_accuracy")                               # test columns not dropped
    with pytest.raises(ValueError):
        tune.select(tune.selection_view(df), "pref_accuracy")              # a test metric as the criterion
    assert not [c for c in tune.selection_view(df).columns if c in tune.QUALITY or c.startswith(("base_", "pref_", "exact_"))]


LISTS = {f.name for f in results.SCHEMA if pa.types.is_list(f.type)}


def test_selection_ignores_the_test_split(tmp_path):
    """Corrupt every test-split column of a copy of the runs directory: the selections do not change."""
    write_search(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    test_cols = [c for c in results.COLUMNS if c in tune.QUALITY or c.startswith("base_") or c.endswith("_gain")]
    for i, f in enumerate(results.run_files(tmp_path / "b")):
        row = results.read_row(f)
        row |= {c: (float("nan") if i % 2 else 1e9 * (-1) ** i) for c in test_cols if c not in LISTS}  # lists: below
        row |= {c: [float(i % 2)] * 4 for c in ("test_pair_scores", "base_test_pair_scores", "judge_rewards",
                                                "base_judge_rewards")}
        results.write_row(row, f.parent)
    for by in ("val_pref_accuracy", "val_exact_match"):
        assert tune.selections(tmp_path / "a", by) == tune.selections(tmp_path / "b", by)


def test_report_is_byte_identical_and_complete(tmp_path):
    write_search(tmp_path)
    for m, (b, lr) in (("dpo", (0.1, 1e-3)), ("kto", (0.5, 2e-3))):
        for s in range(5):
            results.write_row(make_row(m, s, b, lr, 0.8, 0.6 + 0.02 * s + (0.1 if m == "kto" else 0), "tune_confirm"),
                              tmp_path / "tune_confirm")
        results.write_row(make_row(m, 0, 9.0, 9.0, 0.8, 0.0, "tune_confirm"), tmp_path / "tune_confirm")  # stale
    outs = [tune_report.render(tmp_path, tmp_path / f"r{i}") for i in (1, 2)]
    text = outs[0].read_text(encoding="utf-8")
    assert text == outs[1].read_text(encoding="utf-8")
    for name in ("heatmap_dpo.png", "heatmap_kto.png"):
        assert (tmp_path / "r1" / name).read_bytes() == (tmp_path / "r2" / name).read_bytes()
    for heading in ("Tuned ranking", "Selected hyperparameters", "Sensitivity", "Cost beside quality", "heatmap_dpo.png"):
        assert heading in text
    assert "| 1 | kto | 0.74 [" in text and "Stage 2 (sweep `tune_confirm`): 10 rows" in text


@pytest.mark.slow
def test_tune_end_to_end(tmp_path, cache_dir):
    """Both stages on a 2-point grid, two methods, two confirm seeds, verifiable data only."""
    runs = tmp_path / "runs"
    proc = run_cli("harness.tune", ["run", str(runs), "--methods", "dpo,cpo", "--seeds", "0,1", "--out", str(tmp_path / "rep"),
                                    "--grid", "method.learning_rate=1e-3,3e-3", "--grid", "method.beta=0.1", "--",
                                    "data.parts=[verifiable]", "data.max_train_pairs=32", "data.max_val_pairs=16",
                                    "data.max_test_pairs=16", "eval.max_em_questions=8", "eval.kl_prompts=8",
                                    "infer.min_runs=2", "infer.min_seconds=0", "model.pretrain.epochs=2"],
                   runs, cache_dir, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    chosen = tune.selections(runs, "val_pref_accuracy")
    confirm = results.load_runs(runs / "tune_confirm")
    for m, s in chosen.items():
        rows = tune_report.confirm_rows(confirm, s)
        assert sorted(rows["seed"]) == [0, 1]
        assert s.run_id in set(rows["run_id"])  # seed 0 of stage 2 is the very configuration selected
    assert (tmp_path / "rep" / "heatmap_dpo.png").exists()

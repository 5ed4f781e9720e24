"""The validation search (harness.tune) and its generated settings (conf/tuned/): the three-way split, selection
on the mean over seeds from validation columns only, edge widening and the neighbour check on made-up scores, the
tuned files' data fingerprint against today's default data, their composition into every method config, and the
whole search end to end on a shrunken protocol (slow).

    .venv/bin/python -m pytest -q tests/test_tune.py -m "not slow"
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import compose_cfg, run_cli
from harness import data as datalib
from harness import tune
from harness.report import settings
from harness.report import tune as tune_report

PROTO = tune.protocol()


def test_three_way_split_shares_no_prompt():
    for overrides in ([], ["data.parts=[verifiable]"]):
        canonical = datalib.load(datalib.as_dict(compose_cfg(overrides, shrink=False).data))
        prompts = {s: {datalib.prompt_key(r) for r in canonical.splits[s]} for s in datalib.SPLITS}
        templates = {s: {r["template"] for r in canonical.splits[s] if "template" in r} for s in datalib.SPLITS}
        assert all(prompts[s] for s in datalib.SPLITS)
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            assert not prompts[a] & prompts[b], (a, b)
            assert not templates[a] & templates[b], (a, b)


def point(beta: float, k: int, scores: dict[int, float | None], status: str = "ok") -> tune.Point:
    p = tune.Point({"beta": beta}, tune.lr_at(PROTO, k), k)
    p.seeds = {s: None if v is None else {"status": status, "val_pref_accuracy": v, "pref_accuracy": 1 - v}
               for s, v in scores.items()}
    return p


def test_best_is_the_mean_over_seeds_of_complete_points_only():
    lucky = point(0.1, 0, {100: 0.95, 101: 0.55})      # mean 0.75: one lucky seed does not win
    steady = point(0.5, 0, {100: 0.78, 101: 0.78})
    half = point(0.01, 0, {100: 0.99, 101: None})       # a seed not run: not selectable
    diverged = point(0.01, 1, {100: 0.99, 101: 0.99}, status="diverged")
    assert tune.best([lucky, steady, half, diverged], "val_pref_accuracy") is steady
    assert math.isclose(lucky.mean("val_pref_accuracy"), 0.75)
    assert tune.best([lucky, point(0.1, 1, {100: 0.75, 101: 0.75})], "val_pref_accuracy").k == 0  # tie: smaller lr


def test_selection_reads_validation_columns_only():
    with pytest.raises(ValueError):
        tune.best([point(0.1, 0, {100: 0.6, 101: 0.6})], "pref_accuracy")   # a test metric as the criterion
    row = {"run_id": "x", "method": "dpo", "val_pref_accuracy": 0.6, "val_pair_scores": [1.0], "pref_accuracy": 0.9,
           "test_pair_scores": [1.0], "base_pref_accuracy": 0.5, "pref_accuracy_gain": 0.4}
    assert set(tune.selection_view(row)) == {"run_id", "method", "val_pref_accuracy", "val_pair_scores"}


def fake_search(monkeypatch, peak_k: int, peak_beta: float = 0.1, noisy_neighbour: float = 0.0):
    """harness.tune.search over made-up scores: validation accuracy falls 0.05 per learning-rate step away from
    peak_k (and is 0.1 lower off peak_beta); check seeds see the same, plus `noisy_neighbour` at lr x3."""
    launched: list[list[int]] = []

    def fake_ensure(runs_dir, method, knobs, ks, seeds, proto, extra):
        launched.append(list(ks))
        out = []
        for kp in tune.knob_points(knobs):
            for k in ks:
                base = 0.8 - 0.05 * abs(k - peak_k) - (0 if kp.get("beta") == peak_beta else 0.1)
                bump = noisy_neighbour if seeds == proto["check_seeds"] and k == peak_k + 1 else 0.0
                out.append(point(kp["beta"], k, {s: base + bump for s in seeds}))
        return out

    monkeypatch.setattr(tune, "ensure", fake_ensure)
    monkeypatch.setattr(tune, "search_fingerprint", lambda extra=(): "f" * 16)
    return tune.search(Path("unused"), "dpo", PROTO, []), launched


def test_an_edge_best_widens_the_grid_until_it_is_inside(monkeypatch):
    lowest, n = PROTO["learning_rate"]["lowest"], PROTO["learning_rate"]["points"]
    content, launched = fake_search(monkeypatch, peak_k=lowest + n)            # one step past the upper edge
    t = content["tuning"]
    # the best sits on the first widened edge too, so a second step puts a measured point beyond it
    assert launched[:3] == [list(range(lowest, lowest + n + extra)) for extra in (0, 1, 2)]
    assert content["learning_rate"] == tune.lr_at(PROTO, lowest + n) and content["beta"] == 0.1
    assert not t["edge"] and t["points"] == 3 * (n + 2) and t["check"]["passed"]
    assert t["sensitivity"] == pytest.approx(0.1 + 0.05 * n)
    assert t["check"]["lr_x3"]["learning_rate"] == pytest.approx(3 * content["learning_rate"], rel=1e-3)


def test_a_best_beyond_the_widening_limit_is_marked_as_an_edge(monkeypatch):
    content, _ = fake_search(monkeypatch, peak_k=-10)
    assert content["tuning"]["edge"] and content["learning_rate"] == min(content["tuning"]["learning_rates"])


def test_a_neighbour_that_beats_the_selection_fails_the_check(monkeypatch):
    content, _ = fake_search(monkeypatch, peak_k=1, noisy_neighbour=0.08)
    c = content["tuning"]["check"]
    assert not c["passed"] and c["lr_x3"]["beats_selected_by"] == pytest.approx(0.03)


# -------------------------------------------------------------------------------- the generated settings
TUNED = sorted(p.stem for p in tune.TUNED_DIR.glob("*.yaml"))


def test_every_card_method_has_a_tuned_setting_not_on_an_edge():
    assert set(PROTO["card"]) <= set(TUNED), f"run `make tune`: missing {set(PROTO['card']) - set(TUNED)}"
    for m in TUNED:
        t = tune.read_tuned(m)["tuning"]
        assert not t["edge"], f"{m}: selected learning rate on the edge of {t['learning_rates']}"
        assert t["seeds"] == PROTO["seeds"] and not t["shrunk"], m


def test_tuned_settings_were_searched_on_todays_default_data():
    """A data change without a new search fails here: the tuned values would be chosen for other data."""
    today = tune.search_fingerprint()
    stale = {m: tune.read_tuned(m)["tuning"]["data_fingerprint"] for m in TUNED}
    assert all(f == today for f in stale.values()), (f"tuned settings searched on other data (today {today}): "
                                                     f"{stale}; re-run `make tune` (and the zoo's search)")


def test_search_seeds_are_disjoint_from_ranking_seeds():
    ranking = set()
    for preset in ("default", "ci", "zoo"):
        seeds = OmegaConf.load(tune.CONF_DIR / "sweep" / f"{preset}.yaml").hydra.sweeper.params.seed
        ranking |= {int(s) for s in str(seeds).split(",")}
    assert not ranking & {*PROTO["seeds"], *PROTO["check_seeds"]}


@pytest.mark.parametrize("method", TUNED)
def test_every_preset_composes_the_tuned_values(method):
    t = tune.read_tuned(method)
    node = OmegaConf.to_container(compose_cfg([f"method={method}"], shrink=False).method)
    assert {k: node[k] for k in t["tuning"]["selected"]} == t["tuning"]["selected"]
    assert settings.how_set(node) == "tuned"
    over = OmegaConf.to_container(compose_cfg([f"method={method}", "method.learning_rate=0.123"], shrink=False).method)
    assert over["learning_rate"] == 0.123 and settings.how_set(over) == "overridden"


def test_how_set_without_a_search():
    assert settings.how_set({"name": "x", "learning_rate": 1e-3}) == "not searched"


# -------------------------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_search_end_to_end(tmp_path, cache_dir):
    """A shrunken protocol (2 learning rates, 1 beta, 2 seeds; the check adds 4 jobs) on 32 train pairs: rows
    land in runs/search/, a tuned file is written with its evidence, a second run trains nothing, the report
    renders."""
    proto = {**PROTO, "learning_rate": {**PROTO["learning_rate"], "points": 2, "widen": 0}, "card": ["dpo"],
             "methods": {"dpo": {"beta": [0.1]}}}
    path = tmp_path / "search.yaml"
    path.write_text(OmegaConf.to_yaml(proto), encoding="utf-8")
    runs, tuned = tmp_path / "runs", tmp_path / "tuned"
    shrink = ["--", "data.max_train_pairs=32", "data.max_val_pairs=16", "model.pretrain.epochs=2"]
    args = ["run", "--runs-dir", str(runs), "--tuned-dir", str(tuned), "--protocol", str(path), *shrink]
    proc = run_cli("harness.tune", args, runs, cache_dir, shrink=False, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    t = tune.read_tuned("dpo", tuned)["tuning"]
    assert t["jobs"] == 2 * 2 + 3 * 2 and len(t["grid"]) == 2 and all(p["status"] == "ok" for p in t["grid"])
    assert t["shrunk"] == shrink[1:] and t["check"]["selected"] is not None
    assert len(list((runs / "search").glob("*.parquet"))) == 2 * 2 + 3 * 2  # the check re-uses no search seed
    again = run_cli("harness.tune", args, runs, cache_dir, shrink=False, timeout=600)
    assert again.returncode == 0 and "+ -m harness.train" not in again.stdout  # every row exists: nothing launched
    out = tune_report.render(runs, tmp_path / "rep", tuned, ["dpo"], proto)
    assert "| DPO |" in out.read_text(encoding="utf-8") and (tmp_path / "rep" / "heatmap_dpo.png").exists()

"""One Hugging Face model card per method (reports/<sweep>/model_cards/<method>.md), in the shape of the
reference card (/work/shared/reference/arabic-qwen-kto-model-card.md) but filled only with measured
values from the rows: YAML front matter with `model-index`, model details, training details and
hyperparameters, the efficiency table with this method's rank, results and limitations.

Built with huggingface_hub's ModelCard. Used by `python -m harness.report`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from harness.report import tables
from harness.report.summary import Summary, first_json

# (metric, split, model-index name) published in the front matter
INDEX_METRICS = [
    ("pref_accuracy", "test", "Held-out preference accuracy"),
    ("pref_accuracy_gain", "test", "Preference accuracy gain over base"),
    ("exact_match", "test", "Held-out exact match"),
    ("gen_pref_accuracy", "test", "Greedy answer closer to chosen than rejected"),
    ("reward_margin", "test", "Reward margin (report beta)"),
    ("kl_to_base", "test", "KL to base (nats/token)"),
    ("final_loss", "train", "Final training loss (own objective)"),
    ("train_seconds", "train", "Training time (seconds)"),
    ("samples_per_second", "train", "Training pairs per second"),
    ("card_efficiency", "train", "Card efficiency score"),
    ("infer_tokens_per_second", "test", "Inference throughput (tokens/s)"),
]


def _seeds(s: Summary, method: str) -> str:
    n = len(s.seeds(method))
    return f"{n} seed" + ("" if n == 1 else "s")


def _int(x: object) -> str:
    return "n/a" if pd.isna(x) else f"{int(x):,}"


def _value(x: float) -> float:
    return float(f"{x:.6g}")


def card_data(s: Summary, method: str) -> ModelCardData:
    r = s.runs[s.runs["method"] == method].sort_values("seed").iloc[0]
    results = [EvalResult(task_type="text-generation", task_name="Text Generation", dataset_type="custom",
                          dataset_name=str(r["dataset"]), dataset_split=split, metric_type=metric,
                          metric_name=f"{name} (mean of {_seeds(s, method)})",
                          metric_value=_value(s.est[metric][method].mean))
               for metric, split, name in INDEX_METRICS if not math.isnan(s.est[metric][method].mean)]
    base = str(r["model"])
    return ModelCardData(
        model_name=f"{base}-{method}-{s.sweep}", language=["ar"], library_name="transformers",
        # only a hub-style id is a valid base_model entry; the embedded model's name goes in the text
        base_model=base if "/" in base and not base.startswith("/") else None,
        tags=["arabic", method, "preference-learning", "trl", f"sweep-{s.sweep}"],
        eval_results=results or None)


def _kv(rows: list[tuple[str, object]]) -> str:
    return tables.to_markdown(pd.DataFrame([{"Field": k, "Value": v} for k, v in rows]))


def _details(s: Summary, method: str) -> str:
    r = s.runs[s.runs["method"] == method].sort_values("seed").iloc[0]
    rows = [("Base model", r["model"]), ("Base weights", r["model_weights"]),
            ("Parameters", _int(r["n_params"])),
            ("Method", method.upper()), ("TRL trainer", r["trainer"]), ("Dataset", r["dataset"]),
            ("Device / dtype", f"{r['device']} / {r['dtype']}"),
            ("Seeds", ", ".join(str(x) for x in s.seeds(method))),
            ("Versions", f"trl {r['trl_version']}, transformers {r['transformers_version']}, "
                         f"torch {r['torch_version']}"),
            ("Harness commit", r["git_commit"])]
    return _kv(rows)


def _training(s: Summary, method: str) -> str:
    r = s.runs[s.runs["method"] == method].sort_values("seed").iloc[0]
    data = _kv([("Train pairs", _int(r["train_samples"])), ("Rows of the method's view", _int(r["train_examples"])),
                ("Epochs", f"{r['epochs']:g}"), ("Optimizer steps", _int(r["optimizer_steps"])),
                ("Non-padding training tokens", _int(r["train_tokens"]))])
    hp = first_json(s.runs, method, "hparams_json")
    hp_table = _kv([(k, json.dumps(v, ensure_ascii=False, sort_keys=True)) for k, v in sorted(hp.items())])
    return f"### Training data\n\n{data}\n\n### Training hyperparameters (TRL arguments)\n\n{hp_table}"


def _efficiency(s: Summary, method: str) -> str:
    _, df, _ = tables.card_tables(s)["training_efficiency_comparison"]
    df = df.drop(columns=["Flags"])
    df.loc[df["Method"] == method.upper(), "Method"] = f"**{method.upper()}** (this card)"
    rank_by = s.ranks.get(s.rank_by, {}).get(method, "n/a")
    return (f"{tables.to_markdown(df)}\n\nRank by the card's efficiency score: "
            f"{s.ranks.get('card_efficiency', {}).get(method, 'n/a')} of {len(s.methods)}. "
            f"Rank by `{s.rank_by}` (the report's default ranking): {rank_by} of {len(s.methods)}. "
            "Ranks given as a range are shared: the intervals overlap.")


def _results(s: Summary, method: str) -> str:
    rows = [(f"{name} [{split}]", tables.metric_cell(s, metric, method)) for metric, split, name in INDEX_METRICS]
    rows += [("p95 inference latency (ms)", tables.metric_cell(s, "infer_latency_ms_p95", method)),
             ("Peak memory (MB)", tables.metric_cell(s, "peak_memory_mb", method)),
             ("Estimated training FLOPs", tables.metric_cell(s, "train_flops", method)),
             ("MFU", tables.metric_cell(s, "mfu", method))]
    return _kv(rows)


def _limitations(s: Summary, method: str) -> str:
    r = s.runs[s.runs["method"] == method].sort_values("seed").iloc[0]
    n_params = 0 if pd.isna(r["n_params"]) else int(r["n_params"])
    pairs = 0 if pd.isna(r["eval_pairs"]) else int(r["eval_pairs"])
    items = [f"Base model `{r['model']}` with {_int(r['n_params'])} parameters"
             + (" (a tiny embedded model for benchmarking the harness, not a usable assistant)."
                if n_params < 100_000_000 else "."),
             f"Held-out sets are small: {pairs} test pairs and {_int(r['eval_em_questions'])} "
             "exact-match questions per run; one pair moves pref accuracy by "
             f"{100 / max(pairs, 1):.1f} points.",
             "The training loss is this objective's own quantity; it cannot be compared with other methods' "
             "losses, and the card efficiency score inherits that problem."]
    if first_json(s.runs, method, "hparams_json").get("save_strategy") == "no":
        items.append("No checkpoint was saved (save_strategy=no): the card describes measured training runs, "
                     "not a released model.")
    if len(s.seeds(method)) < 2:
        items.append("One seed: no confidence intervals.")
    if (s.runs.loc[s.runs["method"] == method, "model_weights"] == "random-init").any():
        items.append("Random-init weights (†): the quality numbers mean nothing; only cost figures apply.")
    flags = tables.flag_text(s, method)
    if flags:
        items.append(f"Sanity flags raised: {flags}.")
    n_failed = int((s.failed["method"] == method).sum()) if len(s.failed) else 0
    if n_failed:
        items.append(f"{n_failed} run(s) of this method failed or diverged and are not included.")
    return "\n".join(f"- {x}" for x in items)


def model_card(s: Summary, method: str) -> ModelCard:
    r = s.runs[s.runs["method"] == method].sort_values("seed").iloc[0]
    conf = int(round(100 * s.cfg["confidence"]))
    body = "\n\n".join([
        f"# {method.upper()} on `{r['dataset']}` from `{r['model']}` (sweep `{s.sweep}`)",
        f"Generated by `python -m harness.report` from {len(s.seeds(method))} run row(s). Values are means "
        f"over seeds with {conf}% bootstrap intervals in brackets where there are two or more seeds.",
        "## Model Details", _details(s, method),
        "## Training Details", _training(s, method),
        "## Training Efficiency Comparison", _efficiency(s, method),
        "## Results", _results(s, method),
        "## Limitations", _limitations(s, method),
    ])
    return ModelCard(f"---\n{card_data(s, method).to_yaml()}\n---\n\n{body}\n")


def write_cards(s: Summary, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for m in sorted(s.methods):
        p = out / f"{m}.md"
        p.write_text(str(model_card(s, m)), encoding="utf-8")
        paths.append(p)
    return paths

"""Alignment tax: lm-evaluation-harness tasks scored on the trained policy and on its base, item by item.

The tasks are lm-eval's own (arabicmmlu, alghafa, arab_culture, aexams, the OALL light tasks, ...) or task
YAMLs in `eval.lm_eval.include_path`; harness/lm_eval_tasks/ (the shipped offline task apb_arabic_mc) is
always included. lm-eval scores the in-memory policy (its HFLM wrapper over the trained model) and the base;
the row stores each task's score, stderr and per-item metric for both, so the report can give
policy-minus-base with an interval over items and seeds. The base is scored once per (base, tasks, settings)
and cached.

    python -m harness.train method=dpo eval.lm_eval.tasks=[apb_arabic_mc]        # offline, the shipped task
    python -m harness.lmeval apb_arabic_mc [--model DIR] [--limit 50]             # score one checkpoint, print

Hub tasks need their datasets: with network once (or a snapshot), see the README's "Alignment tax" section.
A task whose data cannot be loaded stops the job before training, with one paragraph saying how to fix it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from harness import ROOT
from harness.data.errors import DataError
from harness.store import fingerprint, write_text

TASKS_DIR = ROOT / "harness" / "lm_eval_tasks"
SETTINGS = ("tasks", "metric", "limit", "num_fewshot")  # what the scores depend on (batch size does not)


def enabled(eval_cfg: dict) -> bool:
    return bool((eval_cfg.get("lm_eval") or {}).get("tasks"))


def include_paths(cfg: dict) -> list[str]:
    paths = [TASKS_DIR, *(Path(p).expanduser() for p in cfg.get("include_path") or [])]
    missing = [str(p) for p in paths if not p.is_dir()]
    if missing:
        raise DataError(f"eval.lm_eval.include_path: no such folder: {', '.join(missing)}. It must name folders "
                        "of lm-eval task YAMLs.")
    return [str(p) for p in paths]


def task_manager(cfg: dict):
    from lm_eval.tasks import TaskManager

    logging.getLogger("lm_eval").setLevel(logging.ERROR)  # its notes on wrapped models and custom loaders
    return TaskManager(include_path=include_paths(cfg))


def check(cfg: dict) -> None:
    """Before training: every task name is known to lm-eval and its data loads. Raises DataError with one
    paragraph (the unknown names, or the task whose dataset is missing and how to get it offline)."""
    manager = task_manager(cfg)
    known = set(manager.all_tasks)
    unknown = [t for t in cfg["tasks"] if t not in known]
    if unknown:
        near = sorted(k for k in known if any(u.split("_")[0] in k for u in unknown))[:12]
        raise DataError(f"eval.lm_eval.tasks: unknown task(s) {unknown}: neither lm-eval {_version()} nor the "
                        f"include_path folders ({', '.join(include_paths(cfg))}) define them."
                        + (f" Similar names: {', '.join(near)}." if near else "")
                        + " `python -m lm_eval ls tasks` lists lm-eval's own.")
    for name in cfg["tasks"]:
        try:
            manager.load_task_or_group([name])
        except Exception as exc:
            raise DataError(
                f"eval.lm_eval.tasks: task {name!r} could not load its data ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}). Hub-hosted task data needs network once: on a "
                "machine with access run the same job (or `python -m harness.lmeval " + name + " --limit 1`) with "
                "the same HF_DATASETS_CACHE, then copy that cache here and keep HF_DATASETS_OFFLINE=1; or "
                "snapshot the dataset (`huggingface-cli download --repo-type dataset <dataset_path> --local-dir "
                "DIR`), copy the task's YAML into a folder of your own with `dataset_path: DIR`, and pass that "
                "folder as eval.lm_eval.include_path.") from None


def score(model: Any, tokenizer: Any, cfg: dict, device: str) -> dict[str, dict]:
    """{task: {metric, score, stderr, n, item_ids, item_scores}} for one model. A group (e.g. arabicmmlu)
    is scored over the items of all its subtasks."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    model.eval()
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=cfg["batch_size"], device=device)
    out = simple_evaluate(model=lm, tasks=list(cfg["tasks"]), num_fewshot=cfg.get("num_fewshot"),
                          limit=cfg.get("limit"), task_manager=task_manager(cfg), log_samples=True,
                          bootstrap_iters=0, random_seed=0, numpy_random_seed=0,
                          torch_random_seed=0, fewshot_random_seed=0)
    result: dict[str, dict] = {}
    for name in cfg["tasks"]:
        metric = metric_for(cfg, name)
        leaves = _leaves(name, out)
        ids, scores = [], []
        for leaf in leaves:
            for s in sorted(out["samples"].get(leaf, []), key=lambda s: s["doc_id"]):
                if metric not in s:
                    raise DataError(f"eval.lm_eval.metric={metric!r}: task {leaf!r} reports "
                                    f"{sorted(k for k in s if isinstance(s[k], (int, float)) and k != 'doc_id')} "
                                    "per item; choose one of those.")
                ids.append(f"{leaf}/{s['doc_id']}")
                scores.append(float(s[metric]))
        n = len(scores)
        mean = sum(scores) / n if n else math.nan
        sd = math.sqrt(sum((x - mean) ** 2 for x in scores) / (n - 1)) if n > 1 else math.nan
        result[name] = {"metric": metric, "score": mean, "stderr": sd / math.sqrt(n) if n else math.nan, "n": n,
                        "item_ids": ids, "item_scores": scores}
    return result


def metric_for(cfg: dict, task: str) -> str:
    """eval.lm_eval.metric: one metric for every task, or {task: metric, default: metric}."""
    metric = cfg["metric"]
    if isinstance(metric, dict):
        return str(metric.get(task, metric.get("default", "acc")))
    return str(metric)


def _leaves(name: str, out: dict) -> list[str]:
    """The tasks under a requested name: itself, or a group's (nested) subtasks that logged samples."""
    if name in out["samples"]:
        return [name]
    found = []
    for sub in (out.get("group_subtasks") or {}).get(name, []):
        found += _leaves(sub, out)
    return found


def base_scores(base: Any, tokenizer: Any, cfg: dict, device: str, cache: Path, base_key: str) -> dict:
    """The base model's score() result, cached per (base, task settings, task files, lm-eval version)."""
    key = fingerprint({"base": base_key, "settings": {k: cfg.get(k) for k in SETTINGS},
                       "files": _task_files(cfg), "lm_eval": _version(), "format": 1})
    path = Path(cache) / f"lm-eval-base-{key}.json"
    if path.exists():
        return json.loads(path.read_text())
    result = score(base, tokenizer, cfg, device)
    write_text(path, json.dumps(result))
    return result


def row_fields(policy: Any, base: Any, tokenizer: Any, eval_cfg: dict, device: str, cache: Path,
               base_key: str) -> dict[str, Any]:
    """The row's lm-eval columns: lm_eval_json (per task, policy and base on the same items), the macro mean
    over tasks for policy and base, their difference, and the policy's lm-eval wall time."""
    cfg = eval_cfg["lm_eval"]
    base_result = base_scores(base, tokenizer, cfg, device, cache, base_key)
    t0 = time.perf_counter()
    mine = score(policy, tokenizer, cfg, device)
    seconds = time.perf_counter() - t0
    tasks = {}
    for name, r in mine.items():
        b = base_result[name]
        if b["item_ids"] != r["item_ids"]:
            raise RuntimeError(f"lm-eval task {name}: the base's cached items differ from the policy's")
        tasks[name] = r | {"base_score": b["score"], "base_stderr": b["stderr"], "base_item_scores": b["item_scores"]}
    own = sum(t["score"] for t in tasks.values()) / len(tasks)
    theirs = sum(t["base_score"] for t in tasks.values()) / len(tasks)
    return {"lm_eval_json": json.dumps(tasks, ensure_ascii=False), "lm_eval_score": own, "base_lm_eval_score": theirs,
            "lm_eval_gain": own - theirs, "lm_eval_seconds": seconds}


def _task_files(cfg: dict) -> str:
    """Content hash of the include-path folders' small files (task YAMLs, loaders, shipped rows)."""
    files = {}
    for folder in include_paths(cfg):
        for p in sorted(Path(folder).rglob("*")):
            if p.is_file() and p.suffix in (".yaml", ".yml", ".py", ".jsonl", ".json", ".csv") and p.stat().st_size < 5e6:
                files[str(p.relative_to(folder))] = fingerprint(p.read_bytes().decode("utf-8", "replace"))
    return fingerprint(files)


def _version() -> str:
    from importlib.metadata import version

    return version("lm_eval")


def main(argv: list[str] | None = None) -> int:
    import argparse

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ap = argparse.ArgumentParser(prog="python -m harness.lmeval", description=__doc__.split("\n\n")[0])
    ap.add_argument("tasks", help="comma-separated lm-eval task names")
    ap.add_argument("--model", help="a checkpoint directory or hub id (default: the embedded base, built if needed)")
    ap.add_argument("--metric", default="acc")
    ap.add_argument("--limit", type=float, default=None)
    ap.add_argument("--include-path", action="append", default=[])
    args = ap.parse_args(argv)
    cfg = {"tasks": args.tasks.split(","), "metric": args.metric, "num_fewshot": None, "batch_size": 16,
           "limit": int(args.limit) if args.limit and args.limit >= 1 else args.limit, "include_path": args.include_path}
    try:
        check(cfg)
    except DataError as exc:
        print(f"error: {exc}")
        return 2
    model_dir = args.model or _embedded_base()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    for name, r in score(model, AutoTokenizer.from_pretrained(model_dir), cfg, "cpu").items():
        print(f"{name}: {r['metric']} {r['score']:.4f} +- {r['stderr']:.4f} ({r['n']} items) [{model_dir}]")
    return 0


def _embedded_base() -> str:
    from harness import compose_config, models
    from harness import data as datalib

    cfg = compose_config()
    return models.resolve_base(cfg["model"], datalib.load(cfg["data"]), Path(cfg["paths"]["cache_dir"]))


if __name__ == "__main__":
    raise SystemExit(main())

"""`make bench-gpu`: what a user pays at real scale. Every card method (sft, dpo, ipo, cpo, kto) trains a fixed
number of steps at the Qwen3-1.7B architecture (random-init: the real model's cost, no hub needed) on cost-only
data with realistic Arabic lengths (data=cost, harness/data/cost.py), once through `python -m harness.train`
and once through bench/plain_trl.py (TRL's trainer run directly) with the same base directory, rows, TRL
arguments and seed, interleaved (harness first for even methods, plain first for odd ones). Then, while the
time budget allows, single-toggle ablations (gradient checkpointing, batch x2, flash attention, Liger, ...)
through the harness. Writes reports/bench_gpu/bench_gpu.json and bench_gpu.md: tokens/s, MFU, peak memory and
the harness/plain time per token per method, and the harness's held-out evaluation and inference-benchmark
seconds at that scale.

    python -m bench.gpu                                        # one GPU (make bench-gpu)
    python -m bench.gpu --steps 10 --ablations grad_ckpt,batch_x2 --budget-s 300
    python -m bench.gpu --steps 2 --out /tmp/bg model=tiny_qwen3 hardware=cpu +model.architecture.vocab_size=2048
    # any other argument is a Hydra override for every job (the last one above: the CPU test's tiny architecture)

Time on one H200 (an estimate, not measured: no GPU has run it yet). Qwen3-1.7B holds ~1.4 B non-embedding
parameters; a training token costs ~6 x 1.72e9 FLOPs with the LM head. A DPO step of 8 pairs is ~12k tokens on
the default cost data (~750 tokens per capped sequence), 1.2e14 FLOPs: ~0.35 s at 35% of 989 TFLOP/s, so 20
steps take ~7 s (SFT half, KTO's KL pass a third more). Building the base once (random init on the CPU, 3.4 GB
written): ~30-60 s. Each process: imports, CUDA start and loading 3.4 GB ~15 s; reference log-probs for 160
pairs ~2 s; the harness's evaluation (64 test + 32 validation pairs, 16 KL prompts) and inference benchmark
(4 x 16 prompts x 64 new tokens) ~15-20 s. Main comparison: 5 x (~40 s harness + ~25 s plain) ~ 5.5 min, with
the base ~6.5 min; ablations (~35 s each) run only while --budget-s (default 480 s) allows, so the whole
script stays near 8 minutes. The first GPU run will replace these numbers with measured ones (total_seconds
and per-job wall times are in the json).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench import ENV, ROOT, run_plain, timed

METHODS = ("sft", "dpo", "ipo", "cpo", "kto")
PAIRS_PER_STEP = 8  # every card method's yaml trains 8 pairs per optimizer step (KTO: 16 unpaired rows)
# The GPU setting a TRL user would start from; user overrides replace these key by key.
DEFAULTS = [
    "data=cost", "model=qwen3_1_7b", "model.weights=random-init", "hardware=gpu",
    "model.gradient_checkpointing=false",   # estimated to fit (conf/hardware/gpu.yaml); the grad_ckpt ablation checks
    "method.max_length=${data.max_tokens}", "eval.max_length=${data.max_tokens}",  # the yamls' 128 would truncate
    "eval.batch_size=16", "eval.kl_prompts=16", "eval.max_new_tokens=32",
    "data.max_val_pairs=32", "data.max_test_pairs=64",
    "infer.batch_size=16", "infer.max_new_tokens=64", "infer.warmup_runs=1", "infer.min_runs=3",
    "infer.min_seconds=0", "force=true",
]
# Ablations: (name, method, overrides, package it needs), in the order they run while the budget allows. Each is
# one harness job compared with that method's main harness job.
ABLATIONS = [
    ("grad_ckpt", "dpo", ["model.gradient_checkpointing=true"], None),
    ("batch_x2", "dpo", ["method.per_device_train_batch_size=16"], None),
    ("flash_attention_2", "dpo", ["++hardware.attn_implementation=flash_attention_2"], "flash_attn"),
    ("sft_padding_free", "sft", ["method.padding_free=true", "++hardware.attn_implementation=flash_attention_2"],
     "flash_attn"),
    ("liger", "dpo", ["method.use_liger_kernel=true"], "liger_kernel"),
    ("no_length_bucket", "dpo", ["batching.length_bucket=null"], None),
    ("sft_packing", "sft", ["method.packing=true"], None),
    ("eager_attention", "dpo", ["++hardware.attn_implementation=eager"], None),
    ("no_ref_cache", "dpo", ["method.precompute_ref_log_probs=false"], None),
]
LIGHT_EVAL = ["data.max_val_pairs=8", "data.max_test_pairs=8", "eval.kl_prompts=4", "infer.warmup_runs=0",
              "infer.min_runs=1"]  # ablations time training; their evaluation is cut to a few calls


# ------------------------------------------------------------------------------------------------- set-up
def merge(defaults: list[str], user: list[str]) -> list[str]:
    """Hydra overrides, the user's replacing a default of the same key (`model=x` replaces `model=...`)."""
    key = lambda o: o.split("=", 1)[0].lstrip("+~")  # noqa: E731
    mine = {key(o) for o in user}
    return [o for o in defaults if key(o) not in mine] + user


def compose(overrides: list[str]) -> dict:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from harness.train import open_method_overrides

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = hydra_compose("config", overrides=open_method_overrides(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


def prepare(work: Path, overrides: list[str], methods: list[str], steps: int) -> dict[str, Any]:
    """Build (or find) the base once, write each view's rows as jsonl and each method's exact TRL arguments as
    the plain script's config: both sides train on identical inputs."""
    from harness import data as datalib
    from harness import methods as registry
    from harness import models
    from harness.job import pick_device

    cfg = compose(overrides)
    canonical = datalib.load(cfg["data"])
    t0 = time.perf_counter()
    base_dir = models.resolve_base(cfg["model"], canonical, Path(cfg["paths"]["cache_dir"]))
    out = {"base_dir": base_dir, "base_seconds": time.perf_counter() - t0, "plain": {}, "cfg": cfg}
    device, dtype = pick_device(cfg["hardware"])
    for m in methods:
        job_cfg = compose([*overrides, f"method={m}", f"method.max_steps={steps}"])
        method, kwargs = registry.job_kwargs(job_cfg, str(work / f"plain-out-{m}"), device, dtype)
        rows = work / f"{method.view}.jsonl"
        if not rows.exists():
            rows.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                    for r in datalib.view(canonical, method.view)))
        config = work / f"plain-{m}.yaml"
        config.write_text(yaml.safe_dump({**kwargs, "model_name_or_path": base_dir, "dataset_name": str(rows),
                                          "disable_tqdm": True}, allow_unicode=True))
        trainer = method.trainer.rpartition(":")[2].removesuffix("Trainer").lower()
        out["plain"][m] = {"trainer": trainer, "config": config, "max_length": kwargs.get("max_length"),
                           "per_device_train_batch_size": kwargs.get("per_device_train_batch_size")}
    return out


# ------------------------------------------------------------------------------------------------ runners
class Runner:
    def __init__(self, work: Path, overrides: list[str], steps: int, cache: Path):
        self.work, self.overrides, self.steps, self.cache, self.n = work, overrides, steps, cache, 0

    def harness(self, method: str, extra: list[str] = ()) -> dict[str, Any]:
        """One `python -m harness.train` job; its parquet row plus the process wall time."""
        from harness import results

        self.n += 1
        sweep = f"bench-gpu-{self.n}"
        env = {**os.environ, **ENV, "APB_RUNS_DIR": str(self.work / "runs"), "APB_CACHE_DIR": str(self.cache)}
        argv = [sys.executable, "-m", "harness.train", *self.overrides, f"method={method}",
                f"method.max_steps={self.steps}", f"sweep_name={sweep}", *extra]
        wall, log = timed(argv, env)
        rows = list((self.work / "runs" / sweep).glob("*.parquet"))
        row = results.read_row(rows[0]) if rows else None
        if not row or row.get("status") != "ok":
            raise RuntimeError(f"harness job failed: method={method} {' '.join(extra)}\n{log[-3000:]}")
        return row | {"wall_seconds": wall}

    def plain(self, method: str, spec: dict) -> dict[str, Any]:
        """bench/plain_trl.py on the same base, rows, TRL arguments and seed."""
        return run_plain(spec["trainer"], spec["config"], self.work / f"plain-{method}.json", f"method={method}")


# ----------------------------------------------------------------------------------------------- figures
def compare(h: dict, p: dict) -> dict[str, Any]:
    """One method's harness and plain figures. Tokens: the harness's count of non-padding tokens per epoch
    (harness.measure.sequence_tokens) times the epochs each side ran, so both count the same way; FLOPs scale
    with them (harness.measure.train_flops)."""
    per_epoch_tokens, per_epoch_flops = h["train_tokens"] / h["epochs"], h["train_flops"] / h["epochs"]
    p_tokens = per_epoch_tokens * p["epoch"]
    h_spt, p_spt = h["train_seconds"] / h["train_tokens"], p["train_seconds"] / p_tokens
    steady = h["train_tokens"] / h["optimizer_steps"] / h["step_time_median_s"] if h.get("step_time_median_s") else None
    return {
        "harness_tokens_per_s": h["tokens_per_second"], "plain_tokens_per_s": p_tokens / p["train_seconds"],
        "harness_over_plain_time_per_token": h_spt / p_spt,
        "harness_mfu": h["mfu"], "plain_mfu": per_epoch_flops * p["epoch"] / p["train_seconds"] / h["peak_flops"],
        "harness_steady_tokens_per_s": steady, "harness_peak_memory_mb": h["peak_memory_mb"],
        "plain_peak_memory_mb": p["peak_memory_mb"], "memory_kind": h["memory_kind"],
        "harness_train_s": h["train_seconds"], "plain_train_s": p["train_seconds"],
        "harness_setup_s": h["setup_seconds"], "plain_setup_s": p["setup_seconds"],
        "harness_wall_s": h["wall_seconds"], "plain_wall_s": p["wall_seconds"],
        "optimizer_steps": [h["optimizer_steps"], p["optimizer_steps"]], "train_tokens": h["train_tokens"],
        "eval_s": h["eval_seconds"], "eval_pairs": h["eval_pairs"], "infer_s": h["infer_seconds"],
        "infer_tokens_per_s": h["infer_tokens_per_second"], "infer_latency_ms_p50": h["infer_latency_ms_p50"],
        "cost_only": h["cost_only"], "model_weights": h["model_weights"], "dataset": h["dataset"],
    }


def summarise(reps: list[dict]) -> dict[str, Any]:
    """Medians over repetitions of every number, and each repetition's harness/plain ratio."""
    out = {k: statistics.median(r[k] for r in reps) if isinstance(reps[0][k], (int, float)) and not
           isinstance(reps[0][k], bool) and all(r[k] is not None for r in reps) else reps[0][k] for k in reps[0]}
    return out | {"reps": len(reps), "ratio_per_rep": [r["harness_over_plain_time_per_token"] for r in reps]}


def main_comparison(run: Runner, prep: dict, methods: list[str], reps: int, res: dict, write) -> dict[str, dict]:
    rows = {}
    for i, m in enumerate(methods):
        got = []
        for r in range(reps):
            if (i + r) % 2 == 0:  # interleaved: which side goes first alternates
                h = run.harness(m)
                p = run.plain(m, prep["plain"][m])
            else:
                p = run.plain(m, prep["plain"][m])
                h = run.harness(m)
            got.append(compare(h, p))
            rows[m] = h
        res["methods"][m] = summarise(got) | {k: prep["plain"][m][k] for k in ("max_length",
                                                                               "per_device_train_batch_size")}
        print(f"  [{m}] harness {res['methods'][m]['harness_tokens_per_s']:.0f} tok/s, plain "
              f"{res['methods'][m]['plain_tokens_per_s']:.0f} tok/s, ratio "
              f"{res['methods'][m]['harness_over_plain_time_per_token']:.3f}", flush=True)
        write(res)
    return rows


def ablations(run: Runner, names: list[str], main_rows: dict, budget_s: float, t_start: float) -> dict[str, Any]:
    out = {}
    for name, method, overrides, needs in ABLATIONS:
        if name not in names or method not in main_rows:
            continue
        base = main_rows[method]
        if needs and importlib.util.find_spec(needs) is None:
            out[name] = {"skipped": f"{needs} is not installed"}
            continue
        if time.perf_counter() - t_start + base["wall_seconds"] > budget_s:
            out[name] = {"skipped": f"time budget ({budget_s:.0f}s) would be exceeded"}
            continue
        try:
            a = run.harness(method, [*overrides, *LIGHT_EVAL])
        except RuntimeError as exc:
            lines = str(exc).splitlines()
            out[name] = {"error": lines[0] + " | " + lines[-1]}
            continue
        speed = (base["train_seconds"] / base["train_tokens"]) / (a["train_seconds"] / a["train_tokens"])
        out[name] = {"method": method, "overrides": overrides, "speedup_per_token": speed,
                     "tokens_per_s": a["tokens_per_second"], "mfu": a["mfu"], "peak_memory_mb": a["peak_memory_mb"],
                     "baseline_peak_memory_mb": base["peak_memory_mb"], "final_loss": a["final_loss"],
                     "baseline_final_loss": base["final_loss"], "wall_s": a["wall_seconds"]}
        print(f"  [ablation {name}] {speed:.2f}x per token, peak {a['peak_memory_mb']:.0f} MB", flush=True)
    return out


# ------------------------------------------------------------------------------------------------- report
def markdown(res: dict) -> str:
    head = ("| method | harness tok/s | plain tok/s | harness/plain s per token | MFU harness | MFU plain | "
            "peak MB harness | peak MB plain | eval s | infer s | infer tok/s |")
    lines = [f"# bench-gpu: {res['machine']['device']} ({res['setup']['model']}, {res['setup']['weights']}, "
             f"data={res['setup']['dataset']}: cost only, quality figures mean nothing)", "",
             f"{res['steps']} optimizer steps per job, {res['reps']} interleaved repetition(s); base built in "
             f"{res['base_seconds']:.0f}s; total {res.get('total_seconds', 0):.0f}s. Tokens are non-padding tokens "
             "(chosen and rejected count apart); MFU against the hardware config's peak. The harness batches rows of "
             "similar length together (batching.length_bucket), the plain script does not: the no_length_bucket "
             "ablation shows that part.", "", head,
             "|" + "---|" * 11]
    for m, r in res["methods"].items():
        lines.append(f"| {m} | {r['harness_tokens_per_s']:,.0f} | {r['plain_tokens_per_s']:,.0f} | "
                     f"{r['harness_over_plain_time_per_token']:.3f} | {100 * r['harness_mfu']:.2f}% | "
                     f"{100 * r['plain_mfu']:.2f}% | {r['harness_peak_memory_mb']:,.0f} | "
                     f"{r['plain_peak_memory_mb']:,.0f} | {r['eval_s']:.1f} | {r['infer_s']:.1f} | "
                     f"{r['infer_tokens_per_s']:,.0f} |")
    if res.get("ablations"):
        lines += ["", "| ablation | method | speed-up per token | peak MB (baseline) | note |", "|---|---|---|---|---|"]
        for name, a in res["ablations"].items():
            if "speedup_per_token" in a:
                lines.append(f"| {name} | {a['method']} | {a['speedup_per_token']:.2f}x | "
                             f"{a['peak_memory_mb']:,.0f} ({a['baseline_peak_memory_mb']:,.0f}) | |")
            else:
                lines.append(f"| {name} | - | - | - | {(a.get('skipped') or a.get('error', ''))[:120]} |")
    return "\n".join(lines) + "\n"


def machine(cfg: dict) -> dict[str, Any]:
    import torch
    import transformers
    import trl

    cuda = torch.cuda.is_available()
    return {"device": torch.cuda.get_device_name(0) if cuda else f"cpu ({os.cpu_count()} cores)",
            "torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
            "flash_attn": importlib.util.find_spec("flash_attn") is not None,
            "liger_kernel": importlib.util.find_spec("liger_kernel") is not None,
            "peak_flops": cfg["hardware"].get("peak_flops"), "loadavg_end": os.getloadavg()[0]}


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--steps", type=int, default=20, help="optimizer steps per job (train rows: steps x 8 pairs)")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    ap.add_argument("--reps", type=int, default=1, help="interleaved harness/plain repetitions per method")
    ap.add_argument("--ablations", default="all", help="'all', 'none' or names: " + ", ".join(a[0] for a in ABLATIONS))
    ap.add_argument("--budget-s", type=float, default=480.0, help="ablations start only while this total allows")
    ap.add_argument("--out", default=str(ROOT / "reports" / "bench_gpu"), help="folder for bench_gpu.json/.md")
    return ap.parse_known_args(argv)


def main(argv: list[str]) -> int:
    t0 = time.perf_counter()
    args, user = parse(argv)
    methods = [m for m in args.methods.split(",") if m]
    known = [a[0] for a in ABLATIONS]
    names = known if args.ablations == "all" else [] if args.ablations == "none" else args.ablations.split(",")
    if set(names) - set(known):
        raise SystemExit(f"--ablations: unknown {sorted(set(names) - set(known))}; known: {', '.join(known)}")
    overrides = merge([*DEFAULTS, f"data.max_train_pairs={args.steps * PAIRS_PER_STEP}"], user)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def write(res: dict) -> None:  # after every method: an interrupted bench still leaves what it finished
        (out / "bench_gpu.json").write_text(json.dumps(res, indent=1, ensure_ascii=False, default=str))

    work = Path(tempfile.mkdtemp(prefix="apb-bench-gpu-"))
    try:
        prep = prepare(work, overrides, methods, args.steps)
        cfg = prep["cfg"]
        res: dict[str, Any] = {
            "machine": {"loadavg_start": os.getloadavg()[0]}, "steps": args.steps, "reps": args.reps, "overrides": overrides,
            "base_seconds": prep["base_seconds"], "methods": {},
            "setup": {"model": cfg["model"]["name"], "weights": cfg["model"]["weights"], "dataset": cfg["data"]["name"],
                      "cost_only": bool(cfg["data"].get("cost_only")) or cfg["model"]["weights"] == "random-init"}}
        print(f"bench-gpu: hardware={cfg['hardware']['name']}, {cfg['model']['name']} ({cfg['model']['weights']}), "
              f"data={cfg['data']['name']}, {args.steps} steps per job; base ready in {prep['base_seconds']:.0f}s",
              flush=True)
        run = Runner(work, overrides, args.steps, Path(cfg["paths"]["cache_dir"]).resolve())
        main_rows = main_comparison(run, prep, methods, args.reps, res, write)
        res["ablations"] = ablations(run, names, main_rows, args.budget_s, t0)
        res["machine"] |= machine(cfg)  # at the end: naming the GPU starts CUDA in this process, which trains nothing
        res["total_seconds"] = time.perf_counter() - t0
        write(res)
        (out / "bench_gpu.md").write_text(markdown(res))
        print(markdown(res) + f"wrote {out / 'bench_gpu.json'} and bench_gpu.md", flush=True)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Performance benchmark (`make bench`): harness overhead against a plain TRL script, the reference log-prob
cache's speed-up per method, linear scaling in data size, and cheap wins. Prints a table and writes
reports/bench/bench.json. Every job is a real `python -m harness.train` process (eval and the inference
benchmark shrunk, since only training is timed here).

    python -m bench.harness_vs_plain                        # the default data (arabic_pairs)
    python -m bench.harness_vs_plain data=verifiable        # extra Hydra overrides apply to every job
    BENCH_PAIRS=64 BENCH_REPS=3 python -m bench.harness_vs_plain

Timings are single runs (overhead: the median of BENCH_REPS interleaved pairs): read them with the machine's
load in mind; bench.json records the load average at start and end.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench import ENV, ROOT, run_plain, timed

OUT = ROOT / "reports" / "bench"
PAIRS = int(os.environ.get("BENCH_PAIRS", "128"))  # smaller than the default data so `make bench` stays ~10 min
REPS = int(os.environ.get("BENCH_REPS", "3"))
# Only training is compared: held-out eval and the inference benchmark are cut to a few calls.
QUICK = ["data.max_val_pairs=16", "data.max_test_pairs=16", "eval.max_em_questions=8", "eval.kl_prompts=8",
         "eval.max_new_tokens=8", "infer.min_runs=2", "infer.min_seconds=0", "infer.warmup_runs=1",
         "infer.max_new_tokens=8", "force=true"]


# ------------------------------------------------------------------------------------------------- runners
class Bench:
    def __init__(self, work: Path, extra: list[str]):
        self.work, self.extra, self.n = work, extra, 0
        self.base_dir, self.data_file, self.plain_yaml = prepare(work, extra)

    def harness(self, overrides: list[str], cache: str = "cache") -> dict[str, Any]:
        """One `python -m harness.train` job; its parquet row plus the process wall time."""
        self.n += 1
        sweep = f"bench{self.n}"
        env = {**os.environ, **ENV, "APB_RUNS_DIR": str(self.work / "runs"), "APB_CACHE_DIR": str(self.work / cache)}
        argv = [sys.executable, "-m", "harness.train", *QUICK, f"data.max_train_pairs={PAIRS}",
                f"model.name_or_path={self.base_dir}", f"sweep_name={sweep}", *self.extra, *overrides]
        wall, out = timed(argv, env)
        from harness import results

        rows = list((self.work / "runs" / sweep).glob("*.parquet"))
        row = results.read_row(rows[0]) if rows else None
        if not row or row.get("status") != "ok":
            raise RuntimeError(f"bench job failed: {' '.join(overrides)}\n{out[-3000:]}")
        row["wall_seconds"] = wall
        row["ref_cache"] = "hit" if "[refcache] hit" in out else "miss" if "[refcache] miss" in out else "off"
        return row

    def plain(self) -> dict[str, Any]:
        """The plain TRL script on the same base, rows, config and seed."""
        return run_plain("dpo", self.plain_yaml, self.work / "plain.json", "dpo")


def prepare(work: Path, extra: list[str]) -> tuple[str, Path, Path]:
    """Build (or find) the base, write the DPO rows as jsonl and the job's exact TRL arguments as the plain
    script's config: both sides train on identical inputs."""
    from hydra import compose, initialize_config_dir

    from harness import data as datalib
    from harness import models
    from harness.job import Job
    from harness.train import open_method_overrides

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=open_method_overrides(
            [*QUICK, f"data.max_train_pairs={PAIRS}", "method=dpo", f"paths.runs_dir={work}/runs", *extra]))
    job = Job.start(cfg)
    method, kwargs = job.method_args()
    canonical = datalib.load(job.data_cfg)
    base_dir = models.resolve_base(job.model_cfg, canonical, job.cache_dir)
    data_file = work / "dpo.jsonl"
    data_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in datalib.view(canonical, "pairwise")))
    plain = {**kwargs, "output_dir": str(work / "plain-out"), "model_name_or_path": base_dir,
             "dataset_name": str(data_file), "disable_tqdm": True}
    plain_yaml = work / "plain.yaml"
    plain_yaml.write_text(yaml.safe_dump(plain, allow_unicode=True))
    return base_dir, data_file, plain_yaml


# ---------------------------------------------------------------------------------------------- sections
def overhead(b: Bench) -> dict[str, Any]:
    """Harness vs plain TRL, interleaved, reference log-probs warm on both sides (precompute is setup)."""
    b.harness(["method=dpo"])  # warm-up: OS file cache, base-quality cache, reference-log-prob cache
    pairs = [(b.harness(["method=dpo"]), b.plain()) for _ in range(REPS)]
    fixed = [h["wall_seconds"] - h["setup_seconds"] - h["train_seconds"] - h["eval_seconds"] - h["infer_seconds"]
             for h, _ in pairs]
    plain_fixed = [p["wall_seconds"] - p["setup_seconds"] - p["train_seconds"] for _, p in pairs]
    h0, p0 = pairs[0]
    diff = max((abs(a - c) for a, c in zip(h0["loss_values"], p0["loss_values"])), default=float("nan"))
    return {
        "train_ratio_median": statistics.median(h["train_seconds"] / p["train_seconds"] for h, p in pairs),
        "process_ratio_median": statistics.median(h["wall_seconds"] / p["wall_seconds"] for h, p in pairs),
        "harness_train_s": [h["train_seconds"] for h, _ in pairs], "plain_train_s": [p["train_seconds"] for _, p in pairs],
        "harness_wall_s": [h["wall_seconds"] for h, _ in pairs], "plain_wall_s": [p["wall_seconds"] for _, p in pairs],
        "harness_fixed_s_median": statistics.median(fixed), "plain_fixed_s_median": statistics.median(plain_fixed),
        "harness_eval_infer_s_median": statistics.median(h["eval_seconds"] + h["infer_seconds"] for h, _ in pairs),
        "loss_max_abs_diff": diff, "loss_points": len(h0["loss_values"]),
        "losses_agree_1e-5": bool(diff <= 1e-5 and len(h0["loss_values"]) == len(p0["loss_values"])),
    }


def ref_cache(b: Bench) -> dict[str, Any]:
    """Per method: recompute every step vs precomputed (cold: the first job computes and stores them, same seed, so
    losses must match); then a job with another seed must reuse the stored entry (warm setup)."""
    out = {}
    for m in ("dpo", "ipo", "kto"):
        off = b.harness([f"method={m}", "method.precompute_ref_log_probs=false"])
        cold = b.harness([f"method={m}", "method.precompute_ref_log_probs=true"], cache=f"cache-{m}")
        warm = b.harness([f"method={m}", "method.precompute_ref_log_probs=true", "seed=1"], cache=f"cache-{m}")
        diff = max(abs(a - c) for a, c in zip(off["loss_values"], cold["loss_values"]))  # same seed
        out[m] = {
            "train_s_recompute": off["train_seconds"], "train_s_cached": cold["train_seconds"],
            "train_speedup": off["train_seconds"] / cold["train_seconds"],
            "setup_s_recompute": off["setup_seconds"], "setup_s_cold": cold["setup_seconds"],
            "setup_s_warm": warm["setup_seconds"], "cold_cache": cold["ref_cache"],
            "warm_other_seed_cache": warm["ref_cache"],
            "loss_max_abs_diff": diff, "losses_agree_1e-5": bool(diff <= 1e-5),
        }
    return out


def scaling(b: Bench) -> dict[str, Any]:
    rows = {}
    for k in (1, 2, 4):
        r = b.harness(["method=dpo", f"data.max_train_pairs={PAIRS * k}"])
        rows[f"{k}x"] = {"pairs": r["train_samples"], "train_s": r["train_seconds"],
                         "ms_per_pair": 1000 * r["train_seconds"] / r["train_samples"]}
    per = [v["ms_per_pair"] for v in rows.values()]
    return {"sizes": rows, "max_spread": max(per) / min(per) - 1, "linear_within_15pct": max(per) / min(per) <= 1.15}


# A change is kept when its job trains faster than the baseline beside it (same method, same data).
WINS = {
    "dpo": [("threads=1", ["hardware.threads=1"]),
            ("pad_to_multiple_of=8", ["method.pad_to_multiple_of=8"]),
            ("group_by_length", ["method.train_sampling_strategy=group_by_length"])],
    "sft": [("padding_free", ["method.padding_free=true"]), ("packing", ["method.packing=true"])],
}


def cheap_wins(b: Bench) -> dict[str, Any]:
    out = {}
    for m, variants in WINS.items():
        base = b.harness([f"method={m}"])
        out[m] = {"baseline_train_s": base["train_seconds"]}
        for name, overrides in variants:
            try:
                r = b.harness([f"method={m}", *overrides])
                out[m][name] = {"train_s": r["train_seconds"], "speedup": base["train_seconds"] / r["train_seconds"],
                                "final_loss": r["final_loss"], "baseline_final_loss": base["final_loss"]}
            except RuntimeError as exc:  # e.g. padding-free needing flash attention: say so, go on
                out[m][name] = {"error": str(exc).splitlines()[0] + " | " + str(exc).splitlines()[-1]}
    return out


# ------------------------------------------------------------------------------------------------- report
def table(res: dict[str, Any]) -> str:
    o, lines = res["overhead"], []
    lines += ["== overhead (DPO, harness vs plain TRL script, median of %d interleaved pairs)" % REPS,
              f"  training time ratio      {o['train_ratio_median']:.3f}   (goal < 1.03)",
              f"  whole-process ratio      {o['process_ratio_median']:.3f}   (harness also evaluates and benchmarks"
              f" inference: {o['harness_eval_infer_s_median']:.1f}s)",
              f"  fixed start-up per job   harness {o['harness_fixed_s_median']:.1f}s, plain {o['plain_fixed_s_median']:.1f}s"
              "   (goal < 10s)",
              f"  loss agreement           max |diff| {o['loss_max_abs_diff']:.2e} over {o['loss_points']} points:"
              f" {'OK' if o['losses_agree_1e-5'] else 'FAIL'}"]
    lines += ["== reference log-prob cache (train seconds; precompute counts as setup)",
              f"  {'method':6s} {'recompute':>9s} {'cached':>7s} {'speedup':>7s} {'setup cold':>10s} {'setup warm':>10s}"
              f" {'reuse':>6s} {'loss |diff|':>11s}"]
    for m, r in res["ref_cache"].items():
        lines.append(f"  {m:6s} {r['train_s_recompute']:9.2f} {r['train_s_cached']:7.2f} {r['train_speedup']:6.2f}x"
                     f" {r['setup_s_cold']:10.2f} {r['setup_s_warm']:10.2f} {r['warm_other_seed_cache']:>6s}"
                     f" {r['loss_max_abs_diff']:11.1e}")
    s = res["scaling"]
    lines += [f"== scaling (DPO): time per pair, spread {100 * s['max_spread']:.1f}% ("
              f"{'OK' if s['linear_within_15pct'] else 'FAIL'}, goal <= 15%)"]
    lines += [f"  {k:3s} {v['pairs']:5d} pairs  {v['train_s']:7.2f}s  {v['ms_per_pair']:7.1f} ms/pair"
              for k, v in s["sizes"].items()]
    lines += ["== cheap wins (train seconds vs the baseline job beside it; > 1.00x is faster)"]
    for m, r in res["cheap_wins"].items():
        lines.append(f"  {m} baseline {r['baseline_train_s']:.2f}s")
        for name, v in r.items():
            if isinstance(v, dict):
                lines.append(f"    {name:22s} " + (f"{v['train_s']:.2f}s  {v['speedup']:.2f}x" if "train_s" in v
                                                    else f"not supported: {v['error'][:150]}"))
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    import torch

    return {"hostname": socket.gethostname(), "cpus": os.cpu_count(), "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "loadavg_start": os.getloadavg()[0]}


def main(argv: list[str]) -> None:
    t0 = time.perf_counter()
    res: dict[str, Any] = {"machine": machine(), "pairs": PAIRS, "reps": REPS, "overrides": argv}
    print(f"bench: {PAIRS} train pairs per job (data.max_train_pairs; the default data is larger, cut to keep "
          f"`make bench` near 10 minutes), {REPS} interleaved repetitions; overrides {argv or 'none'}", flush=True)
    with tempfile.TemporaryDirectory(prefix="apb-bench-") as tmp:
        b = Bench(Path(tmp), argv)
        for name, section in (("ref_cache", ref_cache), ("overhead", overhead), ("scaling", scaling),
                              ("cheap_wins", cheap_wins)):
            s0 = time.perf_counter()
            res[name] = section(b)
            print(f"  [{name}] done in {time.perf_counter() - s0:.0f}s", flush=True)
            write(res)  # an interrupted bench still leaves the finished sections
    res["machine"]["loadavg_end"] = os.getloadavg()[0]
    res["total_seconds"] = time.perf_counter() - t0
    text = table(res)
    print(text + f"\n(total {res['total_seconds']:.0f}s on {res['machine']['cpus']} cores, load average "
                 f"{res['machine']['loadavg_start']:.1f} -> {res['machine']['loadavg_end']:.1f})")
    write(res)
    print(f"wrote {OUT / 'bench.json'}")


def write(res: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench.json").write_text(json.dumps(res, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])

"""Measurement, kept apart from training: a transformers TrainerCallback for step times, losses and
divergence; token and FLOP counts; per-job peak memory; the machine's peak FLOP/s; an inference benchmark
with real `generate`; and the sanity flags every row carries.

FLOP estimate (Kaplan et al. 2020; Chinchilla appendix), N = non-embedding parameters, T = non-padding
tokens the policy trained on:
    train_flops = 6*N*T                      policy forward + backward
                + 2*N*T * ref_forwards       frozen reference forward (DPO, IPO, KTO; none for SFT, CPO, ORPO,
                                             SimPO; zero during training when reference log-probs were precomputed)
                + 2*N*T_kl * (1 + ref)       KTO's KL batch: a policy forward without grad, and a reference one
Attention's T^2 term is ignored (sequences here are far shorter than the model width makes it matter).
"""

from __future__ import annotations

import json
import math
import os
import socket
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from harness.data.encoding import encode_many, left_padded, prompt_ids
from harness.methods import Method
from harness.store import write_text


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def now(device: str) -> float:
    """A clock reading that waits for queued GPU work first."""
    sync(device)
    return time.perf_counter()


# ---------------------------------------------------------------------------------------------- memory
def reset_peak_memory(device: str) -> None:
    """Start a job's peak-memory window: Hydra's basic launcher runs every job in one process."""
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        return
    try:  # Linux: writing 5 resets the process's RSS high-water mark (VmHWM)
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_memory_mb(device: str) -> tuple[float, str]:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20, "cuda_max_allocated"
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024, "rss_hwm"
    except OSError:
        pass
    import resource  # not per job: the process's lifetime maximum

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_hwm_process"


# ------------------------------------------------------------------------------------ training callback
class MeasureCallback(TrainerCallback):
    """Step wall times (synchronised), the loss curve, and divergence: a NaN/inf loss or grad norm stops
    training and is reported, instead of transformers silently filtering it from the logged loss."""

    def __init__(self, device: str):
        self.device = device
        self.step_times: list[float] = []
        self.loss_steps: list[int] = []
        self.loss_values: list[float] = []
        self.diverged: str | None = None
        self._t = 0.0

    def on_step_begin(self, args, state, control, **kw):
        self._t = now(self.device)

    def on_step_end(self, args, state, control, **kw):
        self.step_times.append(now(self.device) - self._t)
        if state.max_steps and state.global_step >= state.max_steps and not self.loss_values:
            control.should_log = True  # a run shorter than logging_steps still logs its (one) loss

    def on_log(self, args, state, control, logs=None, **kw):
        logs = logs or {}
        for key in ("loss", "grad_norm"):
            value = logs.get(key)
            if value is not None and not math.isfinite(float(value)):
                self.diverged = f"{key} became {value} at step {state.global_step}"
                control.should_training_stop = True
        if "loss" in logs:
            self.loss_steps.append(int(state.global_step))
            self.loss_values.append(float(logs["loss"]))


def training_figures(trainer, callback: MeasureCallback, method: Method, kwargs: dict, train_pairs: int,
                     train_rows: list[dict], train_seconds: float, cfg: dict, device: str, train_output=None) -> dict:
    """Row fields of a finished training run: sizes, tokens, FLOPs and MFU, throughput, memory, the loss
    curve and step-time statistics. `cfg` is the job's resolved config (hardware, measure, paths)."""
    epochs = float(kwargs.get("num_train_epochs", 1))
    if kwargs.get("max_steps", -1) > 0:  # a step budget ends mid-epoch: count the epochs actually run
        epochs = float(trainer.state.epoch or epochs)
    tokens = int(epochs * sequence_tokens(train_rows, method.view, trainer.processing_class, kwargs.get("max_length")))
    n, n_ne = non_embedding_params(trainer.accelerator.unwrap_model(trainer.model))
    flops = train_flops(method, n_ne, tokens, bool(kwargs.get("precompute_ref_log_probs")))
    peak, source = peak_flops(cfg["hardware"], device, Path(cfg["paths"]["cache_dir"]))
    mem, kind = peak_memory_mb(device)
    losses = callback.loss_values or ([float(train_output.training_loss)] if train_output is not None else [])
    return {
        "epochs": epochs, "train_samples": train_pairs, "train_examples": len(train_rows),
        "optimizer_steps": int(trainer.state.global_step), "train_tokens": tokens,
        "samples_per_second": train_pairs * epochs / train_seconds, "tokens_per_second": tokens / train_seconds,
        "n_params": n, "n_params_non_embedding": n_ne, "train_flops": flops,
        "achieved_flops_per_s": flops / train_seconds, "peak_flops": peak, "peak_flops_source": source,
        "mfu": flops / train_seconds / peak, "peak_memory_mb": mem, "memory_kind": kind,
        "loss_steps": callback.loss_steps or ([int(trainer.state.global_step)] if losses else []),
        "loss_values": losses, "initial_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        **step_stats(callback.step_times, cfg["measure"]["warmup_steps"]),
    }


def step_stats(step_times: list[float], warmup_steps: int) -> dict[str, Any]:
    warm, rest = step_times[:warmup_steps], step_times[warmup_steps:] or step_times
    ordered = sorted(rest)
    return {
        "warmup_steps": len(warm),
        "warmup_seconds": sum(warm),
        "step_time_median_s": statistics.median(ordered) if ordered else None,
        "step_time_p95_s": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else None,
    }


# ------------------------------------------------------------------------------------- tokens and FLOPs
def sequence_tokens(rows: list[dict], view: str, tokenizer: Any, max_length: int | None) -> int:
    """Non-padding tokens the policy processes in one epoch over a view (chosen + rejected for pairs)."""
    keys = ("chosen", "rejected") if view == "pairwise" else ("completion",)
    items = [(row["prompt"], row[key]) for row in rows for key in keys]
    return sum(len(p) + len(c) for p, c in encode_many(tokenizer, items, max_length))


def non_embedding_params(model: torch.nn.Module) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight.numel()
    return total, total - emb


def train_flops(method: Method, n_non_embedding: int, tokens: int, ref_precomputed: bool) -> float:
    ref = 0 if ref_precomputed else method.ref_forwards
    flops = 6 * n_non_embedding * tokens + 2 * n_non_embedding * tokens * ref
    if method.kl_batch:  # the KL batch pairs each prompt with another row's completion: about T tokens
        flops += 2 * n_non_embedding * tokens * (1 + ref)
    return float(flops)


def peak_flops(hardware: dict, device: str, cache_dir: Path) -> tuple[float, str]:
    """Peak FLOP/s from the hardware config, else a matmul probe measured once per machine and cached."""
    if hardware.get("peak_flops"):
        return float(hardware["peak_flops"]), "config"
    threads = torch.get_num_threads()
    path = Path(cache_dir) / f"peak-flops-{socket.gethostname()}-{device.replace(':', '')}-t{threads}.json"
    if path.exists():
        return float(json.loads(path.read_text())["flops"]), "probe"
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    n = 1024 if device == "cpu" else 8192
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    reps, t0 = 0, now(device)
    while reps < 5 or time.perf_counter() - t0 < 1.0:
        a @ b
        reps += 1
    best = 2 * n**3 * reps / (now(device) - t0)
    write_text(path, json.dumps({"flops": best, "n": n, "dtype": str(dtype), "threads": threads}))
    return best, "probe"


# ------------------------------------------------------------------------------------ inference benchmark
@torch.no_grad()
def inference_benchmark(model, tokenizer, prompts: list[Any], cfg: dict, device: str) -> dict[str, Any]:
    """Greedy generate with KV cache over held-out prompts, batch by batch, warm-up calls excluded,
    repeated until both min_runs calls and min_seconds have passed."""
    model.eval()
    ids = [prompt_ids(tokenizer, p) for p in prompts]
    batches = [ids[i : i + cfg["batch_size"]] for i in range(0, len(ids), cfg["batch_size"])]
    pad = tokenizer.pad_token_id

    def run(batch: list[list[int]]) -> tuple[float, int]:
        input_ids, mask, width = left_padded(batch, pad, device)
        t0 = now(device)
        out = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=cfg["max_new_tokens"],
                             do_sample=False, use_cache=True, pad_token_id=pad)
        dt = now(device) - t0
        # count each sequence's tokens up to and including its EOS: padding after it is not output
        eos = tokenizer.eos_token_id
        return dt, sum(next((i + 1 for i, t in enumerate(seq) if t == eos), len(seq)) for seq in out[:, width:].tolist())

    t_start = time.perf_counter()
    for i in range(cfg["warmup_runs"]):
        run(batches[i % len(batches)])
    latencies, tokens = [], 0
    while len(latencies) < cfg["min_runs"] or sum(latencies) < cfg["min_seconds"]:
        dt, n = run(batches[len(latencies) % len(batches)])
        latencies.append(dt)
        tokens += n
        if len(latencies) >= cfg["max_runs"]:
            break
    ordered = sorted(latencies)
    return {
        "infer_tokens_per_second": tokens / sum(latencies),
        "infer_latency_ms_mean": 1000 * statistics.fmean(latencies),
        "infer_latency_ms_p50": 1000 * statistics.median(latencies),
        "infer_latency_ms_p95": 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "infer_runs": len(latencies),
        "infer_batch_size": cfg["batch_size"],
        "infer_max_new_tokens": cfg["max_new_tokens"],
        "infer_seconds": time.perf_counter() - t_start,
    }


# ---------------------------------------------------------------------------------------- sanity flags
MIN_EVAL_PAIRS = 100  # below this, a 95% binomial interval on an accuracy is wider than +-0.10


def sanity_flags(row: dict[str, Any]) -> list[str]:
    """Anything a sceptical reader would question, stated in the row itself."""
    flags = []
    if row.get("train_flops") and row.get("peak_flops") and row.get("train_seconds"):
        if row["train_flops"] / row["peak_flops"] > row["train_seconds"]:
            flags.append("faster_than_peak: training took less time than its FLOP estimate allows at peak")
    if not row.get("train_tokens"):
        flags.append("zero_tokens: no training tokens counted")
    losses = row.get("loss_values") or []
    if losses and max(losses) == min(losses) and len(losses) > 1:
        flags.append("loss_unchanged: every logged loss is identical")
    if row.get("final_loss") == 0.0:
        flags.append("final_loss_zero: a final loss of exactly 0")
    if (row.get("optimizer_steps") or 0) < 3:
        flags.append("few_steps: fewer than 3 optimizer steps")
    pairs = row.get("eval_pairs")
    if pairs is not None and pairs < MIN_EVAL_PAIRS:
        flags.append(f"small_eval: {pairs} held-out test pairs (< {MIN_EVAL_PAIRS}): one pair moves accuracy by "
                     f"{100 / max(pairs, 1):.1f} points, too coarse to compare methods")
    return flags


def hostname() -> str:
    return os.environ.get("HOSTNAME") or socket.gethostname()

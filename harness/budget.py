"""Compute-matched training: turn a training FLOP budget (`budget.train_flops`) into `max_steps` for one
method, so every method gets the same compute instead of the same number of epochs.

    python -m harness.train -m sweep=compute_matched
    python -m harness.train method=kto budget.train_flops=2e11      # one job on a budget

Per-step cost uses the same estimate the row reports (harness.measure.train_flops): 6N per policy token,
2N per reference-forward token (none when reference log-probs are precomputed, as measure counts it), and
KTO's KL pass; averaged over one epoch of the method's view. So a method with a reference model (DPO, IPO,
KTO) gets fewer steps than a reference-free one (SFT, CPO, ORPO, SimPO) for the same budget, and KTO's
two unpaired rows per pair are counted as the tokens they are.
"""

from __future__ import annotations

import math
from typing import Any

from harness import measure, methods


def max_steps(cfg: dict, method: methods.Method, kwargs: dict[str, Any], train_rows: list[dict], base_dir: str) -> int:
    """Optimizer steps that fit cfg['budget']['train_flops'] for this method (at least one), from the job's
    own view rows and base (nothing is reloaded)."""
    from transformers import AutoTokenizer

    tokens = measure.sequence_tokens(train_rows, method.view, AutoTokenizer.from_pretrained(base_dir),
                                     kwargs.get("max_length"))
    per_step = flops_per_step(method, kwargs, tokens, len(train_rows), non_embedding_params(base_dir))
    steps = max(1, int(float(cfg["budget"]["train_flops"]) // per_step))
    print(f"[budget] {cfg['method']['name']}: {per_step:.3g} FLOPs/step -> max_steps={steps} "
          f"for budget {float(cfg['budget']['train_flops']):.3g}", flush=True)
    return steps


def flops_per_step(method: methods.Method, kwargs: dict[str, Any], epoch_tokens: int, rows: int,
                   n_non_embedding: int) -> float:
    """One epoch's estimated FLOPs (epoch_tokens over `rows` view rows) divided by its optimizer steps."""
    batch = int(kwargs.get("per_device_train_batch_size", 8)) * int(kwargs.get("gradient_accumulation_steps", 1))
    epoch = measure.train_flops(method, n_non_embedding, epoch_tokens, bool(kwargs.get("precompute_ref_log_probs")))
    return epoch / math.ceil(rows / batch)


def non_embedding_params(base_dir: str) -> int:
    """Non-embedding parameters of the base, counted on the meta device (no memory, no weights read)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(base_dir))
    return measure.non_embedding_params(model)[1]

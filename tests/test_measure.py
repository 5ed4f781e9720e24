"""Measurement: the FLOP formula against a hand count, token counting, per-job peak memory, sanity flags."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, Qwen3Config

from harness import measure, methods

ARCH = dict(vocab_size=500, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, tie_word_embeddings=True)


def hand_count_non_embedding(a: dict) -> int:
    """Per layer: q, k, v, o projections, q/k RMSNorm weights (head_dim each), the SwiGLU MLP (three
    matrices) and two RMSNorms; plus the final norm. The tied embedding is the only excluded tensor."""
    h, i, hd = a["hidden_size"], a["intermediate_size"], a["head_dim"]
    q, kv = a["num_attention_heads"] * hd, a["num_key_value_heads"] * hd
    attn = h * q + 2 * h * kv + q * h + 2 * hd
    per_layer = attn + 3 * h * i + 2 * h
    return a["num_hidden_layers"] * per_layer + h


def test_non_embedding_parameters_match_a_hand_count():
    model = AutoModelForCausalLM.from_config(Qwen3Config(**ARCH))
    total, non_emb = measure.non_embedding_params(model)
    assert non_emb == hand_count_non_embedding(ARCH)
    assert total - non_emb == ARCH["vocab_size"] * ARCH["hidden_size"]


@pytest.mark.parametrize("name, per_token, per_token_precomputed", [
    ("sft", 6, 6), ("cpo", 6, 6), ("simpo", 6, 6), ("orpo", 6, 6),
    ("dpo", 6 + 2, 6), ("ipo", 6 + 2, 6),
    ("kto", 6 + 2 + 2 * 2, 6 + 2),  # policy train, reference forward, KL batch: policy + reference forward
])
def test_flop_formula_per_method(name, per_token, per_token_precomputed):
    n, tokens = 1000, 37
    method = methods.get(name)
    assert measure.train_flops(method, n, tokens, ref_precomputed=False) == per_token * n * tokens
    assert measure.train_flops(method, n, tokens, ref_precomputed=True) == per_token_precomputed * n * tokens


class WordTokenizer:
    """A whitespace tokenizer: every word is one token, so counts can be checked by eye."""
    eos_token_id = 0

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [1] * len(text.split())}


def test_token_count_is_non_padding_and_counts_both_sides_of_a_pair():
    rows = [{"prompt": "a b c", "chosen": "d e", "rejected": "f"}, {"prompt": "a", "chosen": "b", "rejected": "c d e"}]
    tok = WordTokenizer()
    # pairwise: prompt + chosen + EOS, and prompt + rejected + EOS, for every row
    assert measure.sequence_tokens(rows, "pairwise", tok, None) == (3 + 2 + 1) + (3 + 1 + 1) + (1 + 1 + 1) + (1 + 3 + 1)
    sft = [{"prompt": r["prompt"], "completion": r["chosen"]} for r in rows]
    assert measure.sequence_tokens(sft, "sft", tok, None) == (3 + 2 + 1) + (1 + 1 + 1)
    assert measure.sequence_tokens(sft, "sft", tok, 4) == 4 + 3  # truncation to max_length counts


def test_peak_memory_is_per_job():
    measure.reset_peak_memory("cpu")
    big = torch.ones(300 * 2**20 // 4)  # ~300 MB
    peak_with, kind = measure.peak_memory_mb("cpu")
    del big
    measure.reset_peak_memory("cpu")  # the next job's window starts here
    peak_after, _ = measure.peak_memory_mb("cpu")
    assert kind == "rss_hwm"
    assert peak_with - peak_after > 250, (peak_with, peak_after)


def test_step_stats_separate_warmup():
    stats = measure.step_stats([5.0, 1.0, 1.0, 0.1, 0.1, 0.2, 0.1], warmup_steps=3)
    assert stats["warmup_steps"] == 3 and stats["warmup_seconds"] == 7.0
    assert stats["step_time_median_s"] == 0.1


def test_sanity_flags_catch_the_reference_cards_numbers():
    card = {"train_flops": 1e12, "peak_flops": 1e11, "train_seconds": 0.004, "train_tokens": 0,
            "loss_values": [0.0, 0.0], "final_loss": 0.0, "optimizer_steps": 2}
    flags = " ".join(measure.sanity_flags(card))
    for name in ("faster_than_peak", "zero_tokens", "loss_unchanged", "final_loss_zero", "few_steps"):
        assert name in flags
    honest = {"train_flops": 1e9, "peak_flops": 1e11, "train_seconds": 5.0, "train_tokens": 1000,
              "loss_values": [0.7, 0.6], "final_loss": 0.6, "optimizer_steps": 50}
    assert measure.sanity_flags(honest) == []

"""Turning a (prompt, completion) pair into token ids the way the TRL trainers do: prompt and completion
tokenized apart and joined, completion closed by EOS; chat-message lists go through the chat template."""

from __future__ import annotations

from typing import Any


def encode(tokenizer: Any, prompt: Any, completion: Any, max_length: int | None = None) -> tuple[list[int], list[int]]:
    """(prompt_ids, completion_ids), truncated from the end to max_length in total (TRL's keep_start)."""
    if isinstance(prompt, str):
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    else:
        p = _ids(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True))
        full = _ids(tokenizer.apply_chat_template(list(prompt) + list(completion), tokenize=True))
        c = full[len(p):] if full[: len(p)] == p else full
    if max_length is not None and len(p) + len(c) > max_length:
        keep = max(max_length - len(p), 0)
        c = c[:keep]
        p = p[:max_length]
    return p, c


def prompt_ids(tokenizer: Any, prompt: Any) -> list[int]:
    """Ids of a prompt ready for generation."""
    if isinstance(prompt, str):
        return tokenizer(prompt, add_special_tokens=False)["input_ids"]
    return _ids(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True))


def _ids(out: Any) -> list[int]:
    # transformers 5 returns a BatchEncoding from apply_chat_template(tokenize=True); 4.x a list
    return list(out["input_ids"]) if hasattr(out, "keys") else list(out)


def left_padded(batch: list[list[int]], pad_id: int, device: str) -> tuple[Any, Any, int]:
    """(input_ids, attention_mask, width) for generation: left padding, so every prompt ends where the
    generated tokens start."""
    import torch

    width = max(map(len, batch))
    input_ids = torch.tensor([[pad_id] * (width - len(x)) + x for x in batch], device=device)
    mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in batch], device=device)
    return input_ids, mask, width

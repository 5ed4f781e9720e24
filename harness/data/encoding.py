"""Turning a (prompt, completion) pair into token ids the way the TRL trainers do: prompt and completion
tokenized apart and joined, completion closed by EOS; chat-message lists go through the chat template."""

from __future__ import annotations

from typing import Any

# Token ids of plain-text prompts and completions, shared by every job of a process (a sweep's jobs score the same
# held-out texts with the same base tokenizer): keyed by the tokenizer's identity and the text itself, so a hit is
# exactly what tokenizing again would give. Bounded: cleared when it grows past _MAX_TEXTS.
_TEXT_IDS: dict[tuple, list[int]] = {}
_MAX_TEXTS = 500_000


def _tokenizer_key(tokenizer: Any) -> tuple:
    """A loaded tokenizer's directory (content-addressed for the embedded base) or hub id, its size and EOS; a
    tokenizer without a name is keyed by the object itself (correct, only not shared between jobs)."""
    name = getattr(tokenizer, "name_or_path", "") or f"object-{id(tokenizer)}"
    size = len(tokenizer) if hasattr(tokenizer, "__len__") else None
    return (type(tokenizer).__name__, name, size, tokenizer.eos_token_id)


def text_ids(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """Ids of each text (no special tokens), tokenizing only the texts this process has not seen, in one batch."""
    key = _tokenizer_key(tokenizer)
    missing = list(dict.fromkeys(t for t in texts if (key, t) not in _TEXT_IDS))
    if missing:
        if len(_TEXT_IDS) + len(missing) > _MAX_TEXTS:
            _TEXT_IDS.clear()
        if getattr(tokenizer, "is_fast", False):  # one batched call (the same ids as one call per text)
            batch = tokenizer(missing, add_special_tokens=False)["input_ids"]
        else:
            batch = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in missing]
        for t, ids in zip(missing, batch):
            _TEXT_IDS[key, t] = list(ids)
    return [_TEXT_IDS[key, t] for t in texts]


def encode_many(tokenizer: Any, items: list[tuple[Any, Any]], max_length: int | None = None) -> list[tuple[list[int], list[int]]]:
    """`encode` of every (prompt, completion) item; plain-text items go through the shared text cache."""
    plain = [k for k, (p, c) in enumerate(items) if isinstance(p, str)]
    ids = iter(text_ids(tokenizer, [t for k in plain for t in items[k]]))
    cached = {k: (next(ids), next(ids)) for k in plain}
    out = []
    for k, (p, c) in enumerate(items):
        if k in cached:
            pi, ci = cached[k]
            out.append(_truncate(list(pi), ci + [tokenizer.eos_token_id], max_length))
        else:
            out.append(encode(tokenizer, p, c, max_length))
    return out


def _truncate(p: list[int], c: list[int], max_length: int | None) -> tuple[list[int], list[int]]:
    if max_length is not None and len(p) + len(c) > max_length:
        c = c[: max(max_length - len(p), 0)]
        p = p[:max_length]
    return p, c


def encode(tokenizer: Any, prompt: Any, completion: Any, max_length: int | None = None) -> tuple[list[int], list[int]]:
    """(prompt_ids, completion_ids), truncated from the end to max_length in total (TRL's keep_start)."""
    if isinstance(prompt, str):
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    else:
        p = _ids(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True))
        full = _ids(tokenizer.apply_chat_template(list(prompt) + list(completion), tokenize=True))
        c = full[len(p):] if full[: len(p)] == p else full
    return _truncate(p, c, max_length)


def prompt_ids(tokenizer: Any, prompt: Any) -> list[int]:
    """Ids of a prompt ready for generation."""
    if isinstance(prompt, str):
        return list(text_ids(tokenizer, [prompt])[0])
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

"""Base models: the embedded tiny Qwen3 (built, tokenized and pre-trained once, cached on disk) or any
checkpoint directory / hub id, all loaded through the same `from_pretrained` path.

    python -m harness.models            # build (or find) the embedded base and print its directory
"""

from __future__ import annotations

import json
import math
import random
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast, Qwen3Config

from harness import batching
from harness.store import atomic_path, fingerprint

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# A minimal ChatML template (Qwen's layout without tools/thinking) so conversational rows work offline.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on the given texts, with ChatML specials and a chat template."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>", padding_side="right"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_config(arch: dict, tokenizer: PreTrainedTokenizerFast) -> Qwen3Config:
    return Qwen3Config(
        vocab_size=len(tokenizer),
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **arch,
    )


def pretrain(model: torch.nn.Module, tokenizer, pairs: list[tuple[str, str]], cfg: dict) -> list[float]:
    """Plain causal-LM pre-training on (prompt, completion) pairs, tokenized apart and joined the way the
    preference trainers do; returns the per-epoch mean loss."""
    torch.manual_seed(cfg["seed"])
    rng = random.Random(cfg["seed"])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["learning_rate"], weight_decay=0.0)
    steps = cfg["epochs"] * math.ceil(len(pairs) / cfg["batch_size"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["learning_rate"], total_steps=steps, pct_start=0.1)
    model.train()
    losses = []
    encoded = [
        (tokenizer(p, add_special_tokens=False)["input_ids"] + tokenizer(c, add_special_tokens=False)["input_ids"]
         + [tokenizer.eos_token_id])[: cfg["max_length"]]
        for p, c in pairs
    ]
    lengths = [len(x) for x in encoded]
    for _ in range(cfg["epochs"]):
        if cfg.get("length_bucket"):  # harness.batching: short and long rows in separate batches, less padding
            order = [encoded[i] for i in batching.bucket_order(lengths, cfg["batch_size"], cfg["length_bucket"], rng)]
        else:
            order = encoded[:]
            rng.shuffle(order)
        total = 0.0
        for i in range(0, len(order), cfg["batch_size"]):
            chunk = order[i : i + cfg["batch_size"]]
            width = max(map(len, chunk))
            ids = torch.tensor([x + [tokenizer.pad_token_id] * (width - len(x)) for x in chunk])
            mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in chunk])
            loss = model(input_ids=ids, attention_mask=mask, labels=ids.masked_fill(mask == 0, -100)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            total += loss.item()
        losses.append(total / math.ceil(len(order) / cfg["batch_size"]))
    return losses


def build_embedded(model_cfg: dict, train_rows: list[dict], cache_dir: Path) -> Path:
    """Build (or reuse) the embedded base: tokenizer + tiny Qwen3 pre-trained on chosen AND rejected text,
    so it starts unaligned. Cached under a hash of everything that determines the result."""
    key = fingerprint({"model": model_cfg, "rows": train_rows, "torch": torch.__version__.split("+")[0]})
    out = Path(cache_dir) / f"base-{model_cfg['name']}-{key}"
    with build_lock(out):  # jobs started side by side build the base once: the others wait, then reuse it
        if not (out / "config.json").exists():
            _build_embedded(model_cfg, train_rows, out, key)
    return out


def _build_embedded(model_cfg: dict, train_rows: list[dict], out: Path, key: str) -> None:
    texts_for_bpe = [t for r in train_rows for t in (_flat(r["prompt"]), _flat(r["chosen"]), _flat(r["rejected"]))]
    tokenizer = train_tokenizer(texts_for_bpe, model_cfg["tokenizer"]["vocab_size"])
    torch.manual_seed(model_cfg["pretrain"]["seed"])
    model = AutoModelForCausalLM.from_config(tiny_config(dict(model_cfg["architecture"]), tokenizer))
    lm_pairs = [(_flat(r["prompt"]), _flat(r[k])) for r in train_rows for k in ("chosen", "rejected")]
    curve = pretrain(model, tokenizer, lm_pairs, dict(model_cfg["pretrain"]))
    with atomic_path(out) as tmp:  # another job may build it first: theirs is identical
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "pretrain.json").write_text(json.dumps({"epoch_loss": curve, "key": key}, indent=1))


@contextmanager
def build_lock(out: Path):
    """An exclusive lock (fcntl) on <out>.lock for as long as one process builds `out`."""
    import fcntl

    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_name(out.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _flat(value: Any) -> str:
    """Text of a plain string or of a list of chat messages (for tokenizer training / pre-training)."""
    if isinstance(value, str):
        return value
    return "\n".join(m["content"] for m in value)


def build_random_init(model_cfg: dict, train_rows: list[dict], cache_dir: Path) -> Path:
    """A published architecture with random weights and the embedded tokenizer: the real model's cost
    (tokens/s, memory, MFU) without hub access. Its quality figures mean nothing."""
    key = fingerprint({"arch": model_cfg["architecture"], "tok": model_cfg["tokenizer"], "rows": train_rows})
    out = Path(cache_dir) / f"random-{model_cfg['name']}-{key}"
    if (out / "config.json").exists():
        return out
    texts = [t for r in train_rows for t in (_flat(r["prompt"]), _flat(r["chosen"]), _flat(r["rejected"]))]
    tokenizer = train_tokenizer(texts, model_cfg["tokenizer"]["vocab_size"])
    arch = dict(model_cfg["architecture"])
    config = Qwen3Config(bos_token_id=None, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **arch)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    with atomic_path(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return out


def resolve_base(model_cfg: dict, canonical: Any, cache_dir: Path) -> str:
    """The base checkpoint every method and seed starts from, as a path (or hub id) for from_pretrained."""
    rows = canonical.train if canonical.kind == "pairwise" else []
    if model_cfg["weights"] == "random-init":
        return str(build_random_init(model_cfg, rows or _pseudo_pairs(canonical), cache_dir))
    if model_cfg.get("name_or_path"):
        return str(model_cfg["name_or_path"])
    if not rows:
        rows = _pseudo_pairs(canonical)
    return str(build_embedded(model_cfg, rows, cache_dir))


def _pseudo_pairs(canonical: Any) -> list[dict]:
    """Unpaired / SFT rows shaped as pairs so the embedded tokenizer and pre-training can use them."""
    return [{"prompt": r["prompt"], "chosen": r["completion"], "rejected": r["completion"]} for r in canonical.train]


def base_key(base: str) -> str:
    """Identity of a base checkpoint for caches: its path plus its config and weight files' sizes/mtimes."""
    path = Path(base)
    if not path.is_dir():
        return base
    stats = sorted((p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in path.iterdir() if p.is_file())
    return fingerprint({"path": str(path.resolve()), "files": stats})


def eval_models(trainer: Any, base_dir: str, device: str) -> tuple[Any, Any, Any]:
    """(trained policy, frozen base, tokenizer) on the job's device for evaluation and inference."""
    policy = trainer.accelerator.unwrap_model(trainer.model)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=policy.dtype).to(device)
    return policy.to(device), base, trainer.processing_class


if __name__ == "__main__":
    import sys

    from hydra import compose, initialize
    from omegaconf import OmegaConf

    from harness import data as datalib

    with initialize(config_path="../conf", version_base="1.3"):
        cfg = OmegaConf.to_container(compose("config", overrides=sys.argv[1:]), resolve=False)
    canonical = datalib.load(cfg["data"])
    print(resolve_base(cfg["model"], canonical, Path(".cache")))

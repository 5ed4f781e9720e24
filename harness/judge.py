"""Judged answers: a local reward model (a sequence-classification checkpoint with one output) scores the
greedy answers of the trained policy and of its base to the same held-out test prompts, and optionally
sampled answers. The row stores every prompt's rewards, so the report can give the mean reward, the win rate
against the base and against SFT (same seed, same prompt) with intervals over prompts and seeds.

    python -m harness.train method=dpo eval.judge.reward_model=DIR             # any local reward model
    python -m harness.judge train --out rm/ [Hydra overrides, e.g. data=verifiable]
                                        # a small reward model for the embedded default (TRL's RewardTrainer)
    python -m harness.judge accuracy rm/ [--split val]   # how often it rewards chosen over rejected

The reward model reads what TRL's RewardTrainer trained it on: prompt + answer + EOS as one text (chat
messages through its chat template). Its own tokenizer is used, not the policy's. The base's answers and
rewards are computed once per (base, reward model, prompts, settings) and cached.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import torch

from harness.data.errors import DataError
from harness.store import fingerprint, write_text

SAMPLE_SEED = 0


def enabled(eval_cfg: dict) -> bool:
    return bool((eval_cfg.get("judge") or {}).get("reward_model"))


def check(jcfg: dict) -> None:
    """Before training: the reward model directory exists and holds a one-output sequence classifier."""
    path = Path(str(jcfg["reward_model"])).expanduser()
    config = path / "config.json"
    if not config.is_file():
        raise DataError(f"eval.judge.reward_model={jcfg['reward_model']}: no config.json there. It must be a local "
                        "directory of a sequence-classification reward model (AutoModelForSequenceClassification "
                        "with num_labels 1), e.g. one downloaded with `huggingface-cli download <repo> --local-dir "
                        "DIR` or trained with `python -m harness.judge train --out DIR`.")
    spec = json.loads(config.read_text())
    archs = spec.get("architectures") or []
    labels = spec.get("num_labels", len(spec.get("id2label") or {}) or 2)
    if not any(a.endswith("ForSequenceClassification") for a in archs) or labels != 1:
        raise DataError(f"eval.judge.reward_model={path}: config.json declares {archs or 'no architecture'} with "
                        f"{labels} labels; a reward model is a *ForSequenceClassification with num_labels 1.")


def load(path: str, device: str) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return model, tokenizer


def input_ids(tokenizer: Any, prompt: Any, answer: str, max_length: int) -> list[int]:
    """What TRL's RewardTrainer feeds the model for (prompt, answer): the text prompt + answer + EOS, or the
    chat template over the messages; the last max_length tokens (the answer's end is what it scores)."""
    if isinstance(prompt, str):
        ids = tokenizer(text=prompt + answer + (tokenizer.eos_token or ""))["input_ids"]
    else:
        out = tokenizer.apply_chat_template(list(prompt) + [{"role": "assistant", "content": answer}], tokenize=True)
        ids = list(out["input_ids"]) if hasattr(out, "keys") else list(out)
    return list(ids)[-max_length:]


@torch.no_grad()
def rewards(model: Any, tokenizer: Any, prompts: list[Any], answers: list[str], batch_size: int, max_length: int,
            device: str) -> list[float]:
    """The reward of each (prompt, answer), right-padded batches in length order."""
    encoded = [input_ids(tokenizer, p, a, max_length) for p, a in zip(prompts, answers)]
    pad = model.config.pad_token_id
    out = [0.0] * len(encoded)
    order = sorted(range(len(encoded)), key=lambda k: len(encoded[k]))
    for i in range(0, len(order), batch_size):
        index = order[i : i + batch_size]
        width = max(len(encoded[k]) for k in index)
        ids = torch.full((len(index), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for j, k in enumerate(index):
            ids[j, : len(encoded[k])] = torch.tensor(encoded[k])
            mask[j, : len(encoded[k])] = 1
        scores = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits[:, 0].float().tolist()
        for k, v in zip(index, scores):
            out[k] = v
    return out


def judged_prompts(test_rows: list[dict], n: int) -> tuple[list[str], list[Any]]:
    """(ids, prompts): n distinct test prompts, a seeded draw in split order; the same for every job."""
    seen, ids, prompts = set(), [], []
    for i, r in enumerate(test_rows):
        key = json.dumps(r["prompt"], ensure_ascii=False, sort_keys=True)
        if key not in seen:
            seen.add(key)
            ids.append(str(r.get("id", i)))
            prompts.append(r["prompt"])
    keep = sorted(random.Random(0).sample(range(len(prompts)), min(n, len(prompts))))
    return [ids[k] for k in keep], [prompts[k] for k in keep]


@torch.no_grad()
def sampled_answers(model: Any, tokenizer: Any, prompts: list[Any], k: int, max_new_tokens: int, batch_size: int,
                    device: str) -> list[list[str]]:
    """k answers per prompt sampled at temperature 1 (no top-k/top-p), from a fixed seed."""
    from harness.data.encoding import left_padded, prompt_ids

    torch.manual_seed(SAMPLE_SEED)
    out: list[list[str]] = []
    for i in range(0, len(prompts), batch_size):
        ids = [prompt_ids(tokenizer, p) for p in prompts[i : i + batch_size]]
        input_ids_, mask, width = left_padded(ids, tokenizer.pad_token_id, device)
        gen = model.generate(input_ids=input_ids_, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=True,
                             temperature=1.0, top_k=0, top_p=1.0, num_return_sequences=k,
                             pad_token_id=tokenizer.pad_token_id)
        texts = tokenizer.batch_decode(gen[:, width:], skip_special_tokens=True)
        out += [texts[j * k : (j + 1) * k] for j in range(len(ids))]
    return out


def answer_rewards(model: Any, tokenizer: Any, judge: tuple[Any, Any], prompts: list[Any], jcfg: dict,
                   eval_cfg: dict, device: str) -> dict[str, Any]:
    """Greedy answers and their rewards (and the mean reward of the sampled answers per prompt)."""
    from harness.evaluate import greedy_answers

    rm, rtok = judge
    answers = greedy_answers(model, tokenizer, prompts, eval_cfg["max_new_tokens"], eval_cfg["batch_size"], device)
    result: dict[str, Any] = {"answers": answers, "rewards": rewards(rm, rtok, prompts, answers, jcfg["batch_size"],
                                                                     jcfg["max_length"], device)}
    k = int(jcfg.get("samples") or 0)
    if k:
        sampled = sampled_answers(model, tokenizer, prompts, k, eval_cfg["max_new_tokens"], eval_cfg["batch_size"], device)
        flat = rewards(rm, rtok, [p for p in prompts for _ in range(k)], [a for group in sampled for a in group],
                       jcfg["batch_size"], jcfg["max_length"], device)
        result["sampled_rewards"] = [sum(flat[j * k : (j + 1) * k]) / k for j in range(len(prompts))]
    return result


def row_fields(policy: Any, base: Any, tokenizer: Any, test_rows: list[dict], eval_cfg: dict, device: str,
               cache: Path, base_key: str) -> dict[str, Any]:
    """The row's judge columns: per-prompt rewards of the policy's and the base's greedy answers, their
    means, the win rate against the base (ties 0.5), sampled-answer means, and the policy's judging time."""
    from harness.models import base_key as dir_key

    jcfg = eval_cfg["judge"]
    judge = load(str(jcfg["reward_model"]), device)
    ids, prompts = judged_prompts(test_rows, int(jcfg["prompts"]))
    key = fingerprint({"base": base_key, "judge": dir_key(str(jcfg["reward_model"])), "prompts": prompts,
                       "judge_cfg": {k: v for k, v in jcfg.items() if k != "batch_size"},
                       "max_new_tokens": eval_cfg["max_new_tokens"], "format": 1})
    path = Path(cache) / f"judge-base-{key}.json"
    if path.exists():
        theirs = json.loads(path.read_text())
    else:
        theirs = answer_rewards(base, tokenizer, judge, prompts, jcfg, eval_cfg, device)
        write_text(path, json.dumps(theirs, ensure_ascii=False))
    t0 = time.perf_counter()
    mine = answer_rewards(policy, tokenizer, judge, prompts, jcfg, eval_cfg, device)
    seconds = time.perf_counter() - t0
    wins = [1.0 if a > b else 0.0 if a < b else 0.5 for a, b in zip(mine["rewards"], theirs["rewards"])]
    mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
    return {"judge_model": str(jcfg["reward_model"]), "judge_prompt_ids": ids, "judge_rewards": mine["rewards"],
            "base_judge_rewards": theirs["rewards"], "judge_reward": mean(mine["rewards"]),
            "base_judge_reward": mean(theirs["rewards"]), "judge_win_rate": mean(wins),
            "judge_reward_sampled": mean(mine.get("sampled_rewards") or []),
            "base_judge_reward_sampled": mean(theirs.get("sampled_rewards") or []), "judge_seconds": seconds}


# ------------------------------------------------------------------------------- a small reward model
def pair_accuracy(path: str, rows: list[dict], device: str = "cpu", batch_size: int = 64, max_length: int = 512) -> float:
    """Share of pairs whose chosen answer the reward model rewards above the rejected one (ties 0.5)."""
    model, tok = load(path, device)
    prompts = [r["prompt"] for r in rows for _ in (0, 1)]
    answers = [r[k] for r in rows for k in ("chosen", "rejected")]
    r = rewards(model, tok, prompts, answers, batch_size, max_length, device)
    return sum(1.0 if c > j else 0.0 if c < j else 0.5 for c, j in zip(r[0::2], r[1::2])) / len(rows)


def train(overrides: list[str], out: Path, epochs: float = 2.0, learning_rate: float = 1e-3) -> dict[str, Any]:
    """A reward model for the embedded default: the embedded base with a one-output head, trained with TRL's
    RewardTrainer on the train split's pairs (the same data and base as every method, so it knows this data's
    Arabic); saved with its tokenizer to `out`, with judge_card.json (data, settings, held-out accuracy)."""
    import tempfile

    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from harness import compose_config, models
    from harness import data as datalib
    from harness.batching import with_buckets
    from harness.job import pick_device

    cfg = compose_config(overrides)
    canonical = datalib.load(cfg["data"])
    base_dir = models.resolve_base(cfg["model"], canonical, Path(cfg["paths"]["cache_dir"]))
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForSequenceClassification.from_pretrained(base_dir, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    rows = datalib.view(canonical, "pairwise")
    device, dtype = pick_device(cfg["hardware"])  # TRL's configs default to bf16 and checkpointing: set both as jobs do
    with tempfile.TemporaryDirectory() as tmp:
        args = RewardConfig(output_dir=tmp, per_device_train_batch_size=16, learning_rate=learning_rate,
                            num_train_epochs=epochs, lr_scheduler_type="linear", warmup_steps=0.1, seed=cfg["seed"],
                            logging_steps=10, save_strategy="no", report_to=[], max_length=cfg["eval"]["max_length"],
                            use_cpu=device == "cpu", bf16=dtype == "bfloat16", fp16=dtype == "float16",
                            activation_checkpointing=bool(cfg["model"].get("gradient_checkpointing")),
                            dataloader_num_workers=0)
        bucket = (cfg.get("batching") or {}).get("length_bucket")
        trainer = (with_buckets(RewardTrainer) if bucket else RewardTrainer)(
            model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
            **({"length_bucket": bucket} if bucket else {}))
        t0 = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - t0
        trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    card = {"base": base_dir, "dataset": cfg["data"]["name"], "dataset_fingerprint": canonical.fingerprint(),
            "train_pairs": len(rows), "epochs": epochs, "learning_rate": learning_rate, "train_seconds": seconds,
            "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
            "val_pair_accuracy": pair_accuracy(str(out), canonical.splits["val"], max_length=cfg["eval"]["max_length"])}
    write_text(Path(out) / "judge_card.json", json.dumps(card, indent=1))
    return card


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m harness.judge", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a small reward model on the train split (embedded default)")
    t.add_argument("--out", required=True, type=Path)
    t.add_argument("--epochs", type=float, default=2.0)
    t.add_argument("--learning-rate", type=float, default=1e-3)
    t.add_argument("overrides", nargs="*", help="Hydra overrides of the harness config (data=..., model=...)")
    a = sub.add_parser("accuracy", help="held-out pair accuracy of a reward model on this data")
    a.add_argument("reward_model")
    a.add_argument("--split", default="val", choices=("val", "test"))
    a.add_argument("overrides", nargs="*")
    args = ap.parse_args(argv)
    if args.command == "train":
        card = train(args.overrides, args.out, args.epochs, args.learning_rate)
        print(f"reward model -> {args.out}: {card['train_pairs']} pairs, {card['train_seconds']:.1f}s, loss "
              f"{card['loss_first']:.3f} -> {card['loss_last']:.3f}, val pair accuracy {card['val_pair_accuracy']:.3f}")
        return 0
    from harness import compose_config
    from harness import data as datalib

    cfg = compose_config(args.overrides)
    rows = datalib.load(cfg["data"]).splits[args.split]
    print(f"{args.reward_model}: {args.split} pair accuracy {pair_accuracy(args.reward_model, rows):.3f} ({len(rows)} pairs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Held-out quality, method-agnostic: the same code scores every trained policy and the base model.

Metrics per split (see harness.results for definitions): pref_accuracy, pref_accuracy_norm, reward_margin,
chosen_nll, exact_match, kl_to_base. The base model's own numbers are computed once per (base, data,
evaluation settings) and cached, so every row can carry its gain over the base.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import torch

from harness import controls
from harness import metrics as metrics_table
from harness.data.arabic import answer_matches, closer_to_chosen
from harness.data.encoding import encode_many, left_padded, prompt_ids
from harness.store import fingerprint, write_text



@torch.no_grad()
def completion_logps(model, tokenizer, items: list[tuple[Any, Any]], max_length: int, batch_size: int,
                     device: str) -> list[tuple[float, int]]:
    """(summed log-prob, token count) of each completion given its prompt, in the order of items. Batches are
    formed in length order (less padding; the masked result does not depend on the batch)."""
    model.eval()
    out: list[tuple[float, int]] = [(0.0, 0)] * len(items)
    encoded = encode_many(tokenizer, items, max_length)
    order = sorted(range(len(encoded)), key=lambda k: len(encoded[k][0]) + len(encoded[k][1]))
    for i in range(0, len(order), batch_size):
        index = order[i : i + batch_size]
        chunk = [encoded[k] for k in index]
        width = max(len(p) + len(c) for p, c in chunk)
        ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        target = torch.zeros(len(chunk), width, dtype=torch.bool)
        for j, (p, c) in enumerate(chunk):
            ids[j, : len(p) + len(c)] = torch.tensor(p + c)
            mask[j, : len(p) + len(c)] = 1
            target[j, len(p) : len(p) + len(c)] = True
        ids, mask, target = ids.to(device), mask.to(device), target.to(device)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        tmask = target[:, 1:]
        sums = (logp * tmask).sum(-1).tolist()
        counts = tmask.sum(-1).tolist()
        for k, sc in zip(index, zip(sums, counts)):
            out[k] = sc
    return out


@torch.no_grad()
def greedy_answers(model, tokenizer, prompts: list[Any], max_new_tokens: int, batch_size: int, device: str) -> list[str]:
    model.eval()
    answers = []
    pad = tokenizer.pad_token_id
    for i in range(0, len(prompts), batch_size):
        ids = [prompt_ids(tokenizer, p) for p in prompts[i : i + batch_size]]
        input_ids, mask, width = left_padded(ids, pad, device)
        out = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=pad)
        answers += tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
    return answers


@torch.no_grad()
def kl_to_base(model, base, tokenizer, prompts: list[Any], cfg: dict, device: str) -> float:
    """Monte-Carlo KL(policy || base) per generated token: sample from the policy, average
    log pi(y) - log pi_base(y) over sampled tokens."""
    torch.manual_seed(cfg["kl_seed"])
    pad = tokenizer.pad_token_id
    total, tokens = 0.0, 0
    for i in range(0, len(prompts), cfg["batch_size"]):
        ids = [prompt_ids(tokenizer, p) for p in prompts[i : i + cfg["batch_size"]]]
        input_ids, mask, width = left_padded(ids, pad, device)
        out = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=cfg["max_new_tokens"],
                             do_sample=True, temperature=1.0, top_k=0, top_p=1.0, pad_token_id=pad)
        gen = out[:, width:]
        gen_mask = torch.ones_like(gen, dtype=torch.bool)
        for j, seq in enumerate(gen.tolist()):  # tokens after the first EOS are padding
            if tokenizer.eos_token_id in seq:
                gen_mask[j, seq.index(tokenizer.eos_token_id) + 1 :] = False
        full_mask = torch.cat([mask, gen_mask.long()], 1)
        lp = [_token_logps(m, out, full_mask, width) for m in (model, base)]
        total += ((lp[0] - lp[1]) * gen_mask).sum().item()
        tokens += int(gen_mask.sum())
    return total / max(tokens, 1)


def _token_logps(model, ids: torch.Tensor, mask: torch.Tensor, start: int) -> torch.Tensor:
    logits = model(input_ids=ids, attention_mask=mask).logits[:, start - 1 : -1].float()
    return torch.log_softmax(logits, -1).gather(-1, ids[:, start:, None]).squeeze(-1)


def score_split(model, tokenizer, rows: list[dict], cfg: dict, device: str,
                base_logps: list[tuple[float, int]] | None, base=None) -> tuple[dict[str, Any], list]:
    """All metrics for one split; returns (metrics, per-completion log-probs for caching)."""
    pairs = [r for r in rows if "chosen" in r]
    items = [(r["prompt"], r[k]) for r in pairs for k in ("chosen", "rejected")]
    lp = completion_logps(model, tokenizer, items, cfg["max_length"], cfg["batch_size"], device)
    ch, rj = lp[0::2], lp[1::2]
    m: dict[str, Any] = {}
    if pairs:
        m["_pair_scores"], m["_pair_scores_norm"] = pair_scores(lp)
        m["pref_accuracy"] = sum(m["_pair_scores"]) / len(pairs)
        m["pref_accuracy_norm"] = sum(m["_pair_scores_norm"]) / len(pairs)
        m["chosen_nll"] = -sum(c[0] for c in ch) / max(sum(c[1] for c in ch), 1)
    if pairs and base_logps is not None:
        bch, brj = base_logps[0::2], base_logps[1::2]
        margins = [(c[0] - bc[0]) - (r[0] - br[0]) for c, r, bc, br in zip(ch, rj, bch, brj)]
        m["reward_margin"] = cfg["report_beta"] * sum(margins) / len(margins)
    questions = _unique_questions(rows)
    if len(questions) > cfg["max_em_questions"]:  # a seeded draw over the whole split, in split order
        keep = sorted(random.Random(0).sample(range(len(questions)), cfg["max_em_questions"]))
        questions = [questions[k] for k in keep]
    if questions:
        got = greedy_answers(model, tokenizer, [q["prompt"] for q in questions], cfg["max_new_tokens"],
                             cfg["batch_size"], device)
        m["exact_match"] = sum(answer_matches(g, q["answer"]) for g, q in zip(got, questions)) / len(questions)
        judged = [closer_to_chosen(g, q["chosen"], q["rejected"]) for g, q in zip(got, questions)
                  if q.get("chosen") and q.get("rejected")]
        m["gen_pref_accuracy"] = sum(judged) / len(judged) if judged else None
    m["_em_questions"] = len(questions)
    if base is not None:
        prompts = [r["prompt"] for r in _unique_prompts(rows)][: cfg["kl_prompts"]]
        m["kl_to_base"] = kl_to_base(model, base, tokenizer, prompts, cfg, device) if prompts else None
    return m, lp


def pair_scores(logps: list) -> tuple[list[float], list[float]]:
    """Per pair, from (summed log-prob, tokens) of chosen and rejected in turn: 1 when chosen scores higher,
    0 when lower, 0.5 on a tie; summed and per-token (length-normalised) log-probs."""
    ch, rj = logps[0::2], logps[1::2]
    cmp = lambda a, b: 1.0 if a > b else 0.0 if a < b else 0.5  # noqa: E731
    return ([cmp(c[0], r[0]) for c, r in zip(ch, rj)],
            [cmp(c[0] / max(c[1], 1), r[0] / max(r[1], 1)) for c, r in zip(ch, rj)])


def pair_columns(rows: list[dict], policy: dict, base: dict) -> dict[str, Any]:
    """The test split's per-pair record: ids, parts and categories, and the policy's and the base's scores,
    so the report can resample test pairs and pair methods, the base and the controls pair by pair."""
    pairs = [r for r in rows if "chosen" in r]
    return {"test_pair_ids": [str(r.get("id", i)) for i, r in enumerate(pairs)],
            "test_pair_parts": [str(r.get("part") or r.get("source") or "all") for r in pairs],
            "test_pair_categories": [str(r.get("category") or r.get("domain") or r.get("failure") or "all")
                                     for r in pairs],
            "test_pair_scores": policy.get("_pair_scores"), "test_pair_scores_norm": policy.get("_pair_scores_norm"),
            "base_test_pair_scores": base.get("_pair_scores"),
            "base_test_pair_scores_norm": base.get("_pair_scores_norm")}


# Base results this process has read or computed, by cache file: every job of a sweep on one base needs the same one
# (read-only: evaluate() only reads it).
_BASE_RESULTS: dict[str, dict] = {}


def base_quality(base, tokenizer, splits: dict[str, list[dict]], cfg: dict, device: str, cache: Path,
                 base_key: str) -> dict[str, Any]:
    """The base model's metrics and per-completion log-probs for val and test, and the trivial controls'
    per-pair scores on test (harness.controls, fit on train), cached on disk: they are the same for every job
    on this base and data."""
    key = fingerprint({"base": base_key, "eval": pair_cfg(cfg), "val": splits["val"], "test": splits["test"],
                       "train": fingerprint(splits["train"]), "format": 3})
    path = Path(cache) / f"base-quality-{key}.json"
    if str(path) in _BASE_RESULTS:
        return _BASE_RESULTS[str(path)]
    if path.exists():
        return _BASE_RESULTS.setdefault(str(path), json.loads(path.read_text()))
    result = {}
    for split in ("val", "test"):
        metrics, lp = score_split(base, tokenizer, splits[split], cfg, device, None)
        result[split] = {"metrics": metrics, "logps": lp}
    result["controls"] = controls.score_controls(splits["train"], splits["test"])
    write_text(path, json.dumps(result))
    return _BASE_RESULTS.setdefault(str(path), json.loads(json.dumps(result)))  # as a later job reads it from disk


def pair_cfg(cfg: dict) -> dict:
    """The evaluation settings this module reads (not the optional lm_eval and judge blocks, which have their
    own caches): turning those on must not recompute the base's pair scores."""
    return {k: v for k, v in cfg.items() if k not in ("lm_eval", "judge")}


def evaluate(model, base, tokenizer, splits: dict[str, list[dict]], cfg: dict, device: str, base_result: dict) -> dict[str, Any]:
    """Row fields for the policy on val (val_ prefix) and test (no prefix), plus base metrics and gains."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {}
    for split, prefix in (("test", ""), ("val", "val_")):
        metrics, _ = score_split(model, tokenizer, splits[split], cfg, device, base_result[split]["logps"],
                                 base if split == "test" else None)  # KL to the base: on test prompts only
        if split == "test":
            row["eval_pairs"] = sum("chosen" in r for r in splits[split])
            row["eval_em_questions"] = metrics["_em_questions"]
            row |= pair_columns(splits[split], metrics, base_result[split]["metrics"])
            row["controls_json"] = json.dumps(base_result.get("controls") or {}, sort_keys=True)
        else:
            row["val_pair_scores"] = metrics.get("_pair_scores")
        row |= {prefix + k: v for k, v in metrics.items() if not k.startswith("_")}
    base_test = base_result["test"]["metrics"]
    row |= {"base_" + k: base_test.get(k) for k in metrics_table.BASE_SCORED if k in metrics_table.PAIR_SCORED}
    for k in ("pref_accuracy", "exact_match", "gen_pref_accuracy"):
        if row.get(k) is not None and base_test.get(k) is not None:
            row[k + "_gain"] = row[k] - base_test[k]
    row["report_beta"] = cfg["report_beta"]
    row["eval_seconds"] = time.perf_counter() - t0
    return row


def _unique_questions(rows: list[dict]) -> list[dict]:
    seen, out = set(), []
    for r in rows:
        if r.get("answer") and r["prompt"] not in seen:
            seen.add(r["prompt"])
            out.append(r)
    return out


def _unique_prompts(rows: list[dict]) -> list[dict]:
    seen, out = set(), []
    for r in rows:
        key = json.dumps(r["prompt"], ensure_ascii=False)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out

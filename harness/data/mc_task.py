"""The shipped multiple-choice task for the alignment-tax check (harness/lm_eval_tasks/apb_arabic_mc/): Arabic
questions with one correct answer sentence and two or three wrong ones, built from the generated verifiable
questions (weekdays, months, capitals, antonyms, plurals, number words, sums). The default training data
(minimal pairs + helpfulness) holds none of them, so the task measures ability the preference data does not
teach: what preference training may cost.

    python -m harness.data.mc_task                  # rewrite harness/lm_eval_tasks/apb_arabic_mc/apb_arabic_mc.jsonl
"""

from __future__ import annotations

import random
from pathlib import Path

from harness.store import write_jsonl

OUT = Path(__file__).resolve().parents[1] / "lm_eval_tasks" / "apb_arabic_mc" / "apb_arabic_mc.jsonl"
PER_DOMAIN = 25      # at most this many questions per question type (8 types: up to 200 items)
MAX_CHOICES = 4


def items(seed: int = 0) -> list[dict]:
    """One item per verifiable question (every split: the default data holds none of them): {id, domain,
    question, choices, label}. Wrong choices are the question's own rejected answers, then the right sentence
    with its answer word swapped for another answer of the same question type, up to MAX_CHOICES in all;
    choices and items in a seeded order, label the index of the right one. (Training on data=verifiable or arabic_mix
    teaches these questions: the task then measures recall, not a tax.)"""
    from harness.data import verifiable

    rows = verifiable.generate(seed=0)
    answers: dict[str, list[str]] = {}
    for r in rows:
        if r["answer"] not in answers.setdefault(r["domain"], []):
            answers[r["domain"]].append(r["answer"])
    first: dict[str, dict] = {}
    wrong: dict[str, list[str]] = {}
    for r in rows:
        first.setdefault(r["prompt"], r)
        if r["rejected"] not in wrong.setdefault(r["prompt"], []):
            wrong[r["prompt"]].append(r["rejected"])
    rng = random.Random(seed)
    by_domain: dict[str, list[dict]] = {}
    for prompt, r in first.items():
        chosen, answer = r["chosen"], r["answer"]
        choices = [chosen, *wrong[prompt]][:MAX_CHOICES]
        if chosen.count(answer) == 1:
            for other in rng.sample(answers[r["domain"]], len(answers[r["domain"]])):
                swapped = chosen.replace(answer, other)
                if len(choices) < MAX_CHOICES and other != answer and swapped not in choices:
                    choices.append(swapped)
        if len(choices) < MAX_CHOICES:
            continue
        rng.shuffle(choices)
        by_domain.setdefault(r["domain"], []).append({"id": r["id"], "domain": r["domain"], "question": prompt,
                                                      "choices": choices, "label": choices.index(chosen)})
    out = []
    for domain in sorted(by_domain):
        pool = by_domain[domain]
        out += [pool[i] for i in sorted(rng.sample(range(len(pool)), min(PER_DOMAIN, len(pool))))]
    rng.shuffle(out)  # lm-eval's `limit` keeps the first items: any prefix mixes the question types
    return out


if __name__ == "__main__":
    write_jsonl(items(), OUT)

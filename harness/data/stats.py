"""Dataset statistics: per dataset part and split, rows, share of Arabic script per field, mean tokens per
field and tokenizer fertility (tokens per whitespace word) under the embedded tokenizer and, given a local
model directory, under that model's own tokenizer.

    python -m harness.data.stats                                  # the default data (curated + verifiable)
    python -m harness.data.stats data=file data.path=pairs.jsonl
    python -m harness.data.stats --model-dir /path/to/Qwen3-1.7B  # also that model's tokenizer
    python -m harness.data.stats --write-datasheet                # refresh the table in harness/data/README.md

The embedded tokenizer is the one of the embedded base the training jobs use: trained here the same way
(deterministic), or with --build-base taken from the base that harness.models.resolve_base builds once and
caches under paths.cache_dir (its pre-training takes minutes on a CPU for the full data).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from statistics import mean
from typing import Any

from harness import data as datalib
from harness.data.arabic import arabic_share

DATASHEET = Path(__file__).parent / "README.md"
BEGIN, END = "<!-- stats:begin -->", "<!-- stats:end -->"
FIELDS = ("prompt", "chosen", "rejected", "completion")


def compose(overrides: list[str]) -> dict:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from harness import CONF_DIR as conf
    with initialize_config_dir(str(conf), version_base="1.3"):
        return OmegaConf.to_container(hydra_compose("config", overrides=overrides), resolve=True)


def embedded_tokenizer(cfg: dict, canonical: datalib.Canonical, build_base: bool) -> Any:
    """The embedded base's tokenizer: from the cached base (built first with build_base), else trained
    alone the way harness.models.build_embedded trains it (BPE training is deterministic: same tokenizer,
    seconds instead of the base's pre-training)."""
    from transformers import AutoTokenizer

    from harness import models

    model_cfg = {**cfg["model"], "name_or_path": None, "weights": "pretrained"}
    if build_base:
        return AutoTokenizer.from_pretrained(models.resolve_base(model_cfg, canonical, Path(cfg["paths"]["cache_dir"])))
    rows = canonical.train if canonical.kind == "pairwise" else models._pseudo_pairs(canonical)
    texts = [models._flat(r[k]) for r in rows for k in ("prompt", "chosen", "rejected")]
    return models.train_tokenizer(texts, model_cfg["tokenizer"]["vocab_size"])


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else "\n".join(m["content"] for m in value)


def field_stats(rows: list[dict], tokenizers: dict[str, Any]) -> dict[str, Any]:
    """Arabic share, mean tokens per field for each tokenizer, and fertility over all fields."""
    out: dict[str, Any] = {"rows": len(rows), "fields": {}}
    words = {name: 0 for name in tokenizers}
    tokens = {name: 0 for name in tokenizers}
    for field in FIELDS:
        texts = [text_of(r[field]) for r in rows if field in r]
        if not texts:
            continue
        shares = [s for s in map(arabic_share, texts) if s is not None]
        entry = {"arabic": mean(shares) if shares else 0.0}
        for name, tok in tokenizers.items():
            counts = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
            entry[f"tokens_{name}"] = mean(counts)
            tokens[name] += sum(counts)
            words[name] += sum(len(t.split()) for t in texts)
        out["fields"][field] = entry
    out["fertility"] = {name: tokens[name] / max(words[name], 1) for name in tokenizers}
    out["total_tokens"] = tokens
    return out


def parts_of(canonical: datalib.Canonical) -> dict[str, dict[str, list[dict]]]:
    """Per part (the rows' `source`, when there are several) and the whole dataset, rows by split."""
    parts: dict[str, dict[str, list[dict]]] = {canonical.name: canonical.splits}
    sources = sorted({r.get("source") for s in canonical.splits.values() for r in s if r.get("source")})
    if len(sources) > 1:
        for src in sources:
            parts[src] = {s: [r for r in rows if r.get("source") == src] for s, rows in canonical.splits.items()}
    return parts


def table(stats: dict[str, dict[str, dict]], tokenizer_names: list[str]) -> str:
    """Markdown table: one line per (part, split)."""
    fields = [f for f in FIELDS if any(f in s["fields"] for splits in stats.values() for s in splits.values())]
    head = ["data", "split", "rows"]
    for f in fields:
        head += [f"{f} Arabic %"] + [f"{f} tokens ({n})" for n in tokenizer_names]
    head += [f"tokens total ({n})" for n in tokenizer_names] + [f"fertility ({n})" for n in tokenizer_names]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for part, splits in stats.items():
        for split, s in splits.items():
            cells = [part, split, str(s["rows"])]
            for f in fields:
                e = s["fields"].get(f)
                cells += ([f"{100 * e['arabic']:.1f}"] + [f"{e[f'tokens_{n}']:.1f}" for n in tokenizer_names]
                          if e else ["-"] * (1 + len(tokenizer_names)))
            cells += [str(s["total_tokens"][n]) for n in tokenizer_names]
            cells += [f"{s['fertility'][n]:.2f}" for n in tokenizer_names]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def controls_table(canonical: datalib.Canonical) -> str:
    """The trivial controls (harness.controls; bag-of-words fit on train) on the test split: share of pairs
    where each picks the chosen answer, overall, per part and per category of each part."""
    from harness import controls

    test = [r for r in canonical.splits["test"] if "chosen" in r and "rejected" in r]
    if canonical.kind != "pairwise" or not test:
        return ""
    scores = controls.score_controls(canonical.train, test)
    def part(r: dict) -> str:
        return str(r.get("part") or r.get("source") or "all")
    groups = {"all": [True] * len(test)}
    for p in sorted({part(r) for r in test}):
        groups[p] = [part(r) == p for r in test]
        for c in sorted({str(r.get("category") or r.get("domain")) for r in test if part(r) == p}):
            groups[f"{p}/{c}"] = [part(r) == p and str(r.get("category") or r.get("domain")) == c for r in test]
    lines = ["| test pairs | n | " + " | ".join(scores) + " |", "|" + "---|" * (len(scores) + 2)]
    for label, mask in groups.items():
        n = sum(mask)
        cells = [f"{sum(s for s, m in zip(v, mask) if m) / n:.3f}" for v in scores.values()]
        lines.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_datasheet(markdown: str, command: str, path: Path = DATASHEET) -> None:
    text = path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path} has no {BEGIN} ... {END} block to fill")
    block = f"{BEGIN}\nProduced by `{command}`; tokens are counted without special tokens or chat template.\n\n{markdown}\n{END}"
    path.write_text(re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S),
                    encoding="utf-8")


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. data=file data.path=pairs.jsonl")
    parser.add_argument("--model-dir", help="a local model directory: also count with its own tokenizer")
    parser.add_argument("--build-base", action="store_true",
                        help="build (or reuse) the whole embedded base, not only its tokenizer")
    parser.add_argument("--write-datasheet", action="store_true", help=f"replace the stats block in {DATASHEET}")
    args = parser.parse_args(argv)
    cfg = compose(args.overrides)
    canonical = datalib.load(cfg["data"])
    tokenizers = {"embedded": embedded_tokenizer(cfg, canonical, args.build_base)}
    model_dir = args.model_dir or cfg["model"].get("name_or_path")
    if model_dir and Path(model_dir).is_dir():
        from transformers import AutoTokenizer

        tokenizers[Path(model_dir).name] = AutoTokenizer.from_pretrained(model_dir)
    stats = {part: {s: field_stats(rows, tokenizers) for s, rows in splits.items()}
             for part, splits in parts_of(canonical).items()}
    markdown = table(stats, list(tokenizers))
    ctl = controls_table(canonical)
    if ctl:
        markdown += ("\n\nTrivial controls on the test split (share of pairs where the rule picks the chosen answer; "
                     "ties count one half; `bag_of_words` is fit on the train split; harness/controls.py):\n\n" + ctl)
    print(markdown)
    if args.write_datasheet:
        write_datasheet(markdown, " ".join(["python -m harness.data.stats", *args.overrides, "--write-datasheet"]))
    return markdown


if __name__ == "__main__":
    main(sys.argv[1:])

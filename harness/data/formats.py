"""Users' own preference data: a file (JSONL, a JSON list or parquet) or a hub dataset, read into canonical
rows and checked row by row. Any bad row stops the job before training with a DataError naming the file,
the line (the row number for parquet and hub data) and the field.

    python -m harness.train data=file data.path=pairs.jsonl method=dpo
    python -m harness.train data=file data.path=unpaired.json method=kto data.eval_path=held_out.json
    python -m harness.train data=file data.path=qa.parquet method=sft data.columns.prompt=question
    python -m harness.train data=hub data.name=OWNER/NAME data.split=train

Row kinds, decided from the first row: pairwise (prompt, chosen, rejected), unpaired (prompt, completion,
label) or sft (prompt, completion). Texts are strings or lists of {role, content} chat messages; a prompt
given as a string next to message-list completions becomes one user turn, and completions that repeat the
prompt turns (the "implicit prompt" layout of many hub sets) have them cut off.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from harness.data import SPLITS, Canonical, normalize_row, prompt_key
from harness.data.errors import DataError

log = logging.getLogger(__name__)

KINDS = {"pairwise": ("prompt", "chosen", "rejected"), "unpaired": ("prompt", "completion", "label"),
         "sft": ("prompt", "completion")}
COMPLETIONS = ("chosen", "rejected", "completion")
KIND_HINT = ("expected columns prompt, chosen, rejected (pairwise), prompt, completion, label (unpaired) or "
             "prompt, completion (sft); map other names with data.columns.prompt=YOUR_NAME etc.")
Record = tuple[int, dict]  # (line or row number, raw row)


# ------------------------------------------------------------------------------------------ loaders
def load_file(cfg: dict) -> Canonical:
    """Rows from data.path; held-out rows from data.eval_path / val_path / test_path or split off by prompt."""
    if not cfg.get("path"):
        raise DataError("data=file needs the training rows: data.path=FILE (.jsonl, .json or .parquet)")
    path = Path(cfg["path"])
    train = read_file(path, cfg.get("format", "auto"))
    held = {s: read_file(Path(cfg[f"{s}_path"]), cfg.get("format", "auto")) for s in ("val", "test")
            if cfg.get(f"{s}_path")}
    eval_records = read_file(Path(cfg["eval_path"]), cfg.get("format", "auto")) if cfg.get("eval_path") else None
    return _assemble(cfg, str(path), train, held, (str(cfg.get("eval_path")), eval_records))


def load_hub(cfg: dict) -> Canonical:
    """A hub dataset by name (data.name, data.split, optional data.eval_split) through datasets.load_dataset."""
    name = cfg.get("name")
    if not name or "/" not in str(name):
        raise DataError("data=hub needs a dataset name: data.name=OWNER/NAME data.split=train")
    where = f"hf://datasets/{name}"
    train = _hub_records(cfg, cfg.get("split") or "train", where)
    eval_records = _hub_records(cfg, cfg["eval_split"], where) if cfg.get("eval_split") else None
    return _assemble(cfg, f"{where} split={cfg.get('split') or 'train'}", train, {},
                     (f"{where} split={cfg.get('eval_split')}", eval_records))


def _hub_records(cfg: dict, split: str, where: str) -> list[Record]:
    try:
        import datasets

        ds = datasets.load_dataset(cfg["name"], cfg.get("subset"), split=split, revision=cfg.get("revision"))
    except Exception as exc:  # offline, unknown name, gated, no such split: all end the same way for a user
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"the hub dataset {cfg['name']} (split {split}) could not be reached ({reason}). Without network "
            f"access, download it where you have one (datasets.load_dataset(...).to_parquet('data.parquet')) "
            f"and point at the local file instead: data=file data.path=data.parquet, with the same data.columns.",
            path=where) from None
    return list(enumerate(ds.to_list(), 1))


# ------------------------------------------------------------------------------------------ reading
def read_file(path: Path, fmt: str = "auto") -> list[Record]:
    """(line, raw row) records of a JSONL, JSON-list or parquet file."""
    if not path.is_file():
        raise DataError("the file does not exist (check data.path / data.eval_path)", path=str(path))
    fmt = fmt if fmt != "auto" else _sniff(path)
    if fmt == "parquet":
        return _read_parquet(path)
    text = _decode(path.read_bytes(), path)
    records = _read_json_list(text, path) if fmt == "json" else _read_jsonl(text, path)
    if not records:
        raise DataError("the file holds no rows", path=str(path))
    return records


def _sniff(path: Path) -> str:
    if path.suffix == ".parquet":
        return "parquet"
    with path.open("rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if head.startswith(b"[") else "jsonl"


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = raw.rfind(b"\n", 0, exc.start) + 1
        line_text = raw[start : exc.start].decode("utf-8", "replace")
        raise DataError(f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start - start + 1}); "
                        f"save the file as UTF-8", path=str(path), line=raw.count(b"\n", 0, exc.start) + 1,
                        field=_field_before(line_text, len(line_text))) from None


def _read_jsonl(text: str, path: Path) -> list[Record]:
    records = []
    for number, line in enumerate(text.split("\n"), 1):  # not splitlines(): U+2028 may sit inside a string
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON ({exc.msg} at column {exc.colno}); each line must be one JSON object",
                            path=str(path), line=number, field=_field_before(line, exc.pos)) from None
        if not isinstance(row, dict):
            raise DataError(f"expected a JSON object, got {type(row).__name__}", path=str(path), line=number)
        records.append((number, row))
    return records


def _read_json_list(text: str, path: Path) -> list[Record]:
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        line = text.split("\n")[exc.lineno - 1]
        raise DataError(f"invalid JSON ({exc.msg} at column {exc.colno})", path=str(path), line=exc.lineno,
                        field=_field_before(line, exc.colno - 1)) from None
    if not isinstance(rows, list):
        raise DataError("a .json file must hold a list of row objects (or one object per line)", path=str(path))
    records = list(zip(_element_lines(text), rows))
    for line, row in records:
        if not isinstance(row, dict):
            raise DataError(f"expected a JSON object, got {type(row).__name__}", path=str(path), line=line)
    return records


def _element_lines(text: str) -> list[int]:
    """Line on which each element of a top-level JSON list starts (json.loads keeps no positions)."""
    decoder, lines = json.JSONDecoder(), []
    pos, line, ws = text.index("[") + 1, text.count("\n", 0, text.index("[")) + 1, re.compile(r"[\s,]*")
    while True:
        skip = ws.match(text, pos).end()
        line, pos = line + text.count("\n", pos, skip), skip
        if pos >= len(text) or text[pos] == "]":
            return lines
        lines.append(line)
        _, end = decoder.raw_decode(text, pos)
        line, pos = line + text.count("\n", pos, end), end


def _read_parquet(path: Path) -> list[Record]:
    try:
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several types for a damaged or non-parquet file
        raise DataError(f"cannot read as parquet ({type(exc).__name__}: {exc})", path=str(path)) from None
    if not rows:
        raise DataError("the file holds no rows", path=str(path))
    return list(enumerate(rows, 1))


def _field_before(line: str, pos: int) -> str | None:
    """The last JSON key before a position on a line: where a broken value most likely sits."""
    keys = re.findall(r'"((?:[^"\\]|\\.)*)"\s*:', line[:pos])
    return keys[-1] if keys else None


# ------------------------------------------------------------------------------------ canonical rows
def _assemble(cfg: dict, where: str, train: list[Record], held: dict[str, list[Record]],
              eval_source: tuple[str, list[Record] | None]) -> Canonical:
    cols = _columns(cfg)
    kind = _detect_kind(train[0], cols, where)
    rows = _canonical_rows(train, kind, cols, cfg, where)
    splits = {s: _canonical_rows(records, kind, cols, cfg, cfg[f"{s}_path"]) for s, records in held.items()}
    eval_where, eval_records = eval_source
    missing = [s for s in ("val", "test") if s not in splits]
    if missing and eval_records is not None:
        eval_rows = _canonical_rows(eval_records, kind, cols, cfg, eval_where)
        splits |= _carve(eval_rows, missing, 1 / len(missing), eval_where, all_held_out=True)
        missing = []
    if missing:
        carved = _carve(rows, missing, float(cfg.get("eval_fraction", 0.1)), where)
        rows = carved.pop("train")
        splits |= carved
    splits["train"] = _without_held_out_prompts(rows, splits, where)
    return Canonical(str(cfg.get("name") or Path(where).stem), kind, {s: splits[s] for s in SPLITS})


def _columns(cfg: dict) -> dict[str, str]:
    cols = {k: k for k in ("prompt", "chosen", "rejected", "completion", "label")}
    return cols | {k: str(v) for k, v in (cfg.get("columns") or {}).items() if v}


def _detect_kind(first: Record, cols: dict[str, str], where: str) -> str:
    line, raw = first
    has = {k for k, src in cols.items() if src in raw}
    if {"chosen", "rejected"} & has:
        return "pairwise"
    if "completion" in has:
        return "unpaired" if "label" in has else "sft"
    raise DataError(f"cannot tell the kind of rows from the columns {sorted(raw)}: {KIND_HINT}",
                    path=where, line=line, field=cols["prompt"] if cols["prompt"] not in raw else None)


def _canonical_rows(records: list[Record], kind: str, cols: dict[str, str], cfg: dict, where: str) -> list[dict]:
    """Checked, normalized rows; over-long rows and duplicates dropped and counted."""
    rows = [_canonical_row(line, raw, kind, cols, cfg, where) for line, raw in records]
    limit = cfg.get("max_chars")
    if limit:
        kept = [r for r in rows if _chars(r) <= int(limit)]
        if not kept:
            line, _ = records[0]
            longest = max((f for f in KINDS[kind] if f != "label"), key=lambda f: _chars({f: rows[0][f]}))
            raise DataError(f"all {len(rows)} rows are longer than data.max_chars={limit} characters; raise "
                            f"data.max_chars or shorten the rows", path=where, line=line, field=cols[longest])
        if len(kept) < len(rows):
            log.warning("%s: dropped %d of %d rows longer than data.max_chars=%s", where, len(rows) - len(kept),
                        len(rows), limit)
        rows = kept
    return _deduplicate(rows, kind, where)


def _canonical_row(line: int, raw: dict, kind: str, cols: dict[str, str], cfg: dict, where: str) -> dict:
    def fail(message: str, field: str) -> DataError:
        return DataError(message, path=where, line=line, field=cols.get(field, field))

    values: dict[str, Any] = {}
    for field in KINDS[kind]:
        value = raw.get(cols[field])
        if value is None and not (field == "prompt" and kind == "pairwise"):
            raise fail(f"missing required field for {kind} rows ({', '.join(cols[f] for f in KINDS[kind])})", field)
        values[field] = value if field == "label" or value is None else _text(value, cfg, lambda m, f=field: fail(m, f))
    if kind == "unpaired" and not isinstance(values["label"], bool):
        raise fail(f"label must be true or false (a JSON boolean), got {values['label']!r}", "label")
    values = _conversation(values, kind, lambda m, f: fail(m, f))
    row = {"id": str(raw.get("id", f"{Path(where).stem}:{line}")), **_tags(raw, cols), **values}
    row = normalize_row(row) if cfg.get("normalize", True) else row
    for field in KINDS[kind]:
        if field != "label" and _blank(row[field]):
            raise fail("empty or whitespace-only text", field)
    if kind == "pairwise" and row["chosen"] == row["rejected"]:
        raise fail("chosen and rejected are identical: a pair must differ", "rejected")
    return row


def _text(value: Any, cfg: dict, fail) -> Any:
    """A string or a list of {role, content} messages; message lists stored as strings are decoded when
    data.decode_messages is set (some hub sets store them that way)."""
    if isinstance(value, str) and cfg.get("decode_messages") and value.lstrip().startswith("["):
        value = _decoded_messages(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        for i, m in enumerate(value):
            if not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise fail(f"message {i} must have string 'role' and 'content', got {sorted(m)}")
        return [{"role": m["role"], "content": m["content"]} for m in value]
    raise fail(f"must be a string or a non-empty list of {{role, content}} messages, got {type(value).__name__}")


def _decoded_messages(value: str) -> Any:
    for parse in (json.loads, ast.literal_eval):  # JSON, or Python's repr of a list of dicts
        try:
            return parse(value)
        except (ValueError, SyntaxError):
            continue
    return value


def _conversation(values: dict, kind: str, fail) -> dict:
    """Prompt and completions in one shape: a string prompt next to message-list completions becomes a user
    turn; a missing prompt is the turns chosen and rejected share; completions lose repeated prompt turns."""
    texts = [f for f in COMPLETIONS if f in values]
    chat = any(isinstance(values[f], list) for f in texts) or isinstance(values["prompt"], list)
    if values["prompt"] is None:
        if not (chat and kind == "pairwise"):
            raise fail(f"missing required field for {kind} rows", "prompt")
        values["prompt"] = _shared_prefix(values["chosen"], values["rejected"])
        if not values["prompt"]:
            raise fail("no prompt column and no leading turns shared by chosen and rejected", "prompt")
    if not chat:
        return values
    if isinstance(values["prompt"], str):
        values["prompt"] = [{"role": "user", "content": values["prompt"]}]
    for f in texts:
        turns = values[f] if isinstance(values[f], list) else [{"role": "assistant", "content": values[f]}]
        n = len(values["prompt"])
        values[f] = turns[n:] if turns[:n] == values["prompt"] else turns
        if not values[f]:
            raise fail("holds no reply after the prompt turns", f)
    return values


def _shared_prefix(a: Any, b: Any) -> list[dict]:
    if not (isinstance(a, list) and isinstance(b, list)):
        return []
    n = 0
    while n < min(len(a), len(b)) - 1 and a[n] == b[n]:
        n += 1
    return a[:n]


def _tags(raw: dict, cols: dict[str, str]) -> dict:
    """The row's other scalar columns (domain, answer, ...), kept for evaluation and reports."""
    used = set(cols.values()) | set(cols) | {"id", "split"}
    return {k: v for k, v in raw.items() if k not in used and isinstance(v, (str, int, float, bool))}


def _blank(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return any(not m["content"].strip() for m in value)


def _chars(row: dict) -> int:
    return sum(len(json.dumps(row[f], ensure_ascii=False)) for f in ("prompt", *COMPLETIONS) if f in row)


def _deduplicate(rows: list[dict], kind: str, where: str) -> list[dict]:
    """Rows repeating an earlier (prompt, chosen) pair, or (prompt, completion[, label]), are dropped."""
    second = {"pairwise": ("chosen",), "unpaired": ("completion", "label"), "sft": ("completion",)}[kind]
    seen, out = set(), []
    for r in rows:
        key = json.dumps([r["prompt"], *(r[f] for f in second)], ensure_ascii=False, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(r)
    if len(out) < len(rows):
        log.warning("%s: dropped %d duplicated (prompt, %s) rows", where, len(rows) - len(out), ", ".join(second))
    return out


# -------------------------------------------------------------------------------------------- splits
def _carve(rows: list[dict], names: list[str], fraction: float, where: str,
           all_held_out: bool = False) -> dict[str, list[dict]]:
    """Split rows by prompt: prompts ordered by hash (deterministic), the first `fraction` of them to each
    held-out split (at least one prompt each), the rest to train (or, for held-out files, to the last)."""
    keys = sorted({prompt_key(r) for r in rows}, key=lambda k: hashlib.sha256(k.encode()).hexdigest())
    need = len(names) + (0 if all_held_out else 1)
    if len(keys) < need:
        raise DataError(f"{len(keys)} distinct prompt(s) cannot be split by prompt into {', '.join(names)}"
                        f"{'' if all_held_out else ' and train'}: add rows or give data.eval_path=FILE", path=where)
    n = max(1, round(fraction * len(keys)))
    where_of = {k: names[min(i // n, len(names) - 1)] if all_held_out or i < n * len(names) else "train"
                for i, k in enumerate(keys)}
    out: dict[str, list[dict]] = {s: [] for s in [*names, "train"]}
    for r in rows:
        out[where_of[prompt_key(r)]].append(r)
    if not all_held_out and not out["train"]:
        raise DataError("no training rows left after splitting off val and test by prompt; lower "
                        "data.eval_fraction or give data.eval_path=FILE", path=where)
    return out


def _without_held_out_prompts(rows: list[dict], splits: dict[str, list[dict]], where: str) -> list[dict]:
    """Training rows whose prompt is also held out are dropped: no prompt may be in two splits."""
    held = {prompt_key(r) for s in ("val", "test") for r in splits[s]}
    kept = [r for r in rows if prompt_key(r) not in held]
    if len(kept) < len(rows):
        log.warning("%s: dropped %d training rows whose prompt is also in the held-out rows", where,
                    len(rows) - len(kept))
    if not kept:
        raise DataError("every training prompt is also in the held-out rows", path=where)
    return kept


LOADERS = {"file": load_file, "hub": load_hub}

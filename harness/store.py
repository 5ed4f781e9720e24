"""Content hashes and atomic writes: the one definition of each that every cache, row file and config
identity in the harness uses.

- `fingerprint(obj)`: a short, stable hash of any JSON-serialisable object (configs, row lists).
- `config_hash(cfg, without_seed=...)`: a resolved job config's identity without output locations and
  run-control flags (the run_id), or also without the seed (what a method's seeds share).
- `atomic_path(final)`: write a file or a directory under a private temporary name, then rename it into
  place, so a reader (or a job running side by side) never sees half of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Keys of a resolved job config that say where output goes or how the sweep runs, not what is computed.
RUN_CONTROL = ("paths", "force", "sweep_name", "hydra")


def fingerprint(obj: Any, length: int = 16) -> str:
    """Stable short hash of any JSON-serialisable object (dict key order does not matter)."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def config_identity(cfg: dict, without_seed: bool = False) -> dict:
    """The resolved config without run-control keys (and without the seed when asked)."""
    drop = RUN_CONTROL + (("seed",) if without_seed else ())
    return {k: v for k, v in cfg.items() if k not in drop}


def config_hash(cfg: dict, without_seed: bool = False) -> str:
    """run_id (with the seed) or the configuration a method's seeds share (without it)."""
    return fingerprint(config_identity(cfg, without_seed))


@contextmanager
def atomic_path(final: Path | str) -> Iterator[Path]:
    """Yield a temporary sibling path to write (a file or a directory); on success rename it to `final`.
    A directory that another process renamed into place first is kept (it holds the same content) and ours
    is dropped; on error nothing is left behind."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final.is_dir() and tmp.is_dir()):  # only a directory built by another job is tolerated
                raise
    finally:
        _remove(tmp)


def write_text(path: Path | str, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_jsonl(rows: list[dict], out: Path | str) -> None:
    """Rows as UTF-8 JSON lines to a file (atomically, then `wrote N rows to FILE` on stderr) or, for "-", to
    stdout: what the data generators' and the export's command lines write."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if str(out) == "-":
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(encoding="utf-8")
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_text(out, text)
    print(f"wrote {len(rows)} rows to {out}", file=sys.stderr)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()

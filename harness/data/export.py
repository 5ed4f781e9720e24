"""Export one split of any dataset config as pairwise JSONL, for users and reviewers: one object per line with
prompt, chosen and rejected, the row's tags (id, domain, failure, item, ...) and its `part`.

    python -m harness.data.export --split test --out test.jsonl                  # the shipped default
    python -m harness.data.export --split train --out train.jsonl data=minimal   # Hydra data overrides
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness import data as datalib
from harness.data.errors import DataError
from harness.data.stats import compose
from harness.store import write_text


def export_rows(rows: list[dict]) -> list[dict]:
    """Pairwise rows as written: text fields first, then every tag; `part` always present."""
    out = []
    for r in rows:
        if "chosen" not in r or "rejected" not in r:
            continue
        tags = {k: v for k, v in r.items() if k not in ("prompt", "chosen", "rejected", "split")}
        out.append({"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"],
                    "part": r.get("part") or r.get("source") or "all", **tags})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.data.export", description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", required=True, choices=datalib.SPLITS)
    ap.add_argument("--out", required=True, type=Path, help="FILE.jsonl")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. data=minimal data.max_test_pairs=200")
    args = ap.parse_args(argv)
    try:
        canonical = datalib.load(compose(args.overrides)["data"])
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if canonical.kind != "pairwise":
        print(f"error: data={canonical.name} holds {canonical.kind} rows; the export writes pairwise rows",
              file=sys.stderr)
        return 2
    rows = export_rows(canonical.splits[args.split])
    write_text(args.out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    parts = sorted({r["part"] for r in rows})
    print(f"wrote {len(rows)} {args.split} pairs of data={canonical.name} ({', '.join(parts)}) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""arabic-pref-bench: train one base model with every TRL preference method on the same Arabic data,
measure each run, and rank the methods. The project runs from its checkout: the Hydra configs live in the
top-level conf/ beside this package (install with `pip install -e .`, as `make` does).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "conf"


def require_checkout() -> None:
    """Stop with one paragraph when conf/ is not beside the package (a non-editable install)."""
    if not (CONF_DIR / "config.yaml").is_file():
        print(f"error: the harness's configs were not found at {CONF_DIR}. arabic-pref-bench runs from its "
              "checkout: clone the repository and install it editable (`pip install -e .`, or `make venv`), then "
              "run `python -m harness.train ...` with that checkout's package; a non-editable `pip install .` "
              "copies the package without conf/.", file=sys.stderr)
        raise SystemExit(2)

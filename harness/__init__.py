"""arabic-pref-bench: train one base model with every TRL preference method on the same Arabic data,
measure each run, and rank the methods. The project runs from its checkout: the Hydra configs live in the
top-level conf/ beside this package (install with `pip install -e .`, as `make` does).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

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


def compose_config(overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """The resolved harness config as a plain dict, as `python -m harness.train <overrides>` would compose it:
    for command-line tools that need the data, model or eval settings outside a Hydra job."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return OmegaConf.to_container(compose("config", overrides=list(overrides)), resolve=True)  # type: ignore[return-value]

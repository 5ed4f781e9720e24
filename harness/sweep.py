"""Sweep progress and summary: a Hydra callback that prints job i of N with method, seed, elapsed time and
an estimate of what remains, and a closing summary (ok, failed, diverged, skipped).

Configured in conf/config.yaml under hydra.callbacks; nothing to run by hand.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class Progress(Callback):
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.total: int | None = None
        self.done = 0
        self.counts: Counter[str] = Counter()
        self._job_t0 = 0.0

    def on_multirun_start(self, config: DictConfig, **kw: Any) -> None:
        self.t0 = time.perf_counter()
        self.total = _count_jobs(config)

    def on_job_start(self, config: DictConfig, **kw: Any) -> None:
        self._job_t0 = time.perf_counter()
        elapsed = time.perf_counter() - self.t0
        eta = f"~{elapsed / self.done * (self.total - self.done):.0f}s left" if self.done and self.total else ""
        print(f"[job {self.done + 1}/{self.total or '?'}] method={config.method.name} seed={config.seed} "
              f"elapsed={elapsed:.0f}s {eta}", flush=True)

    def on_job_end(self, config: DictConfig, job_return: Any, **kw: Any) -> None:
        self.done += 1
        status = getattr(job_return, "_return_value", None)
        if getattr(job_return.status, "name", "") == "FAILED":
            status = "failed"
        self.counts[status if isinstance(status, str) else "ok"] += 1

    def on_multirun_end(self, config: DictConfig, **kw: Any) -> None:
        c = self.counts
        print(f"[sweep {config.sweep_name}] {self.done} jobs in {time.perf_counter() - self.t0:.0f}s: "
              f"ok={c['ok']} failed={c['failed']} diverged={c['diverged']} skipped={c['skipped']}", flush=True)
        bad = c["failed"] + c["diverged"]
        if bad:
            raise SystemExit(f"[sweep {config.sweep_name}] {bad} of {self.done} runs did not finish ok")


def _count_jobs(config: DictConfig) -> int | None:
    """Jobs in a basic-sweeper multirun: the product of the comma-separated choices of each override."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        hc = config.hydra
        params = [f"{k}={v}" for k, v in (hc.sweeper.get("params") or {}).items()]
        parsed = OverridesParser.create().parse_overrides(list(hc.overrides.task) + params)
        seen: dict[str, int] = {}
        for o in parsed:
            seen[o.get_key_element()] = len(list(o.sweep_iterator())) if o.is_sweep_override() else 1
        n = 1
        for v in seen.values():
            n *= v
        return n
    except Exception as exc:  # an estimate only; unknown shapes just print without a total
        print(f"[sweep] could not count jobs: {exc}")
        return None

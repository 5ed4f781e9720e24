"""Sweep progress, summary and parallelism: a Hydra callback that prints job i of N with method, seed, elapsed
time and an estimate of what remains, and a closing summary (ok, failed, diverged, skipped); and the number
of torch threads a job gets when a launcher runs jobs side by side.

Configured in conf/config.yaml under hydra.callbacks; nothing to run by hand:
    python -m harness.train -m sweep=smoke hydra/launcher=joblib hydra.launcher.n_jobs=2
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

# Jobs in the running sweep, set by Progress in whichever process runs the job (joblib and submitit workers
# get a pickled copy of the callback), so thread division can cap parallelism at the sweep's size.
_SWEEP_JOBS: dict[str, int | None] = {"total": None}


class Progress(Callback):
    """Counts finished jobs as files under <sweep dir>/.status/, because with joblib or submitit the jobs
    (and so on_job_end) run in other processes than on_multirun_end. The last job to finish prints the
    summary: when a job failed, Hydra's sweeper re-raises its exception and on_multirun_end never runs."""

    def __init__(self) -> None:
        self.t0 = time.time()
        self.total: int | None = None
        self.status_dir: Path | None = None

    def on_multirun_start(self, config: DictConfig, **kw: Any) -> None:
        self.t0 = time.time()
        self.total = _count_jobs(config)
        self.status_dir = Path(str(config.hydra.sweep.dir)).resolve() / ".status"
        self.status_dir.mkdir(parents=True, exist_ok=True)

    def on_job_start(self, config: DictConfig, **kw: Any) -> None:
        _SWEEP_JOBS["total"] = self.total
        done = len(self._statuses())
        elapsed = time.time() - self.t0
        eta = f" ~{elapsed / done * (self.total - done):.0f}s left" if done and self.total else ""
        num = _job_num(config)
        print(f"[job {num + 1 if num is not None else '?'}/{self.total or '?'}] method={config.method.name} "
              f"seed={config.seed} done={done} elapsed={elapsed:.0f}s{eta}", flush=True)

    def on_job_end(self, config: DictConfig, job_return: Any, **kw: Any) -> None:
        status = getattr(job_return, "_return_value", None)
        if getattr(job_return.status, "name", "") == "FAILED":
            status = "failed"
        status = status if isinstance(status, str) else "ok"
        if self.status_dir is None:  # a single run, not a multirun
            return
        num = _job_num(config)
        (self.status_dir / f"{num if num is not None else os.getpid()}.status").write_text(status)
        if self.total and len(self._statuses()) >= self.total:
            self._summary(config.sweep_name)

    def on_multirun_end(self, config: DictConfig, **kw: Any) -> None:
        counts = self._summary(config.sweep_name)
        bad = counts["failed"] + counts["diverged"]
        if bad:
            raise SystemExit(f"[sweep {config.sweep_name}] {bad} of {sum(counts.values())} runs did not finish ok")

    def _statuses(self) -> list[str]:
        if self.status_dir is None or not self.status_dir.is_dir():
            return []
        return [p.read_text().strip() for p in self.status_dir.glob("*.status")]

    def _summary(self, sweep_name: str) -> Counter[str]:
        """Print the closing line once per sweep (a marker file made with O_EXCL decides who prints)."""
        c = Counter(self._statuses())
        try:
            os.close(os.open(self.status_dir / "summary", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except (OSError, TypeError):
            return c
        print(f"[sweep {sweep_name}] {sum(c.values())} jobs in {time.time() - self.t0:.0f}s: ok={c['ok']} "
              f"failed={c['failed']} diverged={c['diverged']} skipped={c['skipped']}", flush=True)
        return c


def threads_per_job() -> int:
    """Torch threads for one job: the cores this process may use, divided among the jobs the Hydra launcher
    runs side by side on this machine (joblib: n_jobs capped at the sweep's size; submitit: cpus_per_task,
    or every job at once for submitit_local; basic launcher: one job at a time)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    launcher = _launcher()
    target = str(launcher.get("_target_", "")) if launcher else ""
    if "submitit" in target and launcher.get("cpus_per_task"):
        return int(launcher["cpus_per_task"])
    return max(1, cores // concurrent_jobs(target, launcher, cores))


def concurrent_jobs(target: str, launcher: Any, cores: int) -> int:
    total = _SWEEP_JOBS["total"]
    if "joblib" in target:
        n = int(launcher.get("n_jobs") or -1)
        n = n if n > 0 else max(1, cores + 1 + n)  # joblib's meaning of negative n_jobs
        return min(n, total) if total else n
    if "submitit" in target and "Local" in target:  # submitit's local executor starts every job at once
        return total or 1
    return 1


def _launcher() -> Any:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return HydraConfig.get().launcher


def _job_num(config: DictConfig) -> int | None:
    try:
        return int(config.hydra.job.num)
    except Exception:  # not set outside a multirun
        return None


def _count_jobs(config: DictConfig) -> int | None:
    """Jobs in a basic-sweeper multirun: the product of the comma-separated choices of each override."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        hc = config.hydra
        params = [f"{k}={v}" for k, v in (hc.sweeper.get("params") or {}).items()]
        parsed = OverridesParser.create().parse_overrides(params + list(hc.overrides.task))
        seen: dict[str, int] = {}
        for o in parsed:  # command-line overrides come last and win over the preset's params, as in Hydra
            seen[o.get_key_element()] = len(list(o.sweep_iterator())) if o.is_sweep_override() else 1
        n = 1
        for v in seen.values():
            n *= v
        return n
    except Exception as exc:  # an estimate only; unknown shapes just print without a total
        print(f"[sweep] could not count jobs: {exc}")
        return None

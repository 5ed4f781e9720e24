"""Per-job state for harness.train: identity (run_id), per-job resets (seed, threads, peak memory), the
row being filled, resume, and the one place a row is written.

Hydra's basic launcher runs every job of a sweep in one process, so everything a job measures is reset
here at its start.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from harness import measure, methods, results



class InputError(Exception):
    """Bad configuration or data in a multirun: the job fails alone, nothing is written."""


@dataclass
class Job:
    cfg: dict
    run_id: str
    out_dir: Path
    device: str
    dtype: str
    row: dict[str, Any] = field(default_factory=dict)

    # --------------------------------------------------------------------------------------- start
    @classmethod
    def start(cls, cfg: DictConfig) -> "Job":
        try:
            plain = OmegaConf.to_container(cfg, resolve=True)
        except MissingMandatoryValue as exc:
            method = OmegaConf.select(cfg, "method.name", default="?")
            reject(f"{exc.full_key} has no value. It is measured, not typed: conf/tuned/{method}.yaml holds the "
                   f"validation search's selection for method={method} and is missing. Run the search (`make tune`, or "
                   f"`python -m harness.tune run --methods {method}`), or set {exc.full_key}=<value> yourself.")
        run_id = run_id_of(plain)
        device, dtype = pick_device(plain["hardware"])
        job = cls(plain, run_id, Path(plain["paths"]["runs_dir"]) / plain["sweep_name"], device, dtype)
        torch.set_num_threads(job.threads())
        quiet_progress_bars()
        from transformers import set_seed

        set_seed(plain["seed"])
        measure.reset_peak_memory(device)
        job.row = {
            "run_id": run_id, "sweep": plain["sweep_name"], "method": plain["method"]["name"],
            "seed": plain["seed"], "model": plain["model"]["name_or_path"] or plain["model"]["name"],
            "model_weights": plain["model"]["weights"], "dataset": plain["data"]["name"],
            "cost_only": bool(plain["data"].get("cost_only")) or plain["model"]["weights"] == "random-init",
            "device": device, "dtype": dtype, "hostname": measure.hostname(),
            "started_at": _utc(), "config_json": json.dumps(plain, sort_keys=True, ensure_ascii=False),
            "overrides": " ".join(_overrides()), **versions(),
        }
        return job

    def threads(self) -> int:
        """Torch threads: configured, or the cores divided among the jobs the Hydra launcher runs side by side."""
        if self.cfg["hardware"].get("threads"):
            return int(self.cfg["hardware"]["threads"])
        from harness.sweep import threads_per_job

        return threads_per_job()

    def already_done(self) -> bool:
        path = self.out_dir / f"{self.run_id}.parquet"
        done = not self.cfg["force"] and (results.read_row(path) or {}).get("status") == "ok"
        if done:
            print(f"[skip] {self.row['method']} seed={self.row['seed']} run_id={self.run_id}: ok row exists", flush=True)
        return done

    # ------------------------------------------------------------------------------------- config
    @property
    def data_cfg(self) -> dict:
        return self.cfg["data"]

    @property
    def model_cfg(self) -> dict:
        return self.cfg["model"]

    @property
    def eval_cfg(self) -> dict:
        return self.cfg["eval"]

    @property
    def infer_cfg(self) -> dict:
        return self.cfg["infer"]

    @property
    def cache_dir(self) -> Path:
        return Path(self.cfg["paths"]["cache_dir"])

    def method_args(self) -> tuple[methods.Method, dict[str, Any]]:
        """The method's registry entry and its validated TRL arguments; the row records what was asked."""
        method, kwargs = methods.job_kwargs(self.cfg, str(self.out_dir / ".trainer" / self.run_id), self.device,
                                            self.dtype)
        self.row |= {"trainer": method.trainer.split(":")[1], "method_family": method.family, "learning_rate": kwargs.get("learning_rate"),
                     "beta": kwargs.get("beta"), "epochs": float(kwargs.get("num_train_epochs", 1))}
        self.record_hparams(kwargs)
        return method, kwargs

    def record_hparams(self, kwargs: dict[str, Any]) -> None:
        """The TRL arguments from the config (shared trainer args, hardware.trainer's and the method node), plus
        max_steps when a compute budget set it; not what the job itself decides (output dir, seeds, precision)."""
        hardware = methods.hardware_args(methods.get(self.cfg["method"]["name"]), self.cfg["hardware"])
        asked = methods.trl_kwargs(self.cfg["method"], {**self.cfg["trainer"], **hardware})
        self.row["hparams_json"] = json.dumps(asked | ({"max_steps": kwargs["max_steps"]} if "max_steps" in kwargs
                                                       else {}), sort_keys=True)

    def reject(self, exc: Exception) -> str:
        return reject(str(exc))

    # ----------------------------------------------------------------------------------- measuring
    def base_quality(self, base, tokenizer, canonical, base_dir) -> dict:
        from harness import evaluate, models

        return evaluate.base_quality(base, tokenizer, canonical.splits, self.eval_cfg, self.device,
                                     self.cache_dir, models.base_key(base_dir))

    def check_optional_eval(self) -> None:
        """Before training: the lm-eval tasks exist and load, the judge is a reward model (DataError if not)."""
        from harness import judge, lmeval

        if lmeval.enabled(self.eval_cfg):
            lmeval.check(self.eval_cfg["lm_eval"])
        if judge.enabled(self.eval_cfg):
            judge.check(self.eval_cfg["judge"])

    def optional_eval(self, policy, base, tokenizer, canonical, base_dir) -> dict:
        """Row fields of eval.lm_eval (alignment tax) and eval.judge (judged answers) when they are on."""
        from harness import judge, lmeval, models

        fields: dict = {}
        key = models.base_key(base_dir)
        if lmeval.enabled(self.eval_cfg):
            fields |= lmeval.row_fields(policy, base, tokenizer, self.eval_cfg, self.device, self.cache_dir, key)
        if judge.enabled(self.eval_cfg):
            fields |= judge.row_fields(policy, base, tokenizer, canonical.splits["test"], self.eval_cfg, self.device,
                                       self.cache_dir, key)
        return fields

    # -------------------------------------------------------------------------------------- finish
    def finish(self, status: str, error: str | None = None) -> str:
        if status != "failed" or "peak_memory_mb" not in self.row:
            mem, kind = measure.peak_memory_mb(self.device)
            self.row.setdefault("peak_memory_mb", mem)
            self.row.setdefault("memory_kind", kind)
        self.row |= {"status": status, "error": error, "finished_at": _utc()}
        self.row["flags"] = measure.sanity_flags(self.row) if status == "ok" else []
        if status == "failed":  # the failure is recorded even when the row holds a field the schema lacks
            unknown = sorted(set(self.row) - set(results.COLUMNS))
            self.row = {k: v for k, v in self.row.items() if k not in unknown}
            if unknown:
                self.row["error"] = f"{error}\n(fields dropped from this failed row: {', '.join(unknown)})"
        results.write_row(self.row, self.out_dir)
        r = self.row
        print(f"[{status}] {r['method']} seed={r['seed']} train={_fmt(r.get('train_seconds'))}s "
              f"final_loss={_fmt(r.get('final_loss'))} pref_acc={_fmt(r.get('pref_accuracy'))} "
              f"-> {self.out_dir / (self.run_id + '.parquet')}" + (f"\n  {error.splitlines()[0]}" if error else ""),
              flush=True)
        return status


def reject(message: str) -> str:
    """Bad input: one paragraph, no traceback, nothing written. A single run exits 2; in a multirun the job
    raises an Exception (not SystemExit) so Hydra records it and the next job runs."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise InputError(message) from None
    raise SystemExit(2)


def quiet_progress_bars() -> None:
    """Progress bars in a terminal; none when output goes to a file or a CI log (they would flood it)."""
    if sys.stderr.isatty():
        return
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


def run_id_of(plain: dict) -> str:
    from harness.store import config_hash

    return config_hash(plain)


def pick_device(hw: dict) -> tuple[str, str]:
    device = hw["device"]
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = hw["dtype"]
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") and torch.cuda.is_bf16_supported() else "float32"
    return device, dtype


@lru_cache(maxsize=1)
def versions() -> dict[str, str | None]:
    import datasets
    import transformers
    import trl

    try:
        here = Path(__file__).parent
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        commit = (commit + ("-dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"python_version": platform.python_version(), "torch_version": torch.__version__,
            "transformers_version": transformers.__version__, "trl_version": trl.__version__,
            "datasets_version": datasets.__version__, "git_commit": commit}


def _overrides() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def _utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)

"""One job: build data, build the base, train with the method's TRL trainer under measurement, evaluate on
held-out data, benchmark inference, write one parquet row.

    python -m harness.train method=dpo seed=0
    python -m harness.train -m sweep=default              # methods x seeds, then `python -m harness.report`
    python -m harness.train method=kto method.beta=0.2 method.learning_rate=5e-4
"""

from __future__ import annotations

import re
import sys
import traceback

import hydra
from omegaconf import DictConfig

from harness import data as datalib
from harness import require_checkout
from harness import budget, evaluate, measure, methods, models
from harness.data.errors import DataError
from harness.job import Job


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> str | None:
    job = Job.start(cfg)                                    # run_id, seeds, threads, memory window
    if job.already_done():
        return "skipped"
    try:
        method, kwargs = job.method_args()                  # validated before anything is loaded
        canonical = datalib.load(job.data_cfg)
        train_rows = datalib.view(canonical, method.view)
        base_dir = models.resolve_base(job.model_cfg, canonical, job.cache_dir)
        job.check_optional_eval()                           # lm-eval tasks load, the judge is a reward model
    except (methods.ConfigError, DataError) as exc:
        return job.reject(exc)                              # one paragraph, nothing trained or written
    try:
        if (job.cfg.get("budget") or {}).get("train_flops"):  # compute-matched: steps from a FLOP budget
            kwargs["max_steps"] = budget.max_steps(job.cfg, method, kwargs, train_rows, base_dir)
            job.record_hparams(kwargs)
        t0 = measure.now(job.device)
        trainer = methods.build_trainer(method, kwargs, base_dir, train_rows, job.model_cfg.get("lora"), job.cache_dir,
                                         (job.cfg.get("batching") or {}).get("length_bucket"))
        callback = measure.MeasureCallback(job.device)
        trainer.add_callback(callback)
        job.row["setup_seconds"] = measure.now(job.device) - t0
        t0 = measure.now(job.device)
        output = trainer.train()
        job.row["train_seconds"] = measure.now(job.device) - t0
        job.row |= measure.training_figures(trainer, callback, method, kwargs, len(canonical.train), train_rows,
                                            job.row["train_seconds"], job.cfg, job.device, output)
        job.row["dataset_fingerprint"] = canonical.fingerprint()
        if callback.diverged:
            return job.finish("diverged", callback.diverged)
        policy, base, tokenizer = models.eval_models(trainer, base_dir, job.device)
        job.row |= evaluate.evaluate(policy, base, tokenizer, canonical.splits, job.eval_cfg, job.device,
                                     job.base_quality(base, tokenizer, canonical, base_dir))
        job.row |= job.optional_eval(policy, base, tokenizer, canonical, base_dir)  # alignment tax, judge
        prompts = [r["prompt"] for r in canonical.splits["test"]]
        job.row |= measure.inference_benchmark(policy, tokenizer, prompts, job.infer_cfg, job.device)
        return job.finish("ok")
    except Exception as exc:  # recorded as failed; re-raised so Hydra reports it and the sweep goes on
        job.finish("failed", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}")
        raise


def open_method_overrides(argv: list[str]) -> list[str]:
    """`method.<field>=v` may name any TRL argument, not only those in the yaml: turn such overrides into
    Hydra's add-or-override form (`++`). Typos are caught by harness.methods.validate with a hint."""
    return [("++" + a) if re.match(r"^method\.[\w.]+=", a) else a for a in argv]


if __name__ == "__main__":
    require_checkout()
    sys.argv = [sys.argv[0], *open_method_overrides(sys.argv[1:])]
    main()

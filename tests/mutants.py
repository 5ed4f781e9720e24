"""Mutation tests of the regression check: plant a known bug in a copy of the project, run what `make regress`
runs there (the CI sweep, then harness.regress against the committed baseline) and require that it fails with
the planted method named; a clean copy must pass.

    python tests/mutants.py                    # every mutant and a clean copy (make mutants), ~4 min each
    python tests/mutants.py swap_half_pairs    # some of them
    python tests/mutants.py --list

The bugs are of the kinds a ranking check exists for: a data view that pairs the wrong answers, an objective
with its sign flipped, one method's learning rate or beta off by 10x, a loss-type typo, an SFT masking switch.
Each copy shares the cache (base model, reference log-probs) with the checkout: both are keyed by what
determines them, so a mutant that changes a view or a config misses and recomputes what it must.
Not part of `make test` (each mutant is a full CI sweep); the regress logic itself is unit-tested in
tests/test_regress.py.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    what: str
    path: str
    old: str
    new: str
    expect: tuple[str, ...]  # methods the failing verdict must name


def tuned_mutant(what: str, method: str, key: str, factor: float, expect: tuple[str, ...]) -> Mutant:
    """A searched value off by `factor`: the top-level line of conf/tuned/<method>.yaml that every preset composes
    (the evidence block below it, indented, keeps the selected value)."""
    path = f"conf/tuned/{method}.yaml"
    text = (ROOT / path).read_text(encoding="utf-8") if (ROOT / path).exists() else ""
    found = re.search(rf"^{key}: (\S+)$", text, re.M)
    value = found[1] if found else "<absent>"
    new = f"{float(value) * factor:.4g}" if found else value
    return Mutant(what, path, f"\n{key}: {value}\n", f"\n{key}: {new}\n", expect)


MUTANTS = {
    "swap_half_pairs": Mutant(
        "pairwise view swaps chosen and rejected on every other row",
        "harness/data/__init__.py",
        '    if name == "pairwise":\n        return [{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in rows]',
        '    if name == "pairwise":\n        return [{"prompt": r["prompt"], "chosen": r["rejected" if i % 2 else "chosen"],'
        ' "rejected": r["chosen" if i % 2 else "rejected"]} for i, r in enumerate(rows)]',
        ("dpo", "ipo", "cpo")),
    "kto_loss_sign": Mutant(
        "KTO's loss is negated before backward",
        "harness/methods.py",
        "    trainer.remove_callback(PrinterCallback)",
        "    if type(trainer).__name__ == 'KTOTrainer':\n"
        "        _loss = trainer.compute_loss\n"
        "        trainer.compute_loss = lambda *a, **k: (lambda out: (-out[0], *out[1:]) if isinstance(out, tuple)"
        " else -out)(_loss(*a, **k))\n"
        "    trainer.remove_callback(PrinterCallback)",
        ("kto",)),
    "ipo_lr_div10": tuned_mutant("IPO's learning rate 10x too small", "ipo", "learning_rate", 0.1, ("ipo",)),
    "dpo_beta_x10": tuned_mutant("DPO's beta 10x too large", "dpo", "beta", 10.0, ("dpo",)),
    "ipo_is_sigmoid": Mutant("IPO's loss_type typo: runs DPO's sigmoid loss", "conf/method/ipo.yaml",
                             "loss_type: [ipo]", "loss_type: [sigmoid]", ("ipo",)),
    "sft_prompt_loss": Mutant("SFT also trains on the prompt tokens", "conf/method/sft.yaml",
                              "completion_only_loss: true", "completion_only_loss: false", ("sft",)),
}


def copy_project(dest: Path) -> None:
    """The working tree as git sees it (tracked and untracked, not ignored): what a clone would hold."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split("\0")
    for f in filter(None, files):
        src = ROOT / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)


def plant(dest: Path, m: Mutant) -> None:
    path = dest / m.path
    text = path.read_text(encoding="utf-8")
    if text.count(m.old) != 1:
        raise SystemExit(f"mutant anchor not found once in {m.path}: {m.old[:60]!r} (the code moved; update MUTANTS)")
    path.write_text(text.replace(m.old, m.new), encoding="utf-8")


def regress(dest: Path, cache: Path, log: Path) -> tuple[int, str]:
    """What `make regress` runs, in the copy (its own harness package and conf/, its own runs/)."""
    env = {**os.environ, "APB_RUNS_DIR": str(dest / "runs"), "APB_CACHE_DIR": str(cache),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(dest)}
    py = sys.executable
    with log.open("w") as fh:
        sweep = subprocess.run([py, "-m", "harness.train", "-m", "sweep=ci", "force=true"], cwd=dest, env=env,
                               stdout=fh, stderr=subprocess.STDOUT)
    out = subprocess.run([py, "-m", "harness.regress", str(dest / "runs" / "ci"), "--baseline",
                          "reports/baseline/rankings.json"], cwd=dest, env=env, capture_output=True, text=True)
    rc = out.returncode or (sweep.returncode and 3)
    return rc, out.stdout + out.stderr


def failed_methods(output: str) -> set[str]:
    line = next((x for x in output.splitlines() if x.startswith("failed methods:")), "")
    return set(re.findall(r"(\w+) \(", line))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("names", nargs="*", help=f"mutants to run (default: all and a clean copy): {', '.join(MUTANTS)}")
    p.add_argument("--list", action="store_true")
    p.add_argument("--no-clean", action="store_true", help="skip the clean copy")
    p.add_argument("--keep", action="store_true", help="keep the copies (their runs/ and logs)")
    p.add_argument("--cache", type=Path, default=Path(os.environ.get("APB_CACHE_DIR", ROOT / ".cache")))
    args = p.parse_args(argv)
    if args.list:
        for name, m in MUTANTS.items():
            print(f"{name:16s} {m.what} ({m.path}); must name {', '.join(m.expect)}")
        return 0
    names = args.names or list(MUTANTS)
    unknown = sorted(set(names) - set(MUTANTS) - {"clean"})
    if unknown:
        raise SystemExit(f"unknown mutants {unknown}; --list shows them")
    plan = ([] if args.no_clean or args.names else ["clean"]) + names
    results = []
    root = Path(tempfile.mkdtemp(prefix="apb-mutants-"))
    for name in plan:
        dest = root / name
        copy_project(dest)
        m = MUTANTS.get(name)
        if m:
            plant(dest, m)
        t0 = time.time()
        rc, out = regress(dest, args.cache, root / f"{name}.sweep.log")
        named = failed_methods(out)
        if m is None:
            ok, why = rc == 0, "passes" if rc == 0 else f"exit {rc}, failed: {sorted(named)}"
        else:
            missing = set(m.expect) - named
            ok = rc == 1 and not missing
            why = (f"exit {rc}, names {', '.join(sorted(named)) or 'nothing'}"
                   + (f"; NOT named: {', '.join(sorted(missing))}" if missing else ""))
        verdict = [x for x in out.splitlines() if x.startswith(("PASS", "FAIL", "failed methods", "error"))]
        results.append((name, ok, why, time.time() - t0))
        print(f"[{'ok' if ok else 'MISSED'}] {name}: {why} ({time.time() - t0:.0f}s)", flush=True)
        for line in verdict:
            print("      " + line)
        if not args.keep:
            shutil.rmtree(dest / "runs", ignore_errors=True)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    caught = sum(ok for _, ok, _, _ in results)
    print(f"mutants: {caught}/{len(results)} as expected "
          f"({sum(t for *_, t in results) / 60:.1f} min){'' if args.keep else ''}")
    return 0 if caught == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())

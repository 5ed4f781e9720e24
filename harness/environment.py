"""The library set a measurement was made with: requirements.lock (every package pinned; `make lock` renews it)
and the versions installed in the running environment. harness.regress stores both in the baseline and names
every library whose version differs from the baseline's, so a changed number can be told from a changed library.

    python -m harness.environment          # the lock's hash, then each locked package that is installed otherwise
"""

from __future__ import annotations

import hashlib
import re
import sys
from importlib import metadata

from harness import ROOT

LOCK = ROOT / "requirements.lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    """{package: version} pinned by requirements.lock ({} when the checkout has none)."""
    if not LOCK.exists():
        return {}
    pins = (_PIN.match(line.strip()) for line in LOCK.read_text(encoding="utf-8").splitlines())
    return {_canonical(m[1]): m[2] for m in pins if m}


def lock_hash() -> str | None:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16] if LOCK.exists() else None


def installed(names) -> dict[str, str | None]:
    """The installed version of each named package (None: not installed)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def snapshot() -> dict:
    """What a baseline records: the lock's hash and the installed version of every locked package."""
    return {"lock_sha256": lock_hash(), "packages": installed(sorted(locked()))}


def differences(was: dict, now: dict) -> list[str]:
    """`pandas 3.1.2 -> 3.1.3` for every package whose version differs between two snapshots."""
    a, b = was.get("packages") or {}, now.get("packages") or {}
    return [f"{name} {a.get(name) or 'absent'} -> {b.get(name) or 'absent'}"
            for name in sorted(set(a) | set(b)) if a.get(name) != b.get(name)]


def mismatches() -> list[str]:
    """Locked packages installed at another version than the lock's (an environment not made by `make venv`)."""
    pins = locked()
    return [f"{n} {v} installed, {pins[n]} locked" for n, v in installed(sorted(pins)).items() if v != pins[n]]


def lines(was: dict | None) -> list[str]:
    """Every library installed at another version than the baseline was made with, and a changed lock: a
    reordering next to such a line may be the library's doing, not the code's."""
    if not was:
        return ["note: the baseline predates recorded environments (requirements.lock); refresh it with `make baseline`"]
    now = snapshot()
    lines = [f"environment: {d} (baseline -> now)" for d in differences(was, now)]
    if was.get("lock_sha256") != now["lock_sha256"]:
        lines.append(f"environment: requirements.lock {was.get('lock_sha256')} -> {now['lock_sha256']}: refresh the "
                     "baseline and the golden trajectories in the same change (make baseline golden)")
    return lines or [f"environment: every locked library at the baseline's version (lock {now['lock_sha256']})"]


if __name__ == "__main__":
    print(f"requirements.lock sha256[:16] {lock_hash()}; {len(locked())} packages pinned")
    for line in mismatches():
        print(line)
    sys.exit(0)

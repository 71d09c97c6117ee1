"""Kill points: the review run kills its own process at a named point, once, when armed.

The end-to-end tests use them to crash a real flow-run process exactly before or after an
answer is recorded, as a power cut or the kernel's out-of-memory killer would, and then
check that reconcile brings the review back with every decision once. A point is armed by
creating the file ``<LCSPR_HOME>/failpoints/<name>``; the first process to reach the point
removes the file (so exactly one process fires) and sends itself SIGKILL. Nothing is armed
in normal use, and a point costs one failed ``unlink`` a pass.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

BEFORE_RECORD = "before-record-decision"
AFTER_RECORD = "after-record-decision"
POINTS = (BEFORE_RECORD, AFTER_RECORD)


def arm(home: Path, name: str) -> Path:
    if name not in POINTS:
        raise ValueError(f"no kill point named {name!r}; there are {', '.join(POINTS)}")
    path = home / "failpoints" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


def failpoint(home: Path | None, name: str) -> None:
    """Die here, now, if this point is armed under ``home`` (and disarm it); never without a home."""
    if home is None:
        return
    try:
        (home / "failpoints" / name).unlink()
    except (FileNotFoundError, NotADirectoryError):
        return
    os.kill(os.getpid(), signal.SIGKILL)

"""Processes on this machine, read from Linux's /proc: who is below whom, who is still alive.

Shared by `lcspr up` (which stops everything it started, orphans included) and reconcile
(which asks whether a run's process still lives). Empty answers where there is no /proc.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def processes(proc: Path = PROC) -> dict[int, tuple[int, str]]:
    """Every process's parent pid and state letter."""
    table: dict[int, tuple[int, str]] = {}
    if not proc.is_dir():
        return table
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # "pid (comm) state ppid ...": comm may hold spaces or parentheses.
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            table[int(entry.name)] = (int(ppid), state)
        except (OSError, ValueError):
            continue
    return table


def descendants(pid: int, proc: Path = PROC) -> list[int]:
    """Every process below ``pid``."""
    children: dict[int, list[int]] = {}
    for child, (ppid, _) in processes(proc).items():
        children.setdefault(ppid, []).append(child)
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    try:
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state != "Z"

"""Where the command server listens, and the protocol it and the ``lcspr`` launcher speak (standard library only:
``lcspr/launch.py`` imports this before anything else)."""

from __future__ import annotations

import os
from pathlib import Path

PROTOCOL = 1
SOCKET_NAME = "cli.sock"
# Commands never run in the server: `up` runs the system itself (and the server).
DIRECT = frozenset({"up"})
# A Unix socket's path is at most 107 bytes on Linux (sun_path is 108 with its terminating NUL).
MAX_SOCKET_PATH = 107


def socket_path(home: Path) -> Path:
    return home / SOCKET_NAME


def usable_path(path: Path) -> bool:
    return len(os.fsencode(path)) <= MAX_SOCKET_PATH

"""The ``lcspr`` command as installed: run it in the command server of ``lcspr up`` if one is there,
otherwise here.

This module loads only the standard library (a few milliseconds). With the system up, it hands the
command to :mod:`lcspr.command_server` over ``<home>/cli.sock`` with its standard streams, and waits for
the exit code, passing on Ctrl-C and termination signals; the command then starts without loading
anything. When no server answers, when it refuses (another installation, or code changed since it
started), or with ``LCSPR_COMMAND_SERVER=off``, the command runs in this process (:func:`lcspr.cli.main`),
exactly as it would in the server. ``lcspr up`` always runs here.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from adapters.command_socket import DIRECT, Refused, await_exit, send_request, socket_path

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
OFF = frozenset({"off", "0", "false", "no"})


def home_of(environ: Mapping[str, str], cwd: Path) -> Path:
    """``<home>`` as the settings will read it: ``LCSPR_HOME``, else a ``.env`` line setting it, else
    ``.lcspr`` (relative paths from the working directory)."""
    home = environ.get("LCSPR_HOME")
    if home is None and (cwd / ".env").is_file():
        try:
            for line in (cwd / ".env").read_text(encoding="utf-8-sig").splitlines():
                name, _, value = line.strip().removeprefix("export ").partition("=")
                if name.strip() == "LCSPR_HOME":
                    home = value.strip().strip("'\"")
        except (OSError, UnicodeDecodeError):
            return cwd / ".lcspr"
    return cwd / (home or ".lcspr")


def through_server(argv: Sequence[str], environ: Mapping[str, str]) -> int | None:
    """Run the command in the command server; its exit code, or None if it must run here."""
    if environ.get("LCSPR_COMMAND_SERVER", "").strip().lower() in OFF or (argv and argv[0] in DIRECT):
        return None
    cwd = Path.cwd()
    path = socket_path(home_of(environ, cwd))
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
        send_request(conn, argv, environ, cwd, [0, 1, 2])
        return _outcome(conn)
    except (OSError, Refused):
        # No server (or not ours to reach, or a standard stream is closed), or it refused: run here; nothing
        # ran there.
        return None
    finally:
        conn.close()


def _outcome(conn: socket.socket) -> int:
    """Wait for the command's exit code, passing on Ctrl-C and termination signals once it has started."""
    child: int | None = None
    forwarded: int | None = None
    previous: dict[signal.Signals, Any] = {}

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal forwarded
        forwarded = signum
        if child is not None:
            os.kill(child, signum)

    def started(pid: int) -> None:
        nonlocal child, previous
        child = pid
        previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}

    try:
        code = await_exit(conn, started)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code is not None:
        return code
    if forwarded is not None:
        return 128 + forwarded
    print("lcspr: the command stopped without an exit status (see the command server's log, "
          "logs/commands.log under the home folder)", file=sys.stderr)
    return 1


def main() -> None:
    code = through_server(sys.argv[1:], os.environ)
    if code is None:
        from lcspr.cli import main as direct

        code = direct()
    sys.exit(code)

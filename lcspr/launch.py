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

import json
import os
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from lcspr.command_socket import DIRECT, PROTOCOL, socket_path

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
        request = {"protocol": PROTOCOL, "argv": list(argv), "env": dict(environ), "cwd": str(cwd),
                   "umask": _umask(), "launcher": str(Path(__file__).resolve()), "prefix": sys.prefix}
        socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
        return _outcome(conn)
    except OSError:
        # No server (or not ours to reach, or a standard stream is closed): run here; nothing ran there.
        return None
    finally:
        conn.close()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _outcome(conn: socket.socket) -> int | None:
    """Wait for the server's answer: ``refuse`` (None: run here), or ``pid`` then ``exit CODE``."""
    child: int | None = None
    forwarded: int | None = None
    previous: dict[signal.Signals, Any] = {}

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal forwarded
        forwarded = signum
        if child is not None:
            os.kill(child, signum)

    buffer = b""
    try:
        while True:
            chunk = conn.recv(4096)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                word, _, value = line.decode().partition(" ")
                if word == "refuse":
                    return None
                if word == "pid":
                    child = int(value)
                    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
                elif word == "exit":
                    return int(value)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if child is None:
        return None
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

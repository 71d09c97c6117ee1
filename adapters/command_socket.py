"""The command server's socket and the protocol its callers speak (standard library only: ``lcspr/launch.py``
imports this before anything else).

A caller connects to ``<home>/cli.sock`` and sends one JSON line (the command line, environment, working
directory, umask, and who it is: this file's path and Python's prefix, so a server of another installation
refuses) with three descriptors, the command's standard input, output and error (``SCM_RIGHTS``). The server
answers ``refuse REASON`` (the caller then runs the command itself), or ``pid N`` and, once the command is
done, ``exit CODE``. Two callers speak it: the installed ``lcspr`` (``lcspr/launch.py``, on its own terminal)
and ``adapters/warm_commands.py``, which runs a command of ours for a flow run and reads what it printed.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
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


def identity() -> str:
    """Who a caller is: this file, as this installation has it (the server compares it with its own)."""
    return str(Path(__file__).resolve())


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def send_request(conn: socket.socket, argv: Sequence[str], environ: Mapping[str, str], cwd: Path,
                 fds: Sequence[int]) -> None:
    request = {"protocol": PROTOCOL, "argv": list(argv), "env": dict(environ), "cwd": str(cwd),
               "umask": current_umask(), "launcher": identity(), "prefix": sys.prefix}
    socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], list(fds))


class Refused(Exception):
    """The server would not run the command (another installation, changed code, ``up``)."""


def await_exit(conn: socket.socket, on_pid: Callable[[int], None] = lambda pid: None) -> int | None:
    """The command's exit code once the server says it; None if the command started but the connection
    ended without one (it was killed). Raises :class:`Refused` when the server refused it, and OSError
    when the connection ended before anything started."""
    buffer = b""
    started = False
    while True:
        try:
            chunk = conn.recv(4096)
        except OSError:
            if not started:
                raise
            return None  # it ran: never run it again
        if not chunk:
            if not started:
                raise ConnectionError("the command server closed the connection before the command started")
            return None
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            word, _, value = line.decode().partition(" ")
            if word == "refuse":
                raise Refused(value)
            if word == "pid":
                started = True
                on_pid(int(value))
            elif word == "exit":
                return int(value)

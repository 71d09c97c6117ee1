"""Run a command of ours in the command server of ``lcspr up`` and read what it printed.

A flow-run process is new for every run and loads what it uses on first use: Apprise loads all its plugins
(about 130 modules, 0.25 s of one core) before it sends the first message. The command server
(``lcspr/command_server.py``) has loaded them once; a delivery run there takes a fork. This is the flow
runs' door to it; where there is no server (tests, a worker on another machine) the caller does the work
itself.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from adapters.command_socket import Refused, await_exit, send_request, socket_path, usable_path


@dataclass(frozen=True)
class Ran:
    """A command that ran in the command server: its exit code (None if it was killed) and output."""

    code: int | None
    stdout: str
    stderr: str


class WarmCommands:
    """Runs ``lcspr`` commands in the command server of the home ``home``, with ``environ`` as their environment
    (the settings they build are this process's)."""

    def __init__(self, home: Path, environ: Mapping[str, str]) -> None:
        self.path = socket_path(home)
        self.environ = environ

    def run(self, argv: Sequence[str]) -> Ran | None:
        """The command's outcome, or None when no server of this installation would run it (nothing ran)."""
        if not usable_path(self.path) or not self.path.exists():
            return None
        # Files rather than pipes: nothing to drain while waiting, however much it prints.
        with open(os.devnull, "rb") as stdin, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
                socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            try:
                conn.connect(str(self.path))
                send_request(conn, argv, self.environ, Path.cwd(), [stdin.fileno(), out.fileno(), err.fileno()])
                code = await_exit(conn)
            except (OSError, Refused):
                return None
            out.seek(0)
            err.seek(0)
            return Ran(code, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))

    def start(self, argv: Sequence[str]) -> bool:
        """Start the command there and return once it has started, not waiting for it to end: True if it
        started. What it prints goes to ``<home>/logs/background.log`` (the words of our commands: references,
        never a child's identifiers)."""
        if not usable_path(self.path) or not self.path.exists():
            return False
        log = self.path.parent / "logs" / "background.log"
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(os.devnull, "rb") as stdin, open(log, "ab") as out, \
                    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(str(self.path))
                send_request(conn, argv, self.environ, Path.cwd(), [stdin.fileno(), out.fileno(), out.fileno()])
                return _started(conn)
        except (OSError, Refused):
            return False

    def publish(self, reference: str) -> bool:
        """``lcspr publish REFERENCE`` there, in the background: the review's artifacts and the portfolio (its
        output goes to ``logs/background.log``)."""
        return self.start(["publish", reference])

    def deliver(self, reference: str | None) -> tuple[list[str], dict[str, str]] | None:
        """``lcspr outbox --send --json`` there: the keys sent and the failures; None if it did not run whole."""
        ran = self.run(["outbox", "--send", "--json", *(["--reference", reference] if reference else [])])
        if ran is None or ran.code != 0:
            return None
        try:
            report = json.loads(ran.stdout)
            return [str(key) for key in report["sent"]], {str(k): str(v) for k, v in report["failed"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def _started(conn: socket.socket) -> bool:
    """Whether the server started the command (it says ``pid N`` first) rather than refusing it."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = conn.recv(256)
        if not chunk:
            return False
        line += chunk
    return line.startswith(b"pid ")

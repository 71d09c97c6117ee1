"""A local SMTP server that keeps every message it receives as an .eml file in a folder.

It is the "outbox" of a local installation and the mail server of the tests: nothing
leaves the machine, and a person can open each file in any mail program to see exactly
what a recipient would have seen. Files are named ``<UTC timestamp>-<counter>.eml`` so
that sorting the names sorts the messages by arrival.

Use :class:`LocalOutbox` as a context manager in code and tests, or :func:`serve` to run
it in the foreground (the system's run command does).
"""

from __future__ import annotations

import asyncio
import email.policy
import itertools
import signal
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import FrameType, TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class _FolderHandler:
    """aiosmtpd handler: write each message's raw bytes to a new file in the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content.encode("utf-8") if isinstance(content, str) else content
        with self._lock:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
            name = f"{stamp}-{next(self._counter):06d}.eml"
        # Write then rename, so a reader never sees a half-written message.
        partial = self.folder / f".{name}.part"
        partial.write_bytes(raw)
        partial.replace(self.folder / name)
        return "250 Message accepted for delivery"


class _AnyPortController(Controller):
    """A Controller that can listen on port 0 (a free port chosen by the OS).

    The stock Controller connects to ``self.port`` right after binding to check the
    server is up, which fails for port 0; reading the bound port first avoids the
    find-a-free-port-then-bind race.
    """

    def _trigger_server(self) -> None:
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]  # unannotated in aiosmtpd


class LocalOutbox:
    """An SMTP server on ``host:port`` saving mail into ``folder``, while the ``with`` lasts."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = folder
        self.host = host
        self._controller = _AnyPortController(_FolderHandler(folder), hostname=host, port=port)

    @property
    def port(self) -> int:
        """The port it listens on (the one the OS chose, when created with port 0)."""
        port: int = self._controller.port
        return port

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> LocalOutbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def messages(self) -> list[EmailMessage]:
        """Every message in the folder, oldest first."""
        parser = BytesParser(policy=email.policy.default)
        found: list[EmailMessage] = []
        for path in sorted(self.folder.glob("*.eml")):
            with path.open("rb") as f:
                message = parser.parse(f)
            # With policy.default the parser builds EmailMessage; the check is for mypy.
            assert isinstance(message, EmailMessage)
            found.append(message)
        return found


def serve(folder: Path, host: str, port: int) -> None:
    """Run the outbox server in the foreground until Ctrl-C or SIGTERM."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with LocalOutbox(folder, host=host, port=port) as outbox:
            print(
                f"Local outbox: SMTP on {host}:{outbox.port}, saving mail to {folder} "
                "(Ctrl-C to stop)",
                flush=True,
            )
            # Short waits keep the main thread responsive to signals on every platform.
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

"""The command server: ``lcspr`` commands run in a process that has loaded them already.

``lcspr status`` should answer in under half a second, and on a 2-core machine Python spends more than
that loading what any command needs before it does anything (pydantic-settings 0.2 s, SQLAlchemy's ORM
0.35 s, psycopg 0.18 s, the domain's models; see docs/performance.md). ``lcspr up`` therefore runs this
server (child ``commands``, log ``logs/commands.log``): it loads the CLI once, then listens on a Unix
socket, ``<home>/cli.sock``, owner-only. The ``lcspr`` command (:mod:`lcspr.launch`, which loads only
the standard library) sends it the command line, environment, working directory and umask, and its own
standard input, output and error (the descriptors themselves, ``SCM_RIGHTS``); the server forks, and
the child runs :func:`lcspr.cli.main` as the command would have run it, on the caller's terminal or pipes,
then sends back the exit code. The review runs send their messages the same way (``lcspr outbox --send``,
``adapters/warm_commands.py``): Apprise is loaded here, with its plugins. This is Mercurial's ``chg``
design; nothing is shared between commands but the modules loaded before the fork (no connection, no
settings: each command builds its own from the caller's environment, as a direct run does).

A command is refused (and the launcher runs it directly, as it does when no server answers) when the
caller is another installation (another launcher or Python), or when a module the server loaded has
changed on disk since: the server then starts itself again (``exec``) so the next command runs the new
code.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from adapters.command_socket import DIRECT, PROTOCOL, identity

# What every command loads: the CLI, the register's adapter and both its database drivers; and what a
# delivery loads (Apprise), since the flow runs send their messages here when they can
# (``adapters/warm_commands.py``).
PRELOAD = ("lcspr.cli", "lcspr.bootstrap", "lcspr.up", "adapters.prefect_api", "adapters.register.outbox",
           "adapters.register.reviews", "sqlalchemy.dialects.sqlite.pysqlite", "concurrent.futures",
           "notifications.dispatch")
# PostgreSQL's driver where it is installed (SQLAlchemy's dialect imports it only on a first connection).
OPTIONAL_PRELOAD = ("psycopg", "sqlalchemy.dialects.postgresql.psycopg")
REQUEST_LIMIT = 1 << 20


def loaded_files() -> dict[str, int]:
    """Every loaded module's source or compiled file, with its modification time (ns)."""
    found: dict[str, int] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path not in found:
            with contextlib.suppress(OSError):
                found[path] = os.stat(path).st_mtime_ns
    return found


def changed(snapshot: dict[str, int]) -> list[str]:
    """The files of ``snapshot`` changed (or gone) since it was taken."""
    moved = []
    for path, mtime in snapshot.items():
        try:
            if os.stat(path).st_mtime_ns != mtime:
                moved.append(path)
        except OSError:
            moved.append(path)
    return moved


def preload() -> None:
    for name in PRELOAD:
        importlib.import_module(name)
    for name in OPTIONAL_PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    # The identifier scanner every answer goes through imports phonenumbers and loads the UK's metadata on its
    # first phone-like text: 0.025 s of every `lcspr decide`, done here once.
    from models.identifiers import find_identifiers

    find_identifiers("Call 01632 960001.")
    # Apprise imports its plugins (about 130 modules) when it reads its first URL: 0.25 s of every first send.
    import apprise

    managers: list[Any] = [apprise.NotificationManager, apprise.ConfigurationManager, apprise.AttachmentManager]
    for manager in managers:  # Apprise's singletons, unannotated
        manager().load_modules()


def launcher_file() -> str:
    """The launcher of this installation (``lcspr/launch.py``): its code runs in the callers, so a change
    to it is a change of code like any other."""
    return str(Path(__file__).with_name("launch.py").resolve())


def known_commands() -> frozenset[str]:
    """The subcommands and options the CLI's parser knows: the only words of a command line the log writes."""
    from lcspr.cli import build_parser

    words = {"-h", "--help"}
    for action in build_parser()._actions:
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict):
            words.update(str(word) for word in choices)
    return frozenset(words)


def command_name(argv: list[Any], known: frozenset[str]) -> str:
    """The command's name for the log: a word the CLI knows, else ``(other)``: a mistyped first word may be
    anything, a child's name too, and only references and fixed words are logged."""
    first = argv[0] if argv else None
    return first if isinstance(first, str) and first in known else "(other)"


def read_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """The caller's request (one JSON line) and the descriptors sent with it."""
    data, fds, _, _ = socket.recv_fds(conn, 65536, 3)
    while not data.endswith(b"\n"):
        more = conn.recv(65536)
        if not more:
            raise ConnectionError("the caller went away before its request was whole")
        data += more
        if len(data) > REQUEST_LIMIT:
            raise ConnectionError("the request is too long")
    return json.loads(data), list(fds)


def refusal(request: dict[str, Any], snapshot: dict[str, int], me: str) -> str | None:
    """Why this server must not run the request (the launcher then runs it directly); None if it may."""
    if request.get("protocol") != PROTOCOL:
        return "another protocol"
    if request.get("launcher") != me or request.get("prefix") != sys.prefix:
        return "another installation"
    argv = request.get("argv") or []
    if argv and argv[0] in DIRECT:
        return "runs alone"
    if changed(snapshot):
        return "stale"
    return None


def _standard_streams() -> None:
    """New ``sys.stdin``/``stdout``/``stderr`` over descriptors 0, 1 and 2 (now the caller's), chosen as
    Python chooses them at start: line-buffered on a terminal, UTF-8, stderr with backslash escapes."""
    # Kept open for the command's whole life, as Python's own are: no context manager.
    sys.stdin = os.fdopen(0, "r", encoding="utf-8", closefd=False)
    sys.stdout = os.fdopen(1, "w", encoding="utf-8", closefd=False)
    sys.stderr = os.fdopen(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)


def run_child(conn: socket.socket, request: dict[str, Any], fds: list[int]) -> int:
    """In the forked child: become the caller's command, run it, and return its exit code."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    _standard_streams()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(int(request["umask"]))
    sys.argv = ["lcspr", *request["argv"]]
    from lcspr.cli import main

    try:
        code = main(request["argv"])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return code


def serve_one(conn: socket.socket, listener: socket.socket, snapshot: dict[str, int], me: str, log: Any,
              known: frozenset[str]) -> bool:
    """Take one request: fork a child to run it, or refuse it. True if the server must start again."""
    started = time.monotonic()
    try:
        request, fds = read_request(conn)
    except (OSError, ValueError) as exc:
        print(f"request not read: {type(exc).__name__}", file=log, flush=True)
        return False
    command = command_name(request.get("argv") or [], known)
    reason = refusal(request, snapshot, me)
    if reason is not None or len(fds) != 3:
        reason = reason or "no standard streams"
        with contextlib.suppress(OSError):
            conn.sendall(f"refuse {reason}\n".encode())
        for fd in fds:
            os.close(fd)
        print(f"refused a command: {reason}", file=log, flush=True)
        return reason == "stale"
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            listener.close()
            conn.sendall(f"pid {os.getpid()}\n".encode())
            code = run_child(conn, request, fds)
        finally:
            with contextlib.suppress(OSError):
                conn.sendall(f"exit {code}\n".encode())
            os._exit(code)
    for fd in fds:
        os.close(fd)
    # Only the command's name is logged: its arguments may name files and reviews.
    print(f"{command}: child {pid} started in {1000 * (time.monotonic() - started):.1f} ms", file=log, flush=True)
    return False


def reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def serve(path: Path) -> int:
    """Load the CLI, listen on ``path`` (owner-only) and serve commands until stopped."""
    preload()
    known = known_commands()
    me = identity()
    snapshot = loaded_files()
    # The launcher runs in the caller, not here; a new one (or a new protocol) is new code all the same.
    launcher = launcher_file()
    snapshot[launcher] = os.stat(launcher).st_mtime_ns
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old)
    listener.listen(64)
    listener.settimeout(1.0)
    print(f"serving lcspr commands on {path} ({len(snapshot)} files loaded)", flush=True)
    while True:
        reap()
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        conn.settimeout(None)
        with conn:
            again = serve_one(conn, listener, snapshot, me, sys.stdout, known)
        if again:
            print("a loaded file changed: starting again with the new code", flush=True)
            listener.close()
            os.execv(sys.executable, [sys.executable, "-m", "lcspr.command_server", str(path)])


if __name__ == "__main__":  # python -m lcspr.command_server SOCKET (`lcspr up` starts it)
    if len(sys.argv) != 2:
        print("usage: python -m lcspr.command_server SOCKET (`lcspr up` runs it)", file=sys.stderr)
        sys.exit(2)
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(serve(Path(sys.argv[1])))

"""`lcspr up`: start the whole system locally, and stop everything it started on Ctrl-C.

Started, in order, each in its own process group with its output in ``<home>/logs``:

1. the local SMTP outbox (``notifications.local_smtp.serve``) on ``smtp_host:smtp_port``, and the
   command server (``lcspr/command_server.py``: ``lcspr`` commands run in a process that has loaded
   them already) on ``<home>/cli.sock``;
2. ``prefect server start`` on the host and port of ``settings.api_url``, its database SQLite
   under ``<home>/prefect`` (so nothing touches ``~/.prefect``) or the PostgreSQL database of
   ``settings.prefect_database_url`` (see `prefect_database`), and without the pause-expiration
   service (see `server_env`);
3. after ``/api/health`` answers: the ``lcspr-local`` process work pool (if missing) and
   ``prefect --no-prompt deploy --all`` from the repository root (``prefect.yaml``);
4. ``prefect worker start --pool lcspr-local``, once per ``--workers`` (default 1), each
   supervised on its own under a name of its own (`worker_names`).

A PostgreSQL database for Prefect is tried first (`prefect_database_problem`): one that cannot be
reached stops `lcspr up` with one line. The register's migrations run and the local Apprise config
is written (if none exists) before anything starts.

Access control (``--auth``): the API and UI ask for a password. The first ``lcspr up --auth``
writes ``settings.auth_path`` (default ``<home>/auth.env``), created owner-only (0600) so it
is never readable by others, with ``PREFECT_SERVER_API_AUTH_STRING`` and
``PREFECT_API_AUTH_STRING`` (the same ``lcspr:<random>``) and ``PREFECT_SERVER_ENCRYPTION_KEY``
(a Fernet key: the one Prefect encrypts Secret blocks with, instead of one it keeps in its own
database). Later starts reuse it; a file other users could read is refused. Every child gets
the three variables; the ``lcspr`` CLI reads the file itself (`client_auth_env`). Without
``--auth`` an existing file still supplies the encryption key (Secret blocks saved under
``--auth`` stay readable), and a server on a host other than loopback is refused.

Restarts: once everything is up, a child that stops is started again (same command,
environment, folder and log, in a new session of its own) after a backoff of 1 s, 2 s, 4 s ...
up to 30 s; each restart is printed and noted in the child's log. A run that lasted at least
30 s counts as healthy and starts the count again; a child that stops 5 times in a row,
each time within 30 s of starting, makes `lcspr up` stop everything and exit 1 with the end
of that child's log. Restarts are scheduled by time, so Ctrl-C works during a backoff. A
restarted Prefect server keeps its database and the worker reconnects by itself.

Stopping: on Linux this process is a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``), so
flow-run processes orphaned when their worker dies (some run in sessions of their own) are
reparented to it instead of to init, stay among its descendants, and are reaped while it
runs. Ctrl-C or SIGTERM terminates every child process group, waits for it, then ends every
process still below this one, orphans included, and kills whatever is left. This module
imports no Prefect code: Prefect reads its settings at import, and the environment for it
is built here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import ipaddress
import json
import os
import secrets
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any, BinaryIO
from urllib.parse import urlsplit

from adapters.command_socket import socket_path, usable_path
from adapters.processes import alive, descendants
from adapters.processes import processes as _processes
from lcspr.settings import Settings
from models.errors import ConfigurationError
from models.roles import Role
from services.app import portfolio_page

PROJECT_DIR = Path(__file__).resolve().parent.parent
POOL = "lcspr-local"
# One local address per role (the Apprise tags the messages are routed by).
ROLES = tuple(role.value for role in Role)
HEALTH_TIMEOUT = 180.0
STOP_GRACE = 15.0
# prctl(2) option: orphaned descendants are reparented to this process instead of to init.
PR_SET_CHILD_SUBREAPER = 36


class UpError(Exception):
    """`lcspr up` cannot go on; the message says why."""


def server_address(settings: Settings) -> tuple[str, int]:
    """Host and port of the Prefect API (and UI) from ``settings.api_url``."""
    parts = urlsplit(settings.api_url)
    return parts.hostname or "127.0.0.1", parts.port or 4200


def with_ports(settings: Settings, port: int | None, smtp_port: int | None) -> Settings:
    """The settings with the Prefect server and/or the SMTP outbox moved to other ports."""
    update: dict[str, object] = {}
    if port is not None:
        host, _ = server_address(settings)
        update["api_url"] = f"http://{host}:{port}/api"
        update["ui_url"] = f"http://{host}:{port}"
    if smtp_port is not None:
        update["smtp_port"] = smtp_port
    return settings.model_copy(update=update) if update else settings


def prefect_env(settings: Settings) -> dict[str, str]:
    """The Prefect settings every process of a local installation shares."""
    home = settings.home.resolve()
    return {
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_API_URL": settings.api_url,
        "PREFECT_UI_URL": settings.ui_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
    }


def child_env(settings: Settings) -> dict[str, str]:
    """The environment of every child: Prefect's settings plus ours, made absolute.

    The worker's flow runs build ``Settings()`` from this environment, so they use the
    same home, register, outbox and links as this command. The Prefect database's URL and
    password (`DATABASE_VARIABLES`) are left out: only the server gets them (`server_env`).
    """
    env = {name: value for name, value in os.environ.items() if name not in DATABASE_VARIABLES}
    env.update(prefect_env(settings))
    env.update(
        {
            "LCSPR_HOME": str(settings.home.resolve()),
            "LCSPR_AUDIT_KEY_FILE": str(settings.audit_key_path),
            "LCSPR_API_URL": settings.api_url,
            "LCSPR_UI_URL": settings.ui_url,
            "LCSPR_SMTP_HOST": settings.smtp_host,
            "LCSPR_SMTP_PORT": str(settings.smtp_port),
            "LCSPR_RECONCILE_INTERVAL_SECONDS": str(settings.reconcile_interval_seconds),
            "LCSPR_RECONCILE_GRACE_SECONDS": str(settings.reconcile_grace_seconds),
            # prefect.yaml's pull step changes into this folder before loading the flow.
            "LCSPR_PROJECT_DIR": str(PROJECT_DIR),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


# ---------------------------------------------------------------- Prefect's database
#
# Prefect's server keeps flow runs, suspended reviews' inputs, deployments and artifacts in its own
# database: SQLite in <home>/prefect by default, PostgreSQL (asyncpg driver) for production. The
# register is another database (LCSPR_DATABASE_URL).

SERVER_DATABASE_URL = "PREFECT_SERVER_DATABASE_CONNECTION_URL"
# Prefect's variables for its server's database, in the order it reads them (the first set wins).
DATABASE_URL_VARIABLES = (SERVER_DATABASE_URL, "PREFECT_API_DATABASE_CONNECTION_URL")
DATABASE_VARIABLES = (*DATABASE_URL_VARIABLES, "PREFECT_SERVER_DATABASE_PASSWORD", "PREFECT_API_DATABASE_PASSWORD")
# Prefect's service failing paused runs whose pause timed out reads every paused run every 5 s (40-46 % of a
# core with 10,000 suspended reviews). Our suspends have no timeout (flows/review.py): it has nothing to do.
PAUSE_EXPIRATIONS = "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED"
DATABASE_TIMEOUT = 10.0


def prefect_database(settings: Settings, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The URL of the Prefect server's database and where it was given: ``LCSPR_PREFECT_DATABASE_URL``,
    else Prefect's own variable in the environment; None for Prefect's default, SQLite in <home>/prefect."""
    if settings.prefect_database_url:
        return settings.prefect_database_url, "LCSPR_PREFECT_DATABASE_URL"
    for name in DATABASE_URL_VARIABLES:
        if environ.get(name):
            return environ[name], name
    return None


def fill_password(url: str, environ: Mapping[str, str]) -> str:
    """``url`` with ``${PREFECT_SERVER_DATABASE_PASSWORD}`` (or ``..._API_...``) replaced by that variable's
    value in ``environ``, as Prefect fills it in."""
    names = ("PREFECT_SERVER_DATABASE_PASSWORD", "PREFECT_API_DATABASE_PASSWORD")
    password = next((value for name in names if (value := environ.get(name))), "")
    for name in names:
        url = url.replace("${" + name + "}", password)
    return url


def server_env(children: Mapping[str, str], environ: Mapping[str, str], database_url: str | None) -> dict[str, str]:
    """The Prefect server's environment: every child's (``children``), plus the database variables of
    ``environ`` and the URL chosen (`prefect_database`), and the pause-expiration service turned off."""
    env = dict(children)
    env.update({name: environ[name] for name in DATABASE_VARIABLES if name in environ})
    if database_url:
        env[SERVER_DATABASE_URL] = database_url
    env[PAUSE_EXPIRATIONS] = "false"
    return env


def prefect_database_problem(url: str, timeout: float = DATABASE_TIMEOUT,
                             environ: Mapping[str, str] | None = None) -> str | None:
    """Why Prefect's server could not use the database at ``url``, in one line; None if it can.

    SQLite must use the ``aiosqlite`` driver (the file is Prefect's to make). PostgreSQL must use
    ``asyncpg`` and answer ``SELECT 1`` within ``timeout`` seconds, the database existing already.
    A password left out of the URL as ``${PREFECT_SERVER_DATABASE_PASSWORD}`` (or ``..._API_...``) is
    taken from ``environ``, as Prefect does.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = fill_password(url, environ or {})
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "Prefect's database URL is not a database URL (postgresql+asyncpg://USER@HOST:PORT/DATABASE)."
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        return None if parsed.get_driver_name() == "aiosqlite" else (
            f"Prefect's database {shown}: Prefect needs an async driver, sqlite+aiosqlite:///PATH.")
    if parsed.drivername != "postgresql+asyncpg":
        return (f"Prefect's database {shown}: Prefect needs SQLite or PostgreSQL with the asyncpg driver, "
                "postgresql+asyncpg://USER@HOST:PORT/DATABASE.")
    try:
        asyncio.run(asyncio.wait_for(_select_one(url, timeout), timeout + 5))
    except TimeoutError:
        reason = f"no answer within {timeout:g} s"
    except Exception as exc:  # whatever stops the connection, said in one line
        reason = _one_line(exc)
    else:
        return None
    return (f"cannot reach Prefect's database {shown}: {reason}. Is PostgreSQL running there, and does the "
            "database exist (see the README, \"Production\")?")


async def _select_one(url: str, timeout: float) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, connect_args={"timeout": timeout})
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")
    finally:
        await engine.dispose()


def _one_line(exc: BaseException) -> str:
    """The driver's own message (not SQLAlchemy's wrapping, never the URL's password): its first line."""
    while exc.__cause__ is not None and not str(exc).strip():
        exc = exc.__cause__
    orig = getattr(exc, "orig", None)
    if isinstance(orig, BaseException):
        exc = orig.__cause__ or orig
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---------------------------------------------------------------- access control
#
# Prefect 3's own mechanism, nothing added: a server started with PREFECT_SERVER_API_AUTH_STRING
# ("user:password") answers 401 to any API request without ``Authorization: Basic
# base64(user:password)`` (GET /health and /ready excepted) and its UI asks for that string; every
# client sends it when PREFECT_API_AUTH_STRING is set. PREFECT_SERVER_ENCRYPTION_KEY is the Fernet
# key the server encrypts block documents (Secret blocks) with; without it the server makes one and
# keeps it in its own database, next to what it encrypts.

SERVER_AUTH = "PREFECT_SERVER_API_AUTH_STRING"
CLIENT_AUTH = "PREFECT_API_AUTH_STRING"
ENCRYPTION_KEY = "PREFECT_SERVER_ENCRYPTION_KEY"
AUTH_VARIABLES = (SERVER_AUTH, CLIENT_AUTH, ENCRYPTION_KEY)
AUTH_USER = "lcspr"


class AuthFileError(ConfigurationError):
    """The auth file cannot be used (open to others, not ours, incomplete); the message says what to do."""


def new_encryption_key() -> str:
    """A Fernet key as ``cryptography.fernet.Fernet.generate_key()`` makes one: 32 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def valid_encryption_key(key: str) -> bool:
    """Would ``Fernet(key)`` accept it (32 bytes once URL-safe base64-decoded)?"""
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except ValueError:
        return False


def stored_encryption_key(prefect_home: Path, database_url: str | None = None) -> str | None:
    """The Fernet key a Prefect server without PREFECT_SERVER_ENCRYPTION_KEY keeps in its database (table
    ``configuration``, key ``ENCRYPTION_KEY``, made the first time it encrypts a block), or None: its SQLite
    file in ``prefect_home``, or the PostgreSQL database of ``database_url`` (`prefect_database`)."""
    if database_url:
        try:
            value = asyncio.run(asyncio.wait_for(_stored_configuration(database_url), DATABASE_TIMEOUT + 5))
            key = (value if isinstance(value, dict) else json.loads(value or "null") or {}).get("fernet_key")
        except Exception:  # no such table yet, no such database, no answer: no key to keep
            return None
        return key if isinstance(key, str) and valid_encryption_key(key) else None
    db = prefect_home / "prefect.db"
    if not db.is_file():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT value FROM configuration WHERE key = 'ENCRYPTION_KEY'").fetchone()
        key = json.loads(row[0])["fernet_key"] if row else None
    except (sqlite3.Error, ValueError, KeyError, TypeError):
        return None
    return key if isinstance(key, str) and valid_encryption_key(key) else None


async def _stored_configuration(url: str) -> Any:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, connect_args={"timeout": DATABASE_TIMEOUT})
    try:
        async with engine.connect() as connection:
            result = await connection.exec_driver_sql(
                "SELECT value FROM configuration WHERE key = 'ENCRYPTION_KEY'")
            row = result.first()
    finally:
        await engine.dispose()
    return row[0] if row else None


def _auth_text(auth_string: str, key: str) -> str:
    return (
        "# Written by `lcspr up --auth`. Keep it readable by its owner only (chmod 600).\n"
        "# UI login: type the whole PREFECT_API_AUTH_STRING value (user:password).\n"
        "# The lcspr CLI reads this file; a worker on another machine needs PREFECT_API_AUTH_STRING only.\n"
        "# PREFECT_SERVER_ENCRYPTION_KEY decrypts Prefect's Secret blocks: losing it loses them.\n"
        f"{SERVER_AUTH}={auth_string}\n{CLIENT_AUTH}={auth_string}\n{ENCRYPTION_KEY}={key}\n"
    )


def create_auth_file(path: Path, text: str) -> bool:
    """Write ``text`` to a new file, owner-only from the moment it exists; False if it exists already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: never write into (or through a symlink to) a file someone else prepared.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)  # exactly 0600 whatever the umask
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return True


def read_auth_file(path: Path) -> dict[str, str]:
    """The access-control variables in ``path`` (``NAME=value`` lines); AuthFileError unless the file is
    a regular file of this user that no one else may read or write."""
    try:
        # O_NONBLOCK: a FIFO planted there cannot hang us (no effect on a regular file).
        handle = os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "r", encoding="utf-8")
    except OSError as exc:
        raise AuthFileError(f"cannot read {path}: {exc.strerror or exc}.") from None
    with handle:
        info = os.fstat(handle.fileno())  # the file opened, not whatever the name points at later
        mode = stat.S_IMODE(info.st_mode)
        if not stat.S_ISREG(info.st_mode):
            raise AuthFileError(f"{path} is not a regular file.")
        if info.st_uid != os.getuid():
            raise AuthFileError(f"{path} belongs to another user (uid {info.st_uid}); it must be yours, mode 600.")
        if mode & 0o077:
            raise AuthFileError(
                f"{path} is open to other users (mode {mode:03o}) and holds the API password and encryption key: "
                f"run `chmod 600 {path}` (and change the password in it if someone may have read it).")
        text = handle.read()
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name, value = name.strip().removeprefix("export ").strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if sep and name in AUTH_VARIABLES and value:
            values[name] = value
    return values


def load_auth_file(path: Path, prefect_home: Path,
                   database_url: str | None = None) -> tuple[dict[str, str], str | None]:
    """The three variables from ``path``, written first if it does not exist; and, if it was written
    now, a line saying so. A new file gets a random ``lcspr:<password>`` and the encryption key already
    in Prefect's database (its SQLite file in ``prefect_home``, or the one ``database_url`` names), if it
    holds one (so existing Secret blocks stay readable), else a new one."""
    written = None
    if not path.exists():
        stored = stored_encryption_key(prefect_home, database_url)
        password = secrets.token_urlsafe(32)
        if create_auth_file(path, _auth_text(f"{AUTH_USER}:{password}", stored or new_encryption_key())):
            written = ("  written now: a new password, and the encryption key Prefect's database already held "
                       "(existing Secret blocks stay readable)" if stored else
                       "  written now: a new password and a new encryption key")
    values = read_auth_file(path)
    missing = [name for name in AUTH_VARIABLES if name not in values]
    if missing:
        raise AuthFileError(f"{path} lacks {', '.join(missing)} (one NAME=value line each).")
    if values[SERVER_AUTH] != values[CLIENT_AUTH]:
        raise AuthFileError(f"in {path}, {CLIENT_AUTH} differs from {SERVER_AUTH}: the server would refuse its own "
                            "worker; make them the same.")
    if not valid_encryption_key(values[ENCRYPTION_KEY]):
        raise AuthFileError(f"in {path}, {ENCRYPTION_KEY} is not a Fernet key (32 bytes, URL-safe base64).")
    return values, written


def is_loopback(host: str) -> bool:
    """Does ``host`` mean this machine only (127.0.0.0/8, ::1, localhost)? Names are resolved; 0.0.0.0 is not."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return False
    return bool(found) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in found)


def access_control(settings: Settings, *, auth: bool, environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The variables every child gets for access control, and the lines `lcspr up` prints about it.

    ``--auth``: the three variables from the auth file (written on first use). Without it: a server
    the environment already protects (PREFECT_SERVER_API_AUTH_STRING set by hand) is left as it is, its
    children given the same string as clients; an unprotected server on a host other machines can
    reach is refused (UpError); an existing auth file still supplies the encryption key. AuthFileError
    if the file is unusable.
    """
    path = settings.auth_path.resolve()
    host, _ = server_address(settings)
    if auth:
        database = prefect_database(settings, environ)
        database_url = fill_password(database[0], environ) if database else None
        values, written = load_auth_file(path, settings.home.resolve() / "prefect", database_url)
        lines = [f"Access control: on; password and encryption key in {path} (owner-only, mode 600)",
                 *([written] if written else []),
                 "  UI login: type the whole PREFECT_API_AUTH_STRING value from that file (lcspr:...)",
                 f"  The lcspr CLI reads that file itself (settings' home, or LCSPR_AUTH_FILE); other clients "
                 f"need {CLIENT_AUTH}"]
        return values, lines
    env: dict[str, str] = {}
    if environ.get(SERVER_AUTH):
        lines = [f"Access control: on ({SERVER_AUTH} from the environment)"]
        if not environ.get(CLIENT_AUTH):
            env[CLIENT_AUTH] = environ[SERVER_AUTH]
    elif not is_loopback(host):
        raise UpError(
            f"refusing to serve the Prefect API and UI on {host}, which other machines can reach, without a "
            "password: anyone reaching it could read and resume reviews and have the worker run code. Add "
            f"--auth, set {SERVER_AUTH} yourself, or keep the host 127.0.0.1 (LCSPR_API_URL).")
    else:
        lines = ["Access control: off (127.0.0.1 only; `lcspr up --auth` asks for a password)"]
    if path.exists() and not environ.get(ENCRYPTION_KEY):
        key = read_auth_file(path).get(ENCRYPTION_KEY)
        if key:
            env[ENCRYPTION_KEY] = key
            lines.append(f"  Secret blocks: encrypted with the key in {path}")
    return env, lines


def client_auth_env(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """``PREFECT_API_AUTH_STRING`` from the auth file, for the lcspr CLI; empty when the environment sets
    it already, when it names another server than this installation's (the password stays home), or
    when there is no file. AuthFileError if the file is open to others."""
    if environ.get(CLIENT_AUTH) or not settings.auth_path.exists():
        return {}
    if environ.get("PREFECT_API_URL", settings.api_url).rstrip("/") != settings.api_url.rstrip("/"):
        return {}
    values = read_auth_file(settings.auth_path)
    value = values.get(CLIENT_AUTH) or values.get(SERVER_AUTH)
    return {CLIENT_AUTH: value} if value else {}


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def set_child_subreaper(enabled: bool = True) -> bool:
    """Make this process the reaper of its orphaned descendants (Linux); False where that fails.

    Orphans then stay in ``descendants(os.getpid())`` (so `Supervisor.stop_all` finds them)
    and become this process's children (so `Supervisor.reap_orphans` must reap them).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        result: int = libc.prctl(PR_SET_CHILD_SUBREAPER, int(enabled), 0, 0, 0)
    except (OSError, AttributeError):
        return False
    return result == 0


@dataclass
class Child:
    """One supervised command; its ``process`` and ``handle`` are replaced when it is restarted."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]
    log: Path
    handle: IO[bytes]
    # time.monotonic() when the current process was started.
    started: float
    # Its own environment, if not the supervisor's (the Prefect server's: `server_env`).
    env: Mapping[str, str] | None = None
    # Runs in a row that ended within the supervisor's quick_run_seconds of starting.
    quick_failures: int = 0
    restarts: int = 0
    # When a restart is due (time.monotonic()); None while the process runs.
    restart_at: float | None = None


@dataclass
class Supervisor:
    """Starts children in their own sessions, restarts those that stop, and stops them all.

    A child that stops is restarted after ``backoff_base`` seconds, doubled after each quick
    failure up to ``backoff_cap``. A run shorter than ``quick_run_seconds`` is a quick failure;
    after ``max_quick_failures`` of them in a row the supervisor gives up (`supervise_once`
    returns why). A longer run starts the count again. The supervisor takes every process
    below this one as its own: `reap_orphans` reaps those reparented to it and `stop_all`
    ends them.
    """

    env: Mapping[str, str]
    logs: Path
    children: list[Child] = field(default_factory=list)
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    # Eight quick failures span about 90 s of backoff: long enough for a worker that cannot reach a
    # restarting server to wait it out, short enough to stop on a child that can never start.
    max_quick_failures: int = 8
    quick_run_seconds: float = 30.0
    gave_up: str | None = field(default=None, init=False)
    # Every process seen below a supervised child (flow runs a worker started, ...), noted on each
    # tick while still linked to it: after its parent dies it is an orphan adopted by this process,
    # and only these are ours to reap and stop (this process may have other children, e.g. in tests).
    family: set[int] = field(default_factory=set, init=False)

    def _open_log(self, name: str, argv: list[str]) -> tuple[Path, BinaryIO]:
        """``<logs>/<name>.log``, opened for appending, headed by the time and the command."""
        log = self.logs / f"{name}.log"
        handle = log.open("ab")
        handle.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
        handle.flush()
        return log, handle

    def _child_io(self, handle: BinaryIO, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Children log to ``handle``, read nothing, run in the checkout with the system's env (or ``env``)."""
        return {"stdout": handle, "stderr": subprocess.STDOUT, "stdin": subprocess.DEVNULL,
                "env": dict(self.env if env is None else env), "cwd": PROJECT_DIR}

    def _spawn(self, argv: list[str], handle: BinaryIO, env: Mapping[str, str] | None) -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, **self._child_io(handle, env), start_new_session=True)

    def start(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> Child:
        """Start ``argv`` as the child ``name`` (log ``<logs>/<name>.log``), in the supervisor's environment
        or ``env``; the same command and environment serve every restart."""
        log, handle = self._open_log(name, argv)
        try:
            process = self._spawn(argv, handle, env)
        except BaseException:
            handle.close()
            raise
        child = Child(name, list(argv), process, log, handle, started=time.monotonic(),
                      env=None if env is None else dict(env))
        self.children.append(child)
        print(f"  started {name:<8} pid {process.pid:<7} log {log}", flush=True)
        return child

    def run(self, name: str, argv: list[str], timeout: float) -> int:
        """Run a short command to completion, its output appended to ``<name>.log``."""
        _, handle = self._open_log(name, argv)
        with handle:
            try:
                return subprocess.run(argv, **self._child_io(handle), timeout=timeout, check=False).returncode
            except subprocess.TimeoutExpired:
                return -1

    def supervise_once(self, now: float | None = None) -> str | None:
        """One tick of the main loop: reap orphans, note children that stopped, restart those due.

        Returns why the supervisor gives up (a child failed quickly too often; then it stays
        given up), or None. Never waits: restarts are scheduled by time.
        """
        if self.gave_up is not None:
            return self.gave_up
        now = time.monotonic() if now is None else now
        self.note_family()
        self.reap_orphans()
        for child in self.children:
            if child.restart_at is None:
                code = child.process.poll()
                reason = None if code is None else self._stopped(child, f"exit {code}", now)
            elif now >= child.restart_at:
                reason = self._restart(child, now)
            else:
                reason = None
            if reason is not None:
                self.gave_up = reason
                return reason
        return None

    def _stopped(self, child: Child, exit_text: str, now: float) -> str | None:
        """Count the stop, then schedule a restart, or return why the supervisor gives up."""
        if now - child.started < self.quick_run_seconds:
            child.quick_failures += 1
        else:
            child.quick_failures = 0
        if child.quick_failures >= self.max_quick_failures:
            self._note(child, f"lcspr up: {child.name} stopped unexpectedly ({exit_text}); giving up")
            return (
                f"{child.name} stopped {child.quick_failures} times in a row, each time within "
                f"{self.quick_run_seconds:g} s of starting (last: {exit_text}); giving up. "
                f"See {child.log}:\n{_tail(child.log)}"
            )
        delay = min(self.backoff_cap, self.backoff_base * 2 ** max(child.quick_failures - 1, 0))
        child.restarts += 1
        child.restart_at = now + delay
        self._note(
            child,
            f"lcspr up: {child.name} stopped unexpectedly ({exit_text}); "
            f"restarting in {delay:g} s (restart {child.restarts})",
        )
        return None

    def _restart(self, child: Child, now: float) -> str | None:
        """Start the child's command again, logging to the same file (under a new header)."""
        child.restart_at = None
        child.started = now
        child.handle.close()
        try:
            _, child.handle = self._open_log(child.name, child.argv)
            child.process = self._spawn(child.argv, child.handle, child.env)
        except OSError as exc:
            return self._stopped(child, f"could not start: {exc}", now)
        print(f"  restarted {child.name:<8} pid {child.process.pid:<7} log {child.log}", flush=True)
        return None

    def _note(self, child: Child, line: str) -> None:
        """``line`` on stdout and at the end of the child's log."""
        print(line, flush=True)
        with contextlib.suppress(OSError, ValueError):
            child.handle.write(f"{line}\n".encode())
            child.handle.flush()

    def note_family(self) -> set[int]:
        """Note every process below a supervised child or below a noted one; forget the reaped.

        A zombie stays noted until `reap_orphans` has reaped it."""
        existing = _processes()
        self.family = {pid for pid in self.family if pid in existing}
        for root in [c.process.pid for c in self.children] + sorted(self.family):
            self.family.update(descendants(root))
        return self.family

    def reap_orphans(self) -> list[int]:
        """Reap exited children of this process that no Popen of ours waits for; their pids.

        Only orphans reparented here (see `set_child_subreaper`) qualify; never waitpid(-1),
        which would take the exit status a child's Popen needs.
        """
        me = os.getpid()
        managed = {c.process.pid for c in self.children}
        reaped: list[int] = []
        for pid, (ppid, state) in _processes().items():
            if ppid != me or state != "Z" or pid in managed or pid not in self.family:
                continue
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if done == pid:
                reaped.append(pid)
        return reaped

    def stop_all(self) -> None:
        """SIGTERM every child's process group (newest first), wait, then end what is left.

        What is left: every process below a child, and every one noted below a child before
        (orphaned flow runs reparented here included), SIGTERMed, killed after 5 s, then reaped.
        """
        if not self.children:
            return
        print("Stopping: " + ", ".join(c.name for c in reversed(self.children)), flush=True)
        # Flow-run processes may sit in sessions of their own: note every descendant now,
        # while they are still linked to their parents (or to this process, their subreaper).
        managed = {c.process.pid for c in self.children}
        leftovers = set(self.note_family())
        for child in reversed(self.children):
            _signal_group(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for child in reversed(self.children):
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"  {child.name} did not stop in {STOP_GRACE:.0f} s; killing it", flush=True)
                _signal_group(child.process.pid, signal.SIGKILL)
                child.process.wait()
        for child in self.children:
            # Anything left in the groups.
            _signal_group(child.process.pid, signal.SIGKILL)
            child.handle.close()
        # Orphans of the children just stopped have been reparented here meanwhile.
        me = os.getpid()
        leftovers.update(pid for pid in descendants(me) if pid in self.family or _parent(pid) in leftovers)
        remaining = [pid for pid in leftovers - managed if alive(pid)]
        for pid in remaining:
            _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while any(alive(p) for p in remaining) and time.monotonic() < deadline:
            self.reap_orphans()
            time.sleep(0.1)
        for pid in remaining:
            if alive(pid):
                _kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 2
        while any(alive(p) for p in remaining) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.reap_orphans()
        self.children.clear()
        print("Stopped.", flush=True)


def _parent(pid: int) -> int | None:
    entry = _processes().get(pid)
    return entry[0] if entry else None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


class _Stop(Exception):
    """Raised in the main thread by SIGINT/SIGTERM."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


def _wait_for_health(api_url: str, server: Child, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = api_url.rstrip("/") + "/health"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise UpError(
                f"The Prefect server stopped (exit {server.process.returncode}); "
                f"see {server.log}:\n{_tail(server.log)}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise UpError(
        f"The Prefect server did not answer {url} within {timeout:.0f} s; see {server.log}."
    )


def _hidden_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _write_apprise_config(settings: Settings) -> str:
    from notifications.dispatch import write_local_config

    path = settings.apprise_config_path.resolve()
    if path.exists():
        return f"{path} (kept as it is)"
    domain = "partnership.local"
    write_local_config(
        path,
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        addresses={role: f"{role}@{domain}" for role in ROLES},
        sender=settings.mail_from,
    )
    return f"{path} (written: every role mails the local outbox)"


def worker_names(count: int) -> list[str]:
    """The supervised workers' names (their logs' too): ``worker`` alone, else ``worker-1`` ... ``worker-N``."""
    if count < 1:
        raise ValueError(f"lcspr up needs at least one worker, not {count}")
    return ["worker"] if count == 1 else [f"worker-{i}" for i in range(1, count + 1)]


def worker_command(prefect: list[str], name: str) -> list[str]:
    """``prefect worker start`` on the pool, named after this machine and ``name``: a worker's name is
    unique within its pool (workers on other machines start their own), and a restarted one keeps it."""
    return [*prefect, "worker", "start", "--pool", POOL, "--type", "process",
            "--name", f"{socket.gethostname()}-{name}"]


def pool_limit_command(prefect: list[str], runs: int) -> list[str]:
    """Prefect's own limit on the pool: at most ``runs`` flow runs executing at once, across every worker
    (here and on other machines). A 50-answer burst once failed runs with PostgreSQL's "too many clients"
    (50 processes, each with its register connections); past the limit, runs wait Scheduled instead."""
    return [*prefect, "work-pool", "set-concurrency-limit", POOL, str(runs)]


def up(settings: Settings, *, auth: bool = False, workers: int = 1) -> int:
    """Start everything, wait for Ctrl-C/SIGTERM, stop everything. 0 on a clean stop.

    ``auth``: the API and UI ask for the password in ``settings.auth_path`` (see `access_control`).
    ``workers``: how many process workers serve the pool (each flow run is claimed by one of them:
    a worker submits a run only after the server let it move the run to Pending, which it refuses
    to every other worker). 1 if the auth file is unusable or Prefect's database cannot be reached,
    2 if asked to listen beyond this machine without a password.
    """
    from adapters.register.database import migrate

    names = worker_names(workers)
    host, port = server_address(settings)
    # Before anything else: a refusal here leaves no trace (no folder, no migration, no child).
    try:
        access_env, access_lines = access_control(settings, auth=auth, environ=os.environ)
    except AuthFileError as exc:
        print(f"lcspr up: {exc}", file=sys.stderr)
        return 1
    except UpError as exc:
        print(f"lcspr up: {exc}", file=sys.stderr)
        return 2
    busy = [
        f"{h}:{p} ({what})"
        for what, h, p in (
            ("Prefect server", host, port),
            ("SMTP outbox", settings.smtp_host, settings.smtp_port),
        )
        if port_in_use(h, p)
    ]
    if busy:
        print(
            f"lcspr up: port already in use: {', '.join(busy)}. Is another `lcspr up` or "
            "Prefect server running? Stop it, or choose other ports (--port, --smtp-port).",
            file=sys.stderr,
        )
        return 1
    database = prefect_database(settings, os.environ)
    if database is not None:
        problem = prefect_database_problem(database[0], environ=os.environ)
        if problem is not None:
            print(f"lcspr up: {database[1]}: {problem}", file=sys.stderr)
            return 1
        prefect_db = f"{_hidden_url(database[0])} (from {database[1]})"
    else:
        prefect_db = f"SQLite {settings.home.resolve() / 'prefect' / 'prefect.db'}"

    home = settings.home.resolve()
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = child_env(settings)
    # The auth file's values win over any in the environment: the server and its clients must agree.
    env.update(access_env)
    Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)

    print(f"Register: migrating {_hidden_url(settings.register_url)}", flush=True)
    migrate(settings.register_url)
    print(f"Prefect database: {prefect_db}", flush=True)
    print(f"Notifications config: {_write_apprise_config(settings)}", flush=True)
    print("\n".join(access_lines), flush=True)
    if auth:
        access = f"password required: the whole {CLIENT_AUTH} value in {settings.auth_path.resolve()}"
    elif env.get(SERVER_AUTH):
        access = f"password required: {SERVER_AUTH} from the environment"
    else:
        access = "open to this machine (no --auth)"

    # Flow runs orphaned by a worker that dies must stay below this process (see stop_all).
    set_child_subreaper()
    supervisor = Supervisor(env=env, logs=logs)
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    prefect = [sys.executable, "-m", "prefect"]
    try:
        supervisor.start(
            "outbox",
            [
                sys.executable,
                "-m",
                "lcspr.up",
                "serve-outbox",
                str(settings.outbox_path.resolve()),
                settings.smtp_host,
                str(settings.smtp_port),
            ],
        )
        # `lcspr` commands run in a process that has loaded them already (lcspr/command_server.py).
        commands = socket_path(home)
        if usable_path(commands):
            supervisor.start("commands", [sys.executable, "-m", "lcspr.command_server", str(commands)])
        else:
            print(f"Commands: run one process each ({commands} is too long a path for a Unix socket)", flush=True)
        server = supervisor.start(
            # Prefect's own CLI, with SQLite told to overwrite what is deleted (lcspr/prefect_server.py).
            "server", [sys.executable, "-m", "lcspr.prefect_server", "server", "start", "--host", host,
                       "--port", str(port)],
            env=server_env(env, os.environ, database[0] if database else None),
        )
        print(f"Waiting for the Prefect API at {settings.api_url} ...", flush=True)
        _wait_for_health(settings.api_url, server, HEALTH_TIMEOUT)

        if supervisor.run("deploy", [*prefect, "work-pool", "inspect", POOL], timeout=120) != 0:
            code = supervisor.run(
                "deploy", [*prefect, "work-pool", "create", POOL, "--type", "process"], timeout=120
            )
            if code != 0:
                raise UpError(
                    f"Could not create the work pool {POOL}; see {logs / 'deploy.log'}:\n"
                    f"{_tail(logs / 'deploy.log')}"
                )
        if supervisor.run("deploy", pool_limit_command(prefect, settings.concurrent_runs), timeout=120) != 0:
            raise UpError(f"Could not limit the work pool {POOL} to {settings.concurrent_runs} runs at once; see "
                          f"{logs / 'deploy.log'}:\n{_tail(logs / 'deploy.log')}")
        if supervisor.run("deploy", [*prefect, "--no-prompt", "deploy", "--all"], timeout=300) != 0:
            raise UpError(
                f"`prefect deploy --all` failed; see {logs / 'deploy.log'}:\n"
                f"{_tail(logs / 'deploy.log')}"
            )
        # The reconcile interval is a setting; Prefect checks schedules before it fills in
        # prefect.yaml's {{ $VARS }}, so the setting is applied by deploying that one again.
        reconcile = [*prefect, "--no-prompt", "deploy", "--name", "lcspr-reconcile",
                     "--interval", str(settings.reconcile_interval_seconds)]
        if supervisor.run("deploy", reconcile, timeout=300) != 0:
            raise UpError(
                f"`prefect deploy --name lcspr-reconcile` failed; see {logs / 'deploy.log'}:\n"
                f"{_tail(logs / 'deploy.log')}"
            )
        print(f"  deployed prefect.yaml (log {logs / 'deploy.log'}); reconcile every "
              f"{settings.reconcile_interval_seconds} s", flush=True)
        for name in names:
            supervisor.start(name, worker_command(prefect, name))
        # A portfolio to open now, not only after 07:30 or the first answer; the run changes nothing
        # if it is up to date, and a failure here only leaves it for later (its log says why).
        supervisor.run("deploy", [*prefect, "deployment", "run", "lcspr-portfolio/lcspr-portfolio"], timeout=120)

        print(
            "\nLCSPR is running. Ctrl-C stops everything.\n"
            f"  Prefect UI:  {settings.ui_url}\n"
            f"  Portfolio:   {portfolio_page(settings.ui_url)} (every open review, most urgent first)\n"
            f"  Outbox:      {settings.outbox_path.resolve()} "
            f"(SMTP {settings.smtp_host}:{settings.smtp_port}, one .eml file a message)\n"
            f"  Register:    {_hidden_url(settings.register_url)}\n"
            f"  Prefect DB:  {prefect_db}\n"
            f"  Workers:     {len(names)} on the pool {POOL}, {settings.concurrent_runs} runs at once at most\n"
            f"  Logs:        {logs}\n"
            f"  Access:      {access}\n"
            f"  Refer a case: lcspr refer examples/referral.json",
            flush=True,
        )
        # Short ticks keep Ctrl-C prompt; a child that stops is restarted by a later tick.
        while True:
            reason = supervisor.supervise_once(time.monotonic())
            if reason is not None:
                raise UpError(reason)
            time.sleep(0.5)
    except _Stop:
        return 0
    except UpError as exc:
        print(f"lcspr up: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        # A second Ctrl-C while stopping must not leave children behind.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        supervisor.stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve_outbox(argv: list[str]) -> int:
    from notifications.local_smtp import serve

    folder, host, port = argv
    serve(Path(folder), host, int(port))
    return 0


if __name__ == "__main__":  # the outbox child: python -m lcspr.up serve-outbox FOLDER HOST PORT
    if len(sys.argv) == 5 and sys.argv[1] == "serve-outbox":
        sys.exit(_serve_outbox(sys.argv[2:]))
    print(
        "usage: python -m lcspr.up serve-outbox FOLDER HOST PORT (`lcspr up` runs the system)",
        file=sys.stderr,
    )
    sys.exit(2)

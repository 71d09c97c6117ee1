"""One engine per database URL, and the register's schema brought to the newest migration."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest revision of migrations/versions/. A register already at it needs no Alembic, which costs
# about 0.2 s to import and run on every command; tests/integration/test_register.py asserts this is
# Alembic's own head, so a new migration without this line changed fails there.
HEAD = "0013"

_engines: dict[str, Engine] = {}
_migrated: set[str] = set()
_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """One engine per URL per process. SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE
    so concurrent writers queue instead of failing with 'database is locked'."""
    with _lock:
        if url in _engines:
            return _engines[url]
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
                # We issue BEGIN ourselves.
                dbapi_conn.isolation_level = None
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=60000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

            @event.listens_for(engine, "begin")
            def _sqlite_begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            engine = create_engine(url, pool_pre_ping=True)
        _engines[url] = engine
        return engine


def migrate(url: str, *, again: bool = False) -> None:
    """Bring the register's schema to the newest Alembic revision (creates it on first run).

    Once per URL per process, unless ``again``."""
    if url in _migrated and not again:
        return
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if not again:
        with engine_for(url).connect() as conn:
            if _revisions(conn) == [HEAD]:
                _migrated.add(url)
                return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with engine_for(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    _migrated.add(url)


def _revisions(conn: Connection) -> list[str] | None:
    """The revisions Alembic recorded in the database; None before its first migration."""
    try:
        return [str(v) for v in conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()]
    except DBAPIError:  # no alembic_version table yet
        conn.rollback()
        return None

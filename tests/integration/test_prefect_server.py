"""``lcspr/prefect_server.py``: Prefect's server SQLite connections overwrite what is deleted, and a
server on PostgreSQL gets no pragma.

The same kind of engine Prefect's server makes (SQLAlchemy, aiosqlite, WAL), with and without the
listener: a deleted answer's text stays readable in the database file without it, and is gone
with it.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine

from lcspr.prefect_server import leave_no_trace
from tests import postgres

CANARY = "Refused answer naming Jessamy Quillfeather of Brackenwold Lane " * 4


def write_then_delete(db: Path, scrub: bool) -> bytes:
    async def go() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{db}")
        if scrub:
            event.listen(engine.sync_engine.pool, "connect", leave_no_trace)
        async with engine.begin() as conn:
            await conn.execute(text("PRAGMA journal_mode = WAL"))
            await conn.execute(text("CREATE TABLE flow_run_input (id INTEGER PRIMARY KEY, value TEXT)"))
            for i in range(20):
                await conn.execute(text("INSERT INTO flow_run_input (value) VALUES (:v)"), {"v": f"answer {i}"})
            await conn.execute(text("INSERT INTO flow_run_input (value) VALUES (:v)"), {"v": CANARY})
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM flow_run_input WHERE value = :v"), {"v": CANARY})
        await engine.dispose()

    asyncio.run(go())
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def test_with_the_pragmas_deleted_text_is_gone_from_the_files(tmp_path: Path) -> None:
    assert b"Quillfeather" not in write_then_delete(tmp_path / "prefect.db", scrub=True)


def test_without_them_it_stays_where_sqlite_does_not_overwrite_by_default(tmp_path: Path) -> None:
    if sqlite3.connect(":memory:").execute("PRAGMA secure_delete").fetchone()[0]:
        pytest.skip("this SQLite is built to overwrite deleted content by default (SQLITE_SECURE_DELETE, "
                    "as Debian's is); python.org's and most others are not")
    assert b"Quillfeather" in write_then_delete(tmp_path / "prefect.db", scrub=False)


def test_every_sqlite_connection_gets_the_pragmas_and_others_none(tmp_path: Path) -> None:
    async def read() -> tuple[int, int]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
        event.listen(engine.sync_engine.pool, "connect", leave_no_trace)
        async with engine.connect() as conn:
            secure = (await conn.execute(text("PRAGMA secure_delete"))).scalar_one()
            limit = (await conn.execute(text("PRAGMA journal_size_limit"))).scalar_one()
        await engine.dispose()
        return secure, limit

    assert asyncio.run(read()) == (1, 0)

    class PsycopgConnection:
        def cursor(self) -> None:
            raise AssertionError("a PostgreSQL connection gets no SQLite pragma")

    leave_no_trace(PsycopgConnection(), None)


SCRUBS = ("import lcspr.prefect_server as s, sqlalchemy.event as e, sqlalchemy.pool as p; "
          "print(s.scrub_sqlite(), e.contains(p.Pool, 'connect', s.leave_no_trace))")


@pytest.mark.parametrize(("database", "expected"), [
    ({}, "True True"),  # Prefect's default: SQLite in its home
    ({"PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://lcspr@db.example.org/prefect"}, "False False"),
    ({"PREFECT_API_DATABASE_CONNECTION_URL": "postgresql+asyncpg://lcspr@db.example.org/prefect"}, "False False"),
])
def test_the_server_listens_for_sqlite_connections_only_when_its_database_is_sqlite(
        tmp_path: Path, database: dict[str, str], expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_HOME": str(tmp_path), **database})
    done = subprocess.run([sys.executable, "-c", SCRUBS], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected.split()


def test_a_postgresql_connection_gets_no_pragma() -> None:
    url = postgres.configured(postgres.PREFECT) or postgres.LOCAL_PREFECT
    reason = postgres.unreachable(url)
    if reason:
        pytest.skip(reason)

    async def read() -> int:
        engine = create_async_engine(url)
        event.listen(engine.sync_engine.pool, "connect", leave_no_trace)
        async with engine.connect() as conn:
            one = (await conn.execute(text("SELECT 1"))).scalar_one()
        await engine.dispose()
        return int(one)

    # A PRAGMA sent to PostgreSQL would be a syntax error.
    assert asyncio.run(read()) == 1

"""``prefect`` as ``lcspr up`` runs its server: Prefect's own CLI, with SQLite told to leave no trace.

When a referral or an answer is refused for identifying a child, the run deletes Prefect's
stored copy of it (the answer's input, the referral's parameters). On SQLite a deleted or
overwritten row normally stays readable in the database file's free space and in the
write-ahead log until something overwrites it. So every connection Prefect's server opens
to a SQLite database gets:

* ``PRAGMA secure_delete = ON``: deleted content is overwritten with zeros;
* ``PRAGMA journal_size_limit = 0``: the write-ahead log is cut back to nothing whenever it
  is reset after a checkpoint, so old page images do not linger in it.

This is a listener on SQLAlchemy's pool class (every pool, Prefect's included), not a change
to Prefect. PostgreSQL needs neither. ``tests/e2e/test_privacy.py`` searches the files.

Run as ``python -m lcspr.prefect_server server start --host H --port P`` (any ``prefect`` arguments).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.pool import Pool

PRAGMAS = ("PRAGMA secure_delete = ON", "PRAGMA journal_size_limit = 0")


def leave_no_trace(dbapi_connection: Any, _record: Any) -> None:
    """Set :data:`PRAGMAS` on a new SQLite connection (any other database: nothing)."""
    if "sqlite" not in type(dbapi_connection).__module__.lower() and \
            "sqlite" not in type(dbapi_connection).__name__.lower():
        return
    cursor = dbapi_connection.cursor()
    try:
        for pragma in PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def main() -> None:
    event.listen(Pool, "connect", leave_no_trace)
    from prefect.cli import app

    app()


if __name__ == "__main__":
    main()

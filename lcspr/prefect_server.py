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
to Prefect, and only while Prefect's server database is SQLite (`uses_sqlite`): PostgreSQL has
neither pragma (its deleted rows are left to VACUUM, the server's storage to its operator), and
the listener itself sets nothing on a connection of any other database.
``tests/e2e/test_privacy.py`` searches the files.

Run as ``python -m lcspr.prefect_server server start --host H --port P`` (any ``prefect`` arguments).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
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


def uses_sqlite(database_url: str) -> bool:
    """Is the database at ``database_url`` (a SQLAlchemy URL) SQLite?"""
    return make_url(database_url).get_backend_name() == "sqlite"


def server_database_url() -> str:
    """The URL of the database Prefect's server will use, as Prefect resolves it from its settings
    (``PREFECT_SERVER_DATABASE_CONNECTION_URL`` and the rest, or its default SQLite file)."""
    from prefect.settings import get_current_settings

    url = get_current_settings().server.database.connection_url
    return url.get_secret_value() if url is not None else "sqlite://"


def scrub_sqlite() -> bool:
    """Set :data:`PRAGMAS` on every connection opened from now on if Prefect's server database is SQLite;
    whether it does."""
    if not uses_sqlite(server_database_url()):
        return False
    event.listen(Pool, "connect", leave_no_trace)
    return True


def main() -> None:
    scrub_sqlite()
    from prefect.cli import app

    app()


if __name__ == "__main__":
    main()

"""Fresh PostgreSQL databases for the flow and end-to-end tiers, made on a server a URL names.

Two variables put those tiers on PostgreSQL (the integration tier takes the first one too):

* ``LCSPR_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test``: the register;
* ``LCSPR_TEST_PREFECT_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test``: Prefect's server.

The database a URL names is only where ``CREATE DATABASE`` is run from: each Prefect test server
(one per flow-tier session) and each system an end-to-end test starts gets a new database of its own,
``lcspr_test_<purpose>_<random>``, owned by the URL's user, and drops it when done, so runs on one
server, at once or one after the other, never share a row.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url

REGISTER = "LCSPR_TEST_DATABASE_URL"
PREFECT = "LCSPR_TEST_PREFECT_DATABASE_URL"
# The project machines' PostgreSQL (trust auth), for the tests that need one whatever the variables say.
LOCAL_REGISTER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LOCAL_PREFECT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def configured(variable: str) -> str | None:
    """The PostgreSQL URL in ``variable``, or None when it is unset (or names another database)."""
    url = os.environ.get(variable, "")
    return url if url.startswith("postgresql") else None


def _admin(url: str | URL) -> URL:
    # CREATE and DROP DATABASE through psycopg, whatever driver the tested code uses.
    return make_url(url).set(drivername="postgresql+psycopg")


def unreachable(url: str) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used (one line), or None when it answers."""
    engine = create_engine(_admin(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as exc:  # whatever it is, the test is skipped with it
        shown = make_url(url).render_as_string(hide_password=True)
        return f"no PostgreSQL answers at {shown} ({type(exc).__name__})"
    finally:
        engine.dispose()
    return None


@contextmanager
def fresh_database(url: str, purpose: str) -> Iterator[str]:
    """A new, empty database on the server of ``url``; ``url`` naming it instead; dropped afterwards
    (``WITH (FORCE)``: connections a killed process left open do not keep it)."""
    name = f"lcspr_test_{purpose}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(_admin(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(url).set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()

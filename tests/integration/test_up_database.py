"""`lcspr up` and Prefect's database on PostgreSQL: one it cannot use is one line, exit 1, nothing started or
written; the encryption key Prefect keeps there is the one `--auth` writes its file with."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from lcspr.cli import main
from lcspr.settings import Settings
from lcspr.up import ENCRYPTION_KEY, load_auth_file, stored_encryption_key
from tests import postgres


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def settings_in(home: Path, prefect_database_url: str) -> Settings:
    port = free_port()
    return Settings(home=home, prefect_database_url=prefect_database_url, api_url=f"http://127.0.0.1:{port}/api",
                    ui_url=f"http://127.0.0.1:{port}", smtp_port=free_port(), _env_file=None)  # type: ignore[call-arg]


def test_a_postgresql_that_does_not_answer_stops_lcspr_up_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    closed = free_port()  # nothing listens there any more
    home = tmp_path / "home"
    url = f"postgresql+asyncpg://lcspr:s3cret@127.0.0.1:{closed}/lcspr_prefect"
    assert main(["up"], settings=settings_in(home, url)) == 1
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("lcspr up: LCSPR_PREFECT_DATABASE_URL: cannot reach Prefect's database "
                          f"postgresql+asyncpg://lcspr:***@127.0.0.1:{closed}/lcspr_prefect: ")
    assert "s3cret" not in out + err
    assert not home.exists()


def test_a_database_that_does_not_exist_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = postgres.configured(postgres.PREFECT) or postgres.LOCAL_PREFECT
    reason = postgres.unreachable(server)
    if reason:
        pytest.skip(reason)
    missing = server.rsplit("/", 1)[0] + "/lcspr_no_such_database"
    assert main(["up"], settings=settings_in(tmp_path / "home", missing)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'database "lcspr_no_such_database" does not exist' in err
    assert not (tmp_path / "home").exists()


def test_the_key_prefect_keeps_in_its_postgresql_database_is_the_one_auth_env_is_written_with(tmp_path: Path) -> None:
    server = postgres.configured(postgres.PREFECT) or postgres.LOCAL_PREFECT
    reason = postgres.unreachable(server)
    if reason:
        pytest.skip(reason)
    key = Fernet.generate_key().decode()
    with postgres.fresh_database(server, "prefect") as url:
        # Before Prefect made its tables: no key, and a new one for the file.
        assert stored_encryption_key(tmp_path, url) is None
        # As Prefect keeps it (table configuration, a JSON value) once it has encrypted a block.
        engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE configuration (key varchar PRIMARY KEY, value json NOT NULL)")
            connection.exec_driver_sql("INSERT INTO configuration VALUES ('ENCRYPTION_KEY', %(v)s)",
                                       {"v": json.dumps({"fernet_key": key})})
        engine.dispose()
        assert stored_encryption_key(tmp_path, url) == key
        values, written = load_auth_file(tmp_path / "auth.env", tmp_path / "prefect", url)
    assert values[ENCRYPTION_KEY] == key and written and "already held" in written

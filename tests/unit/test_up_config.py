"""What `lcspr up` gives its children (issue 14): the Prefect server's database and services, and
``--workers`` (no process started here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.settings import Settings as PrefectSettings
from pydantic import ValidationError

from lcspr.cli import build_parser, main
from lcspr.prefect_server import uses_sqlite
from lcspr.settings import Settings
from lcspr.system_commands import MAX_WORKERS
from lcspr.up import (
    DATABASE_VARIABLES,
    PAUSE_EXPIRATIONS,
    SERVER_DATABASE_URL,
    child_env,
    pool_limit_command,
    prefect_database,
    prefect_database_problem,
    server_env,
    worker_command,
    worker_names,
)

PG = "postgresql+asyncpg://lcspr:s3cret@db.example.org:5432/prefect"


def settings_in(home: Path, **values: str) -> Settings:
    return Settings(home=home, _env_file=None, **values)  # type: ignore[call-arg]


def test_the_server_runs_without_the_pause_expiration_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = server_env(child_env(settings_in(tmp_path)), {}, None)
    assert env[PAUSE_EXPIRATIONS] == "false"
    # The variable is the one Prefect 3.8 reads (services.pause_expirations.enabled, on by default).
    assert PrefectSettings().server.services.pause_expirations.enabled is True
    monkeypatch.setenv(PAUSE_EXPIRATIONS, env[PAUSE_EXPIRATIONS])
    assert PrefectSettings().server.services.pause_expirations.enabled is False


def test_only_the_server_runs_without_it(tmp_path: Path) -> None:
    assert PAUSE_EXPIRATIONS not in child_env(settings_in(tmp_path))


def test_sqlite_in_the_home_is_the_default(tmp_path: Path) -> None:
    assert prefect_database(settings_in(tmp_path), {}) is None
    assert SERVER_DATABASE_URL not in server_env(child_env(settings_in(tmp_path)), {}, None)


def test_the_setting_names_the_database_and_wins_over_prefects_own_variables(tmp_path: Path) -> None:
    environ = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://other/a",
               "PREFECT_API_DATABASE_CONNECTION_URL": "postgresql+asyncpg://other/b"}
    assert prefect_database(settings_in(tmp_path, prefect_database_url=PG), environ) == (
        PG, "LCSPR_PREFECT_DATABASE_URL")


@pytest.mark.parametrize("name", ["PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL"])
def test_without_the_setting_prefects_own_variable_is_honoured(tmp_path: Path, name: str) -> None:
    assert prefect_database(settings_in(tmp_path), {name: PG}) == (PG, name)


def test_the_database_url_and_password_go_to_the_server_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in DATABASE_VARIABLES:
        monkeypatch.setenv(name, PG if name.endswith("URL") else "s3cret")
    children = child_env(settings_in(tmp_path))
    # The worker and its flow runs (which run code from deployments) never hold the database password.
    assert not set(DATABASE_VARIABLES) & set(children)
    assert "s3cret" not in "".join(children.values())
    mine = "postgresql+asyncpg://lcspr:pw@127.0.0.1:5432/mine"
    server = server_env(children, {name: PG for name in DATABASE_VARIABLES}, mine)
    # The URL chosen goes under the name Prefect reads first.
    assert server[SERVER_DATABASE_URL] == mine
    assert server["PREFECT_API_DATABASE_CONNECTION_URL"] == PG


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite+aiosqlite:////srv/lcspr/prefect/prefect.db", True),
    ("sqlite+aiosqlite:///file::memory:?cache=shared&uri=true", True),
    (PG, False),
])
def test_the_sqlite_pragmas_are_for_sqlite_only(url: str, expected: bool) -> None:
    assert uses_sqlite(url) is expected


@pytest.mark.parametrize(("url", "hint"), [
    ("postgresql+psycopg://lcspr@db/prefect", "postgresql+asyncpg://"),
    ("postgresql://lcspr@db/prefect", "postgresql+asyncpg://"),
    ("sqlite:////srv/prefect.db", "sqlite+aiosqlite://"),
    ("mysql+aiomysql://lcspr@db/prefect", "postgresql+asyncpg://"),
    ("prefect on postgres", "postgresql+asyncpg://"),
])
def test_a_database_prefect_cannot_use_is_refused_in_one_line_before_anything_starts(url: str, hint: str) -> None:
    problem = prefect_database_problem(url)
    assert problem is not None and hint in problem and "\n" not in problem


def test_a_refusal_never_shows_the_password() -> None:
    problem = prefect_database_problem("postgresql+psycopg://lcspr:s3cret@db/prefect")
    assert problem is not None and "s3cret" not in problem and "***" in problem


def test_one_worker_is_the_worker_and_several_are_numbered() -> None:
    assert worker_names(1) == ["worker"]
    assert worker_names(3) == ["worker-1", "worker-2", "worker-3"]
    with pytest.raises(ValueError, match="at least one worker"):
        worker_names(0)


def test_each_worker_serves_the_pool_under_a_name_of_its_own() -> None:
    commands = [worker_command(["prefect"], name) for name in worker_names(2)]
    for command in commands:
        assert command[:7] == ["prefect", "worker", "start", "--pool", "lcspr-local", "--type", "process"]
    names = [command[command.index("--name") + 1] for command in commands]
    assert len(set(names)) == 2 and all(name.endswith(("-worker-1", "-worker-2")) for name in names)


def test_the_pool_runs_eight_flow_runs_at_once_by_default_whatever_the_workers(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, _env_file=None)
    assert settings.concurrent_runs == 8
    assert pool_limit_command(["prefect"], settings.concurrent_runs) == [
        "prefect", "work-pool", "set-concurrency-limit", "lcspr-local", "8"]
    assert Settings(home=tmp_path, concurrent_runs=3, _env_file=None).concurrent_runs == 3
    with pytest.raises(ValidationError):
        Settings(home=tmp_path, concurrent_runs=0, _env_file=None)


def test_workers_default_to_one() -> None:
    assert build_parser().parse_args(["up"]).workers == 1


@pytest.mark.parametrize("given", ["1", "2", str(MAX_WORKERS)])
def test_workers_takes_a_whole_number_from_one(given: str) -> None:
    assert build_parser().parse_args(["up", "--workers", given]).workers == int(given)


@pytest.mark.parametrize("given", ["0", "-1", str(MAX_WORKERS + 1), "two", "1.5", "", "1e3"])
def test_any_other_number_of_workers_is_one_clear_line_and_exit_2(given: str,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--workers", given]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"argument --workers: give a whole number of workers from 1 to {MAX_WORKERS}" in err


def test_a_password_left_out_of_the_url_is_filled_in_as_prefect_does_before_it_is_tried() -> None:
    url = "postgresql+psycopg://lcspr:${PREFECT_SERVER_DATABASE_PASSWORD}@db/prefect"
    problem = prefect_database_problem(url, environ={"PREFECT_SERVER_DATABASE_PASSWORD": "s3cret"})
    # Refused for its driver, before any connection: the password shown hidden, never in clear.
    assert problem is not None and "lcspr:***@db/prefect" in problem and "s3cret" not in problem

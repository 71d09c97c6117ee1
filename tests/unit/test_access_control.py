"""`lcspr up --auth`'s secret file and the access-control decisions around it (no server started).

The file is ``<home>/auth.env`` (or ``LCSPR_AUTH_FILE``): created owner-only, reused, refused when
others could read it; its encryption key is one Prefect's own server code accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from lcspr.cli import main
from lcspr.settings import Settings
from lcspr.up import (
    CLIENT_AUTH,
    ENCRYPTION_KEY,
    SERVER_AUTH,
    AuthFileError,
    UpError,
    access_control,
    client_auth_env,
    create_auth_file,
    is_loopback,
    load_auth_file,
    read_auth_file,
    stored_encryption_key,
)


def settings_in(home: Path, host: str = "127.0.0.1", port: int = 4200) -> Settings:
    return Settings(home=home, api_url=f"http://{host}:{port}/api", ui_url=f"http://{host}:{port}",
                    _env_file=None)  # type: ignore[call-arg]


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077])
def test_the_file_is_created_owner_only_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    path = tmp_path / "home" / "auth.env"
    with umask(mask):
        values, written = load_auth_file(path, tmp_path / "home" / "prefect")
    assert written and "new encryption key" in written
    assert mode_of(path) == 0o600
    assert path.stat().st_uid == os.getuid()
    assert set(values) == {SERVER_AUTH, CLIENT_AUTH, ENCRYPTION_KEY}


def test_values_have_the_formats_prefect_expects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values, _ = load_auth_file(tmp_path / "auth.env", tmp_path / "prefect")
    # "user:password", the same for server and clients; the UI asks for exactly this string.
    user, _, password = values[SERVER_AUTH].partition(":")
    assert user == "lcspr" and len(password) >= 40 and ":" not in password
    assert values[CLIENT_AUTH] == values[SERVER_AUTH]
    # A Fernet key: cryptography accepts it, and so does the Prefect server's own code, which reads
    # PREFECT_SERVER_ENCRYPTION_KEY from its environment before it looks in its database.
    key = values[ENCRYPTION_KEY]
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"secret")) == b"secret"
    from prefect.server.utilities.encryption import _get_fernet_encryption

    monkeypatch.setenv(ENCRYPTION_KEY, key)
    fernet = asyncio.run(_get_fernet_encryption(None))  # type: ignore[arg-type]
    assert Fernet(key.encode()).decrypt(fernet.encrypt(b"block data")) == b"block data"
    # Two files, two secrets.
    other, _ = load_auth_file(tmp_path / "other.env", tmp_path / "prefect")
    assert other[SERVER_AUTH] != values[SERVER_AUTH] and other[ENCRYPTION_KEY] != key


def test_the_file_is_reused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "auth.env"
    first, written = load_auth_file(path, tmp_path / "prefect")
    text = path.read_text()
    again, written_again = load_auth_file(path, tmp_path / "prefect")
    assert written is not None and written_again is None
    assert again == first and path.read_text() == text and mode_of(path) == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o666])
def test_a_file_others_could_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "auth.env"
    load_auth_file(path, tmp_path / "prefect")
    path.chmod(mode)
    with pytest.raises(AuthFileError, match=r"open to other users \(mode 6\d\d\).*chmod 600"):
        load_auth_file(path, tmp_path / "prefect")
    with pytest.raises(AuthFileError):
        client_auth_env(settings_in(tmp_path), {})


def test_lcspr_up_auth_refuses_a_loose_file_in_one_line_before_starting_anything(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = settings_in(tmp_path, port=free_port())
    settings.auth_path.write_text(f"{SERVER_AUTH}=a:b\n{CLIENT_AUTH}=a:b\n{ENCRYPTION_KEY}={Fernet.generate_key().decode()}\n")
    settings.auth_path.chmod(0o644)
    assert main(["up", "--auth"], settings=settings) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "open to other users (mode 644)" in err
    assert not (tmp_path / "logs").exists()  # nothing started, not even the register's migration


def test_the_cli_refuses_a_loose_file_too(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "environ", dict(os.environ))  # the CLI points Prefect at the home first
    settings = settings_in(tmp_path)
    load_auth_file(settings.auth_path, tmp_path / "prefect")
    settings.auth_path.chmod(0o644)
    assert main(["status", "LCSPR-2026-0001"], settings=settings, app=lambda _: pytest.fail("connected")) == 1
    assert "chmod 600" in capsys.readouterr().err


def test_a_symlink_planted_where_the_file_goes_is_not_written_through(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    (tmp_path / "auth.env").symlink_to(target)
    assert create_auth_file(tmp_path / "auth.env", "x") is False
    assert not target.exists()
    with pytest.raises(AuthFileError, match="cannot read"):
        load_auth_file(tmp_path / "auth.env", tmp_path / "prefect")


def test_a_hand_written_file_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "auth.env"
    key = Fernet.generate_key().decode()
    create_auth_file(path, f'export {SERVER_AUTH}="admin:pass"\n{CLIENT_AUTH}=admin:pass\n{ENCRYPTION_KEY}={key}\n')
    assert read_auth_file(path) == {SERVER_AUTH: "admin:pass", CLIENT_AUTH: "admin:pass", ENCRYPTION_KEY: key}
    path.write_text(f"{SERVER_AUTH}=admin:pass\n{CLIENT_AUTH}=admin:other\n{ENCRYPTION_KEY}={key}\n")
    with pytest.raises(AuthFileError, match="differs"):
        load_auth_file(path, tmp_path)
    path.write_text(f"{SERVER_AUTH}=admin:pass\n{CLIENT_AUTH}=admin:pass\n{ENCRYPTION_KEY}=not-a-key\n")
    with pytest.raises(AuthFileError, match="not a Fernet key"):
        load_auth_file(path, tmp_path)
    path.write_text(f"{SERVER_AUTH}=admin:pass\n")
    with pytest.raises(AuthFileError, match=f"lacks {CLIENT_AUTH}, {ENCRYPTION_KEY}"):
        load_auth_file(path, tmp_path)


def test_a_new_file_keeps_the_key_prefect_already_holds_so_secret_blocks_stay_readable(tmp_path: Path) -> None:
    prefect_home = tmp_path / "prefect"
    prefect_home.mkdir()
    stored = Fernet.generate_key().decode()
    with contextlib.closing(sqlite3.connect(prefect_home / "prefect.db")) as db:
        db.execute("CREATE TABLE configuration (key VARCHAR NOT NULL, value JSON NOT NULL)")
        db.execute("INSERT INTO configuration VALUES ('ENCRYPTION_KEY', ?)", (json.dumps({"fernet_key": stored}),))
        db.commit()
    assert stored_encryption_key(prefect_home) == stored
    values, written = load_auth_file(tmp_path / "auth.env", prefect_home)
    assert values[ENCRYPTION_KEY] == stored and written and "already held" in written


def test_no_prefect_database_or_no_key_in_it_means_a_new_key(tmp_path: Path) -> None:
    assert stored_encryption_key(tmp_path) is None
    (tmp_path / "prefect.db").write_bytes(b"not a database")
    assert stored_encryption_key(tmp_path) is None


def test_with_auth_every_child_gets_the_three_variables(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    env, lines = access_control(settings, auth=True, environ={SERVER_AUTH: "someone:else"})
    assert env == read_auth_file(settings.auth_path)
    assert str(settings.auth_path.resolve()) in lines[0]
    assert any("UI login" in line for line in lines)
    assert not any(env[SERVER_AUTH] in line for line in lines)  # the password is never printed


def test_without_auth_nothing_changes_on_loopback(tmp_path: Path) -> None:
    env, lines = access_control(settings_in(tmp_path), auth=False, environ={})
    assert env == {} and "off" in lines[0]
    assert not (tmp_path / "auth.env").exists()


def test_without_auth_an_existing_file_still_supplies_the_encryption_key_only(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    values, _ = load_auth_file(settings.auth_path, tmp_path / "prefect")
    env, _ = access_control(settings, auth=False, environ={})
    assert env == {ENCRYPTION_KEY: values[ENCRYPTION_KEY]}


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "[::]"])
def test_listening_beyond_this_machine_without_a_password_is_refused(tmp_path: Path, host: str) -> None:
    settings = settings_in(tmp_path, host=host)
    with pytest.raises(UpError, match=r"refusing to serve .* without a password.*--auth"):
        access_control(settings, auth=False, environ={})
    # With --auth, or a password set by hand in the environment (the production set-up), it goes on.
    assert access_control(settings, auth=True, environ={})[0][SERVER_AUTH]
    env, _ = access_control(settings_in(tmp_path / "other", host=host), auth=False,
                            environ={SERVER_AUTH: "admin:pass"})
    assert env == {CLIENT_AUTH: "admin:pass"}


def test_lcspr_up_refuses_an_exposed_host_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    settings = settings_in(tmp_path, host="0.0.0.0", port=port)
    assert main(["up"], settings=settings) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "refusing to serve" in err and "0.0.0.0" in err


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.0.2.10", False), ("no-such-host.invalid", False),
])
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_cli_takes_the_password_from_the_file_for_its_own_server_only(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    assert client_auth_env(settings, {}) == {}  # no file: nothing
    values, _ = load_auth_file(settings.auth_path, tmp_path / "prefect")
    assert client_auth_env(settings, {}) == {CLIENT_AUTH: values[CLIENT_AUTH]}
    assert client_auth_env(settings, {"PREFECT_API_URL": settings.api_url + "/"}) == {CLIENT_AUTH: values[CLIENT_AUTH]}
    # The environment's own string wins; another server never gets this one.
    assert client_auth_env(settings, {CLIENT_AUTH: "mine:own"}) == {}
    assert client_auth_env(settings, {"PREFECT_API_URL": "https://prefect.example.org/api"}) == {}
    # LCSPR_AUTH_FILE names the file.
    moved = Settings(home=tmp_path / "elsewhere", auth_file=settings.auth_path, _env_file=None)  # type: ignore[call-arg]
    assert moved.auth_path == settings.auth_path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_a_fifo_in_its_place_is_refused_without_hanging(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "auth.env", 0o600)
    with pytest.raises(AuthFileError, match="not a regular file"):
        read_auth_file(tmp_path / "auth.env")

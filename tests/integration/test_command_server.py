"""The command server of ``lcspr up`` (``lcspr/command_server.py``) and the installed ``lcspr`` command
(``lcspr/launch.py``): a command run there says, writes and exits exactly as it does run alone; it reads
the caller's standard input, stops on the caller's Ctrl-C, and a server that is not this installation's,
or whose code changed, leaves the command to run alone. The end-to-end tier runs every CLI call of its
scenarios through the server ``./run`` starts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.command_socket import PROTOCOL, identity
from adapters.warm_commands import WarmCommands
from lcspr import command_server, launch
from lcspr.bootstrap import bootstrap
from lcspr.settings import Settings
from models.roles import Role
from notifications.dispatch import write_local_config
from notifications.local_smtp import LocalOutbox
from services import messages, queries, referrals
from services.answers import record_answer
from services.app import App
from tests.conftest import make_referral
from tests.flows.answers import NOTIFIED

LCSPR = str(Path(sys.executable).with_name("lcspr"))
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server(settings: Settings) -> Iterator[Path]:
    """The command server on ``<home>/cli.sock``, as ``lcspr up`` starts it; yields its log."""
    sock = settings.home / "cli.sock"
    log = settings.home / "commands.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "lcspr.command_server", str(sock)], stdout=out,
                                   stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 60
    while "serving lcspr commands" not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    assert sock.stat().st_mode & 0o777 == 0o600
    yield log
    process.terminate()
    process.wait(10)


def _env(settings: Settings, api_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LCSPR_"))}
    env.update({"LCSPR_HOME": str(settings.home), "LCSPR_DATABASE_URL": settings.register_url,
                "PREFECT_API_URL": api_url, "PREFECT_HOME": str(settings.home / "prefect"),
                "PREFECT_CLIENT_MAX_RETRIES": "0", **extra})
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path, stdin: str = "") -> tuple[int, str, str]:
    done = subprocess.run([LCSPR, *args], env=env, cwd=cwd, input=stdin, capture_output=True, text=True,
                          timeout=120, check=False)
    return done.returncode, done.stdout, done.stderr


def _served(log: Path) -> list[str]:
    return [line.split(":", 1)[0] for line in log.read_text().splitlines() if ": child " in line]


def test_a_command_run_in_the_server_says_and_exits_as_it_does_alone(settings: Settings, app: App, server: Path):
    reference = referrals.register_referral(app, make_referral(agency_reference="CS-1")).reference
    referrals.attach_run(app, reference, "5f1c1d5e-0000-4000-8000-000000000001")
    answer = settings.home / "answer.json"
    answer.write_text('{"decided_by": "A. Jones, Partnership Manager", "decided_on": "2026-03-05", '
                      '"outcome": "notified", "panel_reference": "NP-2026-118"}')
    env = _env(settings, f"http://127.0.0.1:{_free_port()}/api")
    alone = {**env, "LCSPR_COMMAND_SERVER": "off"}
    commands = [(["list"], ""), (["status", reference], ""), (["status", "LCSPR-2026-9999"], ""),
                (["status", "not-a-reference"], ""), (["--help"], ""),
                (["decide", reference, "notification", "--input", "-"], answer.read_text()),
                (["decide", reference, "notification", "--input", "-"], "not json")]
    for args, stdin in commands:
        served = _run(args, env, settings.home, stdin)
        direct = _run(args, alone, settings.home, stdin)
        assert served == direct, args
    # Every one ran in the server, none here (the launcher's direct runs were told off).
    assert _served(server) == ["list", "status", "status", "status", "--help", "decide", "decide"]
    # The answers reached the command through its standard input: the one read asked Prefect, which was
    # not there; the other was refused.
    assert "Cannot reach the Prefect API" in _run(commands[5][0], env, settings.home, commands[5][1])[2]
    assert _run(commands[6][0], env, settings.home, commands[6][1])[0] == 2


def test_ctrl_c_stops_the_command_in_the_server(settings: Settings, app: App, server: Path):
    reference = referrals.register_referral(app, make_referral(agency_reference="CS-2")).reference
    referrals.attach_run(app, reference, "5f1c1d5e-0000-4000-8000-000000000002")
    # A Prefect API that takes the connection and never answers: `status` waits on it for its run.
    silent = socket.create_server(("127.0.0.1", 0))
    silent.settimeout(30)
    try:
        env = _env(settings, f"http://127.0.0.1:{silent.getsockname()[1]}/api")
        command = subprocess.Popen([LCSPR, "status", reference], env=env, cwd=settings.home,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while "status" not in _served(server):
            assert time.monotonic() < deadline and command.poll() is None
            time.sleep(0.1)
        conn, _ = silent.accept()
        command.send_signal(signal.SIGINT)
        assert command.wait(20) == 130
        conn.close()
    finally:
        silent.close()
    child = int(next(line for line in server.read_text().splitlines() if line.startswith("status: child"))
                .split()[2])
    time.sleep(1.5)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


def test_another_installation_or_changed_code_leaves_the_command_to_run_alone(settings: Settings, app: App,
                                                                              server: Path):
    sock = settings.home / "cli.sock"
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(sock))
        request = {"protocol": PROTOCOL, "argv": ["list"], "env": {}, "cwd": "/", "umask": 0o22,
                   "launcher": "/elsewhere/lcspr/launch.py", "prefix": sys.prefix}
        socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
        assert conn.recv(100) == b"refuse another installation\n"
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(sock))
        request = {**request, "argv": ["up"], "launcher": identity()}
        socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
        assert conn.recv(100) == b"refuse runs alone\n"

    env = _env(settings, f"http://127.0.0.1:{_free_port()}/api")
    loaded = Path(launch.__file__)
    before = loaded.stat()
    os.utime(loaded, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    try:
        changed = _run(["list"], env, settings.home)
        assert changed[0] == 0 and "No open reviews." in changed[1]
        assert "refused a command: stale" in server.read_text()
        # The server started again on the code as it is now, and serves the next command.
        deadline = time.monotonic() + 60
        while server.read_text().count("serving lcspr commands") < 2:
            assert time.monotonic() < deadline, server.read_text()
            time.sleep(0.1)
        assert _run(["list"], env, settings.home) == changed
        assert _served(server) == ["list"]
    finally:
        os.utime(loaded, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_the_log_names_a_command_only_by_a_word_the_cli_knows(settings: Settings, server: Path):
    env = _env(settings, f"http://127.0.0.1:{_free_port()}/api")
    mistyped = _run(["Jane Doe", "status"], env, settings.home)
    assert mistyped[0] == 2
    assert _run(["calendar", "--help"], env, settings.home)[0] == 0
    assert _served(server) == ["(other)", "calendar"]
    assert "Jane" not in server.read_text()
    known = command_server.known_commands()
    assert {"list", "status", "decide", "refer", "up", "--help"} <= known
    assert command_server.command_name(["status", "LCSPR-2026-0001"], known) == "status"
    assert command_server.command_name(["Jane"], known) == command_server.command_name([], known) == "(other)"


def test_home_is_found_as_the_settings_find_it(tmp_path: Path):
    assert launch.home_of({"LCSPR_HOME": "/srv/lcspr"}, tmp_path) == Path("/srv/lcspr")
    assert launch.home_of({}, tmp_path) == tmp_path / ".lcspr"
    (tmp_path / ".env").write_text("# ours\nLCSPR_API_URL=http://x\nexport LCSPR_HOME='reviews'\n")
    assert launch.home_of({}, tmp_path) == tmp_path / "reviews"
    # No server there: the launcher says so by running the command itself.
    assert launch.through_server(["list"], {"LCSPR_HOME": str(tmp_path)}) is None
    assert launch.through_server(["up"], {"LCSPR_HOME": str(tmp_path)}) is None


def test_a_flow_run_delivers_in_the_command_server_and_alone_without_one(settings: Settings, app: App,
                                                                          server: Path):
    """The review runs hand their deliveries to the server (Apprise is loaded there); each message is sent
    once, and with no server to ask, the run delivers itself."""
    with LocalOutbox(settings.home / "mail") as mailbox:
        write_local_config(settings.apprise_config_path, smtp_host="127.0.0.1", smtp_port=mailbox.port,
                           addresses={r.value: f"{r.value}@partnership.test" for r in Role},
                           sender="lcspr@partnership.test")
        env = _env(settings, f"http://127.0.0.1:{_free_port()}/api")
        warm = bootstrap(Settings(home=settings.home, database_url=settings.register_url, _env_file=None),
                         environ=env, warm=True)
        assert isinstance(warm.warm, WarmCommands)
        first = referrals.register_referral(app, make_referral(agency_reference="CS-3")).reference
        second = referrals.register_referral(app, make_referral(agency_reference="CS-4")).reference
        for reference in (first, second):
            assert record_answer(app, reference, "notification-1", {**NOTIFIED, "decided_on": "2026-03-03"}).accepted
        pending = [m.key for m in queries.outbox(app, "pending")]
        assert len(pending) == 2

        # A new process, as a flow run is: it asks the server, which sends the first review's message only.
        code = ("import json, os, sys; from lcspr.bootstrap import bootstrap; from lcspr.settings import Settings; "
                "from services.messages import deliver_soon; "
                "r = deliver_soon(bootstrap(Settings(), warm=True), sys.argv[1]); print(json.dumps(r.sent))")
        done = subprocess.run([sys.executable, "-c", code, first], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120, check=True)
        assert json.loads(done.stdout) == [key for key in pending if key.startswith(first)]
        assert _served(server) == ["outbox"]
        assert len(mailbox.messages()) == 1
        # Asked again, nothing is due: nothing goes twice.
        assert messages.deliver_soon(warm, first).sent == []
        assert _served(server) == ["outbox", "outbox"]

        # No server (another home): the caller delivers itself, the same way.
        alone = App(config=warm.config, clock=warm.clock, uow=warm.uow, runs=warm.runs, dispatcher=warm.dispatcher,
                    warm=WarmCommands(settings.home / "elsewhere", env))
        assert alone.warm is not None and alone.warm.deliver(second) is None
        assert messages.deliver_soon(alone, second).sent == [key for key in pending if key.startswith(second)]
        assert len(mailbox.messages()) == 2
        assert _served(server) == ["outbox", "outbox"]
        assert queries.outbox(app, "pending") == []


def test_a_flow_run_hands_its_publishing_to_the_command_server_and_does_not_wait(settings: Settings, app: App,
                                                                               server: Path):
    reference = referrals.register_referral(app, make_referral(agency_reference="CS-5")).reference
    # A Prefect API that takes the connection and never answers: the publish in the server waits on it; the
    # run that handed it over does not.
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        env = _env(settings, f"http://127.0.0.1:{silent.getsockname()[1]}/api", PREFECT_API_REQUEST_TIMEOUT="2")
        warm = WarmCommands(settings.home, env)
        started = time.monotonic()
        assert warm.publish(reference)
        assert time.monotonic() - started < 5
        assert _served(server) == ["publish"]
    finally:
        silent.close()
    # What the background command printed goes to logs/background.log: here, that Prefect went away.
    log = settings.home / "logs" / "background.log"
    deadline = time.monotonic() + 90
    while "lcspr publish: Cannot reach the Prefect API" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # No server there: not handed over, and the caller publishes itself (services.artifacts.publish_soon).
    assert not WarmCommands(settings.home / "elsewhere", env).publish(reference)

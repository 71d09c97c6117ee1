"""`./run --auth` as a person runs it: the API and UI ask for a password, and everything still works.

One system started with ``./run --auth`` (it execs ``lcspr up --auth``) in a temporary home on free
ports. The first start writes ``<home>/auth.env`` owner-only; the Prefect API answers 401 without
its password and 200 with it; the ``lcspr`` CLI (which reads the same file) refers a case, whose
flow run (started by the worker, which got the password from ``lcspr up``) suspends on its first
step; a wrong password gets one clear line; and a Secret block is encrypted with the file's key.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from lcspr.clock import SystemClock
from lcspr.up import CLIENT_AUTH, ENCRYPTION_KEY, SERVER_AUTH, read_auth_file
from tests.e2e.conftest import System, referral_file, start_system, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    # `./run --auth` in a temporary home on free ports.
    # SQLite whatever the environment says: the Secret block test reads Prefect's database file.
    with start_system(tmp_path_factory.mktemp("lcspr-auth"), args=["--auth"], postgresql=False) as running:
        running.wait_until_up()  # GET /api/health: Prefect leaves it open for probes
        yield running


@pytest.fixture(scope="module")
def secrets(system: System) -> dict[str, str]:
    return read_auth_file(system.home / "auth.env")


def call(url: str, auth: str | None, body: Any = None) -> tuple[int, Any]:
    """The HTTP status of GET (or POST ``body``) on ``url`` and its JSON, with basic auth ``user:password``."""
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    data = None if body is None else json.dumps(body).encode()
    for attempt in range(6):
        request = urllib.request.Request(url, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            # The server's SQLite answers 503 "database is locked" under concurrent writes: retry, as
            # Prefect's client does.
            if exc.code != 503 or attempt == 5:
                return exc.code, None
        time.sleep(0.5 * 2 ** attempt)
    raise AssertionError("unreachable")


def test_the_first_start_writes_an_owner_only_file_and_says_where_it_is(
        system: System, secrets: dict[str, str]) -> None:
    path = system.home / "auth.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(secrets) == {SERVER_AUTH, CLIENT_AUTH, ENCRYPTION_KEY}
    assert secrets[SERVER_AUTH] == secrets[CLIENT_AUTH] and secrets[SERVER_AUTH].startswith("lcspr:")
    printed = system.log()
    assert f"password and encryption key in {path.resolve()}" in printed and "UI login" in printed
    password = secrets[SERVER_AUTH].partition(":")[2]
    # Neither the password nor the key is printed or logged.
    for log in [system.output, *(system.home / "logs").glob("*.log")]:
        text = log.read_text(errors="replace")
        assert password not in text and secrets[ENCRYPTION_KEY] not in text, log


def test_the_api_answers_401_without_the_password_and_200_with_it(system: System, secrets: dict[str, str]) -> None:
    version = system.api_url + "/admin/version"
    assert call(version, None)[0] == 401
    assert call(version, "lcspr:wrong")[0] == 401
    assert call(version, secrets[CLIENT_AUTH])[0] == 200
    deployments = system.api_url + "/deployments/filter"
    assert call(deployments, None, {})[0] == 401
    status, found = call(deployments, secrets[CLIENT_AUTH], {})
    assert status == 200
    # `lcspr up` deployed through the password too.
    assert "lcspr-review" in {d["name"] for d in found}
    # The UI learns it must ask for the password (it sends it as basic auth from then on).
    ui_settings = system.api_url.removesuffix("/api") + "/ui-settings"
    assert call(ui_settings, None)[1]["auth"] == "BASIC"


def test_the_worker_and_its_flow_runs_work_through_the_password(system: System, secrets: dict[str, str]) -> None:
    auth = secrets[CLIENT_AUTH]
    status, deployment = call(f"{system.api_url}/deployments/name/lcspr-reconcile/lcspr-reconcile", auth)
    assert status == 200, status
    status, run = call(f"{system.api_url}/deployments/{deployment['id']}/create_flow_run", auth, {})
    assert status in (200, 201), status

    def finished() -> str | None:
        _, now = call(f"{system.api_url}/flow_runs/{run['id']}", auth)
        state = ((now or {}).get("state") or {}).get("type")
        return state if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

    # The worker picked it up, and the flow-run process (which asks the API for the runs) finished.
    assert wait_for("the reconcile run to finish", finished, timeout=180) == "COMPLETED"


def test_the_cli_refers_a_case_through_the_password_and_its_run_suspends(
        system: System, secrets: dict[str, str]) -> None:
    today = SystemClock().today()
    referred = system.lcspr("refer", str(referral_file(system.home, today, "POL-AUTH-0001")))
    assert referred.returncode == 0, referred.stdout + referred.stderr
    match = re.search(r"^(LCSPR-\d{4}-\d{4})$", referred.stdout, re.MULTILINE)
    run = re.search(r"/v2/runs/flow-run/([0-9a-f-]{36})", referred.stdout)
    assert match and run, referred.stdout
    reference, flow_run_id = match[1], run[1]

    def suspended() -> str | None:
        status, flow_run = call(f"{system.api_url}/flow_runs/{flow_run_id}", secrets[CLIENT_AUTH])
        return "yes" if status == 200 and ((flow_run or {}).get("state") or {}).get("name") == "Suspended" else None

    # The worker's flow run reached the API (it records itself, then suspends on the first step).
    wait_for("the run suspended on its first step", suspended, timeout=180)
    status = system.status(reference)
    assert status["flow_run_id"] == flow_run_id
    assert (status["open_step"] or {}).get("key") == "notification-1"
    listed = system.lcspr("list")
    assert listed.returncode == 0 and reference in listed.stdout, listed.stderr


def test_a_wrong_password_in_the_environment_gets_one_clear_line(system: System) -> None:
    today = SystemClock().today()
    wrong = subprocess.run(
        [str(Path(sys.executable).with_name("lcspr")), "refer",
         str(referral_file(system.home, today, "POL-AUTH-0002"))],
        env={**system.env, CLIENT_AUTH: "lcspr:wrong"}, cwd=system.home, capture_output=True, text=True,
        timeout=120, check=False)
    assert wrong.returncode == 1
    assert "refused the credentials (HTTP 401)" in wrong.stderr and "Traceback" not in wrong.stderr


def test_secret_blocks_are_encrypted_with_the_key_in_the_file(system: System, secrets: dict[str, str]) -> None:
    script = ("from prefect.blocks.system import Secret\n"
              "Secret(value='smtp-password-e2e').save('lcspr-e2e-auth', overwrite=True)\n"
              "print(Secret.load('lcspr-e2e-auth').get())\n")
    env = {**system.env, "PREFECT_API_URL": system.api_url, "PREFECT_HOME": str(system.home / "prefect"),
           CLIENT_AUTH: secrets[CLIENT_AUTH]}
    saved = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                           timeout=120, check=False)
    assert saved.returncode == 0 and saved.stdout.strip() == "smtp-password-e2e", saved.stderr
    with contextlib.closing(sqlite3.connect(f"file:{system.home / 'prefect' / 'prefect.db'}?mode=ro", uri=True)) as db:
        kept = db.execute("SELECT value FROM configuration WHERE key = 'ENCRYPTION_KEY'").fetchall()
        data = db.execute("SELECT data FROM block_document WHERE name = 'lcspr-e2e-auth'").fetchone()[0]
    # The server kept no key of its own in its database; the one in auth.env decrypts the block.
    assert kept == []
    token = json.loads(data)
    assert "smtp-password-e2e" not in data
    assert "smtp-password-e2e" in Fernet(secrets[ENCRYPTION_KEY].encode()).decrypt(token.encode()).decode()

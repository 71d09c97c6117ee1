"""``adapters/prefect_api.py`` against a real Prefect server: runs read and resumed over plain HTTP are
what Prefect's own client says of them, a refused answer is refused, and trouble is one clear line.

The CLI reads and resumes runs without importing Prefect (its import costs more than ``lcspr status``
may take); these tests hold that reading to Prefect's client on the same server, in every state a
review's run is judged in.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Crashed, Running, Scheduled

from adapters import prefect_api
from adapters.prefect_api import ApiRuns, api_runs, connection
from models.errors import Refused, Unavailable
from models.runs import Process
from services.app import App
from tests.conftest import make_referral
from tests.flows import answers as A
from tests.flows.conftest import DEPLOYMENT, RegisterReader, ReviewDriver


def read_with_prefect(run_id: UUID) -> FlowRun:
    async def go() -> FlowRun:
        async with get_client() as client:
            return await client.read_flow_run(run_id)

    return asyncio.run(go())


def force(run_id: UUID, state: Any) -> None:
    async def go() -> None:
        async with get_client() as client:
            await client.set_flow_run_state(run_id, state, force=True)

    asyncio.run(go())


def as_prefect_says(run: FlowRun) -> tuple[Any, ...]:
    assert run.state is not None
    paused = run.state.is_paused()
    return (run.state.type.value, run.state.name, run.state.timestamp,
            run.state.state_details.pause_key if paused else None, tuple(run.tags))


def test_every_state_a_run_is_judged_in_reads_as_prefects_client_reads_it(driver: ReviewDriver, flow_app: App):
    run_id = driver.start(make_referral(agency_reference="POL-API-STATES"))
    seen = []
    for state in [None, Crashed(message="process killed"), Scheduled(name="AwaitingRetry"), Running()]:
        if state is not None:
            force(run_id, state)
        with flow_app.runs() as runs:
            assert isinstance(runs, ApiRuns)
            ours = runs.observe(str(run_id))
            paged = runs.observe_all([str(run_id)])[str(run_id)]
        assert ours is not None and paged == ours
        seen.append(ours.state_name)
        assert (ours.state_type, ours.state_name, ours.since, ours.pause_key, ours.tags) == \
            as_prefect_says(read_with_prefect(run_id))
        # Run in this test's process, not by a worker: no process id was recorded.
        assert ours.process is Process.UNKNOWN
    assert seen == ["Suspended", "Crashed", "AwaitingRetry", "Running"]
    assert driver.restart(run_id) == "Suspended"


def test_runs_not_paused_are_found_and_paused_runs_are_counted_on_the_server(
        driver: ReviewDriver, flow_app: App, monkeypatch: pytest.MonkeyPatch):
    waiting = [str(driver.start(make_referral(agency_reference=f"POL-API-COUNT-{i}"))) for i in range(3)]
    crashed = waiting.pop()
    force(UUID(crashed), Crashed(message="process killed"))
    gone = "00000000-0000-4000-8000-000000000001"
    every = [*waiting, crashed, gone]
    with flow_app.runs() as runs:
        assert runs.count_paused(every) == 2
        assert runs.count_paused(every, chunk=1) == 2  # chunk by chunk, side by side
        assert runs.count_paused([]) == 0
        unpaused = runs.unpaused(every, chunk=2)
        assert list(unpaused) == [crashed]
        assert unpaused[crashed] == runs.observe(crashed)
        # A chunk with more runs not paused than a page holds is read on, page by page.
        monkeypatch.setattr(prefect_api, "PAGE", 1)
        force(UUID(waiting[0]), Crashed(message="process killed"))
        assert set(runs.unpaused(every)) == {crashed, waiting[0]}
    assert driver.restart(UUID(crashed)) == "Suspended"
    assert driver.restart(UUID(waiting[0])) == "Suspended"


def test_an_answer_resumed_over_http_is_the_answer_the_run_records(driver: ReviewDriver, register: RegisterReader,
                                                                     flow_app: App):
    run_id = driver.start(make_referral(agency_reference="POL-API-RESUME"))
    ref = register.reference("POL-API-RESUME")
    with flow_app.runs() as runs:
        runs.resume(str(run_id), "notification-1", A.NOTIFIED)
    assert driver.state(run_id).type.value == "SCHEDULED"  # Resuming: waiting for a worker
    assert driver.run_until_waiting(run_id) == "Suspended"
    assert register.ledger(ref) == [("notification-1", True)]
    assert register.open_key(ref) == "rapid-review-1"


def test_an_answer_the_servers_schema_refuses_is_refused_without_its_text(driver: ReviewDriver, flow_app: App):
    run_id = driver.start(make_referral(agency_reference="POL-API-REJECT"))
    wrong = {**A.NOTIFIED, "outcome": "Jessamy Quillfeather"}  # not one of the outcomes: the schema refuses it
    refused_line = r"^The Prefect server refused the answer: outcome does not match the step's form"
    with pytest.raises(Refused, match=refused_line) as refused, flow_app.runs() as runs:
        runs.resume(str(run_id), "notification-1", wrong)
    assert "Quillfeather" not in str(refused.value)
    assert driver.state(run_id).name == "Suspended"


def test_a_run_that_ended_cannot_take_an_answer_and_says_what_to_do(driver: ReviewDriver, flow_app: App):
    run_id = driver.start(make_referral(agency_reference="POL-API-ENDED"))
    force(run_id, Crashed(message="process killed"))
    with pytest.raises(Unavailable, match=r"is Crashed; it cannot take an answer\. Run `lcspr reconcile`"), \
            flow_app.runs() as runs:
        runs.resume(str(run_id), "notification-1", A.NOTIFIED)
    assert driver.restart(run_id) == "Suspended"


def test_a_run_prefect_no_longer_has_reads_as_gone(flow_app: App):
    gone = "00000000-0000-4000-8000-000000000000"
    with flow_app.runs() as runs:
        assert runs.observe(gone) is None
        assert runs.observe_all([gone]) == {gone: None}
        with pytest.raises(Unavailable, match="no longer exists in Prefect"):
            runs.resume(gone, "notification-1", A.NOTIFIED)


def test_a_missing_deployment_and_an_unreachable_server_are_one_clear_line(flow_app: App):
    with pytest.raises(Unavailable, match=r"^The deployment lcspr-review/nowhere does not exist on http"), \
            api_runs("lcspr-review/nowhere", str, {}) as runs:
        runs.check()
    with api_runs(DEPLOYMENT, str, {}) as runs:
        runs.check()
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}), \
            pytest.raises(Unavailable, match=r"^Cannot reach the Prefect API at http://127\.0\.0\.1:9/api; start"), \
            api_runs(DEPLOYMENT, str, {}) as runs:
        runs.observe("00000000-0000-4000-8000-000000000000")


def test_where_prefect_is_comes_from_its_settings_once_it_is_loaded_else_from_the_environment(flow_app: App):
    # Prefect is loaded in this process (the session's server is named by a temporary setting).
    env = {"PREFECT_API_URL": "http://elsewhere.test/api", "PREFECT_API_AUTH_STRING": "lcspr:secret"}
    assert connection(env)["url"] == PREFECT_API_URL.value()
    # In the CLI, Prefect is not loaded: the environment the CLI pointed names the server and its password.
    code = ("import sys; from adapters.prefect_api import http_client; "
            "c = http_client({'PREFECT_API_URL': 'http://elsewhere.test/api', 'PREFECT_API_AUTH_STRING': 'lcspr:s'}); "
            "print(c.base_url, c.headers['Authorization'], 'prefect' in sys.modules, sep='|')")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                         env={**os.environ, "PYTHONPATH": str(root)}).stdout.strip().split("|")
    assert out == ["http://elsewhere.test/api/", "Basic " + base64.b64encode(b"lcspr:s").decode(), "False"]

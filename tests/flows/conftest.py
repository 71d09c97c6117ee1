"""One real Prefect server for the whole session, and a driver that plays the humans.

A review run is started from a real deployment, run in this process until it
suspends (``Pause``), resumed through the server with an answer, and run again: the
same cycle a worker performs, without waiting for one to poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow
from prefect.flow_runs import resume_flow_run
from prefect.testing.utilities import prefect_test_harness

from flows.review import lcspr_review
from lcspr.settings import Settings
from models.referral import Referral
from models.reminders import Role
from notifications.dispatch import write_local_config
from notifications.local_smtp import LocalOutbox


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOutbox]:
    home = tmp_path_factory.mktemp("lcspr-flows")
    os.environ["LCSPR_HOME"] = str(home)
    os.environ.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "true")
    # A real SMTP server and an Apprise config routing every role to it, as `lcspr up` sets up.
    with LocalOutbox(home / "outbox") as outbox:
        os.environ["LCSPR_SMTP_PORT"] = str(outbox.port)
        write_local_config(home / "apprise.yml", smtp_host="127.0.0.1", smtp_port=outbox.port,
                           addresses={r.value: f"{r.value}@partnership.test" for r in Role},
                           sender="lcspr@partnership.test")
        with prefect_test_harness(server_startup_timeout=60):
            yield outbox


@pytest.fixture(scope="session")
def mailbox(prefect_server: LocalOutbox) -> LocalOutbox:
    return prefect_server


@pytest.fixture(scope="session")
def deployment_id(prefect_server: LocalOutbox) -> UUID:
    async def apply() -> UUID:
        deployment = await lcspr_review.ato_deployment(name="test")
        return await deployment.apply()

    return asyncio.run(apply())


class ReviewDriver:
    """Starts a review run and answers its steps as the people would."""

    def __init__(self, deployment_id: UUID, settings: Settings) -> None:
        self.deployment_id = deployment_id
        self.settings = settings

    def start(self, referral: Referral) -> UUID:
        async def create() -> FlowRun:
            async with get_client() as client:
                return await client.create_flow_run_from_deployment(
                    self.deployment_id, parameters={"referral": referral.model_dump(mode="json")}
                )

        run = asyncio.run(create())
        self.run_until_waiting(run.id)
        return run.id

    def run_until_waiting(self, flow_run_id: UUID) -> str:
        """Run the flow body (from the top) until it suspends or ends; return the state name."""

        async def go() -> str:
            async with get_client() as client:
                run = await client.read_flow_run(flow_run_id)
            with contextlib.suppress(Pause):  # the run suspended: the normal end of a cycle
                await run_flow(lcspr_review, flow_run=run, return_type="state")  # type: ignore[misc]
            async with get_client() as client:
                run = await client.read_flow_run(flow_run_id)
            assert run.state is not None
            return run.state.name

        return asyncio.run(go())

    def state(self, flow_run_id: UUID) -> Any:
        async def read() -> Any:
            async with get_client() as client:
                return (await client.read_flow_run(flow_run_id)).state

        return asyncio.run(read())

    def resume(self, flow_run_id: UUID, answer: dict[str, Any]) -> None:
        resume_flow_run(flow_run_id, run_input=answer)

    def answer(self, flow_run_id: UUID, answer: dict[str, Any]) -> str:
        self.resume(flow_run_id, answer)
        return self.run_until_waiting(flow_run_id)


@pytest.fixture
def flow_settings(prefect_server: LocalOutbox) -> Settings:
    # The flow builds Settings() from the environment, as a worker would: use the same.
    return Settings()


@pytest.fixture
def driver(deployment_id: UUID, flow_settings: Settings) -> ReviewDriver:
    return ReviewDriver(deployment_id, flow_settings)


def home_of(settings: Settings) -> Path:
    return settings.home

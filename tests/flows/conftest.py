"""One real Prefect server for the whole session, one App on it, and a driver that plays the humans.

The App is built once, from explicit settings (a temporary home with its SQLite register,
an Apprise config routing every role to a real local SMTP server), by ``lcspr.bootstrap``
as the entry points do; the flows are built around it with ``review_flow(lambda: app)``.
The Prefect server is Prefect's own test harness (SQLite in a temporary folder) or, with
``LCSPR_TEST_PREFECT_DATABASE_URL``, the same kind of server on a fresh PostgreSQL database; with
``LCSPR_TEST_DATABASE_URL`` the register is a fresh PostgreSQL database too (``tests/postgres.py``).
A review run is started from a real deployment, run in this process until it suspends
(``Pause``), resumed through the server with an answer, and run again: the same cycle a
worker performs, without waiting for one to poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow
from prefect.flow_runs import resume_flow_run
from prefect.states import Scheduled
from prefect.testing.utilities import prefect_test_harness

from flows.review import review_flow
from lcspr.bootstrap import bootstrap
from lcspr.clock import SystemClock
from lcspr.settings import Settings
from models.lifecycle import OpenStep, Review
from models.records import AuditRecord, DecisionRecord, StoredReview
from models.referral import Referral
from models.reminders import Role
from notifications.dispatch import write_local_config
from notifications.local_smtp import LocalOutbox
from services import queries
from services.app import App
from services.reviews import rebuild, waiting_on
from tests import postgres

# The review deployment the tests apply (``review.ato_deployment(name="test")``).
DEPLOYMENT = "lcspr-review/test"
AGENCY = "Thames Valley Police"  # the referring agency of every ``make_referral``


@contextlib.contextmanager
def prefect_test_server(database_url: str | None) -> Iterator[None]:
    """Prefect's own test harness, a server subprocess on a temporary SQLite file; or, given a
    ``postgresql+asyncpg://`` URL, the same on that database.

    The harness names its SQLite file in a setting of its own that no outer setting overrides, so the
    PostgreSQL case does what it does (prefect/testing/utilities.py, Prefect 3.8) with another URL:
    start the server with it, point the client at it, drain the log and event workers, stop it.
    """
    if database_url is None:
        with prefect_test_harness(server_startup_timeout=60):
            yield
        return
    from prefect.context import _temporary_global_settings_context, get_settings_context
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_DATABASE_CONNECTION_URL,
        PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED,
        temporary_settings,
    )
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        # In a running loop these return awaitables (as the harness does it).
        with contextlib.suppress(RuntimeError):  # never started
            result: Any = APILogWorker.instance().drain()
            if inspect.isawaitable(result):
                await result
        result = EventsWorker.drain_all()
        if inspect.isawaitable(result):
            await result

    # As `lcspr up` runs it: no pause-expiration service (our suspends have no timeout).
    with temporary_settings({PREFECT_SERVER_DATABASE_CONNECTION_URL: database_url,
                             PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED: False}):
        server = SubprocessASGIServer()
        # A fresh PostgreSQL database gets Prefect's whole schema on the first start.
        server.start(timeout=180)
        try:
            with temporary_settings({PREFECT_API_URL: server.api_url}), \
                    _temporary_global_settings_context(get_settings_context()):
                yield
                run_coro_as_sync(drain())
        finally:
            server.stop()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, LocalOutbox]]:
    """A real SMTP server, an Apprise config routing every role to it (as `lcspr up` writes it), and a
    Prefect test server; the settings for an App on them."""
    home = tmp_path_factory.mktemp("lcspr-flows")
    # Prefect's own setting (read by the flow engine): persist results, so cached tasks find them.
    os.environ.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "true")
    with contextlib.ExitStack() as stack:
        register_url = f"sqlite:///{home / 'register.db'}"
        if (register_server := postgres.configured(postgres.REGISTER)) is not None:
            register_url = stack.enter_context(postgres.fresh_database(register_server, "register"))
        prefect_url = None
        if (prefect_server := postgres.configured(postgres.PREFECT)) is not None:
            prefect_url = stack.enter_context(postgres.fresh_database(prefect_server, "prefect"))
        outbox = stack.enter_context(LocalOutbox(home / "outbox"))
        apprise = home / "apprise.yml"
        write_local_config(apprise, smtp_host="127.0.0.1", smtp_port=outbox.port,
                           addresses={r.value: f"{r.value}@partnership.test" for r in Role},
                           sender="lcspr@partnership.test")
        settings = Settings(home=home, database_url=register_url, smtp_port=outbox.port,
                            apprise_config=apprise, outbox_dir=home / "outbox", deployment=DEPLOYMENT,
                            ui_url="http://127.0.0.1:4200", _env_file=None)
        with prefect_test_server(prefect_url):
            yield settings, outbox


@pytest.fixture(scope="session")
def flow_settings(prefect_server: tuple[Settings, LocalOutbox]) -> Settings:
    return prefect_server[0]


@pytest.fixture(scope="session")
def mailbox(prefect_server: tuple[Settings, LocalOutbox]) -> LocalOutbox:
    return prefect_server[1]


@pytest.fixture(scope="session")
def flow_app(flow_settings: Settings) -> App:
    """The App every flow run of the session gets: the real adapters, the real clock (as a worker's),
    and no process environment for the Apprise config's placeholders."""
    return bootstrap(flow_settings, clock=SystemClock(), environ={})


@pytest.fixture(scope="session")
def review(flow_app: App) -> Flow[[Referral], Any]:
    return review_flow(lambda: flow_app)


@pytest.fixture(scope="session")
def deployment_id(review: Flow[[Referral], Any]) -> UUID:
    async def apply() -> UUID:
        deployment = await review.ato_deployment(name="test")
        return await deployment.apply()

    return asyncio.run(apply())


class ReviewDriver:
    """Starts a review run and answers its steps as the people would."""

    def __init__(self, deployment_id: UUID, review: Flow[[Referral], Any]) -> None:
        self.deployment_id = deployment_id
        self.review = review

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
        """Run the flow body (from the top) until it suspends or ends; return the state name.

        A run still suspended (not resumed, not rescheduled) is not run at all: Prefect's engine
        sees the suspension and raises ``Pause`` before the body starts. Use :meth:`restart` to
        re-run a waiting run from the top.
        """

        async def go() -> str:
            async with get_client() as client:
                run = await client.read_flow_run(flow_run_id)
            with contextlib.suppress(Pause):  # the run suspended: the normal end of a cycle
                await run_flow(self.review, flow_run=run, return_type="state")  # type: ignore[misc]
            async with get_client() as client:
                run = await client.read_flow_run(flow_run_id)
            assert run.state is not None
            return run.state.name

        return asyncio.run(go())

    def restart(self, flow_run_id: UUID) -> str:
        """What follows a worker's death: the run is scheduled again (as ``lcspr reconcile`` does) and
        its body runs from the top until it suspends or ends; return the state name."""

        async def reschedule() -> None:
            async with get_client() as client:
                await client.set_flow_run_state(flow_run_id, Scheduled(name="AwaitingRetry"), force=True)

        asyncio.run(reschedule())
        return self.run_until_waiting(flow_run_id)

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
def driver(deployment_id: UUID, review: Flow[[Referral], Any]) -> ReviewDriver:
    return ReviewDriver(deployment_id, review)


class RegisterReader:
    """What the register says of a review, read through the App's use cases (and its unit of work)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def find(self, agency_reference: str) -> StoredReview | None:
        with self.app.uow() as uow:
            return uow.reviews.find(AGENCY, agency_reference)

    def stored(self, reference: str) -> StoredReview:
        with self.app.uow() as uow:
            return uow.reviews.get(reference)

    def reference(self, agency_reference: str) -> str:
        found = self.find(agency_reference)
        assert found is not None, f"{AGENCY} {agency_reference} is not registered"
        return found.reference

    def open_step(self, reference: str) -> OpenStep | None:
        """What the review waits on, as the flow reads it (the register's projection)."""
        return waiting_on(self.app, reference)

    def open_key(self, reference: str) -> str | None:
        step = self.open_step(reference)
        return step.key if step else None

    def load(self, reference: str) -> Review:
        return rebuild(self.app, self.stored(reference))

    def flow_run_id(self, reference: str) -> str | None:
        return self.stored(reference).flow_run_id

    def references(self, include_closed: bool = False) -> list[str]:
        return [row.reference for row in queries.open_reviews(self.app, include_closed=include_closed).rows]

    def decisions(self, reference: str) -> list[DecisionRecord]:
        return queries.decisions(self.app, reference)

    def ledger(self, reference: str) -> list[tuple[str, bool]]:
        return [(d.key, d.accepted) for d in self.decisions(reference)]

    def audit_trail(self, reference: str) -> list[AuditRecord]:
        return queries.audit_trail(self.app, reference)

    def verify_audit(self, reference: str) -> list[str]:
        return queries.verify_audit(self.app, reference).problems


@pytest.fixture
def register(flow_app: App) -> RegisterReader:
    return RegisterReader(flow_app)

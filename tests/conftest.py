"""Shared fixtures: settings and an App built for a test, never patched; referrals to start from."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

# Prefect reads these at import; keep tests offline and away from the user's ~/.prefect.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from sqlalchemy import create_engine

import adapters.register.database as database
from lcspr.bootstrap import bootstrap
from lcspr.settings import Settings
from models.referral import Referral
from models.roles import Role
from notifications.dispatch import write_local_config
from notifications.local_smtp import LocalOutbox
from services.app import App
from tests.fakes import FrozenClock


def make_referral(**overrides: object) -> Referral:
    values: dict[str, object] = dict(
        referring_agency="Thames Valley Police",
        agency_reference="POL-2026-0042",
        referred_by="J. Patel, DSL",
        dsl_consulted=True,
        incident_date=date(2026, 3, 2),
        la_aware_date=date(2026, 3, 3),
        abuse_or_neglect="suspected",
        harm="seriously_harmed",
        child_pseudonym="Child A",
        looked_after=False,
        outline="Serious injury to an infant at home; concerns about information sharing.",
    )
    values.update(overrides)
    return Referral.model_validate(values)


@pytest.fixture
def referral() -> Referral:
    return make_referral()


@contextmanager
def register_settings(home: Path, database_url: str | None) -> Iterator[Settings]:
    """Settings on a fresh register: a SQLite file in ``home``, or, given a PostgreSQL URL, a fresh
    schema on it (dropped afterwards, so reruns start empty)."""
    if not database_url:
        yield Settings(home=home, database_url=f"sqlite:///{home / 'register.db'}", _env_file=None)
        return
    schema = f"lcspr_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    scoped = f"{database_url}{'&' if '?' in database_url else '?'}options=-csearch_path%3D{schema}"
    try:
        yield Settings(home=home, database_url=scoped, _env_file=None)
    finally:
        engine = database._engines.pop(scoped, None)
        if engine is not None:
            engine.dispose()
        database._migrated.discard(scoped)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """Settings for one test: a fresh SQLite file, or a fresh schema on LCSPR_TEST_DATABASE_URL."""
    with register_settings(tmp_path, os.environ.get("LCSPR_TEST_DATABASE_URL")) as made:
        yield made


def make_app(settings: Settings, today: date = date(2026, 3, 3)) -> App:
    """The real App on the test's settings (its register, Apprise config and Prefect), with a frozen
    clock at ``today`` (``app.clock.set(...)`` moves it) and no environment for config placeholders."""
    return bootstrap(settings, clock=FrozenClock(today), environ={})


@pytest.fixture
def app(settings: Settings) -> App:
    return make_app(settings)


ROUTED = {r.value: f"{r.value}@partnership.test" for r in Role}


@contextmanager
def routed_mailbox(settings: Settings, more: Mapping[str, str] | None = None) -> Iterator[LocalOutbox]:
    """A local SMTP server, and the settings' Apprise config sending every role's mail to it (each role at
    ``<role>@partnership.test``, and the roles of ``more`` at the addresses given)."""
    with LocalOutbox(settings.home / "mail") as box:
        write_local_config(settings.apprise_config_path, smtp_host="127.0.0.1", smtp_port=box.port,
                           addresses={**ROUTED, **(more or {})}, sender="lcspr@partnership.test")
        yield box


def tags_implied_by_status(app: App, reference: str) -> set[str]:
    """Our run tags as ``lcspr status`` implies them: stage, route, the worst RAG of the running clocks.
    (Computed here from the status query, independently of ``models.run_tags``, which it checks.)"""
    from services import queries

    status = queries.status(app, reference)
    tags = {"lcspr", f"stage:{status['stage']}"}
    if status["route"]:
        tags.add(f"route:{status['route']}")
    colours = [c["rag"] for c in status["clocks"] if c["rag"] in ("red", "amber", "green")]
    if colours:
        tags.add(f"rag:{max(colours, key=['green', 'amber', 'red'].index)}")
    return tags


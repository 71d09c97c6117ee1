"""Shared fixtures: settings built for a test, never patched; referrals to start from."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

# Prefect reads these at import; keep tests offline and away from the user's ~/.prefect.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from lcspr.settings import Settings  # noqa: E402
from models.referral import Referral  # noqa: E402


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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    url = os.environ.get("LCSPR_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'register.db'}"
    return Settings(home=tmp_path, database_url=url, _env_file=None)  # type: ignore[call-arg]

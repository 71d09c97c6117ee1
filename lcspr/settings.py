"""The one settings object, read from ``LCSPR_*`` environment variables (or ``.env``).

Built at the edge (the CLI, ``lcspr up``, the flows' entry points in
``lcspr/entrypoints.py``, a test) and turned into the App by ``lcspr/bootstrap.py``;
nothing below the edge reads the environment or sees this object. Every statutory clock length is a setting with the
default from ``shared/domain.md``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.clocks import DEFAULT_RULES, ClockKind, ClockRule, RuleUnit
from models.lifecycle import Policy
from models.reminders import DEFAULT_POLICIES, ReminderPolicy, Rung
from models.roles import Role
from models.workdays import WorkingCalendar

DEFAULT_HOME = Path(".lcspr")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LCSPR_", env_file=".env", extra="ignore")

    home: Path = Field(
        default=DEFAULT_HOME, description="Folder for the local database, outbox and config."
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the case register; default: SQLite in <home>/register.db.",
    )
    partnership: str = "Safeguarding Children Partnership"
    reference_prefix: str = "LCSPR"
    ui_url: str = Field(
        default="http://127.0.0.1:4200", description="The Prefect UI, for links in messages."
    )
    api_url: str = Field(
        default="http://127.0.0.1:4200/api",
        description="The Prefect API the CLI talks to and `lcspr up` serves (its host and port).",
    )
    deployment: str = "lcspr-review/lcspr-review"
    auth_file: Path | None = Field(
        default=None,
        description="Owner-only file with the API password and encryption key (`lcspr up --auth` writes it; "
                    "the CLI reads it); default <home>/auth.env.",
    )

    audit_key_file: Path | None = Field(
        default=None,
        description="The audit trail's HMAC key (owner-only, made on first use); default <home>/audit.key. "
                    "Back it up apart from the register: without it the trail cannot be verified or added to.",
    )

    # Local closure days (e.g. a Christmas shutdown), as ISO dates, comma-separated in the env.
    closure_days: list[date] = Field(default_factory=list)

    sin_working_days: int = 5
    rapid_review_working_days: int = 15
    inform_bodies_working_days: int = 5
    agency_report_working_days: int = 20
    draft_round_working_days: int = 10
    final_report_before_publication_working_days: int = 7
    publication_months: int = 6
    deferral_review_working_days: int = 20
    stays_published_months: int = 12
    amber_within_working_days: int = 5

    apprise_config: Path | None = Field(
        default=None,
        description="Apprise YAML config with one tag per role; default <home>/apprise.yml.",
    )
    outbox_dir: Path | None = Field(
        default=None, description="Where the local SMTP server saves mail."
    )
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    mail_from: str = "lcspr@localhost"
    unrouted_fallback_role: str = Field(
        default="business_unit",
        description="Who receives a message for a role with no address (e.g. a new agency); '' to keep it pending.",
    )

    # Self-healing: how often the lcspr-reconcile deployment runs, and how long a run may sit
    # Pending or Running with no live process before it counts as stranded.
    reconcile_interval_seconds: int = Field(default=300, ge=10)
    reconcile_grace_seconds: float = Field(default=120, ge=0)

    # Reminder policy (every clock kind except "stays published", which only announces its date).
    reminders_before_working_days: list[int] = Field(default_factory=lambda: [5, 1])
    escalate_after_working_days: int = 1
    escalate_to_independent_chair_after_working_days: int = 5
    escalation_repeat_working_days: int = 5

    @field_validator("closure_days", "reminders_before_working_days", mode="before")
    @classmethod
    def _split_dates(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @property
    def register_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'register.db').resolve()}"

    @property
    def apprise_config_path(self) -> Path:
        return self.apprise_config or self.home / "apprise.yml"

    @property
    def auth_path(self) -> Path:
        return self.auth_file or self.home / "auth.env"

    @property
    def audit_key_path(self) -> Path:
        return (self.audit_key_file or self.home / "audit.key").resolve()

    @property
    def outbox_path(self) -> Path:
        return self.outbox_dir or self.home / "outbox"

    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar(self.closure_days)

    def rules(self) -> dict[ClockKind, ClockRule]:
        after, before = RuleUnit.WORKING_DAYS_AFTER, RuleUnit.WORKING_DAYS_BEFORE
        months = RuleUnit.CALENDAR_MONTHS
        rules = dict(DEFAULT_RULES)
        rules.update({
            ClockKind.SERIOUS_INCIDENT_NOTIFICATION: ClockRule(after, self.sin_working_days),
            ClockKind.RAPID_REVIEW: ClockRule(after, self.rapid_review_working_days),
            ClockKind.INFORM_BODIES: ClockRule(after, self.inform_bodies_working_days),
            ClockKind.AGENCY_REPORT: ClockRule(after, self.agency_report_working_days),
            ClockKind.DRAFT_ROUND: ClockRule(after, self.draft_round_working_days),
            ClockKind.FINAL_REPORT_TO_BODIES: ClockRule(
                before, self.final_report_before_publication_working_days
            ),
            ClockKind.PUBLICATION: ClockRule(months, self.publication_months),
            ClockKind.DEFERRAL_REVIEW: ClockRule(after, self.deferral_review_working_days),
            ClockKind.STAYS_PUBLISHED: ClockRule(months, self.stays_published_months),
        })
        return rules

    def reminder_policies(self) -> dict[ClockKind, ReminderPolicy]:
        ladder = (
            Rung(self.escalate_after_working_days, (Role.BUSINESS_UNIT_MANAGER.value, Role.SUBGROUP_CHAIR.value)),
            Rung(self.escalate_to_independent_chair_after_working_days, (Role.INDEPENDENT_CHAIR.value,)),
        )
        policies = dict(DEFAULT_POLICIES)
        for kind, default in DEFAULT_POLICIES.items():
            if kind is ClockKind.STAYS_PUBLISHED:
                continue
            policies[kind] = replace(default, before=tuple(self.reminders_before_working_days), ladder=ladder,
                                     repeat_every=self.escalation_repeat_working_days)
        return policies

    def policy(self) -> Policy:
        return Policy(calendar=self.calendar(), rules=self.rules())

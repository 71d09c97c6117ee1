"""The one settings object, read from ``LCSPR_*`` environment variables (or ``.env``).

Built at the edge (the CLI, ``lcspr up``, the flows' entry points in
``lcspr/entrypoints.py``, a test) and turned into the App by ``lcspr/bootstrap.py``;
nothing below the edge reads the environment or sees this object. Every statutory clock length is a setting with the
default from ``shared/domain.md``, and so is the local target of every other step (``*_target_working_days``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models.clocks import DEFAULT_RULES, ClockKind, ClockRule, RuleUnit
from models.digest import check_digest_roles
from models.errors import ConfigurationError
from models.lifecycle import Policy
from models.reminders import DEFAULT_POLICIES, ReminderPolicy, escalation_ladder
from models.themes import ThemeList, parse_themes
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
    prefect_database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the database of the Prefect server `lcspr up` runs, with an async "
                    "driver: postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DATABASE. Default: Prefect's own "
                    "PREFECT_SERVER_DATABASE_CONNECTION_URL (or PREFECT_API_...) if the environment sets one, "
                    "else SQLite in <home>/prefect/prefect.db.",
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

    # Local closure days (e.g. a Christmas shutdown), as ISO dates, comma-separated in the env. NoDecode: the
    # environment's value is the comma-separated text, split below, not JSON (which pydantic-settings would expect).
    closure_days: Annotated[list[date], NoDecode] = Field(default_factory=list)

    sin_working_days: int = 5
    rapid_review_working_days: int = 15
    inform_bodies_working_days: int = 5
    agency_report_working_days: int = 20
    draft_round_working_days: int = 10
    final_report_before_publication_working_days: int = 7
    publication_months: int = 6
    deferral_review_working_days: int = 20
    stays_published_months: int = 12

    # Local targets, not statutory: "expected within N working days" of the step opening, for the
    # steps no law or guidance times, chased like the statutory clocks (ClockKind.*_TARGET). The
    # defaults fit the steps after the decision into the six months publication is given (with one
    # draft round and the 7 working days' notice, 112 of about 125 working days), in the order the
    # BSCP practitioners' guide gives them.
    chair_decision_target_working_days: int = Field(
        default=10, ge=1,
        description="Chair decision, from the rapid review: the Panel usually answers a rapid review "
                    "in about two weeks, and the Chair decides on it and the partners' recommendation.",
    )
    author_appointment_target_working_days: int = Field(
        default=10, ge=1,
        description="Independent author appointed, from the bodies being informed: commissioning and "
                    "a conflicts declaration in two weeks, so the review starts within a month of the decision.",
    )
    terms_of_reference_target_working_days: int = Field(
        default=15, ge=1,
        description="Terms of Reference signed off, from the author's appointment: a few weeks to "
                    "agree scope, agencies, methodology and family involvement with the panel.",
    )
    engagement_target_working_days: int = Field(
        default=20, ge=1,
        description="Practitioner events held and the family's views sought, from the last agency "
                    "report: as long as the agencies are given for their reports.",
    )
    draft_circulation_target_working_days: int = Field(
        default=15, ge=1,
        description="Each draft circulated to the panel, from the engagement (or the panel's request "
                    "for changes): three weeks of writing per draft.",
    )
    final_report_target_working_days: int = Field(
        default=10, ge=1,
        description="Final report signed off by the partners, from the panel accepting a draft: one "
                    "round, as long as the panel has for a draft (the publication clock still applies).",
    )
    learning_review_target_working_days: int = Field(
        default=40, ge=1,
        description="Reflective learning session or practice review completed, from the decision: "
                    "scope, one session and the learning written up, in about two months.",
    )
    action_plan_target_working_days: int = Field(
        default=20, ge=1,
        description="Action plan agreed (its last action added), from publication or the learning "
                    "review: a month, one sub group cycle.",
    )
    closure_target_working_days: int = Field(
        default=40, ge=1,
        description="Review closed with evidence of impact, from the last action completed: about "
                    "two months, time for a re-audit to show the learning took hold.",
    )

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
    # How many flow runs may execute at once, whatever the number of workers (the work pool's
    # concurrency limit, kept by Prefect's server); the rest wait their turn, Scheduled. A run holds a
    # process (about 150 MB) and up to five connections to the register while it executes, a few
    # seconds between two waits: 8 keeps a burst of answers within PostgreSQL's default 100 connections.
    concurrent_runs: int = Field(default=8, ge=1, le=1000)

    # Reminder policy (every clock kind except "stays published", which only announces its date).
    reminders_before_working_days: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [5, 1])
    escalate_after_working_days: int = 1
    escalate_to_independent_chair_after_working_days: int = 5
    escalation_repeat_working_days: int = 5
    digest_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Roles whose reminders (due soon, due today, overdue) come in one email a day rather than one "
                    "each, e.g. 'subgroup_chair,agency-thames-valley-police', or '*' for every role; escalations, "
                    "step-opened and statutory messages still go at once. Default: none (one email per reminder).",
    )

    # The controlled list of themes given to recommendations (`lcspr themes`, the yearly report's "Learning by
    # theme", the learning briefings). Empty: the default list (models.themes.DEFAULT_THEMES).
    # NoDecode: the environment gives a comma list, not JSON (split by the validator below).
    themes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="The partnership's themes, comma-separated, each 'Title' or 'key=Title' (e.g. "
                    "'Neglect, Domestic abuse, pre_birth=Pre-birth assessment'); default: the list drawn from the "
                    "National Panel's recurring themes.",
    )
    themes_file: Path | None = Field(
        default=None,
        description="A UTF-8 file with one theme a line ('Title' or 'key=Title'; # starts a comment), for titles "
                    "with commas; it takes the place of LCSPR_THEMES.",
    )

    @field_validator("themes", mode="before")
    @classmethod
    def _split_themes(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("closure_days", "reminders_before_working_days", "digest_roles", mode="before")
    @classmethod
    def _split_dates(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("digest_roles")
    @classmethod
    def _known_digest_roles(cls, value: list[str]) -> list[str]:
        try:
            return sorted(check_digest_roles(value))
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None

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
            ClockKind.CHAIR_DECISION_TARGET: ClockRule(after, self.chair_decision_target_working_days),
            ClockKind.AUTHOR_APPOINTMENT_TARGET: ClockRule(after, self.author_appointment_target_working_days),
            ClockKind.TERMS_OF_REFERENCE_TARGET: ClockRule(after, self.terms_of_reference_target_working_days),
            ClockKind.ENGAGEMENT_TARGET: ClockRule(after, self.engagement_target_working_days),
            ClockKind.DRAFT_CIRCULATION_TARGET: ClockRule(after, self.draft_circulation_target_working_days),
            ClockKind.FINAL_REPORT_TARGET: ClockRule(after, self.final_report_target_working_days),
            ClockKind.LEARNING_REVIEW_TARGET: ClockRule(after, self.learning_review_target_working_days),
            ClockKind.ACTION_PLAN_TARGET: ClockRule(after, self.action_plan_target_working_days),
            ClockKind.CLOSURE_TARGET: ClockRule(after, self.closure_target_working_days),
        })
        return rules

    def reminder_policies(self) -> dict[ClockKind, ReminderPolicy]:
        """The same reminders and ladder for every chased clock, local targets included."""
        policies = dict(DEFAULT_POLICIES)
        for kind, default in DEFAULT_POLICIES.items():
            if kind is ClockKind.STAYS_PUBLISHED:
                continue
            ladder = escalation_ladder(self.escalate_after_working_days,
                                       self.escalate_to_independent_chair_after_working_days, default.owner_role)
            policies[kind] = replace(default, before=tuple(self.reminders_before_working_days), ladder=ladder,
                                     repeat_every=self.escalation_repeat_working_days)
        return policies

    def theme_list(self) -> ThemeList:
        """The controlled list: from LCSPR_THEMES_FILE, else LCSPR_THEMES, else the default.
        ConfigurationError for a file that cannot be read or an item that is not a theme."""
        if self.themes_file is not None:
            try:
                lines = self.themes_file.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigurationError(f"Cannot read LCSPR_THEMES_FILE {self.themes_file}: {exc}.") from None
            return parse_themes(lines, source=f"LCSPR_THEMES_FILE {self.themes_file}")
        return parse_themes(self.themes)

    def policy(self) -> Policy:
        return Policy(calendar=self.calendar(), rules=self.rules())

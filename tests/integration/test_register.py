"""The case register on SQLite, and on PostgreSQL when LCSPR_TEST_DATABASE_URL is set.

On PostgreSQL each test gets its own schema (dropped afterwards), so reruns on the same
database start from empty just as the SQLite tests do.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text, update

from lcspr.settings import Settings
from models.errors import NotFound, Refused
from models.lifecycle import ClockAdjustment, Stage
from models.register import (
    ActionRow,
    AgencyRequestRow,
    AuditEvent,
    Base,
    ClockRow,
    Decision,
    Recommendation,
    ReferenceCounter,
    ReviewRow,
)
from tasks import register as register_module
from tasks.register import MIGRATIONS, Outcome, Register, engine_for, migrate
from tests.conftest import make_referral
from tests.unit.test_lifecycle import GOOD

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@pytest.fixture
def url(settings: Settings) -> str:
    """An empty register database (tests/conftest.py gives each test its own)."""
    return settings.register_url


@pytest.fixture
def register(url: str, settings: Settings) -> Register:
    return Register(url, settings.policy())


def refer(register: Register, agency_reference: str = "POL-2026-0042", **overrides: Any) -> str:
    referred = register.refer(
        make_referral(agency_reference=agency_reference, **overrides), TODAY, NOW
    )
    return referred.reference


def answer_until(register: Register, reference: str, stop_at: str) -> None:
    """Record the full route's answers through the register until ``stop_at`` is the open step."""
    for key, payload in GOOD.items():
        if key == stop_at:
            break
        outcome = register.record_decision(reference, key, payload, TODAY, NOW)
        assert outcome.accepted, outcome.reason
    step = register.open_step(reference)
    assert step is not None and step.key == stop_at


def count(register: Register, model: Any) -> int:
    with register.unit_of_work() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def review_row(register: Register, reference: str) -> ReviewRow:
    with register.unit_of_work() as s:
        row = s.scalars(select(ReviewRow).where(ReviewRow.reference == reference)).one()
        s.expunge(row)
        return row


def rows(register: Register, model: Any, reference: str) -> list[Any]:
    with register.unit_of_work() as s:
        review_id = s.scalars(select(ReviewRow.id).where(ReviewRow.reference == reference)).one()
        found = list(s.scalars(select(model).where(model.review_id == review_id)))
        s.expunge_all()
        return found


ALL_TABLES = (
    ReviewRow,
    ReferenceCounter,
    Decision,
    ClockRow,
    AgencyRequestRow,
    Recommendation,
    ActionRow,
    AuditEvent,
)


def counts(register: Register) -> dict[str, int]:
    return {m.__tablename__: count(register, m) for m in ALL_TABLES}


# ---------------------------------------------------------------- migrations


def test_migrating_an_empty_database_creates_every_table_with_its_columns(url: str) -> None:
    assert inspect(engine_for(url)).get_table_names() == []
    migrate(url)
    inspector = inspect(engine_for(url))
    assert set(inspector.get_table_names()) == {*Base.metadata.tables, "alembic_version"}
    for name, table in Base.metadata.tables.items():
        assert {c["name"] for c in inspector.get_columns(name)} == set(table.columns.keys()), name


def test_migrating_twice_is_harmless_and_leaves_the_schema_at_head(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(url)
    monkeypatch.setattr(register_module, "_migrated", set())  # really run the upgrade again
    migrate(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine_for(url).connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            head
        ]
    assert set(inspect(engine_for(url)).get_table_names()) == {
        *Base.metadata.tables,
        "alembic_version",
    }


# ---------------------------------------------------------------- referrals


def test_referrals_get_sequential_references_for_the_year(register: Register) -> None:
    assert refer(register, "POL-1") == "LCSPR-2026-0001"
    assert refer(register, "POL-2") == "LCSPR-2026-0002"
    assert register.references() == ["LCSPR-2026-0001", "LCSPR-2026-0002"]


def test_the_same_agency_reference_returns_the_existing_review(register: Register) -> None:
    first = register.refer(make_referral(agency_reference="POL-9"), TODAY, NOW)
    again = register.refer(
        make_referral(agency_reference="POL-9", outline="Sent twice by mistake."), TODAY, NOW
    )
    assert first.created and not again.created
    assert again.reference == first.reference
    assert count(register, ReviewRow) == 1
    assert register.find_by_agency_reference("Thames Valley Police", "POL-9") == first.reference


def test_a_new_review_waits_on_the_notification_with_its_clock_projected(
    register: Register,
) -> None:
    reference = refer(register)
    row = review_row(register, reference)
    assert (row.stage, row.open_step_key, row.open_step_due) == (
        "referred",
        "notification-1",
        date(2026, 3, 10),
    )
    assert row.pseudonym == "Child A" and row.referral["agency_reference"] == "POL-2026-0042"
    [clock] = rows(register, ClockRow, reference)
    assert (clock.key, clock.due, clock.state) == (
        "serious_incident_notification",
        date(2026, 3, 10),
        "running",
    )
    assert [e.event for e in register.audit_trail(reference)] == ["review_referred"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"dsl_consulted": False},
        {"child_pseudonym": "Jane Smith"},
        {"outline": "Infant with NHS number 943 476 5919 was injured."},
    ],
)
def test_a_refused_referral_writes_nothing(register: Register, overrides: dict[str, Any]) -> None:
    before = counts(register)
    with pytest.raises(Refused):
        register.refer(make_referral(**overrides), TODAY, NOW)
    assert counts(register) == before == {t: 0 for t in before}


def test_an_unknown_reference_is_not_found(register: Register) -> None:
    with pytest.raises(NotFound, match="LCSPR-2026-9999"):
        register.load("LCSPR-2026-9999")


# ---------------------------------------------------------------- decisions


def test_accepted_decisions_update_every_projection(register: Register) -> None:
    reference = refer(register)
    answer_until(register, reference, "action-update-2")
    review = register.load(reference)
    cal = register.policy.calendar

    row = review_row(register, reference)
    assert (row.stage, row.route) == ("action_monitoring", "lcspr")
    assert (row.open_step_key, row.open_step_due) == ("action-update-2", date(2027, 1, 15))

    clocks = {c.key: c for c in rows(register, ClockRow, reference)}
    assert {k: c.due for k, c in clocks.items()} == {c.key: c.due(cal) for c in review.clocks}
    assert clocks["rapid_review"].due == date(2026, 3, 26)
    assert (
        clocks["rapid_review"].met_on == date(2026, 3, 20) and clocks["rapid_review"].state == "met"
    )
    assert clocks["publication"].due == date(2026, 10, 29)  # paused while deferred
    assert clocks["publication"].pauses[0]["start"] == "2026-08-03"
    assert clocks["stays_published"].state == "running"
    assert clocks["action:action-2"].state == "running"
    assert clocks["action:action-2"].owner_role == "agency-frimley-icb"

    agencies = sorted(
        (a.agency, a.received_on, a.author_independent)
        for a in rows(register, AgencyRequestRow, reference)
    )
    assert agencies == [
        ("Frimley ICB", date(2026, 5, 11), True),
        ("Thames Valley Police", date(2026, 5, 5), True),
    ]
    recommendations = sorted((r.number, r.text) for r in rows(register, Recommendation, reference))
    assert recommendations == [
        (1, "Share information at strategy meetings"),
        (2, "Train staff on bruising in babies"),
    ]
    actions = sorted(
        (a.number, a.owner_agency, a.due_on, a.completed_on)
        for a in rows(register, ActionRow, reference)
    )
    assert actions == [
        (1, "Thames Valley Police", date(2026, 12, 1), date(2026, 10, 1)),
        (2, "Frimley ICB", date(2027, 1, 15), None),
    ]


def test_a_full_lcspr_recorded_through_the_register_ends_closed(register: Register) -> None:
    reference = refer(register)
    for key, payload in GOOD.items():
        assert register.record_decision(reference, key, payload, TODAY, NOW).accepted
    row = review_row(register, reference)
    assert (row.stage, row.open_step_key, row.closed_on) == ("closed", None, date(2026, 11, 2))
    assert register.references() == [] and register.references(include_closed=True) == [reference]


def test_the_same_key_twice_gives_the_same_outcome_and_one_decision_row(register: Register) -> None:
    reference = refer(register)
    first = register.record_decision(
        reference, "notification-1", GOOD["notification-1"], TODAY, NOW
    )
    again = register.record_decision(
        reference, "notification-1", GOOD["notification-1"], TODAY, NOW
    )
    assert first == again == Outcome("notification-1", True, "", "rapid-review-1")
    assert [d.key for d in register.decisions(reference)] == ["notification-1"]
    assert [e.event for e in register.audit_trail(reference)].count("decision_recorded") == 1


def test_a_refused_answer_is_logged_and_reopens_the_step_under_a_retry_key(
    register: Register,
) -> None:
    reference = refer(register)
    answer_until(register, reference, "rapid-review-1")
    bad = {**GOOD["rapid-review-1"], "sent_to_panel": False}
    outcome = register.record_decision(reference, "rapid-review-1", bad, TODAY, NOW)
    assert not outcome.accepted and "National Panel" in outcome.reason
    assert outcome.next_step == "rapid-review-1-retry-2"
    [*_, refused] = register.decisions(reference)
    assert (refused.key, refused.accepted, refused.reason) == (
        "rapid-review-1",
        False,
        outcome.reason,
    )
    assert refused.decided_on == date(2026, 3, 20)
    row = review_row(register, reference)
    assert (row.stage, row.open_step_key) == ("rapid_review", "rapid-review-1-retry-2")
    step = register.open_step(reference)
    assert step is not None and step.last_refusal == outcome.reason
    assert register.load(reference).stage is Stage.RAPID_REVIEW
    # The same refused key again is not a second refusal; the retry key is then accepted.
    assert register.record_decision(reference, "rapid-review-1", bad, TODAY, NOW) == outcome
    good = register.record_decision(
        reference, "rapid-review-1-retry-2", GOOD["rapid-review-1"], TODAY, NOW
    )
    assert good.accepted and good.next_step == "chair-decision-1"


def test_an_answer_that_cannot_be_read_is_refused_and_logged_not_crashed(
    register: Register,
) -> None:
    """A malformed date in the answer is the person's mistake: a refusal, not an error."""
    reference = refer(register)
    bad = {**GOOD["notification-1"], "decided_on": "5th March"}
    outcome = register.record_decision(reference, "notification-1", bad, TODAY, NOW)
    assert not outcome.accepted and "decided_on" in outcome.reason
    assert outcome.next_step == "notification-1-retry-2"
    [refused] = register.decisions(reference)
    assert not refused.accepted and refused.decided_on is None


def test_a_refused_answer_that_identifies_a_child_is_not_stored(register: Register) -> None:
    """The register never holds an identifier, not even inside a refused answer."""
    reference = refer(register)
    answer_until(register, reference, "rapid-review-1")
    bad = {
        **GOOD["rapid-review-1"],
        "rationale": "GP records for NHS no 943 476 5919 show no concerns.",
    }
    outcome = register.record_decision(reference, "rapid-review-1", bad, TODAY, NOW)
    assert not outcome.accepted and "NHS number" in outcome.reason
    [*_, refused] = register.decisions(reference)
    assert not refused.accepted
    assert "943 476 5919" not in str(refused.payload)
    assert all("943 476 5919" not in str(e.detail) for e in register.audit_trail(reference))


def test_a_decision_for_a_step_that_is_not_open_is_refused_and_writes_nothing(
    register: Register,
) -> None:
    reference = refer(register)
    before, version = counts(register), review_row(register, reference).version
    with pytest.raises(Refused, match="Steps are taken in order"):
        register.record_decision(
            reference, "chair-decision-1", GOOD["chair-decision-1"], TODAY, NOW
        )
    with pytest.raises(Refused, match="the open step is notification-1"):
        register.record_decision(reference, "notification-2", GOOD["notification-1"], TODAY, NOW)
    assert counts(register) == before
    assert review_row(register, reference).version == version


def test_record_refusal_is_idempotent_by_key(register: Register) -> None:
    reference = refer(register)
    first = register.record_refusal(reference, "notification-1", "The form could not be read.", NOW)
    again = register.record_refusal(reference, "notification-1", "A different reason.", NOW)
    assert (
        first
        == again
        == Outcome("notification-1", False, "The form could not be read.", "notification-1-retry-2")
    )
    assert [(d.key, d.accepted) for d in register.decisions(reference)] == [
        ("notification-1", False)
    ]
    with pytest.raises(Refused, match="not open"):
        register.record_refusal(reference, "rapid-review-1", "Not the open step.", NOW)


def test_a_review_is_attached_to_one_flow_run_only(register: Register) -> None:
    reference = refer(register)
    register.attach_flow_run(reference, "run-1", NOW)
    register.attach_flow_run(reference, "run-1", NOW)  # a retry of the same run is harmless
    with pytest.raises(Refused, match="already driven by flow run run-1"):
        register.attach_flow_run(reference, "run-2", NOW)
    assert register.flow_run_id(reference) == "run-1"
    assert register.refer(make_referral(), TODAY, NOW).flow_run_id == "run-1"
    assert [e.event for e in register.audit_trail(reference)].count("flow_run_attached") == 1


# ---------------------------------------------------------------- audit trail


def test_the_audit_trail_is_a_hash_chain_that_verifies(register: Register) -> None:
    reference = refer(register)
    answer_until(register, reference, "chair-decision-1")
    register.record_refusal(reference, "chair-decision-1", "Unreadable.", NOW)
    trail = register.audit_trail(reference)
    assert [e.seq for e in trail] == list(range(1, len(trail) + 1))
    assert trail[0].prev_hash == ""
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(trail))
    assert register.verify_audit(reference) == []


def test_verifying_the_audit_trail_detects_a_tampered_row(register: Register) -> None:
    reference = refer(register)
    answer_until(register, reference, "chair-decision-1")
    with register.unit_of_work() as s:
        target = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.event == "decision_recorded")
            .order_by(AuditEvent.seq)
        ).first()
        assert target is not None
        seq, detail = target.seq, {**target.detail, "decided_on": "2026-03-01"}
        s.execute(update(AuditEvent).where(AuditEvent.id == target.id).values(detail=detail))
    assert register.verify_audit(reference) == [
        f"audit event {seq} (decision_recorded) does not match the chain"
    ]


def test_the_audit_trail_verifies_whatever_timezone_now_was_given_in(register: Register) -> None:
    """Time is any aware datetime; a British Summer Time instant must verify like a UTC one."""
    summer = datetime(2026, 7, 1, 10, 15, 30, 123456, tzinfo=ZoneInfo("Europe/London"))
    reference = register.refer(make_referral(agency_reference="POL-BST"), TODAY, summer).reference
    register.attach_flow_run(reference, "run-bst", summer)
    assert register.verify_audit(reference) == []


# ---------------------------------------------------------------- clocks and reloading


def test_clock_adjustments_are_logged_projected_and_replayed(register: Register, url: str) -> None:
    reference = refer(register)
    answer_until(register, reference, "rapid-review-1")
    pause = ClockAdjustment(
        clock="rapid_review",
        action="pause",
        on=date(2026, 3, 9),
        by="A. Jones",
        reason="Police asked us to wait for interviews",
    )
    resume = ClockAdjustment(
        clock="rapid_review", action="resume", on=date(2026, 3, 16), by="A. Jones"
    )
    extend = ClockAdjustment(
        clock="rapid_review",
        action="extend",
        on=date(2026, 3, 17),
        by="A. Jones",
        reason="Agreed with the partners",
        new_due=date(2026, 4, 17),
    )
    register.adjust_clock(reference, pause, TODAY, NOW)
    [clock] = [c for c in rows(register, ClockRow, reference) if c.key == "rapid_review"]
    assert clock.state == "paused" and clock.pauses[0]["reason"] == pause.reason
    register.adjust_clock(reference, resume, TODAY, NOW)
    after = register.adjust_clock(reference, extend, TODAY, NOW)
    assert after.clock("rapid_review").due(register.policy.calendar) == date(2026, 4, 17)
    [clock] = [c for c in rows(register, ClockRow, reference) if c.key == "rapid_review"]
    assert (clock.state, clock.due) == ("running", date(2026, 4, 17))
    assert clock.extensions[0]["reason"] == "Agreed with the partners"
    assert [d.key for d in register.decisions(reference)][-3:] == ["clock-1", "clock-2", "clock-3"]
    events = [e.event for e in register.audit_trail(reference)][-3:]
    assert events == ["clock_paused", "clock_resumed", "clock_extended"]
    reopened = Register(url, register.policy)
    assert reopened.load(reference) == after
    assert reopened.open_step(reference).due == date(2026, 4, 17)  # type: ignore[union-attr]


def test_a_refused_clock_adjustment_writes_nothing(register: Register) -> None:
    reference = refer(register)
    before = counts(register)
    bad = ClockAdjustment(
        clock="serious_incident_notification",
        action="extend",
        on=date(2026, 3, 4),
        by="A. Jones",
        reason="Waiting on police",
        new_due=date(2026, 3, 9),
    )
    with pytest.raises(Refused, match="already due on 2026-03-10"):
        register.adjust_clock(reference, bad, TODAY, NOW)
    assert counts(register) == before


def test_loading_from_a_new_register_instance_gives_the_same_review(
    register: Register, url: str, settings: Settings
) -> None:
    reference = refer(register)
    answer_until(register, reference, "draft-review-2")
    register.record_refusal(reference, "draft-review-2", "Unreadable.", NOW)
    reopened = Register(url, settings.policy())
    assert reopened.load(reference) == register.load(reference)
    assert reopened.open_step(reference) == register.open_step(reference)
    assert reopened.load(reference).attempt == 2


# ---------------------------------------------------------------- concurrency


def test_two_callers_recording_the_same_key_at_once_write_one_decision(register: Register) -> None:
    reference = refer(register)
    barrier = threading.Barrier(2)
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []

    def record() -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(
                register.record_decision(
                    reference, "notification-1", GOOD["notification-1"], TODAY, NOW
                )
            )
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=record) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert outcomes == [Outcome("notification-1", True, "", "rapid-review-1")] * 2
    assert [d.key for d in register.decisions(reference)] == ["notification-1"]
    assert register.load(reference).stage is Stage.RAPID_REVIEW

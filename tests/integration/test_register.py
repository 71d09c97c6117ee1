"""The case register on SQLite, and on PostgreSQL when LCSPR_TEST_DATABASE_URL is set.

The use cases of ``services/`` run against the real adapters (``adapters/register``): the
repository and unit of work over SQLAlchemy, migrated by Alembic. What they wrote is read
back both through the use cases and, to check the projections and the audit chain row by
row, straight from the mapping's tables.

On PostgreSQL each test gets its own schema (dropped afterwards), so reruns on the same
database start from empty just as the SQLite tests do.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.orm import Session

from adapters.register import database
from adapters.register.database import HEAD, MIGRATIONS, engine_for, migrate
from adapters.register.mapping import (
    ActionRow,
    AgencyRequestRow,
    AuditEvent,
    Base,
    ClockRow,
    Decision,
    OutboxMessage,
    Recommendation,
    ReferenceCounter,
    ReviewRow,
)
from lcspr.bootstrap import bootstrap
from lcspr.settings import Settings
from models.errors import NotFound, Refused
from models.lifecycle import ClockAdjustment, OpenStep, Review, Stage, open_step
from models.referral import read_referral
from services import answers, clocks, messages, queries, referrals, reviews
from services.answers import Outcome
from services.app import App
from tests.conftest import make_app, make_referral
from tests.fakes import FakeDispatcher, FrozenClock
from tests.unit.test_lifecycle import GOOD

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@pytest.fixture
def url(settings: Settings) -> str:
    """An empty register database (tests/conftest.py gives each test its own)."""
    return settings.register_url


@pytest.fixture
def app(settings: Settings) -> App:
    """The real App on the test's register, its clock frozen at NOW (after every date in GOOD)."""
    app = make_app(settings, TODAY)
    assert isinstance(app.clock, FrozenClock)
    app.clock.advance(minutes=30)
    assert app.clock.now() == NOW
    return app


@contextmanager
def session(settings: Settings) -> Iterator[Session]:
    """A transaction straight on the register's tables, committed when the block succeeds."""
    with Session(engine_for(settings.register_url), expire_on_commit=False) as s, s.begin():
        yield s


def refer(app: App, agency_reference: str = "POL-2026-0042", **overrides: Any) -> str:
    return referrals.register_referral(app, make_referral(agency_reference=agency_reference, **overrides)).reference


def load(app: App, reference: str) -> Review:
    """The review as the register's decision log rebuilds it."""
    with app.uow() as uow:
        stored = uow.reviews.get(reference)
    return reviews.rebuild(app, stored)


def replayed_step(app: App, reference: str) -> OpenStep | None:
    """The open step as a replay of the log gives it (``waiting_on`` reads the projection instead)."""
    return open_step(load(app, reference), app.config.policy)


def answer_until(app: App, reference: str, stop_at: str) -> None:
    """Record the full route's answers through the use case until ``stop_at`` is the open step."""
    for key, payload in GOOD.items():
        if key == stop_at:
            break
        outcome = answers.record_answer(app, reference, key, payload)
        assert outcome.accepted, outcome.reason
    step = reviews.waiting_on(app, reference)
    assert step is not None and step.key == stop_at
    assert replayed_step(app, reference) == step


def count(settings: Settings, model: Any) -> int:
    with session(settings) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def review_row(settings: Settings, reference: str) -> ReviewRow:
    with session(settings) as s:
        return s.scalars(select(ReviewRow).where(ReviewRow.reference == reference)).one()


def rows(settings: Settings, model: Any, reference: str) -> list[Any]:
    with session(settings) as s:
        review_id = s.scalars(select(ReviewRow.id).where(ReviewRow.reference == reference)).one()
        order = model.seq if hasattr(model, "seq") else model.id
        return list(s.scalars(select(model).where(model.review_id == review_id).order_by(order)))


ALL_TABLES = (
    ReviewRow,
    ReferenceCounter,
    Decision,
    ClockRow,
    AgencyRequestRow,
    Recommendation,
    ActionRow,
    AuditEvent,
    OutboxMessage,
)


def counts(settings: Settings) -> dict[str, int]:
    return {m.__tablename__: count(settings, m) for m in ALL_TABLES}


def outcome_of(outcome: Outcome) -> tuple[str, bool, str, str | None]:
    """An outcome with the step it opens by key."""
    return outcome.key, outcome.accepted, outcome.reason, outcome.next_step.key if outcome.next_step else None


# ---------------------------------------------------------------- migrations


def test_migrating_an_empty_database_creates_every_table_with_its_columns(url: str) -> None:
    assert inspect(engine_for(url)).get_table_names() == []
    migrate(url)
    inspector = inspect(engine_for(url))
    assert set(inspector.get_table_names()) == {*Base.metadata.tables, "alembic_version"}
    for name, table in Base.metadata.tables.items():
        assert {c["name"] for c in inspector.get_columns(name)} == set(table.columns.keys()), name


def test_migrating_twice_is_harmless_and_leaves_the_schema_at_head(url: str) -> None:
    migrate(url)
    migrate(url, again=True)  # really run the upgrade again
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine_for(url).connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head]
    assert set(inspect(engine_for(url)).get_table_names()) == {*Base.metadata.tables, "alembic_version"}
    # A register at head is recognised without Alembic (every command would pay for it otherwise):
    # the constant must name Alembic's head.
    assert head == HEAD


def test_a_register_behind_head_is_upgraded_and_one_at_head_is_left_alone(url: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    migrate(url)
    with engine_for(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    database._migrated.discard(url)  # a new process
    migrate(url)
    with engine_for(url).connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]
        assert "projected_with" in {c["name"] for c in inspect(conn).get_columns("reviews")}
    database._migrated.discard(url)
    migrate(url)  # at head: nothing to run, and nothing breaks
    assert url in database._migrated


def test_the_app_migrates_a_new_register_before_its_first_use(settings: Settings) -> None:
    assert inspect(engine_for(settings.register_url)).get_table_names() == []
    app = make_app(settings, TODAY)
    assert set(inspect(engine_for(settings.register_url)).get_table_names()) == {
        *Base.metadata.tables,
        "alembic_version",
    }
    assert refer(app) == "LCSPR-2026-0001"


# ---------------------------------------------------------------- referrals


def test_referrals_get_sequential_references_for_the_year(app: App) -> None:
    assert refer(app, "POL-1") == "LCSPR-2026-0001"
    assert refer(app, "POL-2") == "LCSPR-2026-0002"
    assert [r.reference for r in queries.open_reviews(app).rows] == ["LCSPR-2026-0001", "LCSPR-2026-0002"]


def test_the_same_agency_reference_returns_the_existing_review(app: App, settings: Settings) -> None:
    first = referrals.register_referral(app, make_referral(agency_reference="POL-9"))
    again = referrals.register_referral(app, make_referral(agency_reference="POL-9", outline="Sent twice by mistake."))
    assert first.created and not again.created
    assert (again.reference, again.run_key) == (first.reference, first.reference)
    assert count(settings, ReviewRow) == 1
    with app.uow() as uow:
        found = uow.reviews.find("Thames Valley Police", "POL-9")
    assert found is not None and found.reference == first.reference
    # The first referral stands: the second's outline was not written over it.
    assert found.referral.outline == make_referral().outline


def test_a_new_review_waits_on_the_notification_with_its_clock_projected(app: App, settings: Settings) -> None:
    reference = refer(app)
    row = review_row(settings, reference)
    assert (row.stage, row.open_step_key, row.open_step_due) == ("referred", "notification-1", date(2026, 3, 10))
    assert row.pseudonym == "Child A" and row.referral["agency_reference"] == "POL-2026-0042"
    [clock] = rows(settings, ClockRow, reference)
    assert (clock.key, clock.due, clock.state) == ("serious_incident_notification", date(2026, 3, 10), "running")
    assert [e.event for e in queries.audit_trail(app, reference)] == ["review_referred"]
    step = reviews.waiting_on(app, reference)
    assert step is not None and (step.key, step.due) == ("notification-1", date(2026, 3, 10))
    assert step == replayed_step(app, reference)
    # Registering alone announces nothing: the run announces the step when it attaches itself.
    assert queries.outbox(app) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"dsl_consulted": False},
        {"child_pseudonym": "Jane Smith"},
        {"outline": "Infant with NHS number 943 476 5919 was injured."},
    ],
)
def test_a_refused_referral_writes_nothing(app: App, settings: Settings, overrides: dict[str, Any]) -> None:
    before = counts(settings)
    raw = {**make_referral().model_dump(mode="json"), **overrides}
    with pytest.raises(Refused):
        referrals.register_referral(app, read_referral(raw))
    assert counts(settings) == before == {t: 0 for t in before}


def test_an_unknown_reference_is_not_found(app: App) -> None:
    with pytest.raises(NotFound, match="LCSPR-2026-9999"):
        queries.status(app, "LCSPR-2026-9999")
    with pytest.raises(NotFound, match="LCSPR-2026-9999"):
        reviews.waiting_on(app, "LCSPR-2026-9999")
    with pytest.raises(NotFound, match="LCSPR-2026-9999"):
        answers.record_answer(app, "LCSPR-2026-9999", "notification-1", GOOD["notification-1"])


# ---------------------------------------------------------------- decisions


def test_accepted_decisions_update_every_projection(app: App, settings: Settings) -> None:
    reference = refer(app)
    answer_until(app, reference, "action-update-2")
    review = load(app, reference)
    cal = app.config.policy.calendar

    row = review_row(settings, reference)
    assert (row.stage, row.route) == ("action_monitoring", "lcspr")
    assert (row.open_step_key, row.open_step_due) == ("action-update-2", date(2027, 1, 15))

    clock_rows = {c.key: c for c in rows(settings, ClockRow, reference)}
    assert {k: c.due for k, c in clock_rows.items()} == {c.key: c.due(cal) for c in review.clocks}
    assert clock_rows["rapid_review"].due == date(2026, 3, 26)
    assert clock_rows["rapid_review"].met_on == date(2026, 3, 20) and clock_rows["rapid_review"].state == "met"
    assert clock_rows["publication"].due == date(2026, 10, 29)  # paused while deferred
    assert clock_rows["publication"].pauses[0]["start"] == "2026-08-03"
    assert clock_rows["stays_published"].state == "running"
    assert clock_rows["action:action-2"].state == "running"
    assert clock_rows["action:action-2"].owner_role == "agency-frimley-icb"

    agencies = sorted((a.agency, a.received_on, a.author_independent)
                      for a in rows(settings, AgencyRequestRow, reference))
    assert agencies == [
        ("Frimley ICB", date(2026, 5, 11), True),
        ("Thames Valley Police", date(2026, 5, 5), True),
    ]
    recommendations = sorted((r.number, r.text) for r in rows(settings, Recommendation, reference))
    assert recommendations == [
        (1, "Share information at strategy meetings"),
        (2, "Train staff on bruising in babies"),
    ]
    actions = sorted((a.number, a.owner_agency, a.due_on, a.completed_on) for a in rows(settings, ActionRow, reference))
    assert actions == [
        (1, "Thames Valley Police", date(2026, 12, 1), date(2026, 10, 1)),
        (2, "Frimley ICB", date(2027, 1, 15), None),
    ]
    # The status query reads the same review.
    status = queries.status(app, reference)
    assert (status["stage"], status["route"], status["open_step"]["key"]) == (
        "action_monitoring", "lcspr", "action-update-2")
    assert {c["key"]: c["due"] for c in status["clocks"]} == {k: c.due.isoformat() for k, c in clock_rows.items()}


def test_a_full_lcspr_recorded_through_the_register_ends_closed(app: App, settings: Settings) -> None:
    reference = refer(app)
    for key, payload in GOOD.items():
        assert answers.record_answer(app, reference, key, payload).accepted, key
    row = review_row(settings, reference)
    assert (row.stage, row.open_step_key, row.open_step, row.closed_on) == ("closed", None, None, date(2026, 11, 2))
    assert reviews.waiting_on(app, reference) is None
    assert queries.open_reviews(app).rows == []
    assert [r.reference for r in queries.open_reviews(app, include_closed=True).rows] == [reference]


def test_the_same_key_twice_gives_the_same_outcome_and_one_decision_row(app: App) -> None:
    reference = refer(app)
    first = answers.record_answer(app, reference, "notification-1", GOOD["notification-1"])
    again = answers.record_answer(app, reference, "notification-1", GOOD["notification-1"])
    assert first == again
    assert outcome_of(first) == ("notification-1", True, "", "rapid-review-1")
    assert [d.key for d in queries.decisions(app, reference)] == ["notification-1"]
    assert [e.event for e in queries.audit_trail(app, reference)].count("decision_recorded") == 1
    # The step it opened is announced once, in the same transaction as the decision.
    announced = [m.key for m in queries.outbox(app)]
    assert announced == [f"{reference}:step:rapid-review-1:safeguarding_partners"]


def test_a_refused_answer_is_logged_and_reopens_the_step_under_a_retry_key(app: App, settings: Settings) -> None:
    reference = refer(app)
    answer_until(app, reference, "rapid-review-1")
    bad = {**GOOD["rapid-review-1"], "sent_to_panel": False}
    outcome = answers.record_answer(app, reference, "rapid-review-1", bad)
    assert not outcome.accepted and "National Panel" in outcome.reason
    assert outcome.next_step is not None and outcome.next_step.key == "rapid-review-1-retry-2"
    [*_, refused] = queries.decisions(app, reference)
    assert (refused.key, refused.accepted, refused.reason) == ("rapid-review-1", False, outcome.reason)
    assert refused.decided_on == date(2026, 3, 20)
    row = review_row(settings, reference)
    assert (row.stage, row.open_step_key) == ("rapid_review", "rapid-review-1-retry-2")
    step = reviews.waiting_on(app, reference)
    assert step is not None and step.last_refusal == outcome.reason
    assert step == outcome.next_step == replayed_step(app, reference)
    assert load(app, reference).stage is Stage.RAPID_REVIEW
    # The same refused key again is not a second refusal; the retry key is then accepted.
    assert answers.record_answer(app, reference, "rapid-review-1", bad) == outcome
    good = answers.record_answer(app, reference, "rapid-review-1-retry-2", GOOD["rapid-review-1"])
    assert good.accepted and good.next_step is not None and good.next_step.key == "chair-decision-1"


def test_an_answer_that_cannot_be_read_is_refused_and_logged_not_crashed(app: App) -> None:
    """A malformed date in the answer is the person's mistake: a refusal, not an error."""
    reference = refer(app)
    bad = {**GOOD["notification-1"], "decided_on": "5th March"}
    outcome = answers.record_answer(app, reference, "notification-1", bad)
    assert not outcome.accepted and "decided_on" in outcome.reason
    assert outcome.next_step is not None and outcome.next_step.key == "notification-1-retry-2"
    [refused] = queries.decisions(app, reference)
    assert not refused.accepted and refused.decided_on is None


def test_a_refused_answer_that_identifies_a_child_is_not_stored(app: App) -> None:
    """The register never holds an identifier, not even inside a refused answer."""
    reference = refer(app)
    answer_until(app, reference, "rapid-review-1")
    bad = {**GOOD["rapid-review-1"], "rationale": "GP records for NHS no 943 476 5919 show no concerns."}
    outcome = answers.record_answer(app, reference, "rapid-review-1", bad)
    assert not outcome.accepted and "NHS number" in outcome.reason
    [*_, refused] = queries.decisions(app, reference)
    assert not refused.accepted
    assert "943 476 5919" not in str(refused.payload)
    assert refused.payload == {k: bad[k] for k in ("decided_on", "decided_by")}
    assert all("943 476 5919" not in str(e.detail) for e in queries.audit_trail(app, reference))


def test_a_decision_for_a_step_that_is_not_open_is_refused_and_writes_nothing(app: App, settings: Settings) -> None:
    reference = refer(app)
    before, version = counts(settings), review_row(settings, reference).version
    with pytest.raises(Refused, match="Steps are taken in order"):
        answers.record_answer(app, reference, "chair-decision-1", GOOD["chair-decision-1"])
    with pytest.raises(Refused, match="the open step is notification-1"):
        answers.record_answer(app, reference, "notification-2", GOOD["notification-1"])
    assert counts(settings) == before
    assert review_row(settings, reference).version == version


def test_checking_an_answer_judges_it_like_recording_it_and_writes_nothing(app: App, settings: Settings) -> None:
    reference = refer(app)
    before = counts(settings)
    assert answers.check_answer(app, reference, "notification", GOOD["notification-1"]) == "notification-1"
    assert answers.check_answer(app, reference, "notification-1", GOOD["notification-1"]) == "notification-1"
    with pytest.raises(Refused, match="Steps are taken in order"):
        answers.check_answer(app, reference, "chair-decision-1", GOOD["chair-decision-1"])
    with pytest.raises(Refused, match="decided_on"):
        answers.check_answer(app, reference, "notification", {**GOOD["notification-1"], "decided_on": "5th March"})
    assert counts(settings) == before


def test_record_unreadable_is_idempotent_by_key(app: App) -> None:
    reference = refer(app)
    first = answers.record_unreadable(app, reference, "notification-1", "The form could not be read.")
    again = answers.record_unreadable(app, reference, "notification-1", "A different reason.")
    assert first == again
    assert outcome_of(first) == ("notification-1", False, "The form could not be read.", "notification-1-retry-2")
    assert [(d.key, d.accepted) for d in queries.decisions(app, reference)] == [("notification-1", False)]
    with pytest.raises(Refused, match="not open"):
        answers.record_unreadable(app, reference, "rapid-review-1", "Not the open step.")


def test_a_review_is_attached_to_one_flow_run_only(app: App) -> None:
    reference = refer(app)
    assert referrals.attach_run(app, reference, "run-1") == "run-1"
    assert referrals.attach_run(app, reference, "run-1") == "run-1"  # a retry of the same run is harmless
    # Another run starting for the review is told which run drives it; the first stands.
    assert referrals.attach_run(app, reference, "run-2") == "run-1"
    with app.uow() as uow:
        assert uow.reviews.get(reference).flow_run_id == "run-1"
    assert queries.status(app, reference)["flow_run_id"] == "run-1"
    assert referrals.register_referral(app, make_referral()).flow_run_id == "run-1"
    attached = [e for e in queries.audit_trail(app, reference) if e.event == "flow_run_attached"]
    assert [e.detail for e in attached] == [{"flow_run_id": "run-1"}]
    # The run announced the open step once, with a link to itself.
    [message] = queries.outbox(app)
    assert message.key == f"{reference}:step:notification-1:business_unit"
    mail = FakeDispatcher()
    sender = App(config=app.config, clock=app.clock, uow=app.uow, runs=app.runs, dispatcher=lambda: mail)
    assert messages.deliver(sender).sent == [message.key]
    [(role, sent)] = mail.sent
    assert role == "business_unit" and app.config.run_link("run-1") in sent.text


def test_a_detached_run_is_let_go_once_and_the_next_run_attaches_itself(app: App) -> None:
    reference = refer(app)
    referrals.attach_run(app, reference, "run-1")
    assert not referrals.detach_run(app, reference, "run-other", "not the run that drives it")
    assert referrals.detach_run(app, reference, "run-1", "deleted from Prefect")
    assert not referrals.detach_run(app, reference, "run-1", "a second reconcile")
    with app.uow() as uow:
        stored = uow.reviews.get(reference)
    assert (stored.flow_run_id, stored.run_key) == (None, f"{reference}:after:run-1")
    assert referrals.attach_run(app, reference, "run-2") == "run-2"
    events = [(e.event, e.detail) for e in queries.audit_trail(app, reference)][1:]
    assert events == [
        ("flow_run_attached", {"flow_run_id": "run-1"}),
        ("flow_run_detached", {"flow_run_id": "run-1", "reason": "deleted from Prefect"}),
        ("flow_run_attached", {"flow_run_id": "run-2"}),
    ]


def test_a_run_notes_where_it_waits_only_while_it_drives_the_review(app: App) -> None:
    """``run_waits_on``: what the review's own run said, never another run's, and gone with the run."""
    reference = refer(app, "POL-WAITS-1")
    referrals.attach_run(app, reference, "run-1")

    def said() -> str | None:
        with app.uow() as uow:
            pointer, = uow.reviews.run_pointers([reference])
            link, = uow.reviews.run_links([reference])
        assert link.run_waits_on == pointer.run_waits_on
        return pointer.run_waits_on

    def note(run: str, step: str, **kwargs: str) -> bool:
        with app.uow() as uow:
            changed = uow.reviews.note_wait(reference, run, step, **kwargs)
            uow.commit()
        return changed

    assert said() is None
    assert note("run-1", "notification-1") and said() == "notification-1"
    assert not note("run-1", "notification-1")  # already so: nothing written
    assert not note("run-other", "rapid-review-1") and said() == "notification-1"
    assert not note("run-1", "rapid-review-1", if_open="rapid-review-1") and said() == "notification-1"
    assert note("run-1", "notification-1-retry-2", if_open="notification-1") and said() == "notification-1-retry-2"
    referrals.detach_run(app, reference, "run-1", "deleted from Prefect")
    assert said() is None
    referrals.attach_run(app, reference, "run-2")
    assert said() is None and note("run-2", "notification-1") and said() == "notification-1"


def test_the_run_links_of_named_reviews_are_those_of_every_review_for_them(app: App) -> None:
    """`lcspr status` and `decide` read one review's link, not every review's (0.44 s at 10,000)."""
    first, second, third = (refer(app, f"POL-LINK-{n}") for n in range(3))
    referrals.attach_run(app, first, "run-1")
    referrals.detach_run(app, first, "run-1", "deleted from Prefect")
    referrals.attach_run(app, second, "run-2")
    with app.uow() as uow:
        every = {link.reference: link for link in uow.reviews.run_links()}
        named = uow.reviews.run_links([first, third])
        one = uow.reviews.run_links([second])
        none = uow.reviews.run_links([])
    assert set(every) == {first, second, third}
    assert named == [every[first], every[third]] and one == [every[second]] and none == []
    assert named[0].run_key == f"{first}:after:run-1" and one[0].flow_run_id == "run-2"


# ---------------------------------------------------------------- audit trail


def test_the_audit_trail_is_a_hash_chain_that_verifies(app: App, settings: Settings) -> None:
    reference = refer(app)
    answer_until(app, reference, "chair-decision-1")
    answers.record_unreadable(app, reference, "chair-decision-1", "Unreadable.")
    trail = rows(settings, AuditEvent, reference)
    assert [e.seq for e in trail] == list(range(1, len(trail) + 1))
    assert [e.event for e in trail] == ["review_referred", "decision_recorded", "decision_recorded",
                                        "decision_refused"]
    assert trail[0].prev_hash == ""
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(trail))
    assert [(e.seq, e.event, e.detail) for e in trail] == [
        (e.seq, e.event, e.detail) for e in queries.audit_trail(app, reference)]
    assert queries.verify_audit(app, reference).problems == []


def test_verifying_the_audit_trail_detects_a_tampered_row(app: App, settings: Settings) -> None:
    reference = refer(app)
    answer_until(app, reference, "chair-decision-1")
    with session(settings) as s:
        target = s.scalars(
            select(AuditEvent).where(AuditEvent.event == "decision_recorded").order_by(AuditEvent.seq)
        ).first()
        assert target is not None
        seq, detail = target.seq, {**target.detail, "decided_on": "2026-03-01"}
        s.execute(update(AuditEvent).where(AuditEvent.id == target.id).values(detail=detail))
    assert queries.verify_audit(app, reference).problems == [
        f"{reference}: audit entry {seq} (decision_recorded) was changed or inserted"]


def test_the_audit_trail_verifies_whatever_timezone_now_was_given_in(settings: Settings) -> None:
    """Time is any aware datetime; a British Summer Time instant must verify like a UTC one."""
    summer = datetime(2026, 7, 1, 10, 15, 30, 123456, tzinfo=ZoneInfo("Europe/London"))
    clock = FrozenClock(summer.date())
    clock.at = summer
    app = bootstrap(settings, clock=clock, environ={})
    reference = refer(app, "POL-BST")
    referrals.attach_run(app, reference, "run-bst")
    stored = [e.at.astimezone(UTC) if e.at.tzinfo else e.at.replace(tzinfo=UTC)
              for e in rows(settings, AuditEvent, reference)]
    assert stored == [summer] * 2  # the same instant, stored in UTC
    assert queries.verify_audit(app, reference).problems == []


# ---------------------------------------------------------------- clocks and reloading


def test_clock_adjustments_are_logged_projected_and_replayed(app: App, settings: Settings) -> None:
    reference = refer(app)
    answer_until(app, reference, "rapid-review-1")
    pause = ClockAdjustment(clock="rapid_review", action="pause", on=date(2026, 3, 9), by="A. Jones",
                            reason="Police asked us to wait for interviews")
    resume = ClockAdjustment(clock="rapid_review", action="resume", on=date(2026, 3, 16), by="A. Jones")
    extend = ClockAdjustment(clock="rapid_review", action="extend", on=date(2026, 3, 17), by="A. Jones",
                             reason="Agreed with the partners", new_due=date(2026, 4, 17))
    clocks.adjust_clock(app, reference, pause)
    [clock] = [c for c in rows(settings, ClockRow, reference) if c.key == "rapid_review"]
    assert clock.state == "paused" and clock.pauses[0]["reason"] == pause.reason
    clocks.adjust_clock(app, reference, resume)
    after = clocks.adjust_clock(app, reference, extend)
    assert after.clock("rapid_review").due(app.config.policy.calendar) == date(2026, 4, 17)
    [clock] = [c for c in rows(settings, ClockRow, reference) if c.key == "rapid_review"]
    assert (clock.state, clock.due) == ("running", date(2026, 4, 17))
    assert clock.extensions[0]["reason"] == "Agreed with the partners"
    assert [d.key for d in queries.decisions(app, reference)][-3:] == ["clock-1", "clock-2", "clock-3"]
    events = [e.event for e in queries.audit_trail(app, reference)][-3:]
    assert events == ["clock_paused", "clock_resumed", "clock_extended"]
    assert review_row(settings, reference).open_step_due == date(2026, 4, 17)
    reopened = make_app(settings, TODAY)
    assert load(reopened, reference) == after
    step = reviews.waiting_on(reopened, reference)
    assert step is not None and step.due == date(2026, 4, 17)
    assert step == replayed_step(reopened, reference)


def test_a_refused_clock_adjustment_writes_nothing(app: App, settings: Settings) -> None:
    reference = refer(app)
    before = counts(settings)
    bad = ClockAdjustment(clock="serious_incident_notification", action="extend", on=date(2026, 3, 4),
                          by="A. Jones", reason="Waiting on police", new_due=date(2026, 3, 9))
    with pytest.raises(Refused, match="already due on 2026-03-10"):
        clocks.adjust_clock(app, reference, bad)
    assert counts(settings) == before


def test_loading_from_a_new_app_gives_the_same_review(app: App, settings: Settings) -> None:
    reference = refer(app)
    answer_until(app, reference, "draft-review-2")
    answers.record_unreadable(app, reference, "draft-review-2", "Unreadable.")
    reopened = make_app(settings, TODAY)
    assert load(reopened, reference) == load(app, reference)
    assert reviews.waiting_on(reopened, reference) == reviews.waiting_on(app, reference) == replayed_step(
        reopened, reference)
    assert load(reopened, reference).attempt == 2


# ---------------------------------------------------------------- concurrency


def test_two_callers_recording_the_same_key_at_once_write_one_decision(app: App, settings: Settings) -> None:
    reference = refer(app)
    callers = [make_app(settings, TODAY) for _ in range(2)]  # two processes' Apps on one register
    barrier = threading.Barrier(2)
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []

    def record(caller: App) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(answers.record_answer(caller, reference, "notification-1", GOOD["notification-1"]))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(caller,)) for caller in callers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert [outcome_of(o) for o in outcomes] == [("notification-1", True, "", "rapid-review-1")] * 2
    assert outcomes[0] == outcomes[1]
    assert [d.key for d in queries.decisions(app, reference)] == ["notification-1"]
    assert [e.event for e in queries.audit_trail(app, reference)].count("decision_recorded") == 1
    assert load(app, reference).stage is Stage.RAPID_REVIEW
    assert [m.key for m in queries.outbox(app)] == [f"{reference}:step:rapid-review-1:safeguarding_partners"]

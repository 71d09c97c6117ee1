"""Local targets (issue 13) on the real register: projected and swept like the statutory clocks, and a
due date that moves with them is not mistaken for tampering by ``lcspr audit --verify``."""

from __future__ import annotations

from datetime import date

from lcspr.settings import Settings
from services import answers, messages, queries, referrals, reviews
from services.app import App
from tests.conftest import make_app, make_referral
from tests.fakes import FrozenClock
from tests.flows import answers as A


def on(app: App, day: date) -> None:
    assert isinstance(app.clock, FrozenClock)
    app.clock.set(day)


def waiting_on_the_chair(app: App) -> str:
    """A review whose rapid review was done on Fri 20 Mar 2026: the Chair's decision is expected by
    Tue 7 Apr (10 working days, Good Friday and Easter Monday skipped), and no statutory clock runs."""
    reference = referrals.register_referral(app, make_referral()).reference
    for key, payload in (("notification-1", A.NOTIFIED), ("rapid-review-1", A.RAPID_REVIEW)):
        on(app, date.fromisoformat(str(payload["decided_on"])))
        assert answers.record_answer(app, reference, key, payload).accepted
    return reference


def test_a_review_waiting_only_on_a_local_target_is_swept_and_climbs_the_ladder(settings: Settings) -> None:
    app = make_app(settings, date(2026, 3, 3))
    ref = waiting_on_the_chair(app)
    with app.uow() as uow:
        assert uow.reviews.with_running_clocks() == [ref]  # the target is in the clock projection

    def due_on(day: date) -> list[str]:
        return [k.removeprefix(f"{ref}:") for k in messages.sweep(app, as_of=day, dry_run=True).due]

    assert due_on(date(2026, 3, 27)) == ["chair_decision_target:reminder:before-5:independent_chair"]
    assert due_on(date(2026, 4, 7)) == ["chair_decision_target:due_today:due:independent_chair"]
    assert due_on(date(2026, 4, 8)) == [
        "chair_decision_target:overdue:overdue-1:independent_chair",
        "chair_decision_target:escalation:rung-1:business_unit_manager",
        "chair_decision_target:escalation:rung-1:subgroup_chair",
    ]
    # Five working days late, the Chair's own decision goes to the safeguarding partners, not the Chair.
    assert due_on(date(2026, 4, 14)) == [
        "chair_decision_target:overdue:overdue-5:independent_chair",
        "chair_decision_target:escalation:rung-5:safeguarding_partners",
    ]
    on(app, date(2026, 4, 15))
    assert answers.record_answer(app, ref, "chair-decision-1", A.LCSPR | {"decided_on": "2026-04-15"}).accepted
    assert [k for k in due_on(date(2026, 4, 16)) if "chair_decision_target" in k] == []


def test_a_due_date_moved_by_a_changed_target_is_not_reported_as_tampering(settings: Settings) -> None:
    """The row and its last audit entry keep the due date they were written with; verification compares
    the replay's stage, route, open step and closing date with them, never a due date that the calendar
    or a rule (or this issue's new targets, for a review written before it) may legitimately move."""
    before = make_app(settings, date(2026, 3, 3))
    ref = waiting_on_the_chair(before)
    quicker = make_app(settings.model_copy(update={"chair_decision_target_working_days": 3}), date(2026, 3, 20))
    with quicker.uow() as uow:
        projected = reviews.current_step(uow, quicker, ref)
    assert projected is not None and projected.due == date(2026, 4, 7)  # as written
    assert queries.status(quicker, ref)["open_step"]["due"] == "2026-03-25"  # as replayed now

    report = queries.verify_audit(quicker, ref)
    assert (report.problems, report.notes) == ([], [])
    # The next decision writes the row as the new rule has it, with its audit entry: still intact.
    assert answers.record_answer(quicker, ref, "chair-decision-1", A.LCSPR | {"decided_on": "2026-03-20"}).accepted
    assert queries.verify_audit(quicker, ref).problems == []
    assert queries.verify_audit(before, ref).problems == []

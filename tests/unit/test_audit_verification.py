"""``verify_audit``'s own part, on the fakes: the decision log replayed against what the register says.

The register checks its rows (keyed hashes, head, decisions against entries; see
``tests/integration/test_audit_tamper.py``); the use case replays the log from the referral and
compares it, decision by decision, with the state each audit entry recorded and, at the end,
with the review row.
"""

from __future__ import annotations

from datetime import date

from models.records import AuditCheck, AuditHead, RecordedState, ReviewState
from services import answers, queries, referrals
from services.app import App
from tests.conftest import make_referral
from tests.fakes import fake_app
from tests.flows import answers as A

TODAY = date(2026, 11, 23)


def two_answers() -> tuple[App, str]:
    app = fake_app(TODAY)
    reference = referrals.register_referral(app, make_referral()).reference
    for key, payload in (("notification-1", A.NOTIFIED), ("rapid-review-1", A.RAPID_REVIEW)):
        assert answers.record_answer(app, reference, key, payload).accepted
    return app, reference


def check(reference: str, recorded: tuple[RecordedState, ...], row: ReviewState | None) -> AuditCheck:
    return AuditCheck(reference, 3, (), (), recorded, row)


AFTER_NOTIFICATION = ReviewState("rapid_review", None, "rapid-review-1", None)
AFTER_RAPID_REVIEW = ReviewState("awaiting_decision", None, "chair-decision-1", None)


def test_every_review_is_checked_and_an_untouched_register_is_intact() -> None:
    app, _ = two_answers()
    referrals.register_referral(app, make_referral(agency_reference="POL-2"))
    report = queries.verify_audit(app)
    assert (report.checked, report.problems, report.intact) == (2, [], True)


def test_a_replay_that_agrees_with_every_entry_and_the_row_finds_nothing() -> None:
    app, reference = two_answers()
    with app.uow() as uow:
        stored = uow.reviews.get(reference)
    recorded = (RecordedState(3, "notification-1", AFTER_NOTIFICATION),
                RecordedState(4, "rapid-review-1", AFTER_RAPID_REVIEW))
    assert queries.replay_problems(stored, check(reference, recorded, AFTER_RAPID_REVIEW),
                                   app.config.policy) == []


def test_an_entry_that_recorded_another_stage_than_the_replay_is_named() -> None:
    app, reference = two_answers()
    with app.uow() as uow:
        stored = uow.reviews.get(reference)
    recorded = (RecordedState(3, "notification-1", ReviewState("awaiting_decision", None, "rapid-review-1", None)),
                RecordedState(4, "rapid-review-1", ReviewState("closed", None, None, None)))
    assert queries.replay_problems(stored, check(reference, recorded, None), app.config.policy) == [
        "audit entry 3 recorded stage awaiting_decision after decision notification-1, but replaying the decision "
        "log gives stage rapid_review"]


def test_a_row_ahead_of_its_decision_log_is_reported_with_both_states() -> None:
    app, reference = two_answers()
    with app.uow() as uow:
        stored = uow.reviews.get(reference)
    row = ReviewState("informing_bodies", "lcspr", "inform-bodies-1", None)
    assert queries.replay_problems(stored, check(reference, (), row), app.config.policy) == [
        "replaying the decision log gives stage awaiting_decision, route -, open step chair-decision-1, but the "
        "review row says stage informing_bodies, route lcspr, open step inform-bodies-1"]


def test_a_review_in_the_heads_file_but_not_in_the_register_is_reported() -> None:
    app, reference = two_answers()
    heads = {reference: AuditHead(reference, 3, "fake-3"), "LCSPR-2026-0099": AuditHead("LCSPR-2026-0099", 4, "x")}
    assert queries.verify_audit(app, None, heads).problems == [
        "LCSPR-2026-0099: is in the heads file but not in the register (removed)"]

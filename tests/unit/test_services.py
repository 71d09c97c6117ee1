"""The use cases of ``services/`` on the in-memory fakes: refer, attach, answer, adjust clocks,
sweep and deliver messages, reconcile runs, and read a review back.

Every test builds its own App with ``tests/fakes.py`` (no database, no Prefect, no mail server)
and moves the frozen clock as the people in the review would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from models.clocks import DEFAULT_RULES, ClockKind, ClockRule, RuleUnit
from models.errors import ConfigurationError, NotFound, Refused, Unavailable
from models.lifecycle import ClockAdjustment, Policy
from models.records import StoredReview
from models.reminders import DEFAULT_POLICIES
from models.runs import Health, Process, RunView
from models.workdays import WorkingCalendar
from services import answers, artifacts, clocks, messages, queries, reconcile, referrals, reviews
from services.app import App, Config
from tests.conftest import make_referral
from tests.fakes import FakeDispatcher, FakeRegister, FakeReviews, FakeRuns, FrozenClock, fake_app
from tests.flows import answers as A

TODAY = date(2026, 3, 3)  # the local authority became aware today (make_referral's la_aware_date)
REF = "LCSPR-2026-0001"
LINK = "http://127.0.0.1:4200/v2/runs/flow-run/"
NHS_NUMBER = "943 476 5919"
BY = A.BY["decided_by"]

# notification-1 opens on 2026-03-03 and is due 5 working days later.
NOTIFICATION_DUE = date(2026, 3, 10)


@dataclass
class World:
    """An App on fakes, with a handle on each fake so a test can look inside or break it."""

    app: App
    clock: FrozenClock
    register: FakeRegister
    runs: FakeRuns
    mail: FakeDispatcher


def world(today: date = TODAY, *, roles: set[str] | None = None, config: Config | None = None,
          runs: FakeRuns | None = None) -> World:
    fake_runs = runs or FakeRuns()
    mail = FakeDispatcher(roles=roles)
    app = fake_app(today, config=config, runs=fake_runs, dispatcher=mail)
    assert isinstance(app.clock, FrozenClock)
    assert isinstance(app.uow, FakeRegister)
    return World(app, app.clock, app.uow, fake_runs, mail)


def referred(w: World, **overrides: object) -> str:
    """Refer a review and let its run attach itself, as a worker's run does when it starts."""
    started = referrals.refer(w.app, make_referral(**overrides))
    assert started.flow_run_id is not None
    referrals.attach_run(w.app, started.reference, started.flow_run_id)
    return started.reference


def record(w: World, reference: str, key: str, payload: Mapping[str, Any]) -> answers.Outcome:
    """Record an answer on the day it says it was decided."""
    w.clock.set(date.fromisoformat(str(payload["decided_on"])))
    return answers.record_answer(w.app, reference, key, payload)


def closed_review(w: World) -> str:
    """A review the Chair closed with no further review."""
    reference = referred(w)
    record(w, reference, "notification-1", A.NOTIFIED)
    record(w, reference, "rapid-review-1", A.RAPID_REVIEW)
    outcome = record(w, reference, "chair-decision-1", {**A.LCSPR, "outcome": "no_further_review"})
    assert outcome.accepted and outcome.next_step is None
    return reference


def events(w: World, reference: str = REF) -> list[str]:
    return [e.event for e in queries.audit_trail(w.app, reference)]


def outbox_keys(w: World) -> list[str]:
    return [e.key for e in queries.outbox(w.app)]


# ---------------------------------------------------------------- refer


def test_registering_a_referral_opens_the_first_review_of_the_year_at_the_notification_step() -> None:
    w = world()

    done = referrals.register_referral(w.app, make_referral())

    assert done == referrals.Referred(REF, True, None, REF)
    assert queries.status(w.app, REF)["open_step"]["key"] == "notification-1"
    assert queries.open_reviews(w.app).rows == [
        queries.Row(REF, "Child A", "referred", "notification-1", NOTIFICATION_DUE.isoformat(), "amber")
    ]
    assert events(w) == ["review_referred"]
    assert queries.audit_trail(w.app, REF)[0].actor == "J. Patel, DSL"


def test_the_same_agency_and_reference_again_returns_the_same_review_as_not_created() -> None:
    w = world()
    referrals.register_referral(w.app, make_referral())

    again = referrals.register_referral(w.app, make_referral(outline="Sent twice by mistake."))

    assert (again.reference, again.created) == (REF, False)
    assert [row.reference for row in queries.open_reviews(w.app).rows] == [REF]
    assert events(w) == ["review_referred"]


def test_reviews_are_numbered_in_order_within_a_year_and_from_one_again_the_next_year() -> None:
    w = world()
    first = referrals.register_referral(w.app, make_referral())
    second = referrals.register_referral(w.app, make_referral(agency_reference="POL-2026-0043"))
    w.clock.set(date(2027, 1, 4))
    next_year = referrals.register_referral(w.app, make_referral(agency_reference="POL-2027-0001"))

    assert [first.reference, second.reference, next_year.reference] == [REF, "LCSPR-2026-0002", "LCSPR-2027-0001"]


def test_a_referral_made_without_consulting_the_dsl_is_refused_and_nothing_is_registered() -> None:
    w = world()

    with pytest.raises(Refused, match="Designated Safeguarding Lead"):
        referrals.register_referral(w.app, make_referral(dsl_consulted=False))

    assert queries.open_reviews(w.app).rows == []


def test_refer_asks_prefect_first_so_nothing_is_registered_while_it_is_unreachable() -> None:
    w = world()
    w.runs.reachable = False

    with pytest.raises(Unavailable, match="Cannot reach the Prefect API"):
        referrals.refer(w.app, make_referral())

    assert queries.open_reviews(w.app).rows == []
    assert w.register.commits == 0


def test_refer_starts_one_run_under_the_reference_and_leaves_attaching_it_to_the_run() -> None:
    w = world()

    done = referrals.refer(w.app, make_referral())

    assert done == referrals.Referred(REF, True, "run-1", REF)
    assert w.runs.keys == {REF: "run-1"}
    assert w.runs.runs["run-1"].parameters["referral"]["agency_reference"] == "POL-2026-0042"
    assert queries.status(w.app, REF)["flow_run_id"] is None  # only the run writes the link
    assert queries.outbox(w.app) == []  # the step is announced once a run can take the answer


def test_referring_again_before_the_run_attaches_gets_the_same_run_back() -> None:
    w = world()
    first = referrals.refer(w.app, make_referral())

    again = referrals.refer(w.app, make_referral())

    assert (again.reference, again.created, again.flow_run_id) == (REF, False, first.flow_run_id)
    assert list(w.runs.runs) == ["run-1"]


def test_referring_again_after_the_run_attached_returns_that_run_without_starting_one() -> None:
    w = world()
    referred(w)

    again = referrals.refer(w.app, make_referral())

    assert (again.created, again.flow_run_id) == (False, "run-1")
    assert list(w.runs.runs) == ["run-1"]


class _CannotStart(FakeRuns):
    def start(self, reference: str, parameters: Mapping[str, Any], idempotency_key: str) -> str:
        raise Unavailable("the deployment lcspr-review does not exist")


def test_a_run_that_cannot_be_started_leaves_the_review_registered_for_reconcile_to_start() -> None:
    runs = _CannotStart()
    w = world(runs=runs)

    with pytest.raises(Unavailable, match=f"{REF} is registered, but its flow run could not be started"):
        referrals.refer(w.app, make_referral())

    health = reconcile.run_health(w.app)
    assert list(health) == [REF]
    assert health[REF].health is Health.NO_RUN


# ---------------------------------------------------------------- attach_run


def test_the_first_run_to_attach_is_linked_audited_and_announces_the_open_step_with_its_link() -> None:
    w = world()
    started = referrals.refer(w.app, make_referral())
    assert started.flow_run_id == "run-1"

    assert referrals.attach_run(w.app, REF, "run-1") == "run-1"

    assert queries.status(w.app, REF)["flow_run_url"] == f"{LINK}run-1"
    assert events(w) == ["review_referred", "flow_run_attached"]
    assert queries.audit_trail(w.app, REF)[-1].detail == {"flow_run_id": "run-1"}
    [entry] = queries.outbox(w.app)
    assert (entry.key, entry.role, entry.kind, entry.status) == (
        f"{REF}:step:notification-1:business_unit", "business_unit", "step_opened", "pending")
    assert entry.subject == f"[{REF}] Action needed: Serious incident notification by 2026-03-10"
    messages.deliver(w.app)
    [(role, message)] = w.mail.sent
    assert role == "business_unit"
    assert f"{LINK}run-1" in message.text
    assert "Child A" not in message.text  # no case details in a message


def test_a_second_run_gets_the_first_runs_id_back_and_changes_nothing() -> None:
    w = world()
    referred(w)
    commits, trail, outbox = w.register.commits, events(w), queries.outbox(w.app)

    assert referrals.attach_run(w.app, REF, "run-99") == "run-1"

    assert queries.status(w.app, REF)["flow_run_id"] == "run-1"
    assert (w.register.commits, events(w), queries.outbox(w.app)) == (commits, trail, outbox)


def test_the_same_run_attaching_again_after_a_restart_is_not_audited_or_announced_twice() -> None:
    w = world()
    referred(w)

    assert referrals.attach_run(w.app, REF, "run-1") == "run-1"

    assert events(w) == ["review_referred", "flow_run_attached"]
    assert outbox_keys(w) == [f"{REF}:step:notification-1:business_unit"]


# ---------------------------------------------------------------- answers: check_answer


@pytest.mark.parametrize("step", ["notification", "Notification", "notification-1"])
def test_check_answer_takes_a_step_kind_or_key_and_records_nothing(step: str) -> None:
    w = world()
    referred(w)
    w.clock.set(date(2026, 3, 5))
    commits = w.register.commits

    assert answers.check_answer(w.app, REF, step, A.NOTIFIED) == "notification-1"

    assert w.register.commits == commits
    assert queries.decisions(w.app, REF) == []
    assert queries.status(w.app, REF)["stage"] == "referred"


def test_check_answer_refuses_a_date_in_the_future_with_a_readable_reason_and_records_nothing() -> None:
    w = world()
    referred(w)  # today is 2026-03-03; the answer says 2026-03-05

    with pytest.raises(Refused) as refused:
        answers.check_answer(w.app, REF, "notification", A.NOTIFIED)

    assert refused.value.reason == "The date given (2026-03-05) is in the future; today is 2026-03-03."
    assert queries.decisions(w.app, REF) == []


def test_check_answer_refuses_a_date_before_the_step_opened() -> None:
    w = world()
    referred(w)

    with pytest.raises(Refused, match=r"before this step opened \(2026-03-03\)"):
        answers.check_answer(w.app, REF, "notification", {**A.NOTIFIED, "decided_on": "2026-03-02"})


def test_check_answer_refuses_an_answer_to_a_step_the_review_is_not_waiting_on() -> None:
    w = world()
    referred(w)
    w.clock.set(date(2026, 3, 20))

    with pytest.raises(Refused, match=r"is not waiting on 'Rapid Review outcome'.*step notification-1"):
        answers.check_answer(w.app, REF, "rapid_review", A.RAPID_REVIEW)


def test_check_answer_refuses_a_word_that_is_neither_a_step_key_nor_a_kind() -> None:
    w = world()
    referred(w)

    with pytest.raises(Refused, match="'notify' is neither a step key"):
        answers.check_answer(w.app, REF, "notify", A.NOTIFIED)


def test_check_answer_names_the_missing_field_of_an_incomplete_answer() -> None:
    w = world(date(2026, 3, 5))
    referred(w)

    with pytest.raises(Refused, match="The answer is not valid: outcome: Field required"):
        answers.check_answer(w.app, REF, "notification", {**A.BY, "decided_on": "2026-03-05"})


# ---------------------------------------------------------------- answers: record_answer


def test_an_accepted_answer_moves_the_review_on_logs_it_once_audits_it_and_announces_the_next_step() -> None:
    w = world()
    referred(w)

    outcome = record(w, REF, "notification-1", A.NOTIFIED)

    assert (outcome.key, outcome.accepted, outcome.reason) == ("notification-1", True, "")
    assert outcome.next_step is not None
    assert (outcome.next_step.key, outcome.next_step.due) == ("rapid-review-1", date(2026, 3, 26))
    [line] = queries.decisions(w.app, REF)
    assert (line.key, line.accepted, line.decided_by, line.decided_on) == ("notification-1", True, BY,
                                                                          date(2026, 3, 5))
    assert line.payload["panel_reference"] == "NP-2026-118"
    recorded = queries.audit_trail(w.app, REF)[-1]
    assert (recorded.event, recorded.actor) == ("decision_recorded", BY)
    assert recorded.detail == {"key": "notification-1", "step": "Serious incident notification",
                               "decided_on": "2026-03-05", "stage_before": "referred",
                               "stage_after": "rapid_review"}
    assert outbox_keys(w)[-1] == f"{REF}:step:rapid-review-1:safeguarding_partners"
    assert queries.status(w.app, REF)["open_step"]["key"] == "rapid-review-1"


def test_recording_the_same_key_again_returns_the_first_outcome_without_a_second_log_line() -> None:
    w = world()
    referred(w)
    first = record(w, REF, "notification-1", A.NOTIFIED)

    again = record(w, REF, "notification-1", {**A.NOTIFIED, "panel_reference": "NP-OTHER"})

    assert again == first
    assert [d.key for d in queries.decisions(w.app, REF)] == ["notification-1"]
    assert queries.decisions(w.app, REF)[0].payload["panel_reference"] == "NP-2026-118"
    assert events(w).count("decision_recorded") == 1


def test_a_refused_answer_is_logged_and_the_step_asked_again_under_its_next_attempt() -> None:
    w = world()
    referred(w)
    record(w, REF, "notification-1", A.NOTIFIED)
    not_sent = {**A.RAPID_REVIEW, "sent_to_panel": False}

    outcome = record(w, REF, "rapid-review-1", not_sent)

    reason = ("The rapid review must go to the National Panel before the Chair decides; "
              "tick 'Sent to the National Panel' once it has.")
    assert (outcome.accepted, outcome.reason) == (False, reason)
    assert outcome.next_step is not None
    assert (outcome.next_step.key, outcome.next_step.last_refusal) == ("rapid-review-1-retry-2", reason)
    line = queries.decisions(w.app, REF)[-1]
    assert (line.key, line.accepted, line.reason, line.payload["sent_to_panel"]) == (
        "rapid-review-1", False, reason, False)
    refused = queries.audit_trail(w.app, REF)[-1]
    assert (refused.event, refused.actor, refused.detail) == (
        "decision_refused", BY, {"key": "rapid-review-1", "reason": reason})
    status = queries.status(w.app, REF)
    assert (status["stage"], status["open_step"]["key"], status["open_step"]["last_refusal"]) == (
        "rapid_review", "rapid-review-1-retry-2", reason)
    assert outbox_keys(w)[-1] == f"{REF}:step:rapid-review-1-retry-2:safeguarding_partners"

    accepted = record(w, REF, "rapid-review-1-retry-2", A.RAPID_REVIEW)

    assert accepted.accepted
    assert accepted.next_step is not None and accepted.next_step.key == "chair-decision-1"


def test_an_answer_refused_for_an_identifier_keeps_only_who_decided_and_when() -> None:
    w = world()
    referred(w)
    record(w, REF, "notification-1", A.NOTIFIED)
    naming = {**A.RAPID_REVIEW, "rationale": f"Seen at A&E under NHS number {NHS_NUMBER}; learning on sharing."}

    outcome = record(w, REF, "rapid-review-1", naming)

    assert not outcome.accepted
    assert "could identify a child (NHS number)" in outcome.reason
    line = queries.decisions(w.app, REF)[-1]
    assert (line.key, line.accepted, line.payload) == (
        "rapid-review-1", False, {"decided_on": "2026-03-20", "decided_by": BY})
    assert NHS_NUMBER not in repr(w.register.state)  # not in the log, the audit trail or the outbox
    assert NHS_NUMBER not in outcome.reason


@pytest.mark.parametrize("mistake", [
    {"decided_on": "2026-03-21"},  # a day in the future: refused before the free text is screened
    {"sent_to_panel": "perhaps"},  # not a yes/no: refused before the free text is even read
], ids=["future-date", "unreadable-field"])
def test_an_answer_refused_for_another_reason_never_puts_an_identifier_in_the_register(
        mistake: dict[str, str]) -> None:
    w = world()
    referred(w)
    record(w, REF, "notification-1", A.NOTIFIED)
    w.clock.set(date(2026, 3, 20))
    naming = {**A.RAPID_REVIEW, "rationale": f"Seen at A&E under NHS number {NHS_NUMBER}.", **mistake}

    outcome = answers.record_answer(w.app, REF, "rapid-review-1", naming)

    assert not outcome.accepted
    assert NHS_NUMBER not in repr(w.register.state)


def test_the_form_asked_again_is_prefilled_with_what_was_kept_of_the_refused_answer() -> None:
    w = world()
    referred(w)
    record(w, REF, "notification-1", A.NOTIFIED)
    assert answers.refused_answer(w.app, REF, "rapid-review-1") == {}  # a first attempt: nothing before it

    record(w, REF, "rapid-review-1", {**A.RAPID_REVIEW, "sent_to_panel": False})

    assert answers.refused_answer(w.app, REF, "rapid-review-1-retry-2") == {**A.RAPID_REVIEW, "sent_to_panel": False}
    answers.record_unreadable(w.app, REF, "rapid-review-1-retry-2", "The answer is not valid: decided_on: ...")
    assert answers.refused_answer(w.app, REF, "rapid-review-1-retry-3") == {}  # nothing of it could be kept


def test_a_form_asked_again_after_an_identifier_is_prefilled_only_with_who_and_when() -> None:
    w = world()
    referred(w)
    record(w, REF, "notification-1", A.NOTIFIED)
    record(w, REF, "rapid-review-1", {**A.RAPID_REVIEW, "rationale": f"NHS number {NHS_NUMBER}, learning."})

    assert answers.refused_answer(w.app, REF, "rapid-review-1-retry-2") == {"decided_on": "2026-03-20",
                                                                            "decided_by": BY}


def test_a_kept_value_its_field_would_not_read_is_not_prefilled() -> None:
    """The register keeps safe text whatever its shape; the form gets only what it would read."""
    w = world()
    referred(w)
    w.clock.set(date(2026, 3, 5))
    outcome = answers.record_answer(w.app, REF, "notification-1", {**A.NOTIFIED, "decided_on": "05/03/2026"})
    assert not outcome.accepted
    assert queries.decisions(w.app, REF)[-1].payload["decided_on"] == "05/03/2026"

    assert answers.refused_answer(w.app, REF, "notification-1-retry-2") == {
        k: v for k, v in A.NOTIFIED.items() if k != "decided_on"}


def test_an_answer_to_a_step_that_is_not_open_is_refused_and_nothing_is_recorded() -> None:
    w = world()
    referred(w)
    w.clock.set(date(2026, 3, 20))
    commits = w.register.commits

    with pytest.raises(Refused, match="not waiting on 'Rapid Review outcome'"):
        answers.record_answer(w.app, REF, "rapid-review-1", A.RAPID_REVIEW)

    assert w.register.commits == commits
    assert queries.decisions(w.app, REF) == []
    assert queries.status(w.app, REF)["open_step"]["key"] == "notification-1"


def test_an_unreadable_answer_is_logged_as_refused_and_the_step_asked_again() -> None:
    w = world()
    referred(w)

    outcome = answers.record_unreadable(w.app, REF, "notification-1", "The form data could not be read.")

    assert (outcome.accepted, outcome.reason) == (False, "The form data could not be read.")
    assert outcome.next_step is not None and outcome.next_step.key == "notification-1-retry-2"
    line = queries.decisions(w.app, REF)[-1]
    assert (line.key, line.accepted, line.payload, line.decided_by) == ("notification-1", False, {}, "")
    assert queries.audit_trail(w.app, REF)[-1].actor == "system"
    assert f"{REF}:step:notification-1-retry-2:business_unit" in outbox_keys(w)

    again = answers.record_unreadable(w.app, REF, "notification-1", "The form data could not be read.")

    assert again == outcome
    assert len(queries.decisions(w.app, REF)) == 1


def test_an_unreadable_answer_to_a_step_that_is_not_open_is_refused() -> None:
    w = world()
    referred(w)

    with pytest.raises(Refused, match="Step rapid-review-1 is not open"):
        answers.record_unreadable(w.app, REF, "rapid-review-1", "unreadable")

    assert queries.decisions(w.app, REF) == []


def test_a_decision_and_the_messages_it_owes_are_recorded_together_or_not_at_all() -> None:
    """A message that cannot be rendered (here, a misconfigured rule it quotes) undoes its decision."""
    rules = {**DEFAULT_RULES, ClockKind.FINAL_REPORT_TO_BODIES: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 7)}
    w = world(config=Config(policy=Policy(rules=rules), reminder_policies=DEFAULT_POLICIES))
    referred(w)
    record(w, REF, "notification-1", A.NOTIFIED)
    record(w, REF, "rapid-review-1", A.RAPID_REVIEW)
    before = (queries.decisions(w.app, REF), events(w), outbox_keys(w))

    with pytest.raises(ConfigurationError, match="must count working days before publication"):
        record(w, REF, "chair-decision-1", A.LCSPR)

    assert (queries.decisions(w.app, REF), events(w), outbox_keys(w)) == before
    assert queries.status(w.app, REF)["stage"] == "awaiting_decision"


def test_the_statutory_message_to_the_national_bodies_is_queued_once_even_when_the_step_is_asked_again() -> None:
    w = world()
    referred(w)
    for key, answer in [("notification-1", A.NOTIFIED), ("rapid-review-1", A.RAPID_REVIEW),
                        ("chair-decision-1", A.LCSPR)]:
        record(w, REF, key, answer)

    refused = record(w, REF, "inform-bodies-1", {**A.INFORMED, "ofsted_informed": False})

    assert refused.reason == "All three bodies must be informed of the decision to hold an LCSPR; not yet: Ofsted."
    kinds = [(e.key, e.kind) for e in queries.outbox(w.app) if "inform" in e.key]
    assert kinds == [(f"{REF}:step:inform-bodies-1:business_unit", "step_opened"),
                     (f"{REF}:statutory:inform_bodies:business_unit", "inform_bodies"),
                     (f"{REF}:step:inform-bodies-1-retry-2:business_unit", "step_opened")]


def test_answering_a_review_that_does_not_exist_is_not_found() -> None:
    w = world(date(2026, 3, 5))

    with pytest.raises(NotFound, match="No review with reference LCSPR-2026-9999"):
        answers.record_answer(w.app, "LCSPR-2026-9999", "notification-1", A.NOTIFIED)
    with pytest.raises(NotFound):
        queries.status(w.app, "LCSPR-2026-9999")


# ---------------------------------------------------------------- answers: give_answer


def test_give_answer_resumes_the_run_waiting_on_the_step_and_records_nothing_itself() -> None:
    w = world()
    referred(w)
    w.runs.wait_on("run-1", "notification-1", w.clock.now())
    w.clock.set(date(2026, 3, 5))

    assert answers.give_answer(w.app, REF, "notification", A.NOTIFIED) == "notification-1"

    assert w.runs.runs["run-1"].answers == {"notification-1": A.NOTIFIED}
    assert queries.decisions(w.app, REF) == []  # the run records it when it resumes


@pytest.mark.parametrize(("view", "why"), [
    (None, "no longer exists in Prefect"),
    (RunView("CRASHED", "Crashed", datetime(2026, 3, 4, 9, tzinfo=UTC)), "the run is Crashed"),
])
def test_give_answer_refuses_with_unavailable_when_the_run_is_missing_or_stranded(
        view: RunView | None, why: str) -> None:
    w = world()
    referred(w)
    if view is None:
        del w.runs.runs["run-1"]
    else:
        w.runs.runs["run-1"].view = view
    w.clock.set(date(2026, 3, 5))

    with pytest.raises(Unavailable, match=f"{why}.*Run `lcspr reconcile` to repair it"):
        answers.give_answer(w.app, REF, "notification", A.NOTIFIED)

    assert w.runs.rescheduled == []
    assert queries.decisions(w.app, REF) == []


def test_give_answer_says_to_start_a_worker_when_the_run_is_late_for_lack_of_one() -> None:
    w = world(date(2026, 3, 5))
    referred(w, la_aware_date=date(2026, 3, 3))
    w.runs.runs["run-1"].view = RunView("SCHEDULED", "Late", w.clock.now())

    with pytest.raises(Unavailable, match="is `lcspr up`"):
        answers.give_answer(w.app, REF, "notification", A.NOTIFIED)

    assert w.runs.runs["run-1"].answers == {}


def test_give_answer_refuses_a_bad_answer_before_asking_prefect_anything() -> None:
    w = world()
    referred(w)
    w.runs.wait_on("run-1", "notification-1", w.clock.now())
    w.runs.reachable = False  # the domain refuses first, so Prefect is never asked

    with pytest.raises(Refused, match="in the future"):
        answers.give_answer(w.app, REF, "notification", A.NOTIFIED)


def test_give_answer_is_unavailable_while_prefect_cannot_be_reached() -> None:
    w = world(date(2026, 3, 5))
    referred(w, la_aware_date=date(2026, 3, 3))
    w.runs.reachable = False

    with pytest.raises(Unavailable, match="Cannot reach the Prefect API"):
        answers.give_answer(w.app, REF, "notification", A.NOTIFIED)


def test_give_answer_refuses_an_answer_to_a_closed_review() -> None:
    w = world()
    closed_review(w)

    with pytest.raises(Refused, match="is closed; it waits on no step"):
        answers.give_answer(w.app, REF, "closure", {**A.CLOSED, "decided_on": "2026-04-01"})


# ---------------------------------------------------------------- clocks


def test_pausing_a_clock_is_recorded_with_who_and_why_and_shows_as_paused() -> None:
    w = world()
    referred(w)
    w.clock.set(date(2026, 3, 5))
    pause = ClockAdjustment(clock="serious_incident_notification", action="pause", on=date(2026, 3, 4),
                            by="B. Khan, Business Unit Manager", reason="Waiting on police advice on disclosure.")

    after = clocks.adjust_clock(w.app, REF, pause)

    assert after.clock("serious_incident_notification").is_paused
    [line] = queries.decisions(w.app, REF)
    assert (line.key, line.accepted, line.decided_by, line.decided_on) == (
        "clock-1", True, "B. Khan, Business Unit Manager", date(2026, 3, 4))
    assert line.payload["reason"] == "Waiting on police advice on disclosure."
    paused = queries.audit_trail(w.app, REF)[-1]
    assert (paused.event, paused.actor, paused.detail["reason"]) == (
        "clock_paused", "B. Khan, Business Unit Manager", "Waiting on police advice on disclosure.")
    [clock] = queries.status(w.app, REF)["clocks"]
    assert (clock["state"], clock["rag"], clock["paused"]) == ("paused", "paused", True)


def test_extending_a_clock_moves_its_due_date_and_is_recorded_with_who_and_why() -> None:
    w = world()
    referred(w)
    w.clock.set(date(2026, 3, 5))
    extend = ClockAdjustment(clock="serious_incident_notification", action="extend", on=date(2026, 3, 5),
                             by="B. Khan, Business Unit Manager", reason="Agreed with the National Panel.",
                             new_due=date(2026, 3, 17))

    after = clocks.adjust_clock(w.app, REF, extend)

    assert after.clock("serious_incident_notification").due(w.app.config.policy.calendar) == date(2026, 3, 17)
    [clock] = queries.status(w.app, REF)["clocks"]
    assert (clock["due"], clock["extensions"]) == ("2026-03-17", 1)
    assert queries.status(w.app, REF)["open_step"]["due"] == "2026-03-17"
    extended = queries.audit_trail(w.app, REF)[-1]
    assert (extended.event, extended.actor, extended.detail["new_due"]) == (
        "clock_extended", "B. Khan, Business Unit Manager", "2026-03-17")


def test_resuming_a_paused_clock_gives_back_the_working_days_it_was_paused() -> None:
    w = world()
    referred(w)
    w.clock.set(date(2026, 3, 6))
    clocks.adjust_clock(w.app, REF, ClockAdjustment(clock="serious_incident_notification", action="pause",
                                                    on=date(2026, 3, 4), by="B. Khan", reason="Police advice."))

    clocks.adjust_clock(w.app, REF, ClockAdjustment(clock="serious_incident_notification", action="resume",
                                                    on=date(2026, 3, 6), by="B. Khan"))

    [clock] = queries.status(w.app, REF)["clocks"]
    assert (clock["due"], clock["paused"], clock["state"]) == ("2026-03-12", False, "running")
    assert [d.key for d in queries.decisions(w.app, REF)] == ["clock-1", "clock-2"]
    assert events(w)[-2:] == ["clock_paused", "clock_resumed"]


def test_a_clock_reason_that_could_identify_a_child_is_refused_and_not_stored() -> None:
    w = world()
    referred(w)

    with pytest.raises(Refused, match=r"could identify a child \(NHS number\)"):
        clocks.adjust_clock(w.app, REF, ClockAdjustment(
            clock="serious_incident_notification", action="pause", on=TODAY, by="B. Khan",
            reason=f"Sibling {NHS_NUMBER} is in hospital."))

    assert NHS_NUMBER not in repr(w.register.state)


def test_pausing_a_clock_without_a_reason_is_refused_and_nothing_is_recorded() -> None:
    w = world()
    referred(w)
    trail = events(w)

    with pytest.raises(Refused, match="Give a reason to pause the clock"):
        clocks.adjust_clock(w.app, REF, ClockAdjustment(clock="serious_incident_notification", action="pause",
                                                        on=TODAY, by="B. Khan"))

    assert queries.decisions(w.app, REF) == []
    assert events(w) == trail
    assert queries.status(w.app, REF)["clocks"][0]["paused"] is False


def test_adjusting_a_clock_the_review_does_not_have_is_refused() -> None:
    w = world()
    referred(w)

    with pytest.raises(Refused, match="has no clock 'rapid_review'"):
        clocks.adjust_clock(w.app, REF, ClockAdjustment(clock="rapid_review", action="pause", on=TODAY,
                                                        by="B. Khan", reason="Police investigation."))


def test_a_paused_clock_is_silent_in_a_sweep_past_its_due_date() -> None:
    w = world()
    referred(w)
    clocks.adjust_clock(w.app, REF, ClockAdjustment(clock="serious_incident_notification", action="pause",
                                                    on=TODAY, by="B. Khan", reason="Police investigation."))
    w.clock.set(date(2026, 3, 11))

    report = messages.sweep(w.app)

    assert (report.due, report.queued) == ([], [])


# ---------------------------------------------------------------- messages

ESCALATIONS = [
    f"{REF}:serious_incident_notification:overdue:overdue-1:business_unit",
    f"{REF}:serious_incident_notification:escalation:rung-1:business_unit_manager",
    f"{REF}:serious_incident_notification:escalation:rung-1:subgroup_chair",
]


def test_a_sweep_the_day_after_a_clock_was_due_queues_its_escalations_and_delivers_them() -> None:
    w = world()
    referred(w)
    w.clock.set(NOTIFICATION_DUE + timedelta(days=1))

    report = messages.sweep(w.app)

    assert (report.today, report.working_day) == (date(2026, 3, 11), True)
    assert report.due == report.queued == ESCALATIONS
    assert report.delivery.sent == [f"{REF}:step:notification-1:business_unit", *ESCALATIONS]
    assert report.delivery.failed == {}
    assert [role for role, _ in w.mail.sent] == [
        "business_unit", "business_unit", "business_unit_manager", "subgroup_chair"]
    assert w.mail.sent[-1][1].subject == (
        f"[{REF}] Escalation: Serious incident notification to the National Panel is 1 working day overdue")
    assert f"{LINK}run-1" in w.mail.sent[-1][1].text
    assert {e.status for e in queries.outbox(w.app)} == {"sent"}


def test_a_second_sweep_the_same_day_queues_and_sends_nothing_new() -> None:
    w = world()
    referred(w)
    w.clock.set(date(2026, 3, 11))
    messages.sweep(w.app)
    sent = len(w.mail.sent)

    again = messages.sweep(w.app)

    assert again.due == ESCALATIONS
    assert again.queued == []
    assert again.delivery.sent == []
    assert len(w.mail.sent) == sent


def test_a_dry_run_sweep_reports_what_is_due_and_queues_and_sends_nothing() -> None:
    w = world()
    referred(w)
    w.clock.set(date(2026, 3, 11))
    commits = w.register.commits

    report = messages.sweep(w.app, dry_run=True)

    assert report.due == ESCALATIONS
    assert report.queued == []
    assert outbox_keys(w) == [f"{REF}:step:notification-1:business_unit"]
    assert w.mail.sent == []
    assert w.register.commits == commits


def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The reviews the use cases load whole (decision log and all) from now on, in order."""
    loaded: list[str] = []
    original = FakeReviews.get

    def get(self: FakeReviews, reference: str, *, lock: bool = False) -> StoredReview:
        loaded.append(reference)
        return original(self, reference, lock=lock)

    monkeypatch.setattr(FakeReviews, "get", get)
    return loaded


def test_a_sweep_loads_no_review_and_the_queries_replay_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """Costs follow the work due: the sweep reads the clocks due from the projection, and status, list,
    calendar, the portfolio and the run tags read the projections, with no decision log replayed."""
    w = world()
    reference = referred(w)
    other = referred(w, agency_reference="POL-2026-0043")
    record(w, other, "notification-1", A.NOTIFIED)
    w.clock.set(date(2026, 3, 11))
    loaded = loads(monkeypatch)

    report = messages.sweep(w.app)
    queries.status(w.app, reference)
    queries.open_reviews(w.app)
    queries.due_dates(w.app)
    artifacts.portfolio(w.app)
    reviews.retag_open_runs(w.app)

    assert report.due == ESCALATIONS and report.queued == ESCALATIONS
    assert loaded == []


def test_one_answer_loads_its_review_at_most_twice_from_the_check_to_the_artifacts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`lcspr decide` checks the answer (one load), the run records it (one load), then retags itself and
    publishes the review's artifacts and the portfolio from the projections (none)."""
    w = world()
    reference = referred(w)
    w.clock.set(date(2026, 3, 5))
    loaded = loads(monkeypatch)

    key = answers.check_answer(w.app, reference, "notification", A.NOTIFIED)
    assert answers.record_answer(w.app, reference, key, A.NOTIFIED).accepted
    run_id = queries.status(w.app, reference)["flow_run_id"]
    reviews.retag_run(w.app, reference, run_id)
    artifacts.publish_review(w.app, reference)
    artifacts.publish_portfolio(w.app)

    assert loaded == [reference, reference]


def test_a_sweep_under_a_changed_policy_projects_each_review_again_once(monkeypatch: pytest.MonkeyPatch) -> None:
    w = world()
    referred(w)
    # A closure day added after the review was projected: its clocks' due dates move.
    w.app.config = replace(w.app.config, policy=replace(w.app.config.policy,
                                                        calendar=WorkingCalendar([date(2026, 3, 10)])))
    w.clock.set(date(2026, 3, 11))
    loaded = loads(monkeypatch)

    first = messages.sweep(w.app, dry_run=True)
    assert loaded == [REF]  # replayed, not projected again: a dry run writes nothing
    messages.sweep(w.app)
    assert loaded == [REF, REF]  # projected again under the new policy, the plan read from it
    again = messages.sweep(w.app)

    assert loaded == [REF, REF]
    # The closure day moved the notification's due date from 10 to 11 March: due today, not overdue.
    assert first.due == again.due == [f"{REF}:serious_incident_notification:due_today:due:business_unit"]


def test_a_sweep_on_easter_monday_reports_a_non_working_day_and_queues_nothing() -> None:
    w = world()
    referred(w)
    w.clock.set(date(2026, 4, 6))  # the notification clock is long overdue, but not today

    report = messages.sweep(w.app, dry_run=True)

    assert (report.today, report.working_day, report.due) == (date(2026, 4, 6), False, [])


def test_a_sweep_as_of_another_day_judges_that_day() -> None:
    w = world()
    referred(w)

    report = messages.sweep(w.app, as_of=NOTIFICATION_DUE, dry_run=True)

    assert report.due == [f"{REF}:serious_incident_notification:due_today:due:business_unit"]


def test_a_role_with_no_address_is_sent_to_the_business_unit_instead() -> None:
    w = world(roles={"business_unit"})
    referred(w)
    w.clock.set(date(2026, 3, 11))

    report = messages.sweep(w.app)

    assert report.delivery.failed == {}
    assert report.delivery.sent == [f"{REF}:step:notification-1:business_unit", *ESCALATIONS]
    assert [role for role, _ in w.mail.sent] == ["business_unit"] * 4
    roles = {e.key: e.role for e in queries.outbox(w.app)}
    assert roles[ESCALATIONS[2]] == "subgroup_chair"  # the outbox still says whom it was for


def test_a_message_for_a_role_nobody_can_receive_stays_pending_with_the_reason() -> None:
    w = world(roles={"independent_chair"})  # not even the business unit has an address
    referred(w)

    report = messages.deliver(w.app)

    key = f"{REF}:step:notification-1:business_unit"
    assert report.failed == {key: "No recipient is configured for role business_unit."}
    [entry] = queries.outbox(w.app, "pending")
    assert (entry.key, entry.attempts) == (key, 1)


def test_a_down_mail_server_keeps_messages_pending_with_the_error_and_retry_now_sends_them() -> None:
    w = world()
    referred(w)
    w.mail.down = True

    failed = messages.deliver(w.app)

    key = f"{REF}:step:notification-1:business_unit"
    assert (failed.sent, failed.failed) == ([], {key: "the mail server is down"})
    [entry] = queries.outbox(w.app)
    assert (entry.status, entry.attempts, entry.last_error) == ("pending", 1, "the mail server is down")
    assert entry.next_attempt_at == w.clock.now() + timedelta(minutes=1)
    w.mail.down = False
    assert messages.deliver(w.app).sent == []  # not due again for a minute

    count, report = messages.retry_now(w.app)

    assert (count, report.sent) == (1, [key])
    [entry] = queries.outbox(w.app)
    assert (entry.status, entry.attempts, entry.last_error, entry.sent_at) == ("sent", 2, "", w.clock.now())
    assert len(w.mail.sent) == 1


def test_a_message_that_keeps_failing_waits_longer_each_time_up_to_six_hours() -> None:
    assert [messages.backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert messages.backoff(20) == timedelta(hours=6)


def test_a_unit_of_work_that_is_not_committed_changes_nothing() -> None:
    w = world()
    referred(w)
    now = w.clock.now()

    with w.app.uow() as uow:
        uow.outbox.add("k", REF, "step_opened", "business_unit", "subject", "text", "html", now)
        uow.reviews.audit(REF, now, "someone", "tampered", {})
        uow.reviews.set_flow_run(REF, "run-666")

    assert "k" not in outbox_keys(w)
    assert "tampered" not in events(w)
    assert queries.status(w.app, REF)["flow_run_id"] == "run-1"


# ---------------------------------------------------------------- reconcile


def test_a_review_registered_without_a_run_gets_one_started_under_its_run_key() -> None:
    w = world()
    referrals.register_referral(w.app, make_referral())

    [finding] = reconcile.reconcile(w.app)

    assert (finding.reference, finding.open_step, finding.flow_run_id) == (REF, "notification-1", None)
    assert finding.judgement.health is Health.NO_RUN
    assert finding.action == "run run-1 started; it attaches itself when it starts"
    assert w.runs.keys == {REF: "run-1"}
    assert w.runs.runs["run-1"].parameters["referral"]["child_pseudonym"] == "Child A"
    assert queries.status(w.app, REF)["flow_run_id"] is None  # it attaches itself when it starts


def test_reconciling_twice_before_the_run_attaches_starts_one_run() -> None:
    w = world()
    referrals.refer(w.app, make_referral())

    reconcile.reconcile(w.app)
    reconcile.reconcile(w.app)

    assert list(w.runs.runs) == ["run-1"]


@pytest.mark.parametrize("state", [("CRASHED", "Crashed"), ("FAILED", "Failed"), ("COMPLETED", "Completed")])
def test_a_run_that_ended_while_its_review_is_open_is_rescheduled(state: tuple[str, str]) -> None:
    w = world()
    referred(w)
    w.runs.runs["run-1"].view = RunView(*state, w.clock.now())

    [finding] = reconcile.reconcile(w.app)

    assert finding.judgement.health is Health.STRANDED
    assert finding.action == "run run-1 rescheduled: it starts again and waits on notification-1"
    assert w.runs.rescheduled == ["run-1"]
    assert w.runs.runs["run-1"].view.state_type == "SCHEDULED"
    assert queries.status(w.app, REF)["flow_run_id"] == "run-1"


def test_a_running_run_with_no_process_is_rescheduled_only_after_the_grace_period() -> None:
    w = world()
    referred(w)
    w.runs.runs["run-1"].view = RunView("RUNNING", "Running", w.clock.now(), process=Process.GONE)

    w.clock.advance(seconds=60)
    [within] = reconcile.reconcile(w.app)
    w.clock.advance(seconds=120)
    [after] = reconcile.reconcile(w.app)

    assert (within.judgement.health, within.action) == (Health.MOVING, "")
    assert after.judgement.health is Health.STRANDED
    assert w.runs.rescheduled == ["run-1"]


def test_a_run_waiting_on_the_open_step_is_left_alone() -> None:
    w = world()
    referred(w)
    w.runs.wait_on("run-1", "notification-1", w.clock.now())

    [finding] = reconcile.reconcile(w.app)

    assert (finding.judgement.health, finding.action) == (Health.WAITING, "")
    assert finding.line == f"{REF}: waiting: suspended on notification-1"
    assert w.runs.rescheduled == []


def test_a_run_waiting_on_an_earlier_step_than_the_register_is_rescheduled() -> None:
    w = world()
    referred(w)
    w.runs.wait_on("run-1", "notification-1", w.clock.now())
    record(w, REF, "notification-1", A.NOTIFIED)  # recorded, but the run never resumed

    [finding] = reconcile.reconcile(w.app)

    assert finding.judgement.health is Health.DISAGREES
    assert finding.action == "run run-1 rescheduled: it starts again and waits on rapid-review-1"
    assert w.runs.rescheduled == ["run-1"]


def test_a_missing_run_is_let_go_with_an_audit_event_and_a_replacement_started_under_a_new_key() -> None:
    w = world()
    referred(w)
    del w.runs.runs["run-1"]

    [finding] = reconcile.reconcile(w.app)

    assert finding.judgement.health is Health.MISSING
    assert finding.action == "new run run-2 started (the old one is gone); it attaches itself when it starts"
    assert w.runs.keys[f"{REF}:after:run-1"] == "run-2"
    detached = queries.audit_trail(w.app, REF)[-1]
    assert (detached.event, detached.actor, detached.detail) == (
        "flow_run_detached", "system",
        {"flow_run_id": "run-1", "reason": "its flow run no longer exists in Prefect"})
    assert queries.status(w.app, REF)["flow_run_id"] is None

    reconcile.reconcile(w.app)  # a second reconcile before it attaches starts no third run
    assert referrals.attach_run(w.app, REF, "run-2") == "run-2"

    assert list(w.runs.runs) == ["run-2"]
    assert queries.status(w.app, REF)["flow_run_id"] == "run-2"
    assert events(w)[-1] == "flow_run_attached"


def test_a_dry_run_reconcile_reports_what_it_would_repair_and_changes_nothing() -> None:
    w = world()
    referred(w)
    del w.runs.runs["run-1"]
    commits = w.register.commits

    [finding] = reconcile.reconcile(w.app, dry_run=True)

    assert finding.line == f"{REF}: missing: its flow run no longer exists in Prefect -> would repair"
    assert finding.as_json()["action"] is None
    assert (w.runs.runs, w.runs.keys, w.runs.rescheduled) == ({}, {REF: "run-1"}, [])
    assert w.register.commits == commits
    assert queries.status(w.app, REF)["flow_run_id"] == "run-1"


def test_a_closed_review_is_left_alone_whatever_became_of_its_run() -> None:
    w = world()
    closed_review(w)
    w.runs.runs["run-1"].view = RunView("COMPLETED", "Completed", w.clock.now())

    assert reconcile.reconcile(w.app) == []
    assert reconcile.run_health(w.app, include_closed=True)[REF].health is Health.CLOSED
    assert w.runs.rescheduled == []
    assert list(w.runs.runs) == ["run-1"]


def test_reconcile_is_unavailable_while_prefect_cannot_be_reached_and_changes_nothing() -> None:
    w = world()
    referred(w)
    w.runs.reachable = False
    commits = w.register.commits

    with pytest.raises(Unavailable):
        reconcile.reconcile(w.app)

    assert w.register.commits == commits


# ---------------------------------------------------------------- queries


def test_status_shows_the_stage_the_open_step_and_each_clock_with_its_rag() -> None:
    w = world()
    referred(w)

    status = queries.status(w.app, REF)

    assert (status["reference"], status["pseudonym"], status["stage"], status["route"]) == (
        REF, "Child A", "referred", None)
    assert status["open_step"] == {
        "key": "notification-1", "kind": "notification", "title": "Serious incident notification",
        "asked_of": "business_unit", "opened_on": "2026-03-03", "due": "2026-03-10",
        "clock": "serious_incident_notification", "last_refusal": None}
    [clock] = status["clocks"]
    assert (clock["key"], clock["due"], clock["state"], clock["rag"], clock["working_days_left"]) == (
        "serious_incident_notification", "2026-03-10", "running", "amber", 5)


def test_status_turns_red_once_a_clock_is_overdue_and_met_once_its_step_is_answered() -> None:
    w = world()
    referred(w)
    w.clock.set(date(2026, 3, 11))

    [overdue] = queries.status(w.app, REF)["clocks"]
    record(w, REF, "notification-1", {**A.NOTIFIED, "decided_on": "2026-03-11"})
    after = queries.status(w.app, REF)

    assert (overdue["state"], overdue["rag"], overdue["working_days_left"]) == ("breached", "red", -1)
    assert [(c["key"], c["rag"], c["met_on"]) for c in after["clocks"]] == [
        ("serious_incident_notification", "met", "2026-03-11"), ("rapid_review", "green", None)]
    assert after["stage"] == "rapid_review"


def test_open_reviews_lists_each_open_review_and_leaves_out_closed_ones_unless_asked() -> None:
    w = world()
    closed_review(w)
    w.clock.set(date(2026, 4, 2))
    second = referred(w, agency_reference="POL-2026-0099", la_aware_date=date(2026, 4, 1),
                      incident_date=date(2026, 3, 31), child_pseudonym="Child B")

    rows = queries.open_reviews(w.app).rows
    every = queries.open_reviews(w.app, include_closed=True).rows

    # Five working days from Wednesday 1 April 2026 skip Good Friday and Easter Monday.
    assert rows == [queries.Row(second, "Child B", "referred", "notification-1", "2026-04-10", "amber")]
    # Closed reviews, with no due date, come after the open ones.
    assert every == [*rows, queries.Row(REF, "Child A", "closed", "-", "-", "-")]


def test_a_limited_list_shows_those_named_first_then_the_soonest_due_and_counts_them_all() -> None:
    w = world()
    w.clock.set(date(2026, 3, 11))
    late = referred(w, agency_reference="POL-2026-0101", la_aware_date=date(2026, 3, 10))
    w.clock.set(date(2026, 4, 2))
    soon = referred(w, agency_reference="POL-2026-0102", la_aware_date=date(2026, 4, 1))
    w.clock.set(date(2026, 4, 20))
    later = referred(w, agency_reference="POL-2026-0103", la_aware_date=date(2026, 4, 17))

    every = queries.open_reviews(w.app)
    two = queries.open_reviews(w.app, limit=2)
    named = queries.open_reviews(w.app, limit=2, first=[later])

    assert [r.reference for r in every.rows] == [late, soon, later]
    assert (every.total, two.total, named.total) == (3, 3, 3)
    assert [r.reference for r in two.rows] == [late, soon]
    assert [r.reference for r in named.rows] == [later, late]


# ---------------------------------------------------------------- run health of many reviews


class _Counting(FakeRuns):
    """Fake runs that remember which runs were read whole."""

    def __init__(self) -> None:
        super().__init__()
        self.read_whole: list[str] = []

    def observe_all(self, flow_run_ids: Sequence[str]) -> dict[str, RunView | None]:
        self.read_whole += flow_run_ids
        return super().observe_all(flow_run_ids)


def _many(monkeypatch: pytest.MonkeyPatch) -> tuple[World, _Counting, list[str]]:
    monkeypatch.setattr(reconcile, "READ_WHOLE", 1)  # two reviews count as many
    runs = _Counting()
    w = world(runs=runs)
    refs = [referred(w, agency_reference=f"POL-2026-01{i:02d}") for i in range(6)]
    for ref in refs:
        run_id = queries.status(w.app, ref)["flow_run_id"]
        runs.runs[run_id].view = RunView("PAUSED", "Suspended", w.clock.now(), pause_key="notification-1")
        reviews.retag_run(w.app, ref, run_id, waits_on="notification-1")
    return w, runs, refs


def test_many_runs_that_all_wait_on_their_step_are_counted_on_the_server_and_none_is_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    w, runs, refs = _many(monkeypatch)

    health = reconcile.run_health(w.app)

    assert {ref: j.health for ref, j in health.items()} == dict.fromkeys(refs, Health.WAITING)
    assert health[refs[0]].explanation == "suspended on notification-1"
    # Each run said where it waits (retag_run, as the flow does before it suspends): one count, no run read.
    assert runs.read_whole == [] and runs.counted == 1


def _said_nothing(w: World, reference: str) -> None:
    """As a register from before run_waits_on: the run never said where it waits."""
    w.register.state.reviews[reference].run_waits_on = None


def test_many_runs_judged_by_counts_agree_with_each_run_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    w, runs, refs = _many(monkeypatch)
    ids = [queries.status(w.app, ref)["flow_run_id"] for ref in refs]
    _said_nothing(w, refs[1])  # suspended, but never said so
    runs.runs[ids[2]].view = RunView("PAUSED", "Suspended", w.clock.now(), pause_key="rapid-review-1")
    reviews.retag_run(w.app, refs[2], ids[2], waits_on="rapid-review-1")  # said another step than the open one
    runs.runs[ids[3]].view = RunView("CRASHED", "Crashed", w.clock.now())  # said it waits, then crashed
    del runs.runs[ids[4]]  # said it waits, then deleted in the UI

    counted = reconcile.run_health(w.app)
    monkeypatch.setattr(reconcile, "READ_WHOLE", 100)
    each = reconcile.run_health(w.app)

    assert counted == each
    assert [counted[ref].health for ref in refs] == [Health.WAITING, Health.WAITING, Health.DISAGREES,
                                                      Health.STRANDED, Health.MISSING, Health.WAITING]


def test_a_run_that_said_it_waits_but_is_running_or_gone_is_not_counted_as_waiting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    w, runs, refs = _many(monkeypatch)
    ids = [queries.status(w.app, ref)["flow_run_id"] for ref in refs]
    runs.runs[ids[0]].view = RunView("RUNNING", "Running", w.clock.now())  # resumed: its answer on the way

    health = reconcile.run_health(w.app)
    assert health[refs[0]].health is not Health.WAITING
    assert {health[ref].health for ref in refs[1:]} == {Health.WAITING}
    # The count fell short, Prefect named the run not paused, and the rest counted whole: nothing read whole.
    assert runs.read_whole == [] and runs.counted == 2

    runs.counted = 0
    runs.runs[ids[0]].view = RunView("PAUSED", "Suspended", w.clock.now(), pause_key="notification-1")
    del runs.runs[ids[5]]
    health = reconcile.run_health(w.app)
    assert health[refs[5]].health is Health.MISSING
    assert {health[ref].health for ref in refs[:5]} == {Health.WAITING}
    # Short, none unpaused, short again: halves counted down to single runs (READ_WHOLE is 1 here).
    assert runs.counted > 2 and runs.read_whole == [ids[5]]


def test_reconcile_notes_where_it_saw_a_silent_run_wait_so_the_next_list_counts_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    w, runs, refs = _many(monkeypatch)
    for ref in refs:
        _said_nothing(w, ref)
    assert {j.health for j in reconcile.run_health(w.app).values()} == {Health.WAITING}
    assert len(runs.read_whole) == len(refs)

    assert reconcile.reconcile(w.app, dry_run=True) and w.register.state.reviews[refs[0]].run_waits_on is None
    reconcile.reconcile(w.app)
    assert {w.register.state.reviews[ref].run_waits_on for ref in refs} == {"notification-1"}

    runs.read_whole.clear()
    assert {j.health for j in reconcile.run_health(w.app).values()} == {Health.WAITING}
    assert runs.read_whole == []

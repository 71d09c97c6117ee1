"""The review lifecycle: routes, every refusal, open step keys, replay, clock adjustments."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from models import lifecycle
from models.clocks import Clock, ClockKind, ClockRule, ClockState, RuleUnit
from models.errors import IdentifierFound, Refused
from models.lifecycle import (
    RULES,
    STEP_OF_STAGE,
    Accepted,
    ClockAdjustment,
    LoggedDecision,
    Policy,
    Review,
    Route,
    Stage,
    adjust_clock,
    decide,
    open_review,
    open_step,
    refuse,
    replay,
)
from models.steps import NotificationInput, StepKind
from models.workdays import WorkingCalendar
from tests.conftest import make_referral

TODAY = date(2026, 11, 23)
POLICY = Policy()
CAL = POLICY.calendar
REFERENCE = "LCSPR-2026-0001"
BY = "A. Jones, Partnership Manager"


def answer(**values: Any) -> dict[str, Any]:
    """An answer as the Resume form sends it: a dict with ISO dates and who recorded it."""
    return {"decided_by": BY, **values}


# The answers of a full LCSPR, in order (drafts loop twice, publication is deferred once).
NOTIFIED = answer(decided_on="2026-03-05", outcome="notified", panel_reference="NP-2026-118")
RAPID_REVIEW = answer(
    decided_on="2026-03-20",
    recommendation="lcspr",
    immediate_safety_actions=True,
    sent_to_panel=True,
    rationale="Learning about information sharing between agencies.",
    facts="Agencies involved: police, health visiting and children's social care.",
    practice_episodes="Two strategy discussions held without health; a missed referral.",
    learning_shared="Briefing to the sub group and a seven-minute briefing to agencies.",
    possible_improvements="Health to attend every strategy discussion; referral checks.",
    inequalities="Considered language needs, ethnicity and a parent's disability; none changed practice.",
)
CHAIR = dict(
    decider_role="independent_chair",
    delegation="Partnership arrangements 2024, s.4",
    rationale="Criteria met; significant learning for the partnership.",
)
LCSPR = answer(decided_on="2026-04-01", outcome="lcspr", **CHAIR)
INFORMED = answer(
    decided_on="2026-04-03", dfe_informed=True, ofsted_informed=True, panel_informed=True
)
AUTHOR = answer(
    decided_on="2026-04-10", author="R. Author", independence_confirmed=True, conflicts="none"
)
TOR = answer(
    decided_on="2026-04-20",
    period_from="2025-06-01",
    period_to="2026-03-02",
    agencies_in_scope="Thames Valley Police, Frimley ICB",
    methodology="systems_approach",
    family_involvement="The author will invite the parents to meet.",
)
REPORT_POLICE = answer(
    decided_on="2026-05-05", agency="Thames Valley Police", author_independent=True
)
REPORT_ICB = answer(decided_on="2026-05-11", agency="Frimley ICB", author_independent=True)
ENGAGEMENT = answer(decided_on="2026-05-20", practitioner_events=2, family_views="contributed")
DRAFT_1 = answer(decided_on="2026-06-01", version="v0.1")
CHANGES = answer(decided_on="2026-06-10", outcome="changes_requested", comments="Sharpen findings.")
DRAFT_2 = answer(decided_on="2026-06-22", version="v0.2")
ACCEPTED = answer(decided_on="2026-06-30", outcome="accepted")
FINAL = answer(
    decided_on="2026-07-06",
    recommendations="Share information at strategy meetings | Train staff on bruising in babies",
    executive_summary=True,
    planned_publication="2026-08-03",
)
SENT = answer(decided_on="2026-07-10", sent_to_panel=True, sent_to_dfe=True, sent_to_ofsted=True)
DEFERRED = answer(
    decided_on="2026-08-03",
    outcome="deferred",
    deferral_reason="criminal_proceedings",
    deferral_details="Trial listed for the autumn.",
    panel_told=True,
)
PUBLISHED = answer(
    decided_on="2026-09-01",
    outcome="published",
    published_url="https://example.org/reviews/lcspr-child-a",
)
ACTION_1 = answer(
    decided_on="2026-09-07",
    recommendation_number=1,
    owner_agency="Thames Valley Police",
    action="Attend every strategy meeting in person",
    due_on="2026-12-01",
)
ACTION_2 = answer(
    decided_on="2026-09-07",
    recommendation_number=2,
    owner_agency="Frimley ICB",
    action="Deliver bruising protocol training",
    due_on="2027-01-15",
    last_action=True,
)
DONE_1 = answer(
    decided_on="2026-10-01", action_number=1, evidence="Attendance audit for September."
)
DONE_2 = answer(decided_on="2026-10-05", action_number=2, evidence="Training records: 140 staff.")
CLOSURE = answer(
    decided_on="2026-11-02", impact_evidence="Re-audit shows strategy meeting attendance at 98%."
)

# (open step key, answer, stage afterwards, clock the answer meets or ""): a statutory clock, or the
# step's local target where none applies (issue 13)
FULL_LCSPR: list[tuple[str, dict[str, Any], Stage, str]] = [
    ("notification-1", NOTIFIED, Stage.RAPID_REVIEW, "serious_incident_notification"),
    ("rapid-review-1", RAPID_REVIEW, Stage.AWAITING_DECISION, "rapid_review"),
    ("chair-decision-1", LCSPR, Stage.INFORMING_BODIES, "chair_decision_target"),
    ("inform-bodies-1", INFORMED, Stage.AUTHOR_APPOINTMENT, "inform_bodies"),
    ("author-appointment-1", AUTHOR, Stage.TERMS_OF_REFERENCE, "author_appointment_target"),
    ("terms-of-reference-1", TOR, Stage.AGENCY_REPORTS, "terms_of_reference_target"),
    ("agency-report-1", REPORT_POLICE, Stage.AGENCY_REPORTS, "agency_report:Thames Valley Police"),
    ("agency-report-2", REPORT_ICB, Stage.ENGAGEMENT, "agency_report:Frimley ICB"),
    ("engagement-1", ENGAGEMENT, Stage.DRAFTING, "engagement_target"),
    ("draft-circulated-1", DRAFT_1, Stage.DRAFT_REVIEW, "draft_circulation_target:round-1"),
    ("draft-review-1", CHANGES, Stage.DRAFTING, "draft_round:round-1"),
    ("draft-circulated-2", DRAFT_2, Stage.DRAFT_REVIEW, "draft_circulation_target:round-2"),
    ("draft-review-2", ACCEPTED, Stage.FINAL_REPORT, "draft_round:round-2"),
    ("final-report-1", FINAL, Stage.SENDING_FINAL_REPORT, "final_report_target"),
    ("final-report-sent-1", SENT, Stage.PUBLICATION, "final_report_to_bodies"),
    ("publication-1", DEFERRED, Stage.PUBLICATION, ""),
    ("publication-2", PUBLISHED, Stage.ACTION_PLAN, "publication"),
    ("action-1", ACTION_1, Stage.ACTION_PLAN, ""),
    ("action-2", ACTION_2, Stage.ACTION_MONITORING, "action_plan_target"),
    ("action-update-1", DONE_1, Stage.ACTION_MONITORING, "action:action-1"),
    ("action-update-2", DONE_2, Stage.CLOSURE, "action:action-2"),
    ("closure-1", CLOSURE, Stage.CLOSED, "closure_target"),
]
GOOD = {key: payload for key, payload, _, _ in FULL_LCSPR}


def start(**referral: Any) -> Review:
    return open_review(REFERENCE, make_referral(**referral), POLICY)


def drive(review: Review, answers: Iterable[Mapping[str, Any]], policy: Policy = POLICY) -> Review:
    """Answer whatever step is open with each answer in turn, through decide()."""
    for payload in answers:
        step = open_step(review, policy)
        assert step is not None, f"review closed before {payload}"
        review = decide(review, step.key, payload, TODAY, policy).review
    return review


def reach(key: str, review: Review | None = None) -> Review:
    """A review on the full LCSPR route whose open step is ``key``."""
    review = review or start()
    for step_key_, payload, _, _ in FULL_LCSPR:
        if step_key_ == key:
            step = open_step(review, POLICY)
            assert step is not None and step.key == key
            return review
        review = decide(review, step_key_, payload, TODAY, POLICY).review
    raise AssertionError(f"{key} is not on the full route")


def key_of(review: Review) -> str:
    step = open_step(review, POLICY)
    assert step is not None
    return step.key


def assert_refused(
    review: Review,
    key: str,
    payload: Mapping[str, Any],
    match: str,
    error: type[Refused] = Refused,
    policy: Policy = POLICY,
) -> None:
    """decide() refuses with a reason matching ``match``; the review stays where it was."""
    stage, open_key = review.stage, key_of(review)
    with pytest.raises(error, match=match):
        decide(review, key, payload, TODAY, policy)
    assert review.stage is stage
    assert key_of(review) == open_key


def d(text: str) -> date:
    return date.fromisoformat(text)


# ---------------------------------------------------------------- the full LCSPR route


def test_a_full_lcspr_goes_from_referral_to_closed_through_every_step() -> None:
    review = start()
    for key, payload, stage_after, met_clock in FULL_LCSPR:
        assert key_of(review) == key
        review = decide(review, key, payload, TODAY, POLICY).review
        assert review.stage is stage_after, key
        if met_clock:
            assert review.clock(met_clock).met_on == d(payload["decided_on"]), key
    assert open_step(review, POLICY) is None
    assert review.route is Route.LCSPR
    assert review.closed_on == date(2026, 11, 2)
    assert review.notified and review.panel_reference == "NP-2026-118"
    assert review.author == "R. Author"
    assert [a.received_on for a in review.agencies] == [date(2026, 5, 5), date(2026, 5, 11)]
    assert all(a.author_independent for a in review.agencies)
    assert review.draft_round == 2
    assert review.recommendations == (
        "Share information at strategy meetings",
        "Train staff on bruising in babies",
    )
    assert review.deferrals == 1 and review.publication_decisions == 2
    assert review.published_on == date(2026, 9, 1)
    assert review.published_url == "https://example.org/reviews/lcspr-child-a"
    assert [(a.number, a.recommendation_number, a.completed_on) for a in review.actions] == [
        (1, 1, date(2026, 10, 1)),
        (2, 2, date(2026, 10, 5)),
    ]
    assert review.open_actions == ()


def test_a_closed_lcspr_leaves_only_the_stays_published_clock_running() -> None:
    review = drive(start(), GOOD.values())
    states = {c.key: c.state_on(TODAY, CAL) for c in review.clocks}
    assert states.pop("stays_published") is ClockState.RUNNING
    assert set(states.values()) == {ClockState.MET}
    assert review.clock("stays_published").due(CAL) == date(2027, 9, 1)


@pytest.mark.parametrize(
    ("clock_key", "due"),
    [
        ("serious_incident_notification", date(2026, 3, 10)),  # aware Tue 3 Mar + 5 wd
        ("rapid_review", date(2026, 3, 26)),  # SIN Thu 5 Mar + 15 wd
        ("inform_bodies", date(2026, 4, 10)),  # 1 Apr + 5 wd, Good Friday and Easter Monday skipped
        (
            "agency_report:Thames Valley Police",
            date(2026, 5, 19),
        ),  # 20 wd, early May holiday skipped
        ("draft_round:round-1", date(2026, 6, 15)),
        ("final_report_to_bodies", date(2026, 7, 23)),  # 7 wd before 3 Aug
        ("deferral_review:deferral-1", date(2026, 9, 1)),  # 20 wd, August holiday skipped
        # 6 months from 1 Apr, plus the 20 working days the deferral paused it.
        ("publication", date(2026, 10, 29)),
        ("action:action-2", date(2027, 1, 15)),
    ],
)
def test_the_full_route_sets_each_statutory_due_date(clock_key: str, due: date) -> None:
    review = drive(start(), GOOD.values())
    assert review.clock(clock_key).due(CAL) == due


def test_deferring_publication_pauses_the_publication_clock_until_it_is_published() -> None:
    review = drive(reach("publication-1"), [DEFERRED])
    publication = review.clock("publication")
    assert publication.is_paused and publication.pauses[0].start == date(2026, 8, 3)
    assert publication.state_on(TODAY, CAL) is ClockState.PAUSED
    assert key_of(review) == "publication-2"
    assert open_step(review, POLICY).due == date(2026, 9, 1)  # type: ignore[union-attr]


def test_deferring_twice_meets_the_first_deferral_review_and_starts_a_second() -> None:
    again = answer(**{**DEFERRED, "decided_on": "2026-08-20"})
    review = drive(reach("publication-1"), [DEFERRED, again])
    assert review.clock("deferral_review:deferral-1").met_on == date(2026, 8, 20)
    assert review.clock("deferral_review:deferral-2").met_on is None
    assert review.clock("publication").pauses[0].start == date(2026, 8, 3)  # paused once
    assert key_of(review) == "publication-3"


def test_a_new_planned_publication_date_moves_the_final_report_clock() -> None:
    late = answer(**{**SENT, "decided_on": "2026-07-27", "new_planned_publication": "2026-08-17"})
    review = drive(reach("final-report-sent-1"), [late])
    assert review.planned_publication == date(2026, 8, 17)
    assert review.clock("final_report_to_bodies").start == date(2026, 8, 17)
    assert review.clock("final_report_to_bodies").met_on == date(2026, 7, 27)


# ---------------------------------------------------------------- the other routes


@pytest.mark.parametrize("kind", ["reflective_learning_session", "practice_review"])
def test_another_learning_review_with_recommendations_goes_through_actions_to_closure(
    kind: str,
) -> None:
    review = drive(reach("chair-decision-1"), [answer(**{**LCSPR, "outcome": kind})])
    assert review.route is Route.LEARNING_REVIEW and review.learning_kind == kind
    assert review.stage is Stage.LEARNING_REVIEW
    assert not review.has_clock("publication") and not review.has_clock("inform_bodies")
    learning = answer(
        decided_on="2026-05-01",
        learning="Strategy meetings lacked health input.",
        recommendations="Invite health to strategy meetings",
    )
    review = drive(review, [learning])
    assert review.stage is Stage.ACTION_PLAN and key_of(review) == "action-1"
    action = answer(
        decided_on="2026-05-05",
        recommendation_number=1,
        owner_agency="Frimley ICB",
        action="Name a health lead for every strategy meeting",
        due_on="2026-07-01",
        last_action=True,
    )
    review = drive(review, [action])
    assert review.stage is Stage.ACTION_MONITORING and key_of(review) == "action-update-1"
    done = answer(decided_on="2026-06-15", action_number=1, evidence="Rota of named health leads.")
    review = drive(review, [done])
    assert review.stage is Stage.CLOSURE
    review = drive(
        review, [answer(decided_on="2026-09-01", impact_evidence="Health attended 12 of 12.")]
    )
    assert review.stage is Stage.CLOSED and review.closed_on == date(2026, 9, 1)
    assert review.clock("action:action-1").met_on == date(2026, 6, 15)


def test_a_learning_review_without_recommendations_goes_straight_to_closure() -> None:
    review = drive(
        reach("chair-decision-1"),
        [
            answer(**{**LCSPR, "outcome": "practice_review"}),
            answer(
                decided_on="2026-05-01", learning="Practice was good; no recommendations arise."
            ),
        ],
    )
    assert review.recommendations == ()
    assert review.stage is Stage.CLOSURE and key_of(review) == "closure-1"


@pytest.mark.parametrize(
    ("outcome", "route"),
    [("no_further_review", Route.NO_FURTHER_REVIEW), ("national_review", Route.NATIONAL_REVIEW)],
)
def test_no_further_review_or_a_national_review_closes_the_review(
    outcome: str, route: Route
) -> None:
    review = drive(reach("chair-decision-1"), [answer(**{**LCSPR, "outcome": outcome})])
    assert review.stage is Stage.CLOSED and review.route is route
    assert review.closed_on == date(2026, 4, 1)
    assert open_step(review, POLICY) is None
    assert {c.state_on(TODAY, CAL) for c in review.clocks} == {ClockState.MET}


@pytest.mark.parametrize("outcome", ["no_further_review", "national_review"])
def test_closing_at_the_chair_decision_stops_every_clock_still_running(outcome: str) -> None:
    """A clock still running at the decision (here one added by hand) falls silent with a reason."""
    review = reach("chair-decision-1")
    running = Clock(
        ClockKind.ACTION, date(2026, 6, 1), ClockRule(RuleUnit.FIXED, 0), subject="action-9"
    )
    review = replace(review, clocks=(*review.clocks, running))
    review = drive(review, [answer(**{**LCSPR, "outcome": outcome})])
    stopped = review.clock("action:action-9")
    assert stopped.stopped_on == date(2026, 4, 1)
    assert stopped.stop_reason == f"decision: {outcome}"
    assert review.clock("rapid_review").stopped_on is None  # met clocks are left alone


def test_a_referral_that_is_not_notifiable_cannot_get_an_lcspr_or_a_national_review() -> None:
    review = start(abuse_or_neglect="not_suspected", harm="neither")
    assert not review.referral.meets_criteria and not review.referral.died_in_or_after_care
    review = drive(
        review,
        [
            answer(
                decided_on="2026-03-05",
                outcome="not_notifiable",
                rationale="No abuse or neglect suspected; no serious harm.",
            )
        ],
    )
    assert review.stage is Stage.AWAITING_DECISION and not review.notified
    assert review.clock("serious_incident_notification").stop_reason == "not notifiable"
    for outcome in ("lcspr", "national_review"):
        assert_refused(
            review,
            "chair-decision-1",
            answer(**{**LCSPR, "outcome": outcome}),
            "needs a serious incident notification",
        )
    review = drive(review, [answer(**{**LCSPR, "outcome": "practice_review"})])
    assert review.stage is Stage.LEARNING_REVIEW


@pytest.mark.parametrize("who", [{"looked_after": True}, {"care_leaver": True}])
def test_the_death_of_a_looked_after_child_or_care_leaver_cannot_be_not_notifiable(
    who: dict[str, bool],
) -> None:
    review = start(harm="died", abuse_or_neglect="not_suspected", **who)
    assert review.referral.died_in_or_after_care and not review.referral.meets_criteria
    assert_refused(
        review,
        "notification-1",
        answer(
            decided_on="2026-03-05", outcome="not_notifiable", rationale="Natural causes, we think."
        ),
        "must be notified to the National Panel whether or not",
    )


def test_a_care_leavers_death_without_the_criteria_skips_the_rapid_review() -> None:
    review = drive(
        start(harm="died", abuse_or_neglect="not_suspected", care_leaver=True), [NOTIFIED]
    )
    assert review.stage is Stage.AWAITING_DECISION and review.notified
    assert not review.has_clock("rapid_review")
    assert key_of(review) == "chair-decision-1"
    assert drive(review, [LCSPR]).stage is Stage.INFORMING_BODIES


def test_a_care_leavers_death_that_meets_the_criteria_has_a_rapid_review() -> None:
    review = drive(start(harm="died", abuse_or_neglect="suspected", care_leaver=True), [NOTIFIED])
    assert review.stage is Stage.RAPID_REVIEW and review.has_clock("rapid_review")


def test_a_looked_after_childs_death_without_the_criteria_still_has_a_rapid_review() -> None:
    review = drive(
        start(harm="died", abuse_or_neglect="not_suspected", looked_after=True), [NOTIFIED]
    )
    assert review.stage is Stage.RAPID_REVIEW


# ---------------------------------------------------------------- every refusal of every rule


def with_(key: str, **changes: Any) -> dict[str, Any]:
    return {**GOOD[key], **changes}


RULE_REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("notification-1", with_("notification-1", panel_reference=""), "Panel reference"),
    (
        "notification-1",
        with_("notification-1", outcome="not_notifiable", rationale="short"),
        "Record why the incident is not notifiable",
    ),
    (
        "rapid-review-1",
        with_("rapid-review-1", sent_to_panel=False),
        "must go to the National Panel",
    ),
    (
        "rapid-review-1",
        with_("rapid-review-1", immediate_safety_actions=False),
        "immediate safety actions",
    ),
    (
        "inform-bodies-1",
        with_("inform-bodies-1", ofsted_informed=False, panel_informed=False),
        "not yet: Ofsted, the National Panel",
    ),
    ("inform-bodies-1", with_("inform-bodies-1", dfe_informed=False), "not yet: the DfE"),
    (
        "author-appointment-1",
        with_("author-appointment-1", independence_confirmed=False),
        "confirm independence or appoint another author",
    ),
    (
        "author-appointment-1",
        with_("author-appointment-1", conflicts="declared_and_managed"),
        "Conflict details",
    ),
    (
        "terms-of-reference-1",
        with_("terms-of-reference-1", period_from="2026-03-02", period_to="2026-03-02"),
        "must start before it ends",
    ),
    (
        "terms-of-reference-1",
        with_("terms-of-reference-1", period_to="2026-04-21"),
        "cannot end after the Terms of Reference are signed off",
    ),
    (
        "terms-of-reference-1",
        with_("terms-of-reference-1", agencies_in_scope=" , , "),
        "at least one agency",
    ),
    (
        "terms-of-reference-1",
        with_("terms-of-reference-1", agencies_in_scope="Frimley ICB, frimley icb"),
        "named twice",
    ),
    (
        "agency-report-1",
        with_("agency-report-1", agency="Ofsted"),
        "'Ofsted' is not an agency in scope",
    ),
    (
        "agency-report-2",
        with_("agency-report-2", agency="thames valley police"),
        "already recorded as received on 2026-05-05",
    ),
    (
        "agency-report-1",
        with_("agency-report-1", author_independent=False),
        "Ask Thames Valley Police for a report by an independent author",
    ),
    (
        "engagement-1",
        with_("engagement-1", family_views="not_sought"),
        "family's views were not sought",
    ),
    (
        "final-report-1",
        with_("final-report-1", recommendations=" | ; | . |"),
        "at least one recommendation",
    ),
    (
        "final-report-1",
        with_("final-report-1", planned_publication="2026-07-14"),
        "plan publication on or after 2026-07-15",
    ),
    (
        "final-report-sent-1",
        with_("final-report-sent-1", sent_to_dfe=False, sent_to_ofsted=False),
        "not yet sent to: the DfE, Ofsted",
    ),
    (
        "final-report-sent-1",
        with_("final-report-sent-1", sent_to_panel=False),
        "not yet sent to: the National Panel",
    ),
    (
        "final-report-sent-1",
        with_("final-report-sent-1", decided_on="2026-07-24"),
        "less than 7 working days before publication on 2026-08-03",
    ),
    ("publication-1", with_("publication-1", outcome="published"), "Where it is published"),
    ("publication-1", {**PUBLISHED, "decided_on": "2026-07-20"}, "the earliest date is 2026-07-21"),
    ("publication-1", with_("publication-1", deferral_reason=""), "reason publication is deferred"),
    ("publication-1", with_("publication-1", panel_told=False), "Tell the National Panel"),
    ("action-1", with_("action-1", recommendation_number=3), "no recommendation 3"),
    ("action-1", with_("action-1", due_on="2026-09-07"), "must be after the date it is agreed"),
    ("action-1", with_("action-1", last_action=True), "none yet for: 2"),
    ("action-update-1", with_("action-update-1", action_number=3), "no action 3"),
    (
        "action-update-2",
        with_("action-update-2", action_number=1),
        "already completed on 2026-10-01",
    ),
]


@pytest.mark.parametrize(
    ("key", "payload", "match"), RULE_REFUSALS, ids=[f"{k}:{m[:30]}" for k, _, m in RULE_REFUSALS]
)
def test_each_rule_refuses_a_bad_answer_with_a_reason_and_changes_nothing(
    key: str, payload: dict[str, Any], match: str
) -> None:
    review = reach(key)
    assert_refused(review, key, payload, match)
    decide(review, key, GOOD[key], TODAY, POLICY)  # the same review still takes a good answer


def test_the_panel_reference_is_not_needed_when_the_incident_is_not_notifiable() -> None:
    payload = answer(
        decided_on="2026-03-05", outcome="not_notifiable", rationale="No serious harm to the child."
    )
    assert drive(start(), [payload]).stage is Stage.AWAITING_DECISION


def test_declared_conflicts_are_accepted_once_their_management_is_described() -> None:
    payload = with_(
        "author-appointment-1",
        conflicts="declared_and_managed",
        conflict_details="Author once trained police staff; panel chair oversees.",
    )
    assert drive(reach("author-appointment-1"), [payload]).stage is Stage.TERMS_OF_REFERENCE


@pytest.mark.parametrize(
    ("key", "payload", "match"),
    [
        ("chair-decision-1", with_("chair-decision-1", outcome="maybe"), "outcome"),
        (
            "rapid-review-1",
            {k: v for k, v in RAPID_REVIEW.items() if k != "rationale"},
            "rationale: Field required",
        ),
        ("notification-1", with_("notification-1", decided_on="not a date"), "decided_on"),
        ("engagement-1", with_("engagement-1", practitioner_events=-1), "practitioner_events"),
        ("notification-1", with_("notification-1", surprise="extra"), "surprise"),
    ],
)
def test_an_answer_that_does_not_fit_the_form_is_refused_as_not_valid(
    key: str, payload: dict[str, Any], match: str
) -> None:
    review = reach(key)
    assert_refused(review, key, payload, f"The answer is not valid: .*{match}")


# ---------------------------------------------------------------- the generic refusals


def test_a_step_that_is_not_open_is_refused_because_steps_are_taken_in_order() -> None:
    review = start()
    assert_refused(
        review,
        "chair-decision-1",
        LCSPR,
        "not waiting on 'Chair decision'; it is waiting on 'Serious incident notification'",
    )


def test_an_answer_to_a_closed_review_is_refused() -> None:
    review = drive(start(), GOOD.values())
    with pytest.raises(Refused, match="is closed; it waits on no step"):
        decide(review, "closure-1", CLOSURE, TODAY, POLICY)
    assert review.stage is Stage.CLOSED


@pytest.mark.parametrize(
    ("open_key", "wrong_key"),
    [
        ("agency-report-1", "agency-report-2"),
        ("draft-review-2", "draft-review-1"),
        ("notification-1", "notification-1-retry-2"),
        ("publication-2", "publication-1"),
    ],
)
def test_a_key_of_the_wrong_occurrence_or_attempt_is_refused(open_key: str, wrong_key: str) -> None:
    review = (
        drive(reach("publication-1"), [DEFERRED])
        if open_key == "publication-2"
        else reach(open_key)
    )
    payload = DEFERRED if open_key == "publication-2" else GOOD[open_key]
    assert_refused(
        review, wrong_key, payload, f"Step {wrong_key} is not open; the open step is {open_key}"
    )


def test_a_date_in_the_future_is_refused() -> None:
    review = start()
    assert_refused(
        review,
        "notification-1",
        with_("notification-1", decided_on="2026-11-24"),
        "in the future; today is 2026-11-23",
    )


def test_a_date_before_the_step_opened_is_refused() -> None:
    review = start()
    assert_refused(
        review,
        "notification-1",
        with_("notification-1", decided_on="2026-03-02"),
        r"before this step opened \(2026-03-03\)",
    )
    later = reach("chair-decision-1")
    assert_refused(
        later,
        "chair-decision-1",
        {**LCSPR, "decided_on": "2026-03-19"},
        r"before this step opened \(2026-03-20\)",
    )


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Seen by GP, NHS no 943 476 5919, no concerns.", "NHS number"),
        ("The family moved to HP19 8FF before the incident.", "postcode"),
        ("Mother emailed parent.name@example.com about the visit.", "email address"),
        ("Call the aunt on 07700 900123 for the chronology.", "phone number"),
        ("The child (DOB 12/03/2015) was seen at school.", "date of birth"),
    ],
)
def test_free_text_that_could_identify_a_child_is_refused(text: str, kind: str) -> None:
    review = reach("rapid-review-1")
    assert_refused(
        review,
        "rapid-review-1",
        with_("rapid-review-1", rationale=text),
        f"Rationale appears to contain .*{kind}",
        IdentifierFound,
    )


def test_every_free_text_field_is_checked_for_identifiers_not_only_the_rationale() -> None:
    review = reach("draft-review-1")
    assert_refused(
        review,
        "draft-review-1",
        with_("draft-review-1", comments="See parent@example.org"),
        "Summary of comments appears to contain",
        IdentifierFound,
    )


def test_the_rule_table_itself_guards_the_stage_a_rule_may_run_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Defence in depth: a rule whose from-stages omit the open stage refuses to run."""
    broken = replace(RULES[StepKind.NOTIFICATION], from_stages=frozenset())
    monkeypatch.setitem(lifecycle.RULES, StepKind.NOTIFICATION, broken)
    assert_refused(
        start(), "notification-1", NOTIFIED, "Rule record_notification cannot run from stage"
    )


# ---------------------------------------------------------------- the open step


def test_a_new_review_waits_on_the_notification_due_five_working_days_after_awareness() -> None:
    step = open_step(start(), POLICY)
    assert step is not None
    assert (step.key, step.kind, step.occurrence, step.attempt) == (
        "notification-1",
        StepKind.NOTIFICATION,
        1,
        1,
    )
    assert step.opened_on == date(2026, 3, 3) and step.due == date(2026, 3, 10)
    assert step.clock_key == "serious_incident_notification"
    assert step.asked_of == "business_unit" and step.last_refusal == ""


def test_the_second_agency_report_is_asked_of_the_agency_still_outstanding() -> None:
    first = open_step(reach("agency-report-1"), POLICY)
    second = open_step(reach("agency-report-2"), POLICY)
    assert first is not None and second is not None
    assert first.asked_of == "agency-thames-valley-police,agency-frimley-icb"
    assert (second.key, second.occurrence) == ("agency-report-2", 2)
    assert second.asked_of == "agency-frimley-icb"
    assert second.clock_key == "agency_report:Frimley ICB"


def test_the_second_draft_round_has_its_own_key_and_clock() -> None:
    step = open_step(reach("draft-review-2"), POLICY)
    assert step is not None
    assert step.clock_key == "draft_round:round-2"
    assert step.due == CAL.add(date(2026, 6, 22), 10)


def test_a_refused_answer_reopens_the_step_under_a_retry_key_until_one_is_accepted() -> None:
    review = refuse(reach("rapid-review-1"), "Not sent to the National Panel yet.")
    step = open_step(review, POLICY)
    assert step is not None
    assert (step.key, step.attempt) == ("rapid-review-1-retry-2", 2)
    assert step.last_refusal == "Not sent to the National Panel yet."
    review = refuse(review, "Still not sent.")
    assert key_of(review) == "rapid-review-1-retry-3"
    assert_refused(
        review, "rapid-review-1", RAPID_REVIEW, "the open step is rapid-review-1-retry-3"
    )
    review = decide(review, "rapid-review-1-retry-3", RAPID_REVIEW, TODAY, POLICY).review
    assert (review.attempt, review.last_refusal) == (1, "")
    assert key_of(review) == "chair-decision-1"


def test_an_accepted_answer_gives_the_next_review_and_the_answer_as_read() -> None:
    review = start()
    accepted = decide(review, "notification-1", {**NOTIFIED, "panel_reference": "  NP-2026-118 "}, TODAY, POLICY)
    assert isinstance(accepted, Accepted)
    assert accepted.review.stage is Stage.RAPID_REVIEW and review.stage is Stage.REFERRED
    assert isinstance(accepted.answer, NotificationInput)
    assert accepted.answer.decided_on == date(2026, 3, 5)
    assert accepted.answer.model_dump(mode="json") == {
        "decided_on": "2026-03-05",
        "decided_by": BY,
        "outcome": "notified",
        "panel_reference": "NP-2026-118",  # read, so stored without the stray spaces
        "rationale": "",
    }


def test_the_stored_answer_replays_to_the_review_decide_returned() -> None:
    accepted = decide(start(), "notification-1", NOTIFIED, TODAY, POLICY)
    log = [LoggedDecision("notification-1", accepted.answer.model_dump(mode="json"), True)]
    assert replay(REFERENCE, make_referral(), log, POLICY) == accepted.review


def test_an_accepted_decision_opens_the_next_step_on_its_date() -> None:
    review = drive(start(), [NOTIFIED])
    step = open_step(review, POLICY)
    assert step is not None
    assert step.opened_on == date(2026, 3, 5) and step.due == date(2026, 3, 26)


# ---------------------------------------------------------------- replay


def log_of(answers: Iterable[tuple[str, dict[str, Any]]]) -> list[LoggedDecision]:
    return [LoggedDecision(key, payload, True) for key, payload in answers]


def test_replaying_the_log_gives_the_same_review_as_deciding_step_by_step() -> None:
    stepwise = drive(start(), GOOD.values())
    assert replay(REFERENCE, make_referral(), log_of(GOOD.items()), POLICY) == stepwise


def test_replaying_part_of_the_log_gives_the_review_at_that_step() -> None:
    first = list(GOOD.items())[:9]
    replayed = replay(REFERENCE, make_referral(), log_of(first), POLICY)
    assert replayed == reach("draft-circulated-1")


def test_refused_entries_in_the_log_bump_the_attempt() -> None:
    log = [
        LoggedDecision("notification-1", NOTIFIED, True),
        LoggedDecision("rapid-review-1", {"decided_on": "2026-03-20"}, False, "Rationale missing."),
        LoggedDecision("rapid-review-1-retry-2", {}, False, "Not sent to the Panel."),
    ]
    review = replay(REFERENCE, make_referral(), log, POLICY)
    assert review.stage is Stage.RAPID_REVIEW
    assert (review.attempt, review.last_refusal) == (3, "Not sent to the Panel.")
    assert key_of(review) == "rapid-review-1-retry-3"
    log.append(LoggedDecision("rapid-review-1-retry-3", RAPID_REVIEW, True))
    after = replay(REFERENCE, make_referral(), log, POLICY)
    assert after.stage is Stage.AWAITING_DECISION and after.attempt == 1


def test_replaying_with_a_new_closure_day_recomputes_due_dates_but_keeps_decisions() -> None:
    log = log_of(list(GOOD.items())[:2])
    before = replay(REFERENCE, make_referral(), log, POLICY)
    closed = Policy(calendar=WorkingCalendar([date(2026, 3, 9)]))
    after = replay(REFERENCE, make_referral(), log, closed)
    assert after.stage is before.stage is Stage.AWAITING_DECISION
    for key in ("serious_incident_notification", "rapid_review"):
        assert after.clock(key).met_on == before.clock(key).met_on
    assert before.clock("serious_incident_notification").due(CAL) == date(2026, 3, 10)
    assert after.clock("serious_incident_notification").due(closed.calendar) == date(2026, 3, 11)
    assert after.clock("rapid_review").due(closed.calendar) == date(2026, 3, 27)


def test_replaying_with_a_changed_rule_recomputes_due_dates_but_keeps_decisions() -> None:
    longer = Policy(
        rules={**POLICY.rules, ClockKind.RAPID_REVIEW: ClockRule(RuleUnit.WORKING_DAYS_AFTER, 20)}
    )
    after = replay(REFERENCE, make_referral(), log_of(list(GOOD.items())[:2]), longer)
    assert after.clock("rapid_review").due(CAL) == date(2026, 4, 2)  # 20 working days from 5 March
    assert after.clock("rapid_review").met_on == date(2026, 3, 20)


def test_a_recorded_extension_survives_a_replay_after_the_calendar_gains_closure_days() -> None:
    """Replay applies what was accepted: a new closure day must not refuse an agreed extension."""
    extend = ClockAdjustment(
        clock="serious_incident_notification",
        action="extend",
        on=date(2026, 3, 5),
        by="A. Jones",
        reason="Awaiting police information",
        new_due=date(2026, 3, 11),
    )
    log = [LoggedDecision("clock-1", extend.model_dump(mode="json"), True)]
    assert replay(REFERENCE, make_referral(), log, POLICY).clock(
        "serious_incident_notification"
    ).due(CAL) == date(2026, 3, 11)
    shutdown = Policy(
        calendar=WorkingCalendar([date(2026, 3, 4), date(2026, 3, 5), date(2026, 3, 6)])
    )
    review = replay(REFERENCE, make_referral(), log, shutdown)
    sin = review.clock("serious_incident_notification")
    assert sin.due(shutdown.calendar) == date(2026, 3, 11)  # the agreed date stands
    assert review.clock_adjustments == 1


def test_clock_adjustments_in_the_log_are_replayed_in_order() -> None:
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
    stepwise = drive(start(), [NOTIFIED])
    stepwise = adjust_clock(stepwise, pause, TODAY, POLICY)
    stepwise = adjust_clock(stepwise, resume, TODAY, POLICY)
    log = [
        LoggedDecision("notification-1", NOTIFIED, True),
        LoggedDecision("clock-1", pause.model_dump(mode="json"), True),
        LoggedDecision("clock-2", resume.model_dump(mode="json"), True),
    ]
    assert replay(REFERENCE, make_referral(), log, POLICY) == stepwise
    assert stepwise.clock("rapid_review").due(CAL) == date(2026, 4, 2)  # 5 working days given back


# ---------------------------------------------------------------- clock adjustments


def adj(**values: Any) -> ClockAdjustment:
    base: dict[str, Any] = dict(
        clock="rapid_review",
        action="pause",
        on=date(2026, 3, 9),
        by="A. Jones",
        reason="Police asked us to wait for interviews",
    )
    return ClockAdjustment.model_validate({**base, **values})


def test_pausing_a_clock_records_who_and_why_and_counts_the_adjustment() -> None:
    review = adjust_clock(reach("rapid-review-1"), adj(), TODAY, POLICY)
    clock = review.clock("rapid_review")
    assert clock.is_paused and clock.state_on(TODAY, CAL) is ClockState.PAUSED
    assert (clock.pauses[0].by, clock.pauses[0].reason) == (
        "A. Jones",
        "Police asked us to wait for interviews",
    )
    assert review.clock_adjustments == 1


def test_resuming_a_paused_clock_gives_back_the_paused_working_days() -> None:
    review = adjust_clock(reach("rapid-review-1"), adj(), TODAY, POLICY)
    review = adjust_clock(
        review, adj(action="resume", on=date(2026, 3, 13), reason=""), TODAY, POLICY
    )
    clock = review.clock("rapid_review")
    assert not clock.is_paused
    assert clock.due(CAL) == CAL.add(date(2026, 3, 26), 4)  # 10-13 March swallowed 4 working days
    assert review.clock_adjustments == 2


def test_extending_a_clock_sets_the_agreed_due_date_and_the_open_steps_due_date() -> None:
    review = adjust_clock(
        reach("rapid-review-1"), adj(action="extend", new_due=date(2026, 4, 17)), TODAY, POLICY
    )
    assert review.clock("rapid_review").due(CAL) == date(2026, 4, 17)
    assert open_step(review, POLICY).due == date(2026, 4, 17)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"on": date(2026, 11, 24)}, "in the future; today is 2026-11-23"),
        ({"reason": "wait"}, "Give a reason to pause the clock"),
        ({"action": "extend", "reason": ""}, "Give a reason to extend the clock"),
        ({"reason": "Call mother on 07700 900123 first"}, "Reason appears to contain"),
        ({"clock": "inform_bodies"}, "has no clock 'inform_bodies'"),
        ({"clock": "serious_incident_notification"}, "a met clock cannot be paused"),
        ({"action": "resume", "reason": ""}, "is not paused, so it cannot be resumed"),
        ({"action": "extend"}, "Give the new due date"),
        ({"action": "extend", "new_due": date(2026, 3, 26)}, "already due on 2026-03-26"),
        ({"on": date(2026, 3, 4)}, "started on 2026-03-05; it cannot be paused on 2026-03-04"),
    ],
)
def test_a_clock_adjustment_that_breaks_a_rule_is_refused(
    change: dict[str, Any], match: str
) -> None:
    review = reach("rapid-review-1")
    with pytest.raises(Refused, match=match):
        adjust_clock(review, adj(**change), TODAY, POLICY)
    assert review.clock_adjustments == 0 and not review.clock("rapid_review").is_paused


def test_a_paused_clock_cannot_be_paused_again() -> None:
    review = adjust_clock(reach("rapid-review-1"), adj(), TODAY, POLICY)
    with pytest.raises(Refused, match="resume it before pausing it again"):
        adjust_clock(review, adj(on=date(2026, 3, 10)), TODAY, POLICY)


# ---------------------------------------------------------------- the transition table


@pytest.mark.parametrize("kind", list(StepKind))
def test_every_step_has_exactly_one_rule_leaving_from_the_stages_that_wait_on_it(
    kind: StepKind,
) -> None:
    rule = RULES[kind]
    assert rule.step is kind
    assert rule.from_stages == {stage for stage, step in STEP_OF_STAGE.items() if step is kind}
    assert rule.from_stages, f"no stage waits on {kind}"


@pytest.mark.parametrize("rule", list(RULES.values()), ids=lambda r: r.name)
def test_every_rule_leads_only_to_stages_that_wait_on_a_step_or_to_closed(
    rule: lifecycle.Rule,
) -> None:
    assert rule.to_stages
    assert all(stage is Stage.CLOSED or stage in STEP_OF_STAGE for stage in rule.to_stages)
    assert Stage.CLOSED not in rule.from_stages


def test_every_stage_is_reachable_from_referred_and_only_closed_waits_on_nothing() -> None:
    assert set(Stage) - set(STEP_OF_STAGE) == {Stage.CLOSED}
    reached, frontier = {Stage.REFERRED}, [Stage.REFERRED]
    while frontier:
        for stage in RULES[STEP_OF_STAGE[frontier.pop()]].to_stages - reached:
            reached.add(stage)
            if stage in STEP_OF_STAGE:
                frontier.append(stage)
    assert reached == set(Stage)


def test_rule_names_are_unique() -> None:
    names = [r.name for r in RULES.values()]
    assert len(names) == len(set(names))


def test_an_agency_name_that_could_not_be_addressed_is_refused_at_terms_of_reference() -> None:
    """Agencies are emailed by a tag made from their name; '--' would make none."""
    review = reach("terms-of-reference-1")
    with pytest.raises(Refused, match="letter or digit"):
        decide(review, "terms-of-reference-1", {**TOR, "agencies_in_scope": "Thames Valley Police, --"}, TODAY, POLICY)
    assert key_of(review) == "terms-of-reference-1"

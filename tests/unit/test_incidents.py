"""Incidents with several children, the fuller rapid review, and what is recorded beside the steps:
the National Panel's response and actions from day one."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from models.errors import IdentifierFound, Refused
from models.lifecycle import (
    ACTION_COMPLETED,
    IMMEDIATE_ACTION,
    PANEL_RESPONSE,
    LoggedDecision,
    Review,
    Stage,
    decide,
    is_step_key,
    judge_side_record,
    open_step,
    replay,
)
from models.referral import Referral, notification_rules, read_referral
from tests.conftest import make_referral
from tests.unit.test_lifecycle import BY, FULL_LCSPR, GOOD, POLICY, REFERENCE, TODAY, answer, drive, reach, start

SIBLINGS = [
    {"pseudonym": "Sibling B", "harm": "died", "looked_after": True},
    {"pseudonym": "Child C", "harm": "neither"},
]


def three_siblings(**overrides: Any) -> Referral:
    return make_referral(other_children=SIBLINGS, **overrides)


# -- one incident, several children
def test_a_referral_names_each_child_with_their_own_harm_and_care_status() -> None:
    referral = three_siblings()
    assert [(c.pseudonym, c.harm, c.looked_after) for c in referral.children] == [
        ("Child A", "seriously_harmed", False), ("Sibling B", "died", True), ("Child C", "neither", False)]
    assert referral.pseudonym == "Child A +2"


def test_a_referral_stored_before_siblings_reads_as_one_child() -> None:
    stored = make_referral().model_dump(mode="json")
    del stored["other_children"]  # the shape every review referred before this release has
    referral = read_referral(stored)
    assert [c.pseudonym for c in referral.children] == ["Child A"] and referral.pseudonym == "Child A"


def test_two_children_may_not_share_a_pseudonym() -> None:
    with pytest.raises(Refused, match="same pseudonym"):
        read_referral({**make_referral().model_dump(mode="json"),
                       "other_children": [{"pseudonym": "Child A", "harm": "died"}]})


def test_a_sibling_named_instead_of_pseudonymised_is_refused_without_echoing_the_name() -> None:
    with pytest.raises(Refused) as refused:
        read_referral({**make_referral().model_dump(mode="json"),
                       "other_children": [{"pseudonym": "Jayden Smith", "harm": "died"}]})
    assert "Jayden" not in str(refused.value) and "pseudonym" in str(refused.value)


def test_the_death_of_one_looked_after_sibling_makes_the_incident_notifiable_whatever_is_suspected() -> None:
    review = start(other_children=SIBLINGS, abuse_or_neglect="not_suspected")
    with pytest.raises(Refused, match="Sibling B died while looked after"):
        decide(review, "notification-1", answer(decided_on="2026-03-05", outcome="not_notifiable",
                                                rationale="No abuse or neglect suspected."), TODAY, POLICY)


def test_the_notification_rules_are_shown_per_child_on_the_notification_step() -> None:
    step = open_step(start(other_children=SIBLINGS), POLICY)
    assert step is not None
    assert "- Child A: seriously harmed, abuse or neglect suspected: meets the criteria, notify" in step.question
    assert "- Sibling B: died while looked after: must be notified whatever the cause" in step.question
    assert "- Child C: neither died nor seriously harmed: not notifiable on its own" in step.question


def test_more_children_than_the_notification_form_takes_are_given_in_its_free_text() -> None:
    more = [{"pseudonym": f"Child {letter}", "harm": "seriously_harmed"} for letter in "BCDE"]
    assert "give the others in its free text" in notification_rules(make_referral(other_children=more))[-1]
    assert "free text" not in " ".join(notification_rules(three_siblings()))


def test_one_rapid_review_and_one_decision_cover_every_child_of_the_incident() -> None:
    review = drive(start(other_children=SIBLINGS), [GOOD["notification-1"], GOOD["rapid-review-1"],
                                                     GOOD["chair-decision-1"]])
    assert review.stage is Stage.INFORMING_BODIES
    assert [c.key for c in review.clocks].count("rapid_review") == 1


def test_a_care_leavers_death_among_siblings_who_meet_the_criteria_still_has_a_rapid_review() -> None:
    leaver = [{"pseudonym": "Young Person B", "harm": "died", "care_leaver": True}]
    review = drive(start(other_children=leaver), [GOOD["notification-1"]])
    assert review.stage is Stage.RAPID_REVIEW
    alone = drive(start(harm="neither", other_children=leaver, abuse_or_neglect="not_suspected"),
                  [GOOD["notification-1"]])
    assert alone.stage is Stage.AWAITING_DECISION and not alone.has_clock("rapid_review")


# -- the rapid review as Working Together 2023 asks for it
def test_the_rapid_review_must_say_how_racism_and_other_inequalities_were_considered() -> None:
    review = reach("rapid-review-1")
    payload = {k: v for k, v in GOOD["rapid-review-1"].items() if k != "inequalities"}
    with pytest.raises(Refused, match="inequalities: Field required"):
        decide(review, "rapid-review-1", payload, TODAY, POLICY)


def test_a_rapid_review_answered_before_the_fuller_form_replays_with_its_gaps_marked() -> None:
    old = {k: v for k, v in GOOD["rapid-review-1"].items()
           if k not in ("facts", "practice_episodes", "learning_shared", "possible_improvements", "inequalities")}
    log = [LoggedDecision("notification-1", GOOD["notification-1"], True),
           LoggedDecision("rapid-review-1", old, True)]
    review = replay(REFERENCE, make_referral(), log, POLICY)
    assert review.stage is Stage.AWAITING_DECISION and review.clock("rapid_review").met_on == date(2026, 3, 20)
    with pytest.raises(Refused):  # a new answer of that shape is refused
        decide(reach("rapid-review-1"), "rapid-review-1", old, TODAY, POLICY)


# -- the National Panel's response
def panel(response: str = "agreed", on: str = "2026-04-02", **more: Any) -> dict[str, Any]:
    return {"response": response, "received_on": on, "by": BY, **more}


def record(review: Review, prefix: str, payload: dict[str, Any], today: date = TODAY) -> tuple[str, Review]:
    key, _, after = judge_side_record(review, prefix, payload, today, POLICY)
    return key, after


def test_the_panels_response_is_recorded_with_its_date_whatever_step_is_open() -> None:
    review = reach("inform-bodies-1")  # the rapid review went on 20 March; the Chair has decided
    step_before = open_step(review, POLICY)
    key, review = record(review, PANEL_RESPONSE, panel("asked_for_more", "2026-04-02", note="Asked for chronology."))
    key2, review = record(review, PANEL_RESPONSE, panel("agreed", "2026-04-20"))
    assert (key, key2) == ("panel-response-1", "panel-response-2")
    assert [(r.response, r.received_on) for r in review.panel_responses] == [
        ("asked_for_more", date(2026, 4, 2)), ("agreed", date(2026, 4, 20))]
    assert open_step(review, POLICY) == step_before


def test_no_panel_response_before_the_rapid_review_went_to_the_panel() -> None:
    with pytest.raises(Refused, match="no rapid review sent"):
        record(reach("rapid-review-1"), PANEL_RESPONSE, panel())
    with pytest.raises(Refused, match="before the rapid review went"):
        record(reach("chair-decision-1"), PANEL_RESPONSE, panel(on="2026-03-19"))


# -- actions from day one
def immediate(due: str = "2026-04-30", on: str = "2026-03-10", **more: Any) -> dict[str, Any]:
    return {"kind": "immediate_safety", "action": "Check the safety plans of the other children in the home",
            "owner_agency": "Children's Social Care", "due_on": due, "agreed_on": on, "by": BY, **more}


def done(number: int, on: str, evidence: str = "Safety plans reviewed and signed off.") -> dict[str, Any]:
    return {"action_number": number, "completed_on": on, "evidence": evidence, "by": BY}


def test_an_immediate_action_during_the_rapid_review_has_a_clock_and_leaves_the_open_step_alone() -> None:
    review = reach("rapid-review-1")
    step_before = open_step(review, POLICY)
    key, review = record(review, IMMEDIATE_ACTION, immediate())
    assert key == "immediate-action-1" and not is_step_key(key)
    action = review.actions[0]
    assert (action.number, action.kind, action.recommendation_number, action.agreed_on) == (
        1, "immediate_safety", 0, date(2026, 3, 10))
    clock = review.clock("action:action-1")
    assert clock.owner_role == "agency-children-s-social-care" and clock.due(POLICY.calendar) == date(2026, 4, 30)
    assert open_step(review, POLICY) == step_before


def test_no_immediate_action_before_the_incident_is_notified() -> None:
    with pytest.raises(Refused, match="from the rapid review onwards"):
        record(start(), IMMEDIATE_ACTION, immediate())


def test_an_immediate_action_with_identifying_text_is_refused() -> None:
    with pytest.raises(IdentifierFound):
        record(reach("rapid-review-1"), IMMEDIATE_ACTION, immediate(action="Visit 14 Acacia Avenue, HP19 8FF today"))


def test_an_action_is_completed_once_with_evidence_and_its_clock_met() -> None:
    _, review = record(reach("rapid-review-1"), IMMEDIATE_ACTION, immediate())
    key, review = record(review, ACTION_COMPLETED, done(1, "2026-04-20"))
    assert key == "action-completed-1"
    assert review.actions[0].completed_on == date(2026, 4, 20) and review.clock("action:action-1").met_on
    with pytest.raises(Refused, match="already completed"):
        record(review, ACTION_COMPLETED, done(1, "2026-04-21"))
    with pytest.raises(Refused, match="no action 2"):
        record(review, ACTION_COMPLETED, done(2, "2026-04-21"))


def test_the_action_plans_step_keys_do_not_move_when_an_immediate_action_is_recorded() -> None:
    review = reach("action-1")
    _, with_immediate = record(review, IMMEDIATE_ACTION, immediate(due="2026-12-01", on="2026-09-02"))
    assert open_step(with_immediate, POLICY).key == open_step(review, POLICY).key == "action-1"
    after = decide(with_immediate, "action-1", GOOD["action-1"], TODAY, POLICY).review
    assert [a.number for a in after.actions] == [1, 2] and after.actions[1].kind == "plan"


def test_the_plans_monitoring_completes_immediate_actions_too_and_closes_only_when_all_are_done() -> None:
    _, review = record(reach("rapid-review-1"), IMMEDIATE_ACTION, immediate(due="2027-02-01"))
    keys = [key for key, _, _, _ in FULL_LCSPR]
    review = drive(review, [GOOD[k] for k in keys[keys.index("rapid-review-1"):keys.index("action-update-1")]])
    # Immediate action 1, then plan actions 2 and 3: the monitoring step waits on all three.
    assert review.stage is Stage.ACTION_MONITORING and len(review.open_actions) == 3
    with pytest.raises(Refused, match="answer to its open step"):
        record(review, ACTION_COMPLETED, done(1, "2026-10-01"))
    for number, day in ((2, "2026-10-01"), (3, "2026-10-02"), (1, "2026-10-05")):
        review = drive(review, [answer(decided_on=day, action_number=number, evidence="Audit and records checked.")])
    assert review.stage is Stage.CLOSURE


def test_a_review_does_not_close_while_an_action_is_open() -> None:
    review = reach("chair-decision-1")
    _, review = record(review, IMMEDIATE_ACTION, immediate())
    no_review = answer(decided_on="2026-04-01", outcome="no_further_review", decider_role="independent_chair",
                       delegation="Partnership arrangements 2024, s.4", rationale="Learning already taken forward.")
    review = decide(review, "chair-decision-1", no_review, TODAY, POLICY).review
    # The decision is made; the immediate action still runs and the closure waits for it.
    assert review.stage is Stage.CLOSURE and review.clock("action:action-1").state_on(
        date(2026, 4, 2), POLICY.calendar).value == "running"
    closing = answer(decided_on="2026-04-10", impact_evidence="Learning shared with every agency.")
    with pytest.raises(Refused, match="still open: action 1"):
        decide(review, "closure-1", closing, TODAY, POLICY)
    _, review = record(review, ACTION_COMPLETED, done(1, "2026-04-20"))
    closed = decide(review, "closure-1", {**closing, "decided_on": "2026-04-20"}, TODAY, POLICY).review
    assert closed.stage is Stage.CLOSED


def test_records_beside_the_steps_replay_to_the_same_review() -> None:
    review = reach("chair-decision-1")
    log = [LoggedDecision(k, GOOD[k], True) for k in ("notification-1", "rapid-review-1")]
    for prefix, payload in ((IMMEDIATE_ACTION, immediate()), (PANEL_RESPONSE, panel()),
                            (ACTION_COMPLETED, done(1, "2026-04-20"))):
        key, value, review = judge_side_record(review, prefix, payload, TODAY, POLICY)
        log.append(LoggedDecision(key, value.model_dump(mode="json"), True))
    replayed = replay(REFERENCE, make_referral(), log, POLICY)
    assert replayed == review
    assert replace(replayed, panel_responses=()) != review

"""One incident, three children, against a real Prefect server: the notification rules are judged per child,
one rapid review and one decision cover them all, and what is recorded beside the steps (an immediate action,
the National Panel's response) leaves the suspended run waiting where it was."""

from __future__ import annotations

from lcspr.cli import main
from lcspr.settings import Settings
from notifications.artifacts import review_key
from tests.conftest import make_referral
from tests.flows import answers as A
from tests.flows.conftest import RegisterReader, ReviewDriver
from tests.flows.test_review_flow import artifact_versions

SIBLINGS = [
    {"pseudonym": "Sibling B", "harm": "died", "looked_after": True},
    {"pseudonym": "Child C", "harm": "neither"},
]


def test_three_siblings_one_of_whom_died_while_looked_after(driver: ReviewDriver, register: RegisterReader,
                                                            flow_settings: Settings) -> None:
    from services import side_records

    run_id = driver.start(make_referral(agency_reference="FLOW-SIBLINGS", other_children=SIBLINGS))
    ref = register.reference("FLOW-SIBLINGS")
    stored = register.stored(ref)
    assert [c.pseudonym for c in stored.referral.children] == ["Child A", "Sibling B", "Child C"]

    # The notification is one for the incident; its form says what the rules make of each child.
    step = register.open_step(ref)
    assert step is not None and step.key == "notification-1"
    for line in ("Child A: seriously harmed, abuse or neglect suspected: meets the criteria, notify",
                 "Sibling B: died while looked after: must be notified whatever the cause",
                 "Child C: neither died nor seriously harmed: not notifiable on its own"):
        assert line in step.question

    # The death of the looked-after sibling must be notified: "not notifiable" is refused and asked again.
    not_notifiable = {**A.NOTIFIED, "outcome": "not_notifiable", "panel_reference": "",
                      "rationale": "Abuse or neglect is not suspected in the death."}
    driver.answer(run_id, not_notifiable)
    assert register.open_key(ref) == "notification-1-retry-2"
    refused = register.open_step(ref)
    assert refused is not None and "Sibling B died while looked after" in refused.last_refusal

    assert driver.answer(run_id, A.NOTIFIED) == "Suspended" and register.open_key(ref) == "rapid-review-1"
    # An immediate safety action for the surviving children, recorded while the run waits on the rapid review:
    # the run waits on as it was, and the review's summary in the Prefect UI shows the action's clock at once.
    summary = review_key(ref, "summary")
    before = len(artifact_versions(summary))
    assert main(["action", ref, "--add", "immediate_safety", "--action",
                 "Safety plans for the surviving children reviewed at once", "--owner", "Childrens Social Care",
                 "--due", "2026-04-30", "--on", "2026-03-10", "--by", "A. Jones, Partnership Manager"],
                settings=flow_settings, app=lambda _: register.app) == 0
    assert driver.state(run_id).name == "Suspended" and register.open_key(ref) == "rapid-review-1"
    versions = artifact_versions(summary)
    assert len(versions) == before + 1
    assert "| Action 1 |" in str(versions[-1].data)  # its clock
    assert "| 1 | immediate safety action | Childrens Social Care | 30 Apr 2026 | open |" in str(versions[-1].data)

    assert driver.answer(run_id, A.RAPID_REVIEW) == "Suspended" and register.open_key(ref) == "chair-decision-1"
    side_records.record_panel_response(register.app, ref, {
        "response": "agreed", "received_on": "2026-03-31", "by": "A. Jones, Partnership Manager"})
    assert driver.answer(run_id, A.LCSPR) == "Suspended" and register.open_key(ref) == "inform-bodies-1"

    accepted = [d.key for d in register.decisions(ref) if d.accepted]
    assert accepted == ["notification-1-retry-2", "immediate-action-1", "rapid-review-1", "panel-response-1",
                        "chair-decision-1"]
    review = register.load(ref)
    assert review.stage == "informing_bodies" and review.route == "lcspr"
    assert [c.key for c in review.clocks].count("rapid_review") == 1
    assert [(a.kind, a.completed_on) for a in review.actions] == [("immediate_safety", None)]
    assert register.verify_audit(ref) == []

"""Actions from day one, on the real register with Apprise sending to a local SMTP server: an immediate
action recorded during the rapid review (``lcspr action``) is reminded and escalated by the daily sweep
while publication is deferred for months, is completed with evidence before publication, and falls silent.
The National Panel's response (``lcspr panel-response``) is recorded beside the steps the same way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from lcspr.cli import main
from lcspr.settings import Settings
from models.lifecycle import Stage
from notifications.local_smtp import LocalOutbox
from services import answers, messages, queries, referrals
from services.app import App
from tests.conftest import make_app, make_referral, routed_mailbox
from tests.fakes import FrozenClock
from tests.flows import answers as A

AGENCY = "agency-childrens-social-care"
DEFERRED_AGAIN = {**A.DEFERRED, "decided_on": "2026-09-01", "deferral_details": "Trial moved to January."}
PUBLISHED = {**A.PUBLISHED, "decided_on": "2027-02-01"}


@pytest.fixture
def mailbox(settings: Settings) -> Iterator[LocalOutbox]:
    with routed_mailbox(settings, {AGENCY: "csc@partnership.test"}) as box:
        yield box


@pytest.fixture
def app(settings: Settings, mailbox: LocalOutbox) -> App:
    return make_app(settings, date(2026, 3, 3))


def on(app: App, day: date) -> None:
    assert isinstance(app.clock, FrozenClock)
    app.clock.at = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)


def lcspr(app: App, settings: Settings, *args: str) -> int:
    return main(list(args), settings=settings, app=lambda _: app)


def answer(app: App, reference: str, key: str, payload: dict[str, Any]) -> None:
    on(app, date.fromisoformat(payload["decided_on"]))
    outcome = answers.record_answer(app, reference, key, payload)
    assert outcome.accepted, outcome.reason


def action_mail(mailbox: LocalOutbox, since: int) -> list[tuple[str, str]]:
    return [(str(m["To"]).split("@")[0], str(m["Subject"])) for m in mailbox.messages()[since:]
            if "Action 1 " in str(m["Subject"]) or "Action 1 (" in str(m["Subject"])]


def test_an_immediate_action_is_chased_through_a_long_deferral_and_completed_before_publication(
        app: App, settings: Settings, mailbox: LocalOutbox, capsys: pytest.CaptureFixture[str]) -> None:
    referral = make_referral(la_aware_date=date(2026, 3, 3), incident_date=date(2026, 3, 2))
    reference = referrals.register_referral(app, referral).reference
    answer(app, reference, "notification-1", A.NOTIFIED)

    # During the rapid review: the partners agree an immediate safety action for the other children.
    on(app, date(2026, 3, 12))
    assert lcspr(app, settings, "action", reference, "--add", "immediate_safety", "--action",
                 "Review the safety plans of every child in the household", "--owner", "Childrens Social Care",
                 "--due", "2026-09-30", "--on", "2026-03-12", "--by", "A. Jones, Partnership Manager") == 0
    assert "action 1 recorded (immediate, Childrens Social Care, due 2026-09-30)" in capsys.readouterr().out

    keys = [key for key, _ in A.FULL_LCSPR]
    for key, payload in A.FULL_LCSPR[keys.index("rapid-review-1"):keys.index("publication-1") + 1]:
        answer(app, reference, key, payload)  # the run's answers, through the first deferral
    answer(app, reference, "publication-2", DEFERRED_AGAIN)
    on(app, date(2026, 4, 7))
    assert lcspr(app, settings, "panel-response", reference, "agreed", "--on", "2026-04-07", "--by",
                 "A. Jones, Partnership Manager", "--note", "Agreed with the decision to hold an LCSPR.") == 0

    # Publication is deferred until the trial: the action's clock runs on, reminded and escalated.
    chased: dict[date, list[tuple[str, str]]] = {}
    for day in (date(2026, 9, 23), date(2026, 9, 29), date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 7)):
        on(app, day)
        before = len(mailbox.messages())
        report = messages.sweep(app)
        assert report.delivery.failed == {}
        chased[day] = action_mail(mailbox, before)
    status = queries.status(app, reference)
    assert status["stage"] == Stage.PUBLICATION.value and status["open_step"]["key"] == "publication-3"
    words = {day: sorted((to, subject.split(":")[0].split("] ")[-1]) for to, subject in mail)
             for day, mail in chased.items()}
    assert words == {
        date(2026, 9, 23): [("csc", "Reminder")],  # 5 working days before
        date(2026, 9, 29): [("csc", "Reminder")],  # 1 working day before
        date(2026, 9, 30): [("csc", "Due today")],
        date(2026, 10, 1): [("business_unit_manager", "Escalation"), ("csc", "Overdue"),
                            ("subgroup_chair", "Escalation")],
        date(2026, 10, 7): [("csc", "Overdue"), ("independent_chair", "Escalation")],
    }

    # Completed with evidence, before publication: the chasing stops.
    on(app, date(2026, 10, 8))
    assert lcspr(app, settings, "action", reference, "--complete", "1", "--on", "2026-10-08", "--evidence",
                 "Safety plans reviewed for all three children; audit signed off by the head of service.",
                 "--by", "A. Jones, Partnership Manager") == 0
    for day in (date(2026, 10, 9), date(2026, 10, 14)):
        on(app, day)
        before = len(mailbox.messages())
        messages.sweep(app)
        assert action_mail(mailbox, before) == []
    answer(app, reference, "publication-3", PUBLISHED)

    status = queries.status(app, reference)
    action = status["actions"][0]
    assert (action["kind"], action["completed_on"], action["agreed_on"]) == (
        "immediate_safety", "2026-10-08", "2026-03-12")
    assert status["stage"] == Stage.ACTION_PLAN.value  # the plan's own actions follow, numbered on from 2
    assert status["open_step"]["key"] == "action-1"
    assert queries.incident(app, reference)["panel_responses"] == [{"response": "agreed", "received_on": "2026-04-07",
                                          "note": "Agreed with the decision to hold an LCSPR."}]
    events = [e.event for e in queries.audit_trail(app, reference)]
    assert {"immediate_action_recorded", "action_completed", "panel_response_recorded"} <= set(events)
    assert queries.verify_audit(app, reference).problems == []


def test_a_completion_refused_says_why_and_keeps_nothing(app: App, settings: Settings,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    reference = referrals.register_referral(app, make_referral(la_aware_date=date(2026, 3, 3))).reference
    on(app, date(2026, 3, 4))
    assert lcspr(app, settings, "action", reference, "--add", "improvement", "--action", "Audit referrals",
                 "--owner", "Frimley ICB", "--due", "2026-05-01", "--on", "2026-03-04", "--by", "A. Jones") == 2
    assert "from the rapid review onwards" in capsys.readouterr().err
    assert lcspr(app, settings, "panel-response", reference, "agreed", "--on", "2026-03-04", "--by", "A. Jones") == 2
    assert "no rapid review sent" in capsys.readouterr().err
    assert queries.status(app, reference)["actions"] == []

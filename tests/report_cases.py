"""Reviews with known answers, for the yearly report's tests: the figures each gives are worked out by
hand in the comments (working days by ``models.workdays``, England's bank holidays).

:func:`stored_review` builds one as the register would hold it, with the domain alone (the unit tests);
:func:`seed` records it through the use cases, on the day of each answer (the integration tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from models.errors import Refused
from models.lifecycle import LoggedDecision, Policy, decide, open_review, open_step, refuse
from models.records import StoredReview
from models.referral import Referral
from services import answers, referrals, reviews
from services.app import App
from tests.conftest import make_referral
from tests.fakes import FrozenClock
from tests.flows import answers as A


@dataclass(frozen=True)
class Case:
    """A referral and its answers in order; an answer in ``refused`` is refused (and asked again)."""

    agency_reference: str
    aware: date
    answers: list[Mapping[str, Any]]
    refused: list[int] = field(default_factory=list)  # indexes into answers
    referral: Mapping[str, Any] = field(default_factory=dict)

    def make_referral(self) -> Referral:
        return make_referral(agency_reference=self.agency_reference, la_aware_date=self.aware,
                             incident_date=self.aware, **self.referral)


# Aware Tue 3 Mar 2026. Notified 5 Mar (due 10 Mar: on time); rapid review 20 Mar (due 26 Mar: on time);
# LCSPR decided 1 Apr (publish by 1 Oct); deferred 3 Aug (criminal proceedings); published 1 Sep (on time);
# 2 recommendations, both actions completed by their due dates; closed 2 Nov.
FULL = Case("REP-FULL", date(2026, 3, 3), [answer for _, answer in A.FULL_LCSPR])

# Aware Mon 1 Jun. Notified 10 Jun (due 8 Jun: late); a rapid review refused on 2 Jul (not sent to the
# Panel), then given 3 Jul (due 1 Jul: late); LCSPR decided 10 Jul (publish by 10 Jan 2027: not yet due
# at the end of 2026); agency reports asked on 30 Jul, due 27 Aug, none in: 87 working days late on 31 Dec.
LATE = Case("REP-LATE", date(2026, 6, 1), [
    A.a(decided_on="2026-06-10", outcome="notified", panel_reference="NP-2026-201"),
    {**A.RAPID_REVIEW, "decided_on": "2026-07-02", "sent_to_panel": False},
    {**A.RAPID_REVIEW, "decided_on": "2026-07-03"},
    {**A.LCSPR, "decided_on": "2026-07-10"},
    {**A.INFORMED, "decided_on": "2026-07-14"},
    {**A.AUTHOR, "decided_on": "2026-07-20"},
    {**A.TOR, "decided_on": "2026-07-30", "agencies_in_scope": "Thames Valley Police"},
], refused=[1])

# Aware Tue 1 Sep. Not notifiable (2 Sep); a practice review decided 15 Sep; its learning (1 Oct) gives
# 2 recommendations; one action agreed (rec. 1, due 30 Nov, still open: overdue on 31 Dec), none yet
# for rec. 2.
LEARNING = Case("REP-LEARN", date(2026, 9, 1), [
    A.a(decided_on="2026-09-02", outcome="not_notifiable", rationale="No abuse or neglect was suspected."),
    {**A.LCSPR, "decided_on": "2026-09-15", "outcome": "practice_review"},
    A.a(decided_on="2026-10-01", learning="Escalation between agencies was slow.",
        recommendations="Publish an escalation protocol | Audit supervision of new staff"),
    A.a(decided_on="2026-10-02", recommendation_number=1, owner_agency="Frimley ICB",
        action="Publish the escalation protocol", due_on="2026-11-30"),
])

# Aware Thu 1 Oct. Notified 2 Oct (due 8 Oct: on time); rapid review 20 Oct (due 23 Oct: on time);
# no further review (25 Oct): closed.
NO_FURTHER = Case("REP-NFR", date(2026, 10, 1), [
    A.a(decided_on="2026-10-02", outcome="notified", panel_reference="NP-2026-305"),
    {**A.RAPID_REVIEW, "decided_on": "2026-10-20"},
    {**A.LCSPR, "decided_on": "2026-10-26", "outcome": "no_further_review"},
])

# Aware Mon 21 Dec. Nothing done: the notification was due 30 Dec (after Christmas and Boxing Day), so
# overdue on 31 Dec.
WAITING = Case("REP-WAIT", date(2026, 12, 21), [])

# Aware in 2025: outside a report on 2026.
EARLIER = Case("REP-2025", date(2025, 12, 15), [
    A.a(decided_on="2025-12-16", outcome="notified", panel_reference="NP-2025-990"),
])

CASES = [FULL, LATE, LEARNING, NO_FURTHER, WAITING, EARLIER]


def stored_review(reference: str, case: Case, policy: Policy) -> StoredReview:
    """The review as the register holds it after ``case``'s answers: its referral and its decision log."""
    referral = case.make_referral()
    review = open_review(reference, referral, policy)
    log: list[LoggedDecision] = []
    for i, payload in enumerate(case.answers):
        step = open_step(review, policy)
        assert step is not None
        day = date.fromisoformat(str(payload["decided_on"]))
        try:
            accepted = decide(review, step.key, payload, day, policy)
        except Refused as refusal:
            assert i in case.refused, refusal.reason
            log.append(LoggedDecision(step.key, dict(payload), False, refusal.reason))
            review = refuse(review, refusal.reason)
            continue
        assert i not in case.refused
        log.append(LoggedDecision(step.key, accepted.answer.model_dump(mode="json"), True))
        review = accepted.review
    return StoredReview(reference, referral, None, tuple(log), reference)


def seed(app: App, case: Case) -> str:
    """Refer ``case`` and record its answers through the use cases, each on its own day; its reference."""
    clock = app.clock
    assert isinstance(clock, FrozenClock)
    clock.set(case.aware)
    reference = referrals.register_referral(app, case.make_referral()).reference
    for i, payload in enumerate(case.answers):
        clock.set(date.fromisoformat(str(payload["decided_on"])))
        step = reviews.waiting_on(app, reference)
        assert step is not None
        outcome = answers.record_answer(app, reference, step.key, payload)
        assert outcome.accepted == (i not in case.refused), outcome.reason
    return reference

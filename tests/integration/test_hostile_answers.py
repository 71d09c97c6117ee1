"""What a review's run does with a hostile answer, on the real register (PostgreSQL in CI's second pass).

A NUL byte in any text once failed the run on PostgreSQL (its text columns refuse NUL) when the
refused answer was written to the decision log. The run records an answer through
``record_answer``; here every field of the open step's answer, and of a referral, gets a NUL or
another control character: each is refused, the refusal recorded, and the review still takes
the good answer afterwards.
"""

from __future__ import annotations

from datetime import date

import pytest

from lcspr.settings import Settings
from models.errors import Refused
from models.referral import read_referral
from services import answers, queries, referrals
from tests.conftest import make_app, make_referral
from tests.flows import answers as A

POISON = ["\x00", "\x01", "\x1b", "\u202e", "\u200b", "\ud800"]
FIELDS = sorted(A.NOTIFIED)


@pytest.mark.parametrize("poison", POISON, ids=[f"U+{ord(p):04X}" for p in POISON])
def test_a_control_character_in_any_field_of_an_answer_is_refused_and_the_review_goes_on(settings: Settings,
                                                                                        poison: str) -> None:
    app = make_app(settings, date(2026, 3, 10))
    reference = referrals.register_referral(app, make_referral()).reference
    key = "notification-1"
    for attempt, field in enumerate(FIELDS, start=1):
        key = "notification-1" if attempt == 1 else f"notification-1-retry-{attempt}"
        spoiled = {**A.NOTIFIED, field: f"{str(A.NOTIFIED[field])[:3]}{poison}x"}
        outcome = answers.record_answer(app, reference, key, spoiled)
        assert not outcome.accepted, field
        assert poison not in outcome.reason
    last = queries.decisions(app, reference)
    assert len(last) == len(FIELDS) and not any(d.accepted for d in last)
    assert all(poison not in str(d.payload) and poison not in d.decided_by for d in last)
    done = answers.record_answer(app, reference, f"notification-1-retry-{len(FIELDS) + 1}", A.NOTIFIED)
    assert done.accepted and done.next_step is not None and done.next_step.key == "rapid-review-1"


@pytest.mark.parametrize("field", ["referring_agency", "agency_reference", "referred_by", "outline"])
def test_a_nul_in_a_referral_is_refused_and_nothing_is_written(settings: Settings, field: str) -> None:
    app = make_app(settings, date(2026, 3, 10))
    raw = {**make_referral().model_dump(mode="json"), field: "Thames\x00Valley"}
    with pytest.raises(Refused, match=field):
        referrals.register_referral(app, read_referral(raw))
    assert queries.open_reviews(app).rows == []

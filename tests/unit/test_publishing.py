"""Publishing the artifacts on the fakes: a new version under a key only when its content changed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pytest

from models.errors import Unavailable
from services import answers, artifacts, messages, referrals
from tests.conftest import make_referral
from tests.fakes import FakeDispatcher, FakeRuns, FrozenClock, fake_app
from tests.flows import answers as A

TODAY = date(2026, 3, 3)
SUMMARY, TIMELINE, PROGRESS = (f"review-lcspr-2026-0001-{part}" for part in ("summary", "timeline", "progress"))
PORTFOLIO = "lcspr-portfolio"


class World:
    def __init__(self) -> None:
        self.runs = FakeRuns()
        self.mail = FakeDispatcher()
        self.app = fake_app(TODAY, runs=self.runs, dispatcher=self.mail)
        assert isinstance(self.app.clock, FrozenClock)
        self.clock = self.app.clock

    def refer(self, **overrides: object) -> str:
        """Refer a review and let its run attach itself, as a worker's run does when it starts."""
        started = referrals.refer(self.app, make_referral(**overrides))
        assert started.flow_run_id is not None
        referrals.attach_run(self.app, started.reference, started.flow_run_id)
        return started.reference

    def answer(self, reference: str, key: str, payload: Mapping[str, Any]) -> None:
        self.clock.set(date.fromisoformat(str(payload["decided_on"])))
        assert answers.record_answer(self.app, reference, key, payload).accepted

    def versions(self, key: str) -> int:
        return len(self.runs.artifacts.get(key, []))

    def latest(self, key: str) -> Any:
        return self.runs.artifacts[key][-1].data


@pytest.fixture
def w() -> World:
    return World()


def test_a_reviews_artifacts_are_published_once_and_a_replay_adds_no_version(w):
    ref = w.refer()

    assert artifacts.publish_review(w.app, ref) == [SUMMARY, TIMELINE, PROGRESS]
    # The flow runs again from the top at every resume: the same content, no new version.
    assert artifacts.publish_review(w.app, ref) == []
    assert artifacts.publish_review(w.app, ref) == []
    assert [w.versions(k) for k in (SUMMARY, TIMELINE, PROGRESS)] == [1, 1, 1]
    assert w.latest(PROGRESS) == 0.0
    assert all(v.flow_run_id == "run-1" for k in (SUMMARY, TIMELINE, PROGRESS) for v in w.runs.artifacts[k])


def test_an_answer_makes_one_new_version_of_each_artifact_it_changed(w):
    ref = w.refer()
    artifacts.publish_review(w.app, ref)

    w.answer(ref, "notification-1", A.NOTIFIED)
    assert artifacts.publish_review(w.app, ref) == [SUMMARY, TIMELINE, PROGRESS]
    assert artifacts.publish_review(w.app, ref) == []

    assert [w.versions(k) for k in (SUMMARY, TIMELINE, PROGRESS)] == [2, 2, 2]
    assert w.latest(PROGRESS) == 6.2  # 1 of 16 steps
    assert "| Stage | Rapid review |" in w.latest(SUMMARY)
    assert "`rapid-review-1`" in w.latest(SUMMARY)


def test_a_later_day_changes_only_what_reads_the_day(w):
    ref = w.refer()
    artifacts.publish_review(w.app, ref)

    w.clock.set(date(2026, 3, 4))
    assert artifacts.publish_review(w.app, ref) == [SUMMARY, TIMELINE]
    assert w.versions(PROGRESS) == 1


def test_the_portfolio_gets_a_new_version_only_when_the_open_reviews_change(w):
    first = w.refer()
    assert artifacts.publish_portfolio(w.app) is True
    assert artifacts.publish_portfolio(w.app) is False

    second = w.refer(agency_reference="POL-2026-0099")
    assert artifacts.publish_portfolio(w.app) is True
    text = w.latest(PORTFOLIO)
    assert first in text and second in text
    assert w.versions(PORTFOLIO) == 2
    assert w.runs.artifacts[PORTFOLIO][-1].flow_run_id is None


def test_a_review_closed_leaves_the_portfolio(w):
    ref = w.refer()
    w.answer(ref, "notification-1", A.NOTIFIED)
    w.answer(ref, "rapid-review-1", A.RAPID_REVIEW)
    w.answer(ref, "chair-decision-1", {**A.LCSPR, "outcome": "no_further_review"})

    assert "**0 open reviews**." in artifacts.portfolio(w.app)
    artifacts.publish_review(w.app, ref)
    assert "Nothing: the review is closed on 1 Apr 2026." in w.latest(SUMMARY)
    assert w.latest(PROGRESS) == 100.0


def test_the_portfolio_lists_the_most_urgent_review_first_and_no_child_detail(w):
    older = w.refer(la_aware_date=date(2026, 2, 20), incident_date=date(2026, 2, 19))
    newer = w.refer(agency_reference="POL-2026-0099")

    text = artifacts.portfolio(w.app)

    assert text.index(older) < text.index(newer)
    assert "**2 open reviews** (1 red, 1 amber, 0 green)." in text
    assert "Child A" not in text and "infant" not in text


def test_publishing_with_prefect_down_raises_unavailable(w):
    ref = w.refer()
    w.runs.reachable = False

    with pytest.raises(Unavailable):
        artifacts.publish_review(w.app, ref)


def test_every_email_links_to_the_portfolio(w):
    w.refer()
    messages.deliver(w.app)

    assert w.mail.sent
    for _, message in w.mail.sent:
        assert "Every open review (the portfolio): http://127.0.0.1:4200/v2/artifacts/key/lcspr-portfolio" \
            in message.text
        assert 'href="http://127.0.0.1:4200/v2/artifacts/key/lcspr-portfolio"' in message.html

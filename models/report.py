"""The figures of a partnership's yearly report on its reviews, and one row per review in the fields of
the NHS Safeguarding Case Review Tracker (``lcspr report annual``).

**Which reviews.** The reviews *referred* in the period: the local authority became aware of the
incident (the referral's ``la_aware_date``, which starts the notification clock) on or between the
period's first and last day. Every figure is about those reviews, wherever they have got to since.

**As they stood when.** On the period's last day, or today if that is earlier: each review is rebuilt
from its decision log up to the first decision dated after that day, so a report on a past year gives
the same figures whenever it is run (a decision recorded later but dated within the year counts).

**On time** is measured against the rule itself (5 working days from awareness, 15 from the
notification, 6 calendar months from the decision to hold an LCSPR, an action's own due date), not
against an agreed extension or a pause: a deferred publication counts as late, and the deferrals are
given with their reasons beside it. Something not yet done is *overdue* once that day has passed and
*pending* before.

**Themes** (a column of the Tracker) are those recorded beside each review's recommendations
(``models.themes``); ``models.learning`` adds them to the rows and the section "Learning by theme".

Pure: the stored reviews, the period, today and the policy are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import get_args

from models.clocks import Clock, ClockKind, ClockState
from models.errors import Refused
from models.lifecycle import LoggedDecision, Policy, Review, Route, Stage, is_step_key, open_step, replay
from models.records import StoredReview
from models.referral import Referral
from models.steps import ChairDecisionInput, PublicationInput, StepKind, parse_step_key
from models.theme_figures import LearningByTheme

# The Chair's possible decisions, in the order the form offers them.
OUTCOMES: tuple[str, ...] = get_args(ChairDecisionInput.model_fields["outcome"].annotation)
# The reasons a publication may be deferred for ("" is the form's "none").
DEFERRAL_REASONS: tuple[str, ...] = tuple(r for r in get_args(PublicationInput.model_fields["deferral_reason"]
                                                              .annotation) if r)
# A recommendation: every action of it completed, some still open, or none agreed yet.
RECOMMENDATION_STATUSES = ("completed", "in_progress", "no_action_yet")


@dataclass(frozen=True)
class Timeliness:
    """How many were done within their time, done later, are still to do though due, and are not due yet."""

    on_time: int = 0
    late: int = 0
    overdue: int = 0
    pending: int = 0

    @property
    def done(self) -> int:
        return self.on_time + self.late

    @property
    def total(self) -> int:
        return self.done + self.overdue + self.pending

    @property
    def share_on_time(self) -> float | None:
        """Of those done, the share done on time (None when none is done)."""
        return self.on_time / self.done if self.done else None

    def __add__(self, other: Timeliness) -> Timeliness:
        return Timeliness(self.on_time + other.on_time, self.late + other.late, self.overdue + other.overdue,
                          self.pending + other.pending)


NONE = Timeliness()


@dataclass(frozen=True)
class TrackerRow:
    """One review in the fields of the NHS Safeguarding Case Review Tracker, and the dates behind the figures.

    ``review_type`` is the Chair's decision (``lcspr``, ``reflective_learning_session``, ``practice_review``,
    ``national_review``, ``no_further_review``) or, before it, ``rapid_review`` or ``referral``.
    ``converted_from_rapid_review``: a rapid review became an LCSPR. ``slippage_working_days``: how far
    the open step is past its due date (0 on time; None when nothing is due).
    """

    reference: str
    referred_on: date
    review_type: str
    converted_from_rapid_review: bool
    stage: str
    stage_due: date | None
    slippage_working_days: int | None
    notified_on: date | None
    notified_on_time: bool | None
    rapid_review_on: date | None
    rapid_review_on_time: bool | None
    decision: str | None
    decided_on: date | None
    publication_due: date | None
    published_on: date | None
    publication_link: str
    published_on_time: bool | None
    deferrals: int
    deferral_reasons: tuple[str, ...]
    recommendations: int
    actions: int
    actions_completed: int
    actions_completed_on_time: int
    actions_overdue: int
    closed_on: date | None
    themes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnnualReport:
    """The figures for the reviews referred in ``start``..``end``, as they stood on ``as_of``."""

    start: date
    end: date
    as_of: date
    notification_working_days: int
    rapid_review_working_days: int
    publication_months: int
    notifications: Timeliness
    not_notifiable: int
    rapid_reviews: Timeliness
    decisions: Mapping[str, int]
    awaiting_decision: int
    publications: Timeliness
    deferrals: Mapping[str, int]
    deferred_now: int
    recommendations: Mapping[str, int]
    actions: Timeliness
    rows: tuple[TrackerRow, ...]
    # The section "Learning by theme" (``models.learning.with_learning``); None until it is added.
    learning: LearningByTheme | None = None
    # The children of the incidents referred (one referral may name several: ``models.referral``), as the
    # DfE's statistics on notifications count them: by nature (died, seriously harmed, other) and care status.
    children: Mapping[str, int] = field(default_factory=dict)

    @property
    def reviews(self) -> int:
        return len(self.rows)

    @property
    def commissioned(self) -> int:
        """LCSPRs the Chair decided to hold."""
        return self.decisions.get("lcspr", 0)

    @property
    def converted(self) -> int:
        return sum(r.converted_from_rapid_review for r in self.rows)


def annual_report(stored: Iterable[StoredReview], start: date, end: date, *, today: date,
                  policy: Policy) -> AnnualReport:
    """The yearly figures over the reviews referred from ``start`` to ``end`` (both included)."""
    if end < start:
        raise Refused(f"The period ends ({end}) before it starts ({start}).")
    as_of = min(end, today)
    cohort = sorted((s for s in stored if start <= s.referral.la_aware_date <= end),
                    key=lambda s: (s.referral.la_aware_date, s.reference))
    facts = [_facts(s, as_of, policy) for s in cohort]
    decisions = {o: sum(f.row.decision == o for f in facts) for o in OUTCOMES}
    deferrals = {r: sum(f.row.deferral_reasons.count(r) for f in facts) for r in DEFERRAL_REASONS}
    recommendations = {s: sum(f.recommendations.get(s, 0) for f in facts) for s in RECOMMENDATION_STATUSES}
    return AnnualReport(
        start=start, end=end, as_of=as_of,
        notification_working_days=policy.rule(ClockKind.SERIOUS_INCIDENT_NOTIFICATION).length,
        rapid_review_working_days=policy.rule(ClockKind.RAPID_REVIEW).length,
        publication_months=policy.rule(ClockKind.PUBLICATION).length,
        notifications=_sum(f.notification for f in facts),
        not_notifiable=sum(f.not_notifiable for f in facts),
        rapid_reviews=_sum(f.rapid_review for f in facts),
        decisions=decisions,
        awaiting_decision=sum(f.row.decision is None and f.row.stage != Stage.CLOSED.value for f in facts),
        publications=_sum(f.publication for f in facts),
        deferrals=deferrals,
        deferred_now=sum(f.deferred_now for f in facts),
        recommendations=recommendations,
        actions=_sum(f.actions for f in facts),
        rows=tuple(f.row for f in facts),
        children=children_counts(s.referral for s in cohort),
    )


CHILD_FIGURES = ("children", "died", "seriously_harmed", "other", "looked_after", "care_leavers")


def children_counts(referrals: Iterable[Referral]) -> dict[str, int]:
    """How many children the referrals name, by what happened to them and their care status."""
    counts = dict.fromkeys(CHILD_FIGURES, 0)
    for referral in referrals:
        for child in referral.children:
            counts["children"] += 1
            counts["other" if child.harm == "neither" else child.harm] += 1
            counts["looked_after"] += child.looked_after
            counts["care_leavers"] += child.care_leaver
    return counts


def log_as_of(log: Sequence[LoggedDecision], day: date) -> tuple[LoggedDecision, ...]:
    """The decision log as it stood on ``day``: up to the first accepted entry dated after it.

    Accepted answers are dated (``decided_on``, never before the answer before them) and so are
    clock changes (``on``); a refused answer only moves the step to its next attempt and is kept
    as long as what came before it is.
    """
    kept: list[LoggedDecision] = []
    for entry in log:
        dated = _entry_date(entry) if entry.accepted else None
        if dated is not None and dated > day:
            break
        kept.append(entry)
    return tuple(kept)


# ---------------------------------------------------------------- one review


@dataclass(frozen=True)
class _Facts:
    row: TrackerRow
    notification: Timeliness
    not_notifiable: bool
    rapid_review: Timeliness
    publication: Timeliness
    deferred_now: bool
    recommendations: Mapping[str, int]
    actions: Timeliness


def _facts(stored: StoredReview, as_of: date, policy: Policy) -> _Facts:
    log = log_as_of(stored.log, as_of)
    review = replay(stored.reference, stored.referral, log, policy)
    cal = policy.calendar
    answers = [(parse_step_key(e.key)[0], e.payload) for e in log if e.accepted and is_step_key(e.key)]
    chair = next((p for kind, p in answers if kind is StepKind.CHAIR_DECISION), None)
    decision = str(chair["outcome"]) if chair else None
    decided_on = date.fromisoformat(str(chair["decided_on"])) if chair else None
    reasons = tuple(str(p.get("deferral_reason", "")) for kind, p in answers
                    if kind is StepKind.PUBLICATION and p.get("outcome") == "deferred")

    notification_clock = _clock(review, ClockKind.SERIOUS_INCIDENT_NOTIFICATION.value)
    notification = _timeliness(notification_clock, as_of, policy)
    rapid_clock = _clock(review, ClockKind.RAPID_REVIEW.value)
    rapid = _timeliness(rapid_clock, as_of, policy)
    publication_clock = _clock(review, ClockKind.PUBLICATION.value) if review.route is Route.LCSPR else None
    publication = NONE
    if publication_clock is not None:
        due = _rule_due(publication_clock, policy)
        if review.published_on is not None:
            publication = Timeliness(on_time=1) if review.published_on <= due else Timeliness(late=1)
        elif review.stage is not Stage.CLOSED:
            publication = Timeliness(overdue=1) if as_of > due else Timeliness(pending=1)
    actions = _sum(_action(a.due_on, a.completed_on, as_of) for a in review.actions)
    step = open_step(review, policy)
    slippage: int | None = None
    if step is not None and step.clock_key:
        clock = review.clock(step.clock_key)
        overdue = clock.state_on(as_of, cal) is ClockState.BREACHED
        slippage = cal.between(clock.due(cal), as_of) if overdue else 0
    # Before the Chair decides, a review is a rapid review once one has started, else a referral.
    review_type = decision or ("rapid_review" if rapid_clock is not None else "referral")
    row = TrackerRow(
        reference=stored.reference,
        referred_on=stored.referral.la_aware_date,
        review_type=review_type,
        converted_from_rapid_review=decision == "lcspr" and rapid.done > 0,
        stage=review.stage.value,
        stage_due=step.due if step else None,
        slippage_working_days=slippage,
        notified_on=notification_clock.met_on if notification_clock else None,
        notified_on_time=_on_time(notification),
        rapid_review_on=rapid_clock.met_on if rapid_clock else None,
        rapid_review_on_time=_on_time(rapid),
        decision=decision,
        decided_on=decided_on,
        publication_due=_rule_due(publication_clock, policy) if publication_clock else None,
        published_on=review.published_on,
        publication_link=review.published_url,
        published_on_time=_on_time(publication),
        deferrals=review.deferrals,
        deferral_reasons=reasons,
        recommendations=len(review.recommendations),
        actions=len(review.actions),
        actions_completed=actions.done,
        actions_completed_on_time=actions.on_time,
        actions_overdue=actions.overdue,
        closed_on=review.closed_on,
    )
    return _Facts(
        row=row, notification=notification,
        not_notifiable=notification_clock is not None and notification_clock.stopped_on is not None,
        rapid_review=rapid, publication=publication,
        deferred_now=review.deferrals > 0 and review.published_on is None and review.stage is Stage.PUBLICATION,
        recommendations=_recommendations(review), actions=actions,
    )


def _clock(review: Review, key: str) -> Clock | None:
    return review.clock(key) if review.has_clock(key) else None


def _rule_due(clock: Clock, policy: Policy) -> date:
    """The date the rule itself sets, before any pause or agreed extension."""
    return clock.rule.due_from(clock.start, policy.calendar)


def _timeliness(clock: Clock | None, as_of: date, policy: Policy) -> Timeliness:
    """A clock met within its rule or later, or still running (overdue or pending); stopped: not counted."""
    if clock is None or clock.stopped_on is not None:
        return NONE
    due = _rule_due(clock, policy)
    if clock.met_on is not None:
        return Timeliness(on_time=1) if clock.met_on <= due else Timeliness(late=1)
    return Timeliness(overdue=1) if as_of > due else Timeliness(pending=1)


def _action(due_on: date, completed_on: date | None, as_of: date) -> Timeliness:
    if completed_on is not None:
        return Timeliness(on_time=1) if completed_on <= due_on else Timeliness(late=1)
    return Timeliness(overdue=1) if as_of > due_on else Timeliness(pending=1)


def _on_time(counted: Timeliness) -> bool | None:
    return counted.on_time > 0 if counted.done else None


def _recommendations(review: Review) -> dict[str, int]:
    counts = dict.fromkeys(RECOMMENDATION_STATUSES, 0)
    for number in range(1, len(review.recommendations) + 1):
        actions = [a for a in review.actions if a.recommendation_number == number]
        if not actions:
            counts["no_action_yet"] += 1
        elif all(a.completed_on is not None for a in actions):
            counts["completed"] += 1
        else:
            counts["in_progress"] += 1
    return counts


def _sum(counts: Iterable[Timeliness]) -> Timeliness:
    total = NONE
    for c in counts:
        total += c
    return total


def _entry_date(entry: LoggedDecision) -> date | None:
    # A step's answer says when it was decided; a record beside the steps, when it happened.
    fields = ("decided_on", "on", "received_on", "agreed_on", "completed_on")
    raw = next((entry.payload[f] for f in fields if entry.payload.get(f)), None)
    try:
        return date.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None

"""The quality of each review: a checklist in the spirit of the SCIE/NSPCC case review quality markers.

Partners must monitor the quality of their reviews as well as their time (Working Together; the 2018
regulations, reg. 14). The Social Care Institute for Excellence and the NSPCC describe 18 *quality
markers* of a good case review, from the referral to implementation and evaluation. Here each is an
entry of :data:`MARKERS` (its key, its title, one line on what good looks like, and the stage of an
LCSPR from which it can sensibly be assessed), and a review's checklist is filled in as the review goes:
someone (a manager, the sub group's chair) rates a marker **met**, **partly met**, **not met** or **not
applicable**, with a short note, on a date.

Rules (:func:`check_assessment`): the marker must be one of the 18; the note is needed unless the marker
is met, and must not identify anyone (the refusal names the kind found, never the text); the date may not
lie in the future, nor before the local authority became aware of the incident. Assessments are never
changed: a later one of the same marker supersedes the earlier (:func:`latest`: the latest date, then the
latest recorded), and both are kept as the marker's history.

**Due.** A marker is due once the review has reached the stage it is assessed from (:func:`is_due`). The
stages are an LCSPR's; on another route a stage maps to the one that plays its part: an other learning
review does its set-up and gathering within the learning review, and has its findings once it is done
(the action plan, or closure); a review that ends at the Chair's decision (no further review, a national
review) is due the markers about the referral and the decision once it is closed, and no others.

Pure: the stage, the route and the dates are arguments; nothing here reads a clock or a register.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.errors import Refused
from models.inputs import Day, Line, Person, Prose, ensure_no_identifiers_in
from models.lifecycle import Route, Stage
from models.progress import ROUTE_STAGES
from models.report import TrackerRow


class Rating(StrEnum):
    MET = "met"
    PARTLY_MET = "partly_met"
    NOT_MET = "not_met"
    NOT_APPLICABLE = "not_applicable"

    @property
    def words(self) -> str:
        """"partly met"."""
        return self.value.replace("_", " ")


@dataclass(frozen=True)
class Marker:
    """One quality marker: ``key`` as typed (``family_involvement``), ``title`` as read, ``good``: what good
    looks like, in a line; ``from_stage``: the stage of an LCSPR from which it can be assessed."""

    key: str
    title: str
    good: str
    from_stage: Stage


# The 18 markers in SCIE/NSPCC's order (the order of the review itself). The lines on what good looks like
# are this project's short paraphrases, as prompts for whoever assesses; the stage is where the thing
# assessed has been done (the decision is made by the time the bodies are informed, and so on).
MARKERS: tuple[Marker, ...] = (
    Marker("referral", "Referral",
           "Cases are referred promptly, after the DSL is consulted, with the reasons set against the criteria.",
           Stage.RAPID_REVIEW),
    Marker("decision_making", "Decision making",
           "Whether to review, and how, is decided promptly and proportionately, with reasons and who decided.",
           Stage.INFORMING_BODIES),
    Marker("advising_board_members", "Advising board members",
           "The partners, the National Panel, DfE and Ofsted are told of the decision in time.",
           Stage.AUTHOR_APPOINTMENT),
    Marker("informing_the_family", "Informing the family",
           "The family is told early and sensitively that a review is held, why, and how they can take part.",
           Stage.AUTHOR_APPOINTMENT),
    Marker("clarity_of_purpose", "Clarity of purpose",
           "The terms of reference say why the review is held, its scope and the questions it will answer.",
           Stage.AGENCY_REPORTS),
    Marker("commissioning", "Commissioning",
           "The reviewer is independent of the case, has the skills for the method, and is appointed openly.",
           Stage.TERMS_OF_REFERENCE),
    Marker("governance", "Governance",
           "Who oversees the review, signs it off and settles disagreements is clear, and it is followed.",
           Stage.AGENCY_REPORTS),
    Marker("review_management", "Review management",
           "The review keeps to a realistic timetable with the resources it needs; slippage is explained.",
           Stage.DRAFTING),
    Marker("parallel_processes", "Parallel processes",
           "Criminal proceedings, inquests and disciplinary processes are found early and handled by agreement.",
           Stage.AGENCY_REPORTS),
    Marker("assembling_information", "Assembling information",
           "Agencies give proportionate, timely information, by authors independent of the case.",
           Stage.DRAFTING),
    Marker("practitioner_involvement", "Practitioner involvement",
           "Practitioners and managers take part, are supported, and see their contribution reflected.",
           Stage.DRAFTING),
    Marker("family_involvement", "Family involvement",
           "The child and family have a real chance to contribute, and their views shape the findings.",
           Stage.DRAFTING),
    Marker("analysis", "Analysis",
           "The analysis explains why practice was as it was (systems, not blame), inequalities included.",
           Stage.DRAFT_REVIEW),
    Marker("report", "Report",
           "The report is clear, proportionate and publishable unredacted; findings follow from the analysis.",
           Stage.SENDING_FINAL_REPORT),
    Marker("improvement_action", "Improvement action",
           "Findings become specific actions with owners and dates; obvious improvements are made at once.",
           Stage.ACTION_MONITORING),
    Marker("written_response", "Written response",
           "The partners answer the findings in writing: what they will do, and why.",
           Stage.PUBLICATION),
    Marker("publication", "Publication",
           "The report is published on time, or the deferral is recorded and reviewed; the bodies have it first.",
           Stage.ACTION_PLAN),
    Marker("implementation_and_evaluation", "Implementation and evaluation",
           "Actions are carried out and their effect on practice is checked, not only their completion.",
           Stage.CLOSURE),
)
MARKER_KEYS: tuple[str, ...] = tuple(m.key for m in MARKERS)
_BY_KEY: Mapping[str, Marker] = {m.key: m for m in MARKERS}

# An other learning review's stages in place of an LCSPR's: its set-up and gathering are done within the
# learning review; what an LCSPR has from drafting to publication, it has once the learning review is done.
_WITHIN_LEARNING_REVIEW = frozenset({Stage.INFORMING_BODIES, Stage.AUTHOR_APPOINTMENT, Stage.TERMS_OF_REFERENCE,
                                     Stage.AGENCY_REPORTS, Stage.ENGAGEMENT})
# A review that ends at the Chair's decision is closed once it is decided: what an LCSPR has by these stages
# (the decision, the bodies and the family told of it), it has then.
_ABOUT_THE_DECISION = frozenset({Stage.INFORMING_BODIES, Stage.AUTHOR_APPOINTMENT})


def marker(text: str) -> Marker:
    """The marker a person named by key or title, in any case, with spaces, dashes or underscores
    (``family_involvement``, ``family-involvement``, "Family involvement"); refused, without echoing what
    was typed, if none is."""
    key = re.sub(r"[\s_-]+", "_", text.strip().lower())
    found = _BY_KEY.get(key)
    if found is None:
        raise Refused(f"That is not a quality marker; the markers are: {', '.join(MARKER_KEYS)}.")
    return found


def assessed_from(m: Marker, route: Route | None) -> Stage | None:
    """The stage of a review on ``route`` from which ``m`` can be assessed; None: not on that route at all.
    Before the Chair decides, the route is taken to be an LCSPR (the longest)."""
    if route is None or route is Route.LCSPR or m.from_stage in ROUTE_STAGES[route]:
        return m.from_stage
    if route is Route.LEARNING_REVIEW:
        return Stage.LEARNING_REVIEW if m.from_stage in _WITHIN_LEARNING_REVIEW else Stage.ACTION_PLAN
    return Stage.CLOSED if m.from_stage in _ABOUT_THE_DECISION else None


def is_due(m: Marker, stage: Stage, route: Route | None) -> bool:
    """Whether a review at ``stage`` on ``route`` has reached the stage ``m`` is assessed from."""
    target = assessed_from(m, route)
    if target is None:
        return False
    order = (*ROUTE_STAGES[route or Route.LCSPR], Stage.CLOSED)
    if stage not in order or target not in order:  # a stage the route does not know: judge on an LCSPR's
        order, target = (*ROUTE_STAGES[Route.LCSPR], Stage.CLOSED), m.from_stage
    return stage in order and order.index(stage) >= order.index(target)


# ---------------------------------------------------------------- assessments


class AssessmentInput(BaseModel):
    """One marker rated by someone on a day, as a person gives it (``lcspr quality REF MARKER``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    marker: Line = Field(max_length=60, title="Marker", description="The marker's key, e.g. family_involvement.")
    rating: Literal["met", "partly_met", "not_met", "not_applicable"] = Field(title="Rating")
    note: Prose = Field(default="", max_length=2000, title="Note",
                        description="Why this rating, briefly; no names or other identifying details.")
    assessed_by: Person = Field(min_length=2, max_length=200, title="Assessed by",
                                description="Who assessed it: name and role.")
    assessed_on: Day = Field(title="Assessed on")


@dataclass(frozen=True)
class Assessment:
    """A marker rated ``rating`` by ``assessed_by`` on ``assessed_on``, with a note; ``id`` once recorded
    (the order it was recorded in)."""

    marker: str
    rating: Rating
    note: str
    assessed_by: str
    assessed_on: date
    id: int | None = None


def check_assessment(given: AssessmentInput, *, today: date, referred_on: date) -> Assessment:
    """The assessment to record, or ``Refused`` with the reason: an unknown marker, no note for a rating
    other than met, a note that identifies someone (never echoed), a date in the future or before the
    local authority became aware of the incident (``referred_on``)."""
    found = marker(given.marker)
    rating = Rating(given.rating)
    if given.assessed_on > today:
        raise Refused(f"The assessment's date ({given.assessed_on}) is in the future; today is {today}.")
    if given.assessed_on < referred_on:
        raise Refused(f"The assessment's date ({given.assessed_on}) is before the review's referral "
                      f"({referred_on}).")
    if rating is not Rating.MET and len(given.note) < 5:
        raise Refused(f"Say why {found.title.lower()} is rated {rating.words} (a note of a few words).")
    ensure_no_identifiers_in(given)
    return Assessment(found.key, rating, given.note, given.assessed_by, given.assessed_on)


def latest(assessments: Iterable[Assessment]) -> dict[str, Assessment]:
    """Each marker's assessment in force: the latest dated, and of those on one day the last recorded."""
    found: dict[str, Assessment] = {}
    for a in assessments:
        held = found.get(a.marker)
        if held is None or _order(a) >= _order(held):
            found[a.marker] = a
    return found


def _order(a: Assessment) -> tuple[date, int]:
    return a.assessed_on, a.id if a.id is not None else 0


# ---------------------------------------------------------------- one review's checklist


@dataclass(frozen=True)
class MarkerStatus:
    """A marker on one review's checklist: due or not, its assessment in force and the ones it superseded
    (newest first)."""

    marker: Marker
    due: bool
    current: Assessment | None
    earlier: tuple[Assessment, ...] = ()


@dataclass(frozen=True)
class QualitySummary:
    """How far a review's checklist is filled in: the markers rated, by rating; the ones due but not yet
    rated; the share met of those rated (not counting "not applicable")."""

    markers: int
    counts: Mapping[Rating, int]
    due_not_assessed: tuple[Marker, ...]

    @property
    def assessed(self) -> int:
        return sum(self.counts.values())

    @property
    def percent_met(self) -> float | None:
        """Of the markers rated met, partly met or not met, the percentage met (one decimal); None if none."""
        judged = self.assessed - self.counts[Rating.NOT_APPLICABLE]
        return round(100 * self.counts[Rating.MET] / judged, 1) if judged else None

    def line(self) -> str:
        """"9 of 18 assessed — 6 met, 2 partly met, 1 not met; due now: family involvement, analysis"."""
        text = f"{self.assessed} of {self.markers} assessed"
        rated = [f"{n} {rating.words}" for rating, n in self.counts.items() if n]
        if rated:
            text += " — " + ", ".join(rated)
        due = ", ".join(m.title.lower() for m in self.due_not_assessed)
        return text + f"; due now: {due or 'none'}"


def checklist(assessments: Iterable[Assessment], stage: Stage, route: Route | None) -> tuple[MarkerStatus, ...]:
    """Every marker, in order, as a review at ``stage`` on ``route`` has it: due or not, and rated how."""
    every = list(assessments)
    current = latest(every)
    by_marker: dict[str, list[Assessment]] = {}
    for a in every:
        by_marker.setdefault(a.marker, []).append(a)
    statuses = []
    for m in MARKERS:
        now = current.get(m.key)
        earlier = sorted((a for a in by_marker.get(m.key, []) if a is not now), key=_order, reverse=True)
        statuses.append(MarkerStatus(m, is_due(m, stage, route), now, tuple(earlier)))
    return tuple(statuses)


def summarise(statuses: Sequence[MarkerStatus]) -> QualitySummary:
    counts = {r: sum(s.current is not None and s.current.rating is r for s in statuses) for r in Rating}
    due = tuple(s.marker for s in statuses if s.due and s.current is None)
    return QualitySummary(len(statuses), counts, due)


# ---------------------------------------------------------------- the year's figures


@dataclass(frozen=True)
class ReviewAsOf:
    """A review as it stood on a day: where it had got to, on which route."""

    reference: str
    stage: Stage
    route: Route | None


@dataclass(frozen=True)
class MarkerFigures:
    """Of the year's reviews, how many had ``marker`` rated each way, not rated though due, and not due
    (the stage not reached, or not on the review's route)."""

    marker: Marker
    rated: Mapping[Rating, int] = field(default_factory=dict)
    not_assessed: int = 0
    not_due: int = 0

    @property
    def reviews(self) -> int:
        return sum(self.rated.values()) + self.not_assessed + self.not_due


@dataclass(frozen=True)
class QualityFigures:
    """The quality markers over the reviews of a yearly report, as they stood on ``as_of``."""

    as_of: date
    reviews: int
    markers: tuple[MarkerFigures, ...]

    @property
    def assessed(self) -> int:
        """Assessments in force over every review and marker."""
        return sum(sum(f.rated.values()) for f in self.markers)


# The route each of the Chair's decisions puts a review on (``models.report.OUTCOMES``).
ROUTE_OF_DECISION: Mapping[str, Route] = {
    "lcspr": Route.LCSPR,
    "reflective_learning_session": Route.LEARNING_REVIEW,
    "practice_review": Route.LEARNING_REVIEW,
    "no_further_review": Route.NO_FURTHER_REVIEW,
    "national_review": Route.NATIONAL_REVIEW,
}


def review_as_of(row: TrackerRow) -> ReviewAsOf:
    """A review of the yearly report as it stood on the report's day: its stage, and the route its decision
    chose (none before the decision)."""
    return ReviewAsOf(row.reference, Stage(row.stage), ROUTE_OF_DECISION.get(row.decision or ""))


def quality_figures(reviews: Iterable[ReviewAsOf], assessments: Mapping[str, Iterable[Assessment]],
                    as_of: date) -> QualityFigures:
    """Per marker, over ``reviews``: how many were rated met, partly met, not met or not applicable by the
    assessment in force on ``as_of`` (those dated later do not count), and how many were not rated, due
    or not. ``assessments``: each review's, by reference."""
    cohort = list(reviews)
    current = {r.reference: latest(a for a in assessments.get(r.reference, ()) if a.assessed_on <= as_of)
               for r in cohort}
    figures = []
    for m in MARKERS:
        rated = dict.fromkeys(Rating, 0)
        not_assessed = not_due = 0
        for r in cohort:
            found = current[r.reference].get(m.key)
            if found is not None:
                rated[found.rating] += 1
            elif is_due(m, r.stage, r.route):
                not_assessed += 1
            else:
                not_due += 1
        figures.append(MarkerFigures(m, rated, not_assessed, not_due))
    return QualityFigures(as_of, len(cohort), tuple(figures))

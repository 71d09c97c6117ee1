"""Reading a review: rebuild it from its decision log, read what it waits on and where it stands from
its projections, and show that on the tags of its flow run.

The projections are read only while they were derived under the policy in force
(``Policy.fingerprint``); a review projected under another (changed rules or closures, a new release,
a row older than the fingerprint) is replayed instead, and :func:`reproject` brings it up to date (the
deadline sweep calls it)."""

from __future__ import annotations

from collections.abc import Sequence

from models.errors import NotFound
from models.lifecycle import OpenStep, Review, Stage, open_step, replay
from models.records import ReviewView, StoredReview, view_of
from models.run_tags import retagged, review_tags, wait_tag
from models.runs import step_of_wait
from services.app import App
from services.ports import UnitOfWork


def rebuild(app: App, stored: StoredReview) -> Review:
    """The review as its referral and decision log make it, judged with the partnership's rules."""
    return replay(stored.reference, stored.referral, stored.log, app.config.policy)


def current_step(uow: UnitOfWork, app: App, reference: str) -> OpenStep | None:
    """What the review waits on, from the projection; a review written before the projection
    existed is rebuilt once and projected (inside the caller's unit of work: commit it)."""
    projection = uow.reviews.projected_step(reference)
    if projection.closed or projection.step is not None:
        return projection.step
    review = rebuild(app, uow.reviews.get(reference, lock=True))
    step = open_step(review, app.config.policy)
    uow.reviews.project(reference, review, step, app.config.policy, app.clock.now())
    return step


def replayed(app: App, stored: StoredReview) -> ReviewView:
    """The view of a review rebuilt from its decision log."""
    policy = app.config.policy
    review = rebuild(app, stored)
    return view_of(review, open_step(review, policy), stored.flow_run_id, policy.fingerprint)


def views(app: App, references: Sequence[str] | None = None, include_closed: bool = False,
          counting_only: bool = False) -> list[ReviewView]:
    """The reviews named (or every open one, or every one) as they stand, in the register's order: read
    from their projections, and replayed only where those were derived under another policy.
    ``counting_only``: the clocks still counting (running or paused) are all the caller needs."""
    fingerprint = app.config.policy.fingerprint
    with app.uow() as uow:
        found = uow.reviews.views(references, include_closed, counting_only)
        stale = {v.reference: uow.reviews.get(v.reference) for v in found
                 if v.projected_with != fingerprint or (v.open_step is None and v.stage is not Stage.CLOSED)}
    return [replayed(app, stale[v.reference]) if v.reference in stale else v for v in found]


def view(app: App, reference: str) -> ReviewView:
    """One review as it stands (closed or not); NotFound if there is none."""
    found = views(app, [reference], include_closed=True)
    if not found:
        raise NotFound(f"No review with reference {reference}.")
    return found[0]


def reproject(app: App, references: Sequence[str]) -> int:
    """Project each review again from its decision log under the policy in force (one short unit of work
    each); the number projected. What changes is only what the log derives under this policy."""
    policy = app.config.policy
    for reference in references:
        with app.uow() as uow:
            review = rebuild(app, uow.reviews.get(reference, lock=True))
            uow.reviews.project(reference, review, open_step(review, policy), policy, app.clock.now())
            uow.commit()
    return len(references)


def waiting_on(app: App, reference: str) -> OpenStep | None:
    """The step the review waits on now (None once it is closed). No replay: the projection."""
    with app.uow() as uow:
        step = current_step(uow, app, reference)
        uow.commit()
    return step


def run_tags(app: App, reference: str) -> tuple[str, ...]:
    """The tags of ours the review's run should carry today (``models.run_tags``), from where it stands."""
    return _tags(app, view(app, reference))


def _tags(app: App, standing: ReviewView) -> tuple[str, ...]:
    return review_tags(standing, app.clock.today(), app.config.policy.calendar, app.config.amber_within_working_days)


def retag_run(app: App, reference: str, flow_run_id: str, waits_on: str | None = None) -> bool:
    """Bring the run's tags up to where the review stands in the register; True if they changed.
    ``waits_on``: the step the run is about to suspend on. The run says so itself, just before it suspends:
    in the register (``run_waits_on``, which ``lcspr list`` and reconcile trust with Prefect's count of the
    paused runs), and in its wait tag, for the UI's run list (``models.run_tags``)."""
    if waits_on:
        with app.uow() as uow:
            if uow.reviews.note_wait(reference, flow_run_id, waits_on):
                uow.commit()
    return _retag(app, flow_run_id, run_tags(app, reference) + ((wait_tag(waits_on),) if waits_on else ()))


def _retag(app: App, flow_run_id: str, tags: tuple[str, ...]) -> bool:
    with app.runs() as runs:
        return runs.retag(flow_run_id, tags)


def retag_open_runs(app: App) -> list[str]:
    """Bring every open review's run tags up to date (the RAG moves with the days while a run waits);
    the references whose tags changed. The daily portfolio run calls it."""
    standing = [v for v in views(app, counting_only=True) if v.flow_run_id]
    with app.runs() as runs:
        # The runs' tags read a page at a time; only a run whose tags must change is written (and read again).
        seen = runs.observe_all([v.flow_run_id for v in standing if v.flow_run_id])
        changed = []
        for v in standing:
            assert v.flow_run_id is not None
            run, tags = seen.get(v.flow_run_id), _tags(app, v)
            if run is not None and run.state_type == "PAUSED" and run.pause_key:
                # What the run waits on, as Prefect has it: a run suspended before wait tags existed gets one.
                tags += (wait_tag(step_of_wait(run.pause_key) or run.pause_key),)
            if run is not None and retagged(run.tags, tags) is not None and runs.retag(v.flow_run_id, tags):
                changed.append(v.reference)
    return changed

"""Reading a review: rebuild it from its decision log, read what it waits on from the projection, and
show where it stands on the tags of its flow run."""

from __future__ import annotations

from models.lifecycle import OpenStep, Review, open_step, replay
from models.records import StoredReview
from models.run_tags import review_tags
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
    uow.reviews.project(reference, review, step, app.config.policy.calendar, app.clock.now())
    return step


def waiting_on(app: App, reference: str) -> OpenStep | None:
    """The step the review waits on now (None once it is closed). No replay: the projection."""
    with app.uow() as uow:
        step = current_step(uow, app, reference)
        uow.commit()
    return step


def run_tags(app: App, reference: str) -> tuple[str, ...]:
    """The tags of ours the review's run should carry today (``models.run_tags``).

    Rebuilt from the decision log, as ``lcspr status`` does, because the RAG needs the clocks as
    values (``Clock.rag``); the stage and route it gives are the ones the projection holds.
    """
    with app.uow() as uow:
        stored = uow.reviews.get(reference)
    review = rebuild(app, stored)
    return review_tags(review, app.clock.today(), app.config.policy.calendar, app.config.amber_within_working_days)


def retag_run(app: App, reference: str, flow_run_id: str) -> bool:
    """Bring the run's tags up to where the review stands in the register; True if they changed."""
    tags = run_tags(app, reference)
    with app.runs() as runs:
        return runs.retag(flow_run_id, tags)


def retag_open_runs(app: App) -> list[str]:
    """Bring every open review's run tags up to date (the RAG moves with the days while a run waits);
    the references whose tags changed. The daily portfolio run calls it."""
    with app.uow() as uow:
        links = [(link.reference, link.flow_run_id) for link in uow.reviews.run_links() if link.flow_run_id]
    return [reference for reference, flow_run_id in links if retag_run(app, reference, flow_run_id)]


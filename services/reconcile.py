"""Reconcile: every open review in the register gets a flow run that can carry it on.

Run by ``lcspr reconcile`` and by the ``lcspr-reconcile`` deployment every few minutes. For
each open review it compares the register's open step with the review's flow run
(:func:`models.runs.judge`) and repairs what is stranded:

- a run Crashed, Failed, Cancelled or Completed while the review is open, one Pending or
  Running with no live process past the grace period, or one suspended on another step than
  the register's: put back to Scheduled, so a worker runs it again from the top;
- a run Prefect no longer has: the register lets go of it and a new run is started;
- a review registered without any run (``lcspr refer`` could not reach Prefect): one is started.

New runs are started under the review's ``run_key`` and attach themselves when they start, so
two reconciles (or a reconcile and ``lcspr refer``) at once start one run. A re-run repeats
nothing: recorded steps come from the register, side effects from cached results and the
register's unique keys. Closed reviews are left alone. ``dry_run`` only reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.records import RunLink, RunPointer
from models.runs import Health, Judgement, RunView, judge, waiting
from services.app import App
from services.ports import Runs
from services.referrals import detach_run


@dataclass(frozen=True)
class Finding:
    reference: str
    open_step: str | None
    flow_run_id: str | None
    judgement: Judgement
    action: str = ""  # what was done ("" when nothing was, or on a dry run)

    @property
    def line(self) -> str:
        done = f" -> {self.action}" if self.action else (" -> would repair" if self.judgement.needs_repair else "")
        return f"{self.reference}: {self.judgement.health.value}: {self.judgement.explanation}{done}"

    def as_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "open_step": self.open_step, "flow_run_id": self.flow_run_id,
                "health": self.judgement.health.value, "explanation": self.judgement.explanation,
                "needs_repair": self.judgement.needs_repair, "action": self.action or None}


def reconcile(app: App, dry_run: bool = False) -> list[Finding]:
    """Compare every open review with its run and repair the stranded ones (unless ``dry_run``)."""
    with app.uow() as uow:
        links = uow.reviews.run_links()
    findings = []
    with app.runs() as runs:
        # A register of thousands of reviews is a few calls, not thousands (``run_health``).
        judged = _judge(app, runs, links)
        for link in links:
            judgement = judged[link.reference]
            action = ""
            if judgement.needs_repair and not dry_run:
                action = _repair(app, runs, link, judgement)
            findings.append(Finding(link.reference, link.open_step_key, link.flow_run_id, judgement, action))
    if not dry_run:
        _note_waits(app, links, judged)
    return findings


def _note_waits(app: App, links: Sequence[RunLink], judged: Mapping[str, Judgement]) -> None:
    """Note where the runs read whole were seen waiting (their review's open step), for those that never said
    so themselves (a register from before ``run_waits_on``): the next ``lcspr list`` counts them instead."""
    seen_waiting = [link for link in links if link.flow_run_id and link.open_step_key
                    and link.run_waits_on != link.open_step_key and judged[link.reference].health is Health.WAITING]
    if not seen_waiting:
        return
    with app.uow() as uow:
        for link in seen_waiting:
            assert link.flow_run_id is not None and link.open_step_key is not None
            # Only while the review is where it was seen: a run that moved on since is left to say so itself.
            uow.reviews.note_wait(link.reference, link.flow_run_id, link.open_step_key, if_open=link.open_step_key)
        uow.commit()


def judge_link(app: App, runs: Runs, link: RunLink, now: datetime) -> Judgement:
    """How the review's flow run stands against the register's open step."""
    view = runs.observe(link.flow_run_id) if link.flow_run_id else None
    return judge(link.open_step_key, link.flow_run_id is not None, view, now, app.config.reconcile_grace_seconds)


# Up to this many runs are read whole; past it, runs that wait are counted on the server (``run_health``).
READ_WHOLE = 200


def run_health(app: App, references: Iterable[str] | None = None, include_closed: bool = False) -> dict[str, Judgement]:
    """How each review's run stands (``status``, ``list``, ``decide``); raises Unavailable without Prefect.

    A few runs are read whole. For many (``lcspr list`` of thousands of open reviews, most of them waiting
    on a person), the register says which runs said they suspend on their review's open step
    (``run_waits_on``), and Prefect counts how many of those are paused: a whole count means each of them
    waits on its step (a run suspends on what it said last; one that did not suspend is not paused). A count
    that falls short is asked again of each half, down to groups read whole; the runs that said nothing
    or something else are read whole too (a run suspended on another step, deleted, crashed, or not yet
    said)."""
    with app.uow() as uow:
        pointers = uow.reviews.run_pointers(None if references is None else list(references),
                                            include_closed=include_closed)
    with app.runs() as runs:
        return _judge(app, runs, pointers)


def _judge(app: App, runs: Runs, pointers: Sequence[RunPointer | RunLink]) -> dict[str, Judgement]:
    if len(pointers) <= READ_WHOLE:
        return _judge_all(app, runs, pointers)
    return _judge_many(app, runs, pointers)


def _judge_many(app: App, runs: Runs, pointers: Sequence[RunPointer | RunLink]) -> dict[str, Judgement]:
    said = [p for p in pointers if p.flow_run_id and p.open_step_key and p.run_waits_on == p.open_step_key]
    seen: dict[str, RunView | None] = {}
    confirmed = {p.reference: waiting(p.open_step_key) for p in _all_paused(runs, said, seen) if p.open_step_key}
    ids = [p.flow_run_id for p in pointers if p.flow_run_id and p.reference not in confirmed
           and p.flow_run_id not in seen]
    if len(ids) > READ_WHOLE:
        # Many that said nothing (a register older than run_waits_on, before its first reconcile): Prefect
        # gives the few not paused; the paused ones are read whole, for the step each is paused on.
        seen.update(runs.unpaused(ids))
        ids = [i for i in ids if i not in seen]
    seen.update(runs.observe_all(ids))
    now = app.clock.now()
    return {p.reference: confirmed.get(p.reference) or _judge_one(app, p, seen, now) for p in pointers}


def _all_paused(runs: Runs, group: Sequence[RunPointer | RunLink], seen: dict[str, RunView | None],
                asked_unpaused: bool = False) -> list[RunPointer | RunLink]:
    """Those of ``group`` (each with a run) that Prefect's counts show paused, without reading them: the
    whole group when its count is whole (one call, however many runs). When it falls short, Prefect is asked
    once for the runs not paused (added to ``seen``: they are judged from what it said) and the rest counted
    again; if that still falls short (a run deleted), each half is counted the same way, down to READ_WHOLE."""
    if not group:
        return []
    if runs.count_paused([p.flow_run_id for p in group if p.flow_run_id]) == len(group):
        return list(group)
    if not asked_unpaused:
        unpaused = runs.unpaused([p.flow_run_id for p in group if p.flow_run_id])
        seen.update(unpaused)
        return _all_paused(runs, [p for p in group if p.flow_run_id not in unpaused], seen, True)
    if len(group) <= READ_WHOLE:
        return []
    half = len(group) // 2
    return _all_paused(runs, group[:half], seen, True) + _all_paused(runs, group[half:], seen, True)


def _judge_all(app: App, runs: Runs, links: Sequence[RunPointer | RunLink]) -> dict[str, Judgement]:
    seen = runs.observe_all([link.flow_run_id for link in links if link.flow_run_id])
    now = app.clock.now()
    return {link.reference: _judge_one(app, link, seen, now) for link in links}


def _judge_one(app: App, link: RunPointer | RunLink, seen: Mapping[str, RunView | None], now: datetime) -> Judgement:
    return judge(link.open_step_key, link.flow_run_id is not None,
                 seen.get(link.flow_run_id) if link.flow_run_id else None, now, app.config.reconcile_grace_seconds)


def _repair(app: App, runs: Runs, link: RunLink, judgement: Judgement) -> str:
    # Look again just before acting: the run may have moved on since the first look.
    with app.uow() as uow:
        fresh = next(iter(uow.reviews.run_links([link.reference])), None)
    if fresh != link:
        return "left alone: the review changed while reconciling (run again)"
    again = judge_link(app, runs, link, app.clock.now())
    if again.health is not judgement.health:
        return f"left alone: now {again.health.value} ({again.explanation})"
    parameters = {"referral": link.referral}
    if judgement.health in (Health.STRANDED, Health.DISAGREES):
        assert link.flow_run_id is not None
        runs.reschedule(link.flow_run_id)
        return f"run {link.flow_run_id} rescheduled: it starts again and waits on {link.open_step_key}"
    if judgement.health is Health.MISSING:
        assert link.flow_run_id is not None
        detach_run(app, link.reference, link.flow_run_id, judgement.explanation)
        with app.uow() as uow:
            run_key = uow.reviews.get(link.reference).run_key
        new = runs.start(link.reference, parameters, idempotency_key=run_key)
        return f"new run {new} started (the old one is gone); it attaches itself when it starts"
    new = runs.start(link.reference, parameters, idempotency_key=link.run_key)
    return f"run {new} started; it attaches itself when it starts"

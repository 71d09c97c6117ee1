"""Messages: queue what a review owes people into the outbox, and deliver what is pending.

Queueing is insert-if-absent on each notice's key, inside the caller's unit of work, so the
message for a step is queued in the same transaction as the decision that opened it. Delivery
leases small batches (``Outbox.claim``), renews the lease just before each send
(``Outbox.hold``) and records the outcome only while it still holds the message
(``Outbox.finish``): a failure stays pending with its error and a backed-off next attempt.
Nothing is ever dropped; the one window left is a crash after the mail server accepted a
message and before it was marked sent, when it goes again once its lease expires.

Daily digests (``models.digest``): a reminder for a role that gets one is queued *held* under its own
key, as every message is. After queueing, the sweep gathers each role's held reminders into one digest
(:func:`make_digests`), itself an outbox message under the key ``digest:<role>:<day>``, made in the
same transaction that marks the reminders it carries; it is then delivered like any message (leases,
retries, delegation), and sending it marks them sent. A digest adds no new window: a crash before its
transaction commits leaves the reminders held for the next sweep, and after it the digest is an
ordinary pending message.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import chain

from models.clocks import ClockKind, ClockRule
from models.delegation import Delegation, covering
from models.digest import DigestItem, by_role, compose, goes_in_digest, wants_digest
from models.errors import ConfigurationError, LcsprError, NoRecipient
from models.lifecycle import OpenStep
from models.notices import Notice, step_notices, title_of
from models.records import Claimed, due_clock
from models.reminders import RemindersOn, last_due_with_messages
from notifications.calendar import step_due_date, to_ics
from notifications.render import RenderedMessage, for_delegate, for_forwarding, render, render_digest
from services import meetings
from services.app import App
from services.ports import Dispatcher, UnitOfWork
from services.reviews import rebuild, reproject

MAX_BACKOFF = timedelta(hours=6)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes after each failed attempt, at most six hours."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


@dataclass
class SweepReport:
    today: date
    working_day: bool = True
    due: list[str] = field(default_factory=list)  # keys of every notice current today
    queued: list[str] = field(default_factory=list)  # of those, the ones new to the outbox
    digests: list[str] = field(default_factory=list)  # keys of the daily digests made
    delivery: DeliveryReport = field(default_factory=DeliveryReport)


def queue(uow: UnitOfWork, app: App, reference: str, notices: Iterable[Notice], flow_run_id: str | None,
          now: datetime, ics: Mapping[str, str] | None = None) -> list[str]:
    """Render and queue each notice not yet in the outbox; the keys newly queued. ``ics``: the
    iCalendar to attach to a notice, by its key."""
    link = app.config.run_link(flow_run_id)
    new = []
    for notice in notices:
        if uow.outbox.has(notice.key):
            continue
        context = notice.context(reference=reference, link=link, partnership=app.config.partnership)
        message = render(notice.kind, {**context, "portfolio_link": app.config.portfolio_link})
        # Rendered all the same when held for a digest: if its role stops getting one, it goes alone.
        item = (DigestItem(reference, notice.step, notice.kind, notice.due, notice.days_overdue, link)
                if goes_in_digest(notice.kind, notice.role, app.config.digest_roles) else None)
        if uow.outbox.add(notice.key, reference, notice.kind, notice.role, message.subject, message.text,
                          message.html, now, ics=(ics or {}).get(notice.key), digest_item=item):
            new.append(notice.key)
    return new


def make_digests(app: App, today: date, now: datetime) -> list[str]:
    """Gather each role's held reminders into its digest of ``today``; the keys of the digests made.

    One transaction: each digest is queued and the reminders it carries marked together. A role whose digest
    of the day was made already (a second sweep that day) keeps what it holds for the next day's; a role
    that no longer gets a digest has its held reminders released, to go one by one."""
    made = []
    with app.uow() as uow:
        for role, held in by_role(uow.outbox.held_for_digest()).items():
            ids = [h.id for h in held]
            if not wants_digest(role, app.config.digest_roles):
                uow.outbox.release(ids, now)
                continue
            digest = compose(role, today, [h.item for h in held])
            message = render_digest(digest, partnership=app.config.partnership,
                                    portfolio_link=app.config.portfolio_link)
            if uow.outbox.add_digest(digest.key, role, message.subject, message.text, message.html, now, ids):
                made.append(digest.key)
        uow.commit()
    return made


def queue_step_opened(uow: UnitOfWork, app: App, reference: str, step: OpenStep | None,
                      flow_run_id: str | None, now: datetime) -> list[str]:
    """Tell whoever owes the step now open (and the business unit any statutory message).

    A step with a due date sends it along as an iCalendar attachment of each step-opened email (the
    event ``lcspr calendar`` writes for it, same UID). The .ics text is made here, with the message,
    and kept in its outbox row: the row then holds the whole message, a retry sends the same bytes,
    and delivery needs nothing but the row. The message keys are unchanged, so a step announced
    already is not announced again."""
    if step is None:
        return []
    notices = step_notices(reference, step, app.config.policy.rules)
    due = step_due_date(reference, step, link=app.config.run_link(flow_run_id), calendar=app.config.policy.calendar)
    ics = to_ics([due], stamp=now) if due else None
    attached = {n.key: ics for n in notices if ics and n.kind == "step_opened"}
    return queue(uow, app, reference, notices, flow_run_id, now, attached)


def deliver(app: App, reference: str | None = None, batch: int = 25) -> DeliveryReport:
    """Send pending messages whose time has come, in small leased batches until none are left."""
    report = DeliveryReport()
    now, today = app.clock.now(), app.clock.today()
    started = time.monotonic()
    dispatcher = app.dispatcher()
    with app.uow() as uow:
        # Where each role's messages go today: its own addresses, or a delegate's (models.delegation).
        delegations = uow.delegations.current(today)

    def at() -> datetime:
        # ``now`` is fixed for the whole delivery (it may come from a frozen clock), but leases run
        # from the real time of each claim: a delivery of many batches can outlast a lease taken at ``now``.
        return now + timedelta(seconds=time.monotonic() - started)

    while True:
        with app.uow() as uow:
            claimed = uow.outbox.claim(now, at(), app.config.worker, reference, batch)
            uow.commit()
        for message in claimed:
            with app.uow() as uow:
                held = uow.outbox.hold(message.id, app.config.worker, at())
                uow.commit()
            if not held:
                continue  # another sender took it over once our lease ran out: theirs to send
            error, sent_to = _send(app, dispatcher, message, covering(delegations, message.role, today))
            with app.uow() as uow:
                if uow.outbox.finish(message.id, app.config.worker, error, now, backoff, sent_to):
                    if error is None:
                        report.sent.append(message.key)
                    else:
                        report.failed[message.key] = error
                uow.commit()
        if len(claimed) < batch:
            return report


def deliver_soon(app: App, reference: str | None = None) -> DeliveryReport:
    """``deliver``, in the command server of ``lcspr up`` when there is one (``App.warm``), else here.

    A flow-run process is new for every run, and Apprise loads its 130 plugins on its first send (0.25 s of
    the 2 cores, taken from the work that runs beside the delivery); the command server has them loaded. If
    it cannot be asked, or its delivery does not finish, this process delivers: a message a lost delivery
    had leased goes once its lease runs out, never twice."""
    if app.warm is not None:
        done = app.warm.deliver(reference)
        if done is not None:
            sent, failed = done
            return DeliveryReport(sent, failed)
    return deliver(app, reference)


def _send(app: App, dispatcher: Dispatcher, message: Claimed,
          delegation: Delegation | None) -> tuple[str | None, str]:
    """Send one message; (the error, or None once sent; where it went when not to its role's own addresses:
    the delegate's address, or the fallback role asked to forward it)."""
    rendered = RenderedMessage(message.subject, message.text, message.html, ics=message.ics)
    fallback = app.config.unrouted_fallback_role
    to = delegation.delegate if delegation else None
    if delegation is not None:
        rendered = for_delegate(rendered, message.role, delegation.period)
    try:
        try:
            dispatcher.send(role=message.role, message=rendered, to=to)
            return None, to or ""
        except NoRecipient:
            if not fallback or fallback == message.role:
                raise
            # No address for this role (often a new agency): the business unit forwards it,
            # and the message opens by saying whom it is for. A delegate gets it through the business
            # unit's email service, addressed to them.
            dispatcher.send(role=fallback, message=rendered if to else for_forwarding(rendered, message.role), to=to)
            return None, to or f"{fallback}, to forward"
    except LcsprError as exc:
        return str(exc), ""


@dataclass(frozen=True, slots=True)  # slots: one for every review with a message (half the cost to make)
class Planned:
    """The notices current today for one review's clocks."""

    reference: str
    flow_run_id: str | None
    notices: list[Notice]


def plan(app: App, today: date) -> list[Planned]:
    """The reminders and escalations current on ``today``, by review (in reference order), without
    replaying the reviews that have nothing due.

    Only clocks due by :func:`models.reminders.last_due_with_messages` can have a message, so the
    register hands over just those, from its clock projection (one indexed query), and each is judged
    by the reminder policy as a replay would judge it (:func:`models.notices.clock_notices`), once per
    kind, due date and owner (:class:`models.reminders.RemindersOn`). A review projected under another
    policy than the one in force (see ``services.reviews``) is replayed instead, whole."""
    policy = app.config.policy
    last_due = last_due_with_messages(today, app.config.reminder_policies.values(), policy.calendar)
    if last_due is None:
        return []
    with app.uow() as uow:
        projected = uow.reviews.clocks_due_by(last_due, policy.fingerprint)
        stale = [uow.reviews.get(reference) for reference in uow.reviews.projected_otherwise(policy.fingerprint)]
    replayed = [clock for stored in stale for c in rebuild(app, stored).clocks
                if (clock := due_clock(stored.reference, stored.flow_run_id, c, policy.calendar)) is not None]
    reminders = RemindersOn(today, app.config.reminder_policies, policy.calendar)
    titles: dict[tuple[ClockKind, str, ClockRule], str] = {}
    found: dict[str, Planned] = {}  # by reference, with each clock's notices in the clocks' order
    for clock in chain(projected, replayed):
        try:
            current = reminders.current(clock.kind, clock.due, clock.owner_role)
        except ConfigurationError:
            continue  # an agency clock without an agency cannot be routed; the register never makes one
        if not current:
            continue
        # A few titles and messages serve many clocks: each is made once.
        if (title := titles.get(named := (clock.kind, clock.subject, clock.rule))) is None:
            title = titles[named] = title_of(clock.kind, clock.subject, clock.rule)
        if (review := found.get(clock.reference)) is None:
            review = found[clock.reference] = Planned(clock.reference, clock.flow_run_id, [])
        for m in current:
            review.notices.append(Notice(key=m.key_about(clock.reference, clock.key), kind=m.level.value, role=m.role,
                                         step=title, due=m.due, days_overdue=m.days_overdue,
                                         escalated_from=m.escalated_from))
    return [found[reference] for reference in sorted(found)]


def sweep(app: App, as_of: date | None = None, dry_run: bool = False) -> SweepReport:
    """Queue every reminder and escalation current today for every open clock, gather the reminders held
    for the roles that get a daily digest into their digests, then deliver.

    First the reviews projected under another policy are projected again (once, after a change of
    rules, closures or release), so the plan reads projections alone from then on."""
    today = as_of or app.clock.today()
    now = app.clock.now()
    policy = app.config.policy
    report = SweepReport(today=today, working_day=policy.calendar.is_working_day(today))
    if not dry_run:
        with app.uow() as uow:
            stale = uow.reviews.projected_otherwise(policy.fingerprint)
        reproject(app, stale)
    for planned in plan(app, today):
        report.due.extend(n.key for n in planned.notices)
        if not dry_run:
            with app.uow() as uow:
                report.queued.extend(queue(uow, app, planned.reference, planned.notices, planned.flow_run_id, now))
                uow.commit()
    if not dry_run:
        report.queued.extend(meetings.queue_reminders(app, today))  # the working day before each meeting
        report.digests = make_digests(app, today, now)
        report.delivery = deliver(app)
    return report


def retry_now(app: App) -> tuple[int, DeliveryReport]:
    """Make every pending message no sender holds due at once, then deliver (after a fix)."""
    with app.uow() as uow:
        count = uow.outbox.retry_now(app.clock.now())
        uow.commit()
    return count, deliver(app)

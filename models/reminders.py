"""The reminder policy: who hears what about a clock, and on which working day.

Pure data and pure functions. The sweep asks :func:`messages_due` which messages are
*current* for a clock on ``today`` (:class:`RemindersOn` gives the same answers for many
clocks at once) and queues them in the outbox under :meth:`DueMessage.key`; the outbox
drops keys it already holds. That makes the sweep idempotent: running it twice a day
sends nothing twice, and a sweep that missed some days (a server down over a long
weekend) catches up with the latest occurrence of each series only, never a backlog of
stale reminders.

For one clock, in working days relative to its due date (defaults)::

    due-5  due-1  due       due+1     due+2 ...  due+5        due+10  due+15 ...
    before before due_today overdue-1 overdue-2  overdue-5    ...
                            rung-1: business unit manager, sub group chair
                                                 rung-5: independent chair (the safeguarding
                                                 partners for the chair's own decision)
                                                              rung-10 rung-15: repeats

Conventions, stated once here:

- Nothing is current on a non-working day; weekends and bank holidays skip themselves.
- A due date that is itself a non-working day (calendar-month deadlines can fall on a
  Saturday) is announced on the next working day, and overdue days count from there,
  so the owner always hears "due" once before hearing "overdue".
- ``due=None`` means the clock is paused, met or stopped: it is silent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType

from models.clocks import ClockKind
from models.errors import ConfigurationError, Refused
from models.roles import Role
from models.workdays import WorkingCalendar

# Placeholder owner for clocks owned by an agency: the clock names the agency itself.
AGENCY_OWNER = "agency"
_AGENCY_PREFIX = "agency-"
_NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")


def agency_role(name: str) -> str:
    """An agency's role and Apprise tag: "Thames Valley Police" -> "agency-thames-valley-police"."""
    slug = _NOT_ALPHANUMERIC.sub("-", name.lower()).strip("-")
    if not slug:
        raise Refused(f"An agency name needs at least one letter or digit, not {name!r}.")
    return _AGENCY_PREFIX + slug


@dataclass(frozen=True)
class Rung:
    """A step of the escalation ladder: these roles hear once the clock is this overdue."""

    after_working_days: int
    roles: tuple[str, ...]


def escalation_ladder(first_after: int = 1, chair_after: int = 5, owner_role: str = "") -> tuple[Rung, ...]:
    """The ladder every chased clock climbs: the business unit manager and the sub group chair
    ``first_after`` working days overdue, the Independent Chair ``chair_after``.

    Nobody is escalated to about their own step: a clock the Independent Chair owns (the
    chair decision's local target) climbs to the safeguarding partners instead, whose
    decision it is in law.
    """
    top = Role.INDEPENDENT_CHAIR.value
    if owner_role == top:
        top = Role.SAFEGUARDING_PARTNERS.value
    return (
        Rung(first_after, (Role.BUSINESS_UNIT_MANAGER.value, Role.SUBGROUP_CHAIR.value)),
        Rung(chair_after, (top,)),
    )


_DEFAULT_LADDER = escalation_ladder()


@dataclass(frozen=True)
class ReminderPolicy:
    """How one kind of clock reminds its owner and escalates when it runs late."""

    owner_role: str
    before: tuple[int, ...] = (5, 1)
    on_due: bool = True
    overdue_daily: bool = True
    ladder: tuple[Rung, ...] = _DEFAULT_LADDER
    repeat_every: int = 5

    def __post_init__(self) -> None:
        # Policies come from settings; a malformed one would silently drop or repeat
        # messages, so it is refused when built rather than discovered by a sweep.
        if not self.owner_role:
            raise ConfigurationError("A reminder policy needs an owner role.")
        if any(n < 1 for n in self.before) or len(set(self.before)) != len(self.before):
            raise ConfigurationError(
                f"Reminders before the due date must be distinct positive working days, "
                f"not {self.before}."
            )
        afters = [r.after_working_days for r in self.ladder]
        if any(a < 1 for a in afters) or afters != sorted(set(afters)):
            raise ConfigurationError(
                f"Escalation rungs must be at distinct positive working days in rising "
                f"order, not {afters}."
            )
        if any(not r.roles for r in self.ladder):
            raise ConfigurationError("Every escalation rung needs at least one role.")
        if self.repeat_every < 0:
            raise ConfigurationError(
                f"repeat_every is a number of working days (0 for never), not {self.repeat_every}."
            )


DEFAULT_POLICIES: Mapping[ClockKind, ReminderPolicy] = MappingProxyType(
    {
        ClockKind.SERIOUS_INCIDENT_NOTIFICATION: ReminderPolicy(Role.BUSINESS_UNIT.value),
        ClockKind.RAPID_REVIEW: ReminderPolicy(Role.SAFEGUARDING_PARTNERS.value),
        ClockKind.INFORM_BODIES: ReminderPolicy(Role.BUSINESS_UNIT.value),
        ClockKind.AGENCY_REPORT: ReminderPolicy(AGENCY_OWNER),
        ClockKind.DRAFT_ROUND: ReminderPolicy(Role.PANEL.value),
        ClockKind.FINAL_REPORT_TO_BODIES: ReminderPolicy(Role.BUSINESS_UNIT.value),
        ClockKind.PUBLICATION: ReminderPolicy(Role.SAFEGUARDING_PARTNERS.value),
        ClockKind.DEFERRAL_REVIEW: ReminderPolicy(Role.SUBGROUP.value),
        # Not a deadline to chase: on the day it tells the business unit that the
        # report has been up for its minimum time and may now be withdrawn.
        ClockKind.STAYS_PUBLISHED: ReminderPolicy(
            Role.BUSINESS_UNIT.value,
            before=(),
            overdue_daily=False,
            ladder=(),
            repeat_every=0,
        ),
        ClockKind.ACTION: ReminderPolicy(AGENCY_OWNER),
        # Local targets: chased like the statutory clocks, each by the role its step is asked of.
        ClockKind.CHAIR_DECISION_TARGET: ReminderPolicy(
            Role.INDEPENDENT_CHAIR.value, ladder=escalation_ladder(owner_role=Role.INDEPENDENT_CHAIR.value)
        ),
        ClockKind.AUTHOR_APPOINTMENT_TARGET: ReminderPolicy(Role.BUSINESS_UNIT.value),
        ClockKind.TERMS_OF_REFERENCE_TARGET: ReminderPolicy(Role.PANEL_CHAIR.value),
        ClockKind.ENGAGEMENT_TARGET: ReminderPolicy(Role.AUTHOR.value),
        ClockKind.DRAFT_CIRCULATION_TARGET: ReminderPolicy(Role.AUTHOR.value),
        ClockKind.FINAL_REPORT_TARGET: ReminderPolicy(Role.SAFEGUARDING_PARTNERS.value),
        ClockKind.LEARNING_REVIEW_TARGET: ReminderPolicy(Role.SUBGROUP.value),
        ClockKind.ACTION_PLAN_TARGET: ReminderPolicy(Role.PANEL_CHAIR.value),
        ClockKind.CLOSURE_TARGET: ReminderPolicy(Role.SUBGROUP.value),
    }
)


class MessageLevel(StrEnum):
    """How urgent a message is; each level has its own template."""

    REMINDER = "reminder"
    DUE_TODAY = "due_today"
    OVERDUE = "overdue"
    ESCALATION = "escalation"


@dataclass(frozen=True)
class Current:
    """A message current on a day about any clock of one kind, due on one date and with one owner: a
    :class:`DueMessage` without the clock's key, the same for every such clock (:class:`RemindersOn`)."""

    level: MessageLevel
    occurrence: str
    role: str
    due: date
    days_overdue: int
    escalated_from: str

    def key_about(self, reference: str, clock_key: str) -> str:
        """The outbox idempotency key of this message about the clock ``clock_key`` of review
        ``reference``: the same message always has the same key."""
        return f"{reference}:{clock_key}:{self._key_end}"

    @cached_property
    def _key_end(self) -> str:
        # Made once: one Current stands for the same message about many clocks.
        return f"{self.level.value}:{self.occurrence}:{self.role}"

    def about(self, clock_key: str) -> DueMessage:
        """This message about the clock ``clock_key``."""
        return DueMessage(self.level, self.occurrence, self.role, self.due, self.days_overdue, self.escalated_from,
                          clock_key)


@dataclass(frozen=True)
class DueMessage(Current):
    """One message to one role about one clock, identified by its occurrence."""

    clock_key: str = ""

    def key(self, reference: str) -> str:
        """The outbox idempotency key: the same message always has the same key."""
        return self.key_about(reference, self.clock_key)


def messages_due(
    *,
    clock_key: str,
    due: date | None,
    today: date,
    policy: ReminderPolicy,
    calendar: WorkingCalendar,
    owner_role: str | None = None,
) -> list[DueMessage]:
    """The messages current for one clock on ``today``, in a stable order.

    At most one reminder before the due date, then the due-date message, then each
    working day overdue the owner's daily message plus the current escalation rung.
    """
    if due is None or not calendar.is_working_day(today):
        return []
    owner = _owner(policy, owner_role)
    return [m.about(clock_key) for m in _current(due, today, policy, calendar, owner)]


class RemindersOn:
    """The reminder policies judged on one day, ``today``, for a sweep over many clocks.

    What :func:`messages_due` answers for a clock depends on nothing of it but its policy (its kind's),
    its due date and its owner, and a register's clocks share a few hundred due dates: each (kind, due
    date, owner) is judged once, when first asked, and the answer kept, so most clocks are decided by a
    dictionary look-up. Answers are :func:`messages_due`'s, each without its clock's key."""

    def __init__(self, today: date, policies: Mapping[ClockKind, ReminderPolicy], calendar: WorkingCalendar) -> None:
        self.today = today
        self.policies = policies
        self.calendar = calendar
        self.working_day = calendar.is_working_day(today)
        self._judged: dict[tuple[ClockKind, date, str], tuple[Current, ...]] = {}

    def current(self, kind: ClockKind, due: date | None, owner_role: str = "") -> tuple[Current, ...]:
        """The messages current on ``today`` for a clock of ``kind`` due on ``due`` (None: paused, met or
        stopped) and owned by ``owner_role`` ("" for its policy's owner). ConfigurationError, as
        :func:`messages_due`, for a clock owned by an agency that does not name it."""
        if due is None or not self.working_day:
            return ()
        key = (kind, due, owner_role)
        judged = self._judged.get(key)
        if judged is None:
            policy = self.policies[kind]
            judged = _current(due, self.today, policy, self.calendar, _owner(policy, owner_role or None))
            self._judged[key] = judged
        return judged


def _current(due: date, today: date, policy: ReminderPolicy, calendar: WorkingCalendar,
             owner: str) -> tuple[Current, ...]:
    """The messages current on ``today`` (a working day) for a clock due on ``due`` owned by ``owner``."""

    def message(level: MessageLevel, occurrence: str, role: str, overdue: int = 0) -> Current:
        escalated_from = owner if level is MessageLevel.ESCALATION else ""
        return Current(level, occurrence, role, due, overdue, escalated_from)

    # See the module docstring: a non-working due date is announced on the next working day.
    due_day = calendar.next_working_day(due)
    if today < due_day:
        sent = [(calendar.before(due, n), n) for n in policy.before]
        past = [(on, n) for on, n in sent if on <= today]
        if not past:
            return ()
        _, n = max(past)  # the most recent; distinct N always give distinct dates
        return (message(MessageLevel.REMINDER, f"before-{n}", owner),)
    if today == due_day:
        return (message(MessageLevel.DUE_TODAY, "due", owner),) if policy.on_due else ()

    k = calendar.between(due_day, today)
    messages: list[Current] = []
    if policy.overdue_daily:
        messages.append(message(MessageLevel.OVERDUE, f"overdue-{k}", owner, k))
    reached = [r for r in policy.ladder if r.after_working_days <= k]
    if reached:
        rung = reached[-1]
        day = rung.after_working_days
        if rung is policy.ladder[-1] and policy.repeat_every > 0:
            # Repeats are numbered by the day they fall due, so a late sweep names the
            # latest repeat rather than replaying the ones it missed.
            day += policy.repeat_every * ((k - day) // policy.repeat_every)
        messages.extend(
            message(MessageLevel.ESCALATION, f"rung-{day}", role, k) for role in rung.roles
        )
    return tuple(messages)


def last_due_with_messages(today: date, policies: Iterable[ReminderPolicy], calendar: WorkingCalendar) -> date | None:
    """The latest due date a clock can have and still have a message on ``today`` under any of ``policies``
    (None on a non-working day, when no clock has any): the furthest reminder's number of working days
    after ``today``. Every message of :func:`messages_due` is for a clock due by then; the deadline sweep
    looks only at those clocks.

    A reminder N working days ahead is current from ``calendar.before(due, N)``: for a due date later than
    ``calendar.add(today, N)`` that day is still to come, whether or not the due date is a working day;
    due-today and overdue messages are for due dates up to ``today``."""
    if not calendar.is_working_day(today):
        return None
    furthest = max((n for policy in policies for n in policy.before), default=0)
    return calendar.add(today, furthest)


def _owner(policy: ReminderPolicy, owner_role: str | None) -> str:
    if owner_role:
        return owner_role
    if policy.owner_role == AGENCY_OWNER:
        # Sending to a bare "agency" tag would reach nobody; the clock must say which.
        raise ConfigurationError(
            "This clock is owned by an agency; pass the agency's role "
            "(e.g. agency-thames-valley-police) as owner_role."
        )
    return policy.owner_role

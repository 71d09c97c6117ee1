"""The daily digest: one email a day listing what a person owes, instead of one email per reminder.

A partnership names the roles (role addresses) that get a digest (setting ``digest_roles``; ``*`` for
every role; none by default). For those roles the sweep still queues each reminder in the outbox under
its own key, rendered as ever, but *held*: it is not sent alone. Once a day, after queueing, the sweep
gathers every held reminder of a role into one message (:func:`compose`) under the key
``digest:<role>:<day>`` (:func:`digest_key`), and each reminder records that digest as the one that
carries it; when the digest is sent, they count as sent with it. A second sweep the same day finds that
key taken and sends nothing more; a reminder held after the day's digest was made waits for the next
day's (one digest a day).

Only reminders are digestible (:data:`DIGESTIBLE`): "due soon", "due today" and the owner's daily
"overdue". Escalations, step-opened announcements and the statutory messages to the national bodies go
at once, whatever the role's setting.

Pure: what goes in a digest and in which order; rendering (``notifications.render.render_digest``) and
sending happen elsewhere. An item carries what a single reminder's message carries (the review
reference, what is due, the due date, days overdue and the link), never case facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from models.errors import ConfigurationError
from models.reminders import MessageLevel
from models.roles import Role

EVERY_ROLE = "*"
DIGEST_KIND = "digest"  # the outbox kind (and template) of a digest message

# The message kinds (``models.notices.Notice.kind``) a digest may carry: the reminders to the owner.
DIGESTIBLE: frozenset[str] = frozenset({MessageLevel.REMINDER.value, MessageLevel.DUE_TODAY.value,
                                        MessageLevel.OVERDUE.value})

_AGENCY_ROLE = re.compile(r"^agency-[a-z0-9-]{1,100}$")


def check_digest_roles(roles: Iterable[str]) -> frozenset[str]:
    """The roles of the setting, each a known role, an ``agency-<name>`` role or ``*`` (every role);
    ConfigurationError naming the first that is none of these."""
    known = {r.value for r in Role}
    found = frozenset(r.strip() for r in roles if r.strip())
    for role in sorted(found):
        if role != EVERY_ROLE and role not in known and not _AGENCY_ROLE.match(role):
            raise ConfigurationError(
                f"'{role[:60]}' in the digest roles is not a role ({', '.join(sorted(known))}, "
                f"agency-<name>, or {EVERY_ROLE} for every role).")
    return found


def is_digestible(kind: str) -> bool:
    """Whether a message of ``kind`` may wait for a digest (a reminder), or must go at once."""
    return kind in DIGESTIBLE


def wants_digest(role: str, digest_roles: frozenset[str]) -> bool:
    """Whether ``role`` gets its reminders in a daily digest."""
    return EVERY_ROLE in digest_roles or role in digest_roles


def goes_in_digest(kind: str, role: str, digest_roles: frozenset[str]) -> bool:
    """Whether a message of ``kind`` to ``role`` is held for the role's digest rather than sent alone."""
    return is_digestible(kind) and wants_digest(role, digest_roles)


def digest_key(role: str, day: date) -> str:
    """The outbox key of ``role``'s digest of ``day``: one a role a day."""
    return f"{DIGEST_KIND}:{role}:{day.isoformat()}"


@dataclass(frozen=True)
class DigestItem:
    """One reminder as a line of a digest: what a reminder's own message says, in fewer words."""

    reference: str
    step: str  # what is due, as the reminder names it
    kind: str  # reminder, due_today or overdue
    due: date | None
    days_overdue: int
    link: str

    @property
    def what(self) -> str:
        """Where it stands, in words: "due by 2026-11-30", "due today, 2026-11-25", "3 working days overdue
        (due 2026-11-20)"; a step with no deadline says so rather than quote a date."""
        due = self.due.isoformat() if self.due else ""
        if self.kind == MessageLevel.OVERDUE.value:
            days = self.days_overdue
            return f"{days} working day{'' if days == 1 else 's'} overdue" + (f" (due {due})" if due else "")
        if self.kind == MessageLevel.DUE_TODAY.value:
            return f"due today, {due}" if due else "due today"
        return f"due by {due}" if due else "still open (no statutory deadline)"

    def as_record(self) -> dict[str, object]:
        """The item as the outbox keeps it (JSON)."""
        return {"reference": self.reference, "step": self.step, "kind": self.kind,
                "due": self.due.isoformat() if self.due else None, "days_overdue": self.days_overdue,
                "link": self.link}

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> DigestItem:
        due = record.get("due")
        return cls(str(record["reference"]), str(record["step"]), str(record["kind"]),
                   date.fromisoformat(due) if isinstance(due, str) else None,
                   int(str(record.get("days_overdue", 0))), str(record.get("link", "")))


@dataclass(frozen=True)
class HeldReminder:
    """A reminder held in the outbox for its role's digest, not yet in one."""

    id: int
    key: str
    role: str
    item: DigestItem


@dataclass(frozen=True)
class Digest:
    """One role's digest of one day: the items it lists, the most pressing first."""

    key: str
    role: str
    day: date
    items: tuple[DigestItem, ...]

    @property
    def day_in_words(self) -> str:
        """The day as the subject gives it: "25 Nov 2026"."""
        return f"{self.day.day} {self.day.strftime('%b %Y')}"


def _urgency(item: DigestItem) -> tuple[int, int, date, str, str]:
    # Overdue first (the most overdue at the top), then due today, then by due date; no date last.
    rank = {MessageLevel.OVERDUE.value: 0, MessageLevel.DUE_TODAY.value: 1}.get(item.kind, 2)
    return rank, -item.days_overdue, item.due or date.max, item.reference, item.step


def compose(role: str, day: date, items: Sequence[DigestItem]) -> Digest:
    """``role``'s digest of ``day`` listing ``items``, overdue first, then by due date. ValueError if there
    are none: a digest is made only for a role with something held."""
    if not items:
        raise ValueError(f"A digest for {role} needs at least one item.")
    return Digest(digest_key(role, day), role, day, tuple(sorted(items, key=_urgency)))


def by_role(held: Iterable[HeldReminder]) -> dict[str, list[HeldReminder]]:
    """Held reminders grouped by role, each group in the order given."""
    groups: dict[str, list[HeldReminder]] = {}
    for reminder in held:
        groups.setdefault(reminder.role, []).append(reminder)
    return groups

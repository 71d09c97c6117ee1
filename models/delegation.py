"""Out of office and handover: a role's messages go to someone else for a range of days.

The chair of the sub group on leave for a fortnight, a new business unit manager before the notification
config names them: the partnership records that, from one day to another (both included), the messages for a
role go to a delegate's email address instead. The delegation is recorded with who asked and why, kept after
it ends, and can be cancelled; the messages sent in its range say whose they are.

Pure rules: what a delegation may be (:func:`check_delegation`) and which one covers a role on a day
(:func:`covering`). The day is an argument: the day a message is sent, in Europe/London.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from models.errors import Refused
from models.identifiers import ensure_no_identifiers
from models.roles import Role

# An address as a person types it: something@domain.tld, no spaces, no display name.
_ADDRESS = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_AGENCY_ROLE = re.compile(r"^agency-[a-z0-9-]{1,100}$")
LONGEST = 366  # days: a year's leave or handover at most; a longer one is a change of the config


@dataclass(frozen=True)
class Delegation:
    """From ``starts_on`` to ``ends_on`` (both included), the messages for ``role`` go to ``delegate``."""

    role: str
    delegate: str
    starts_on: date
    ends_on: date
    reason: str
    recorded_by: str
    id: int | None = None
    cancelled_by: str = ""  # who cancelled it ("" while it stands)

    def covers(self, role: str, day: date) -> bool:
        return self.role == role and self.starts_on <= day <= self.ends_on

    @property
    def period(self) -> str:
        return f"{self.starts_on.isoformat()} to {self.ends_on.isoformat()}"


def check_delegation(delegation: Delegation, others: Iterable[Delegation], today: date) -> None:
    """Refuse a delegation that cannot be kept: an unknown role, an address that is not one, a range that ends
    before it starts, has ended, or is longer than a year, a reason or name that identifies a child, or one that
    overlaps another delegation of the same role (cancel that one first: a role goes to one delegate a day)."""
    role = delegation.role
    if role not in {r.value for r in Role} and not _AGENCY_ROLE.match(role):
        known = ", ".join(r.value for r in Role)
        raise Refused(f"'{role[:60]}' is not a role ({known}, or agency-<name>).")
    if not _ADDRESS.match(delegation.delegate) or len(delegation.delegate) > 254:
        raise Refused("The delegate must be one email address (name@example.org).")
    if delegation.ends_on < delegation.starts_on:
        raise Refused(f"The delegation ends ({delegation.ends_on}) before it starts ({delegation.starts_on}).")
    if delegation.ends_on < today:
        raise Refused(f"The delegation would have ended on {delegation.ends_on}, before today ({today}).")
    if (delegation.ends_on - delegation.starts_on).days + 1 > LONGEST:
        raise Refused(f"A delegation lasts at most {LONGEST} days; for longer, change the notification config.")
    if not delegation.reason.strip() or not delegation.recorded_by.strip():
        raise Refused("Say why (--reason) and who records it (--by).")
    ensure_no_identifiers("reason", delegation.reason)
    ensure_no_identifiers("by", delegation.recorded_by, names_allowed=True)
    for other in others:
        if other.role == role and other.starts_on <= delegation.ends_on and delegation.starts_on <= other.ends_on:
            raise Refused(f"{role} is already delegated from {other.period} (delegation {other.id}); "
                          "cancel it first (`lcspr delegate --cancel ID`).")


def check_canceller(by: str) -> None:
    """Who cancels a delegation is named, and only by a name (never a child's identifiers)."""
    if not by.strip():
        raise Refused("Say who cancels it (--by).")
    ensure_no_identifiers("by", by, names_allowed=True)


def covering(delegations: Iterable[Delegation], role: str, day: date) -> Delegation | None:
    """The delegation that sends ``role``'s messages elsewhere on ``day``, if any (at most one: they do not overlap)."""
    return next((d for d in delegations if d.covers(role, day)), None)

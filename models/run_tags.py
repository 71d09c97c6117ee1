"""The tags a review's flow run carries, so the Prefect UI's run list can be filtered by them.

Every review run is tagged ``lcspr``; ``stage:<stage>``, ``route:<route>`` (once the Chair chose
one) and ``rag:<red|amber|green>`` (the worst colour of its clocks still running, while any runs)
say where the review stands as the register has it. The run only carries a copy: the register is
the truth, and the tags are computed from it again whenever the run records a decision or starts.

``wait:<step key>`` says which step a run is about to wait on, or waits on, so the UI's run list can be
filtered by step: the run writes it itself just before it suspends (and notes the same in the register,
``run_waits_on``, which ``lcspr list`` counts by), and a reading of the run's pause key may write it
again; nothing writes it from the register.

Tags that are not ours (a deployment's, an operator's) are left on the run. Pure: no clock is
read (``today`` is an argument) and nothing is called.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Protocol

from models.clocks import Clock, worst_rag
from models.lifecycle import Route, Stage
from models.workdays import WorkingCalendar

PRODUCT_TAG = "lcspr"
# The tags that say where a review stands: each replaced by the current one, never accumulated.
STANDING_PREFIXES = ("stage:", "route:", "rag:")
# The step the run waits on (or is about to): written by the run itself, or from its pause key.
WAIT_PREFIX = "wait:"


class Standing(Protocol):
    """Where a review stands: a ``Review`` replayed, or a ``ReviewView`` read from the projections."""

    @property
    def stage(self) -> Stage: ...

    @property
    def route(self) -> Route | None: ...

    @property
    def clocks(self) -> tuple[Clock, ...]: ...


def review_tags(review: Standing, today: date, calendar: WorkingCalendar, amber_within: int = 5) -> tuple[str, ...]:
    """The tags of ours the review's run should carry on ``today``. No child detail can get in: only
    the stage, the route and a colour."""
    tags = [PRODUCT_TAG, f"stage:{review.stage.value}"]
    if review.route is not None:
        tags.append(f"route:{review.route.value}")
    rag = worst_rag(review.clocks, today, calendar, amber_within)
    if rag is not None:
        tags.append(f"rag:{rag}")
    return tuple(tags)


def wait_tag(step_key: str) -> str:
    """The tag of a run that waits (or is about to wait) on the step ``step_key``."""
    return WAIT_PREFIX + step_key


def is_ours(tag: str) -> bool:
    return tag == PRODUCT_TAG or tag.startswith(STANDING_PREFIXES)


def retagged(current: Sequence[str], ours: Iterable[str]) -> list[str] | None:
    """The run's tags with ours replaced by ``ours`` and every other kept (in its order, then ours);
    None when that changes nothing, so a run already up to date is not written. A wait tag in ``ours``
    replaces the run's; without one, the run's wait tag is kept (only the run knows what it waits on)."""
    ours = list(ours)
    new_wait = any(t.startswith(WAIT_PREFIX) for t in ours)
    kept = [t for t in current if not is_ours(t) and not (new_wait and t.startswith(WAIT_PREFIX))]
    wanted = list(dict.fromkeys(kept + ours))
    return None if set(wanted) == set(current) else wanted

"""The one place the real clock is read.

Everything else takes time as an argument. Partnerships work to English dates, so
"today" is the date in Europe/London, not UTC: a sweep at 00:30 BST belongs to the
new day.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def now() -> datetime:
    """The current instant, timezone-aware (UTC)."""
    return datetime.now(tz=ZoneInfo("UTC"))


def today() -> date:
    """Today's date in England."""
    return now().astimezone(LONDON).date()

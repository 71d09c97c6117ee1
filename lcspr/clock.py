"""The one place the real clock is read.

Everything else takes time from the App's clock (``services.ports.Clock``). Partnerships
work to English dates, so "today" is the date in Europe/London, not UTC: a sweep at
00:30 BST belongs to the new day.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


class SystemClock:
    """The real time, timezone-aware (UTC), and today's date in England."""

    def now(self) -> datetime:
        return datetime.now(tz=ZoneInfo("UTC"))

    def today(self) -> date:
        return self.now().astimezone(LONDON).date()

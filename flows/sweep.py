"""The deadline sweep and the outbox delivery, as scheduled flows.

The sweep runs every working day at 08:00 Europe/London: it compares every open
clock with today in working days, queues the reminders and escalations now current
into the outbox (one key each), then delivers what is pending. Weekends and bank
holidays skip themselves (the reminder policy sends nothing on a non-working day).
The delivery flow runs every few minutes so a failed send is retried with backoff
without waiting for tomorrow's sweep.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from lcspr.settings import Settings
from tasks.notify import deliver_messages, sweep_clocks


@flow(name="lcspr-deadline-sweep", log_prints=False)
async def deadline_sweep(as_of: date | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Queue today's reminders and escalations, then deliver pending messages."""
    logger = get_run_logger()
    settings = Settings()
    report = await sweep_clocks(settings, as_of, dry_run)
    if not settings.calendar().is_working_day(report.today):
        logger.info("%s is not a working day: no reminders are due.", report.today)
    logger.info("%s: %d messages due, %d newly queued, %d sent, %d failed",
                report.today, len(report.due), len(report.queued), len(report.delivery.sent),
                len(report.delivery.failed))
    for key, error in report.delivery.failed.items():
        logger.warning("Not delivered, will retry: %s: %s", key, error)
    return {"today": report.today.isoformat(), "due": len(report.due), "queued": len(report.queued),
            "sent": len(report.delivery.sent), "failed": len(report.delivery.failed), "dry_run": dry_run}


@flow(name="lcspr-deliver-outbox", log_prints=False)
async def deliver_outbox() -> dict[str, Any]:
    """Deliver pending messages whose next attempt is due."""
    result = await deliver_messages(Settings())
    if result["failed"]:
        get_run_logger().warning("Not delivered, will retry: %s", result["failed"])
    return result

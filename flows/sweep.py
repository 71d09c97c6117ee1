"""The deadline sweep and the outbox delivery, as scheduled flows.

The sweep runs every working day at 08:00 Europe/London: it compares every open
clock with today in working days, queues the reminders and escalations now current
into the outbox (one key each), then delivers what is pending. Weekends and bank
holidays skip themselves (the reminder policy sends nothing on a non-working day).
The delivery flow runs every few minutes so a failed send is retried with backoff
without waiting for tomorrow's sweep. Both are built around a ``connect`` function
(see ``flows/review.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from prefect import Flow, flow, get_run_logger

from services.app import App
from tasks.messages import deliver_messages, sweep_clocks


def sweep_flow(connect: Callable[[], App]) -> Flow[[date | None, bool], Any]:
    @flow(name="lcspr-deadline-sweep", log_prints=False)
    async def deadline_sweep(as_of: date | None = None, dry_run: bool = False) -> dict[str, Any]:
        """Queue today's reminders and escalations, then deliver pending messages."""
        logger = get_run_logger()
        report = await sweep_clocks(connect(), as_of, dry_run)
        if not report.working_day:
            logger.info("%s is not a working day: no reminders are due.", report.today)
        logger.info("%s: %d messages due, %d newly queued, %d daily digests, %d sent, %d failed",
                    report.today, len(report.due), len(report.queued), len(report.digests),
                    len(report.delivery.sent), len(report.delivery.failed))
        for key, error in report.delivery.failed.items():
            logger.warning("Not delivered, will retry: %s: %s", key, error)
        return {"today": report.today.isoformat(), "due": len(report.due), "queued": len(report.queued),
                "digests": len(report.digests), "sent": len(report.delivery.sent),
                "failed": len(report.delivery.failed), "dry_run": dry_run}

    return deadline_sweep


def delivery_flow(connect: Callable[[], App]) -> Flow[[], Any]:
    @flow(name="lcspr-deliver-outbox", log_prints=False)
    async def deliver_outbox() -> dict[str, Any]:
        """Deliver pending messages whose next attempt is due."""
        report = await deliver_messages(connect())
        if report.failed:
            get_run_logger().warning("Not delivered, will retry: %s", report.failed)
        return {"sent": len(report.sent), "failed": report.failed}

    return deliver_outbox

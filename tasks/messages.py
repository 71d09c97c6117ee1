"""Prefect tasks for messages: deliver the outbox, run the deadline sweep (thin wrappers)."""

from __future__ import annotations

import asyncio
from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE

from services import messages
from services.app import App
from services.messages import DeliveryReport, SweepReport


@task(name="deliver-messages",
      task_run_name="Send pending messages",
      cache_policy=NO_CACHE, retries=2, retry_delay_seconds=30)
async def deliver_messages(app: App, reference: str | None = None) -> DeliveryReport:
    """Send what is pending; failures stay pending with their error (never raised: nothing is lost)."""
    # In a thread: the review flow sends while it publishes and chooses its next wait.
    return await asyncio.to_thread(messages.deliver_soon, app, reference)


@task(name="sweep-clocks",
      task_run_name="Queue today's reminders and escalations",
      cache_policy=NO_CACHE, retries=2, retry_delay_seconds=30)
async def sweep_clocks(app: App, as_of: date | None, dry_run: bool) -> SweepReport:
    """Queue today's reminders and escalations for every open clock, then deliver."""
    return messages.sweep(app, as_of, dry_run)

"""Prefect tasks for messages: announce an opened step, run the deadline sweep, deliver the outbox."""

from __future__ import annotations

import os
import socket
from datetime import date
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from lcspr import clock
from lcspr.settings import Settings
from models.notices import step_notices
from notifications.dispatch import AppriseDispatcher
from tasks.outbox import DeliveryReport, Outbox, SweepReport, sweep
from tasks.register import Register
from tasks.review import register_for, side_effect


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def outbox_for(settings: Settings, register: Register | None = None) -> Outbox:
    return Outbox(register or register_for(settings), partnership=settings.partnership, ui_url=settings.ui_url,
                  fallback_role=settings.unrouted_fallback_role)


def prefect_secret(name: str) -> str | None:
    """A Prefect Secret block's value, for ``${secret:NAME}`` in the Apprise config."""
    from prefect.blocks.system import Secret

    try:
        block: Any = Secret.load(name)  # sync here: the dispatcher runs outside the event loop's await
        return str(block.get())
    except ValueError:  # no block of that name
        return None


def dispatcher_for(settings: Settings) -> AppriseDispatcher:
    return AppriseDispatcher(settings.apprise_config_path, secret=prefect_secret)


@side_effect("announce-step")
async def announce_step(reference: str, step_key: str, settings: Settings) -> list[str]:
    """Queue the 'step opened' messages (and any statutory message) for the open step."""
    register = register_for(settings)
    step = register.open_step(reference)
    if step is None or step.key != step_key:
        return []
    return outbox_for(settings, register).queue(reference, step_notices(reference, step), clock.now())


@task(name="deliver-messages", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=30)
async def deliver_messages(settings: Settings, reference: str | None = None) -> dict[str, Any]:
    """Send what is pending; failures stay pending with their error (never raised: nothing is lost)."""
    report: DeliveryReport = outbox_for(settings).deliver(
        dispatcher_for(settings), clock.now(), worker_name(), reference=reference)
    return {"sent": len(report.sent), "failed": report.failed}


@task(name="sweep-clocks", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=30)
async def sweep_clocks(settings: Settings, as_of: date | None, dry_run: bool) -> SweepReport:
    register = register_for(settings)
    return sweep(register, outbox_for(settings, register), None if dry_run else dispatcher_for(settings),
                 today=as_of or clock.today(), now=clock.now(), worker=worker_name(),
                 policies=settings.reminder_policies(), dry_run=dry_run)

"""The App: everything a use case needs, wired once at the edge and passed in.

:mod:`lcspr.bootstrap` builds one from the settings with the real adapters; the tests build
one with the fakes of ``tests/fakes.py``. Nothing below the edge reads the environment or
the real clock: they come in here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from models.clocks import ClockKind
from models.lifecycle import Policy
from models.reminders import ReminderPolicy
from services.ports import Clock, Dispatcher, RunsFactory, UnitOfWork


@dataclass(frozen=True)
class Config:
    """The partnership's rules and names, as the settings give them."""

    policy: Policy
    reminder_policies: Mapping[ClockKind, ReminderPolicy]
    partnership: str = "Safeguarding Children Partnership"
    reference_prefix: str = "LCSPR"
    ui_url: str = "http://127.0.0.1:4200"
    unrouted_fallback_role: str = "business_unit"
    amber_within_working_days: int = 5
    reconcile_grace_seconds: float = 120
    # Where kill points are armed (``adapters/failpoints.py``); None: never armed.
    failpoints_home: Path | None = None
    # Names this process as a sender of the outbox (host:pid), so a lease is held by one sender.
    worker: str = "lcspr"

    def run_link(self, flow_run_id: str | None) -> str:
        """A flow run's page in the Prefect UI, where its Resume form is (UI V2, served under /v2/)."""
        base = self.ui_url.rstrip("/")
        if not base.endswith("/v2"):
            base += "/v2"
        return f"{base}/runs/flow-run/{flow_run_id}" if flow_run_id else base


class App:
    """The wired adapters and the configuration. A plain class (not a dataclass), so Prefect does not
    walk into it when it is passed to a task."""

    def __init__(self, *, config: Config, clock: Clock, uow: Callable[[], UnitOfWork], runs: RunsFactory,
                 dispatcher: Callable[[], Dispatcher]) -> None:
        self.config = config
        self.clock = clock
        self.uow = uow
        self.runs = runs
        self.dispatcher = dispatcher

    def __repr__(self) -> str:
        return f"App({self.config.partnership!r})"

"""The App: everything a use case needs, wired once at the edge and passed in.

:mod:`lcspr.bootstrap` builds one from the settings with the real adapters; the tests build
one with the fakes of ``tests/fakes.py``. Nothing below the edge reads the environment or
the real clock: they come in here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from models.clocks import ClockKind
from models.lifecycle import Policy
from models.reminders import ReminderPolicy
from models.themes import ThemeList
from notifications.artifacts import PORTFOLIO_KEY
from services.ports import Clock, Dispatcher, RunsFactory, UnitOfWork, Warm


@dataclass(frozen=True)
class Config:
    """The partnership's rules and names, as the settings give them."""

    policy: Policy
    reminder_policies: Mapping[ClockKind, ReminderPolicy]
    partnership: str = "Safeguarding Children Partnership"
    reference_prefix: str = "LCSPR"
    ui_url: str = "http://127.0.0.1:4200"
    unrouted_fallback_role: str = "business_unit"
    # The roles whose reminders go in one email a day (``models.digest``; "*": every role); none by default.
    digest_roles: frozenset[str] = frozenset()
    amber_within_working_days: int = 5
    reconcile_grace_seconds: float = 120
    # Where kill points are armed (``adapters/failpoints.py``); None: never armed.
    failpoints_home: Path | None = None
    # Names this process as a sender of the outbox (host:pid), so a lease is held by one sender.
    worker: str = "lcspr"
    # The partnership's controlled list of themes for recommendations (``models.themes``).
    themes: ThemeList = field(default_factory=ThemeList)

    def run_link(self, flow_run_id: str | None) -> str:
        """A flow run's page in the Prefect UI, where its Resume form is (UI V2, served under /v2/)."""
        return ui_page(self.ui_url, f"runs/flow-run/{flow_run_id}" if flow_run_id else "")

    def artifact_link(self, key: str) -> str:
        """An artifact's page in the Prefect UI, by key: its latest version, with the earlier ones."""
        return ui_page(self.ui_url, f"artifacts/key/{key}")

    @property
    def portfolio_link(self) -> str:
        """The portfolio of every open review, the sub group's start page."""
        return portfolio_page(self.ui_url)


def portfolio_page(ui_url: str) -> str:
    """The portfolio artifact's page in the Prefect UI at ``ui_url`` (printed by `lcspr up`, in every email)."""
    return ui_page(ui_url, f"artifacts/key/{PORTFOLIO_KEY}")


def ui_page(ui_url: str, path: str) -> str:
    """A page of the Prefect UI (V2, served under /v2/); ``path`` empty: the UI's home."""
    base = ui_url.rstrip("/")
    if not base.endswith("/v2"):
        base += "/v2"
    return f"{base}/{path}" if path else base


class App:
    """The wired adapters and the configuration. A plain class (not a dataclass), so Prefect does not
    walk into it when it is passed to a task."""

    def __init__(self, *, config: Config, clock: Clock, uow: Callable[[], UnitOfWork], runs: RunsFactory,
                 dispatcher: Callable[[], Dispatcher], warm: Warm | None = None) -> None:
        self.config = config
        self.clock = clock
        self.uow = uow
        self.runs = runs
        self.dispatcher = dispatcher
        # Where a flow-run process may hand work to a process that has loaded it already (None: do it here).
        self.warm = warm

    def __repr__(self) -> str:
        return f"App({self.config.partnership!r})"

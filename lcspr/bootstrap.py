"""The one place concrete adapters are wired, from one settings object.

The CLI, ``lcspr up`` and the flows' entry points (``lcspr/entrypoints.py``) call
:func:`bootstrap` with the settings they built; everything below receives the resulting
:class:`services.app.App`. Tests build an App of their own (real adapters on a temporary
database, or the in-memory fakes) instead of patching anything.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from adapters.register.audit import AuditKeyFile
from adapters.register.unit_of_work import SqlRegister
from adapters.warm_commands import WarmCommands
from lcspr.clock import SystemClock
from lcspr.settings import Settings
from services.app import App, Config
from services.ports import Clock, Dispatcher, Runs


def prefect_secret(name: str) -> str | None:
    """A Prefect Secret block's value, for ``${secret:NAME}`` in the Apprise config."""
    from prefect.blocks.system import Secret

    try:
        # Sync here: the dispatcher runs outside the event loop's await.
        block: Any = Secret.load(name)
        return str(block.get())
    except ValueError:  # no block of that name
        return None


def config_from(settings: Settings) -> Config:
    return Config(
        policy=settings.policy(),
        reminder_policies=settings.reminder_policies(),
        partnership=settings.partnership,
        reference_prefix=settings.reference_prefix,
        ui_url=settings.ui_url,
        unrouted_fallback_role=settings.unrouted_fallback_role,
        digest_roles=frozenset(settings.digest_roles),
        amber_within_working_days=settings.amber_within_working_days,
        reconcile_grace_seconds=settings.reconcile_grace_seconds,
        failpoints_home=settings.home,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        themes=settings.theme_list(),
    )


def _prefect_runs(settings: Settings, config: Config, environ: Mapping[str, str]) -> AbstractContextManager[Runs]:
    # Reads and resumes over plain HTTP; Prefect's client (about 1.5 s to import) is loaded only when a
    # run is started, repaired or retagged, and the commands that read only the register never use it.
    from adapters.prefect_api import api_runs

    return api_runs(settings.deployment, config.run_link, environ)


def _apprise(settings: Settings, environ: Mapping[str, str]) -> Dispatcher:
    # Imported when a message is sent: Apprise and Jinja2 cost about 0.25 s, which `lcspr list` need not pay.
    from notifications.dispatch import AppriseDispatcher

    return AppriseDispatcher(settings.apprise_config_path, secret=prefect_secret, environ=environ)


def bootstrap(settings: Settings, *, clock: Clock | None = None, environ: Mapping[str, str] | None = None,
              warm: bool = False) -> App:
    """The App the settings describe: the register at their URL with the audit key in their key file,
    Prefect at ``PREFECT_API_URL``, Apprise with their config (placeholders from ``environ``, default
    the process environment). ``warm``: hand deliveries to the command server of ``lcspr up`` at the
    settings' home when one is there (a flow-run process, whose settings come from that environment)."""
    config = config_from(settings)
    clock = clock or SystemClock()
    register = SqlRegister(settings.register_url, audit_key=AuditKeyFile(settings.audit_key_path), now=clock.now())
    env = os.environ if environ is None else environ
    return App(
        config=config,
        clock=clock,
        uow=register,
        runs=lambda: _prefect_runs(settings, config, env),
        dispatcher=lambda: _apprise(settings, env),
        warm=WarmCommands(settings.home, env) if warm else None,
    )

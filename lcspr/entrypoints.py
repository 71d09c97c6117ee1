"""The flows as ``prefect.yaml`` deploys them, each wired from the environment's settings.

A worker runs a review, sweep, delivery, reconcile or portfolio flow run by importing this module;
when the run starts, its ``connect`` builds the settings (``LCSPR_*`` variables, which
``lcspr up`` passes to the worker) and wires the App. This is the edge: the flows below
never build settings themselves.
"""

from __future__ import annotations

import importlib
import threading

from flows.portfolio import portfolio_flow
from flows.reconcile import reconcile_flow
from flows.review import review_flow
from flows.sweep import delivery_flow, sweep_flow
from lcspr.bootstrap import bootstrap
from lcspr.settings import Settings
from services.app import App

# What sending a message needs: Apprise (through our dispatcher), Jinja2, icalendar; about 0.4 s to import here.
MESSAGING = ("icalendar", "jinja2", "notifications.dispatch")


def _load_messaging() -> None:
    for name in MESSAGING:
        try:
            importlib.import_module(name)
        except Exception:
            # The import that needs it raises this again, where it is handled.
            return


def connect() -> App:
    """The App for a flow run. A review run sends the messages an answer queued about a second after it
    starts, a second spent mostly waiting on Prefect's API and the register; the messaging libraries are
    loaded in a thread meanwhile, on the core that would idle, instead of inside the delivery (0.72 s of
    each resume before, docs/performance.md)."""
    threading.Thread(target=_load_messaging, name="lcspr-load-messaging", daemon=True).start()
    return bootstrap(Settings())


lcspr_review = review_flow(connect)
deadline_sweep = sweep_flow(connect)
deliver_outbox = delivery_flow(connect)
reconcile = reconcile_flow(connect)
portfolio = portfolio_flow(connect)

"""The flows as ``prefect.yaml`` deploys them, each wired from the environment's settings.

A worker runs a review, sweep, delivery, reconcile or portfolio flow run by importing this module;
when the run starts, its ``connect`` builds the settings (``LCSPR_*`` variables, which
``lcspr up`` passes to the worker) and wires the App. This is the edge: the flows below
never build settings themselves.
"""

from __future__ import annotations

from flows.portfolio import portfolio_flow
from flows.reconcile import reconcile_flow
from flows.review import review_flow
from flows.sweep import delivery_flow, sweep_flow
from lcspr.bootstrap import bootstrap
from lcspr.settings import Settings
from services.app import App


def connect() -> App:
    # A flow run's settings are the environment's, so the command server of the same home (if `lcspr up`
    # runs one) builds the same App: deliveries go there, where Apprise is loaded already.
    return bootstrap(Settings(), warm=True)


lcspr_review = review_flow(connect)
deadline_sweep = sweep_flow(connect)
deliver_outbox = delivery_flow(connect)
reconcile = reconcile_flow(connect)
portfolio = portfolio_flow(connect)

"""The portfolio flow: every working day at 07:30 Europe/London, publish the portfolio of open reviews
and bring every open review run's tags up to date (its RAG moves with the days while it waits).

Deployed as ``lcspr-portfolio`` (``prefect.yaml``); the review runs publish it too after every
answer they record, and ``lcspr report portfolio --publish`` by hand. The artifact
(``lcspr-portfolio``) is the sub group's start page: every open review, most urgent first. A
new version is made only when its content changed. Built around a ``connect`` function (see
``flows/review.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import Flow, flow, get_run_logger

from services.app import App
from tasks.artifacts import publish_portfolio, retag_open_runs


def portfolio_flow(connect: Callable[[], App]) -> Flow[[], Any]:
    @flow(name="lcspr-portfolio", log_prints=False)
    async def portfolio() -> dict[str, Any]:
        """Publish the portfolio of every open review (a new version only if it changed)."""
        app = connect()
        changed = await publish_portfolio(app)
        # A waiting run's RAG tag would go stale as the days pass: the daily run brings them up to date.
        retagged = await retag_open_runs(app)
        get_run_logger().info("Tags updated on %d review run(s)", len(retagged))
        get_run_logger().info("Portfolio %s: %s", "published" if changed else "unchanged",
                              app.config.portfolio_link)
        return {"changed": changed, "link": app.config.portfolio_link, "retagged": retagged}

    return portfolio

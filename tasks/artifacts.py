"""Prefect tasks that publish the register's view as artifacts (thin wrappers over ``services/artifacts.py``).

Never cached, like the run's tags: the content moves with the register and the days, and a publish
that changes nothing writes nothing (each key gets a new version only when its content changed), so
a run re-running from the top at every resume repeats them harmlessly.
"""

from __future__ import annotations

import asyncio

from services import artifacts, reviews
from services.app import App
from tasks.review import read


@read("publish-review-views", "Publish {reference}'s summary, timeline and progress, and the portfolio")
async def publish_review_views(app: App, reference: str) -> str:
    """Publish the review's summary, timeline and progress artifacts and the portfolio (handed to the command
    server when there is one: ``services.artifacts.publish_soon``); what was done."""
    return await asyncio.to_thread(artifacts.publish_soon, app, reference)


@read("publish-portfolio", "Publish the portfolio of open reviews")
async def publish_portfolio(app: App) -> bool:
    """Publish the portfolio of every open review (``lcspr-portfolio``); True if it changed."""
    return await asyncio.to_thread(artifacts.publish_portfolio, app)


@read("retag-open-runs", "Update every open review's tags")
async def retag_open_runs(app: App) -> list[str]:
    """Bring every open review's run tags up to date (a waiting run's RAG moves with the days)."""
    return reviews.retag_open_runs(app)


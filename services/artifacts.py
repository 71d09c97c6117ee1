"""Publish what the register says as Prefect artifacts: each review's summary, timeline and progress,
and the portfolio of every open review (the sub group's start page, ``lcspr-portfolio``).

The content is the status query's (``services.queries.status``), drawn by
``notifications/artifacts.py``; the register stays the truth and the artifacts are a view of it.
Publishing is idempotent: under each key a new version is created only when its content differs
from the latest one (``Runs.publish_artifact``), so a review run re-running from the top at every
resume, or a second publish of the same day, adds nothing.
"""

from __future__ import annotations

from models.errors import Unavailable
from notifications.artifacts import (
    PORTFOLIO_DESCRIPTION,
    PORTFOLIO_KEY,
    PortfolioRow,
    portfolio_markdown,
    portfolio_row,
    review_artifacts,
    review_key,
)
from services import quality, queries
from services.app import App


def publish_review(app: App, reference: str) -> list[str]:
    """Publish the review's summary, timeline and progress, linked to its run; the keys given a new version."""
    status = queries.status(app, reference)
    status["quality"] = quality.status_summary(app, status)  # the summary's line on the quality checklist
    made = review_artifacts(status, link=app.config.artifact_link)
    with app.runs() as runs:
        return [a.key for a in made
                if runs.publish_artifact(a.key, a.kind, a.data, a.description, status["flow_run_id"])]


def refresh_review(app: App, reference: str) -> str | None:
    """After something recorded beside the run (an action, the Panel's response, a quality assessment), publish the
    review's artifacts so the Prefect UI shows it now, not at the run's next answer; None if done, else why not
    (the register holds what was recorded either way; the portfolio follows at its next publish)."""
    try:
        publish_review(app, reference)
    except Unavailable as exc:
        return str(exc)
    return None


def publish_soon(app: App, reference: str) -> str:
    """Publish the review's summary, timeline and progress and the portfolio: handed to the command server of
    ``lcspr up`` when there is one (``App.warm``, ``lcspr publish``), which publishes them in the background
    while the run goes on to its next wait; else here. What was done, in words for the task's result.

    The portfolio reads every open review (1.3 s at 10,000): off the run, it does not hold up the next step,
    and the publishes of many runs queue in the server one at a time (``lcspr publish`` takes a lock), so the
    last to publish shows the newest register."""
    if app.warm is not None and app.warm.publish(reference):
        return "handed to the command server"
    made = publish_review(app, reference)
    changed = publish_portfolio(app)
    portfolio_now = "changed" if changed else "unchanged"
    return f"published here: {len(made)} of the review's artifacts changed, the portfolio {portfolio_now}"


def portfolio_rows(app: App) -> list[PortfolioRow]:
    """Every open review as the portfolio lists it (in the register's order; the markdown sorts them): its
    colour and lateness come from the clocks still counting, so those are all it reads."""
    return [portfolio_row(status, summary_link=app.config.artifact_link(review_key(status["reference"], "summary")))
            for status in queries.statuses(app, counting_only=True)]


def portfolio(app: App) -> str:
    """The portfolio as markdown: every open review, most urgent first."""
    return portfolio_markdown(portfolio_rows(app), today=app.clock.today(), partnership=app.config.partnership)


def publish_portfolio(app: App) -> bool:
    """Publish the portfolio under ``lcspr-portfolio``; True if that made a new version."""
    text = portfolio(app)
    with app.runs() as runs:
        return runs.publish_artifact(PORTFOLIO_KEY, "markdown", text, PORTFOLIO_DESCRIPTION)

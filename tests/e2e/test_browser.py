"""The Prefect UI as the sub group uses it, in a real browser: headless Chromium driven by Playwright.

Starts ``./run`` (as ``test_system.py`` does) and, in Debian's Chromium (``/usr/bin/chromium``;
Playwright's own browser download does not work here, ``.ci/run`` installs it), takes one review
through what people do in the Prefect V2 UI:

1. refer it with Deployments → lcspr-review → Run → Custom run, filling the labelled form;
2. find the run, named by its reference once it starts, and open its page;
3. answer the notification step with Open menu → Resume → "Resume Flow Run" → Submit, and see the
   register record it, the run wait on the rapid review, its tags and summary artifact updated;
4. give an answer our rules refuse (a date in the future), and see the next form say why at its
   top, with what could be kept of the refused answer already filled in;
5. open the portfolio artifact, the sub group's start page, and find the review there.

Every request to a host other than 127.0.0.1 is aborted (the UI calls an analytics host), so the
test also shows the UI works offline. When the API answers 503 (SQLite's "database is locked"),
the action is tried again a moment later, as a person would. A screenshot of each step is saved
in the test's temporary folder (and copied to ``docs/screenshots/`` with LCSPR_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Locator, Page, Response, Route, sync_playwright

from lcspr.clock import SystemClock
from notifications.artifacts import review_key
from tests.e2e.conftest import System, start_system, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
REFERENCE = re.compile(r"^LCSPR-\d{4}-\d{4}$")
RECORDER = "A. Jones, Partnership Manager"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with start_system(tmp_path_factory.mktemp("lcspr-browser")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = "the browser test needs Debian's Chromium: apt-get install chromium (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


class Offline:
    """Aborts every request to a host other than 127.0.0.1, and remembers the hosts it refused."""

    def __init__(self) -> None:
        self.refused: set[str] = set()

    def __call__(self, route: Route) -> None:
        parts = urlsplit(route.request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != "127.0.0.1":
            self.refused.add(parts.hostname or "?")
            route.abort()
        else:
            route.continue_()


@pytest.fixture
def page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                  timezone_id="Europe/London")
    context.route("**/*", Offline())
    context.set_default_timeout(30_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        # What the browser showed last: on a failure, the place to look first.
        with contextlib.suppress(Exception):
            opened.screenshot(path=tmp_path / "last-page.png", full_page=True)
        context.close()


class Screenshots:
    """One PNG per step in the test's folder; with LCSPR_UPDATE_SCREENSHOTS=1 also copied to docs/screenshots/."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken: list[Path] = []

    def take(self, page: Page, name: str) -> Path:
        """Save the page as it is now; a step taken again (after a 503) overwrites its own picture."""
        names = [p.name.split("-", 2)[2].removesuffix(".png") for p in self.taken]
        number = names.index(name) + 1 if name in names else len(self.taken) + 1
        path = self.folder / f"browser-{number:02d}-{name}.png"
        page.screenshot(path=path)
        if name not in names:
            self.taken.append(path)
        # Refreshing the pictures in the repository is asked for, so a test run leaves the tree clean.
        if os.environ.get("LCSPR_UPDATE_SCREENSHOTS"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SCREENSHOTS / path.name)
        return path


# ---------------------------------------------------------------- acting as a person would


def answered(page: Page, path: str, act: Callable[[], None], attempts: int = 5) -> Response:
    """Do ``act`` (which makes the UI POST to an API URL ending in ``path``) and return the API's answer;
    when it is 503 (the SQLite database was locked), wait a moment and do it again, as a person would."""
    for attempt in range(attempts):
        with page.expect_response(lambda r: r.request.method == "POST" and urlsplit(r.url).path.endswith(path),
                                  timeout=60_000) as info:
            act()
        response = info.value
        if response.status != 503 or attempt == attempts - 1:
            return response
        page.wait_for_timeout(1000 * 2 ** attempt)
    raise AssertionError("unreachable")


def open_page(page: Page, url: str, ready: Callable[[], Locator], tries: int = 3) -> None:
    """Go to ``url`` and wait for a concrete element of it (``networkidle`` is not enough); reload when
    it does not come (an API call behind it may have got a 503), as a person would."""
    page.goto(url)
    for attempt in range(tries):
        try:
            ready().first.wait_for(timeout=20_000)
            return
        except Exception:
            if attempt == tries - 1:
                raise
            page.reload()


def labelled(label: str) -> re.Pattern[str]:
    """A field's label: its title, and " (Optional)" when it has a default (a pre-filled value is one)."""
    return re.compile(rf"^{re.escape(label)}( \(Optional\))?$")


def fill_text(form: Locator, label: str, value: str) -> None:
    form.get_by_label(labelled(label)).fill(value)


def set_switch(form: Locator, label: str, on: bool) -> None:
    switch = form.get_by_role("switch", name=labelled(label))
    if switch.is_checked() != on:
        switch.click()


def choose(form: Locator, title: str, value: str) -> None:
    """A ``Literal`` field: its button "Select <Title>" opens the listbox "Suggestions"."""
    form.get_by_role("button", name=f"Select {title}", exact=True).click()
    form.page.get_by_role("listbox", name="Suggestions").get_by_role("option", name=value, exact=True).click()


def set_date(form: Locator, label: str, day: date) -> None:
    """A ``date`` field: its button opens a popover whose textbox takes ISO text and Enter."""
    button = form.get_by_label(labelled(label))
    button.click()
    popover = form.page.locator(f"[id='{button.get_attribute('aria-controls')}']")
    box = popover.get_by_role("textbox", name="Date (yyyy-MM-dd)")
    box.fill(day.isoformat())
    box.press("Enter")
    if popover.is_visible():
        box.press("Escape")
    popover.wait_for(state="hidden")


def shown(day: date) -> str:
    """A date as the UI's date field shows it (date-fns "PPP"): "December 24th, 2026"."""
    suffix = "th" if 11 <= day.day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day.day % 10, "th")
    return f"{day:%B} {day.day}{suffix}, {day.year}"


def flow_run_named(system: System, flow_run_id: str) -> str | None:
    name = str((system.api(f"/flow_runs/{flow_run_id}") or {}).get("name") or "")
    return name if REFERENCE.match(name) else None


def open_resume_form(page: Page) -> Locator:
    page.get_by_role("button", name="Open menu").click()
    page.get_by_role("menuitem", name="Resume").click()
    dialog = page.get_by_role("dialog", name="Resume Flow Run")
    dialog.wait_for()
    return dialog


def resume(page: Page, fill: Callable[[Locator], None], filled: Callable[[], object] = lambda: None) -> dict[str, Any]:
    """Open menu → Resume → fill the form (then ``filled()``) → Submit; again on a 503. The server's answer
    (ACCEPT, or REJECT when the input does not fit the form's schema)."""

    def submit() -> None:
        dialog = page.get_by_role("dialog", name="Resume Flow Run")
        if not dialog.is_visible():
            dialog = open_resume_form(page)
        fill(dialog)
        filled()
        # The dialog's submit button (its title says "Resume Flow Run"; the button itself "Resume").
        dialog.get_by_role("button", name=re.compile(r"^(Resume|Submit)$")).click()

    response = answered(page, "/resume", submit)
    assert response.status in (200, 201), (response.status, response.text())
    result: dict[str, Any] = response.json()
    return result


def waits_on(system: System, reference: str, flow_run_id: str, step_key: str) -> dict[str, Any] | None:
    """The review's status once the register's open step is ``step_key`` and then the run is Suspended."""
    status = system.status(reference)
    if (status["open_step"] or {}).get("key") != step_key:
        return None
    return status if system.run_state(flow_run_id).get("name") == "Suspended" else None


def latest_artifact(system: System, key: str) -> dict[str, Any]:
    found = system.api("/artifacts/filter", {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC",
                                             "limit": 1})
    assert found, f"no artifact {key}"
    latest: dict[str, Any] = found[0]
    return latest


# ---------------------------------------------------------------- the test


def test_a_review_through_the_prefect_ui(system: System, page: Page, tmp_path: Path) -> None:
    today = SystemClock().today()
    shots = Screenshots(tmp_path)
    system.wait_until_up()
    ui = system.api_url.removesuffix("/api")

    # 1. Refer: Deployments → lcspr-review → Run → Custom run, the labelled form, Submit.
    open_page(page, f"{ui}/v2/deployments",
              lambda: page.locator('a[href*="/deployments/deployment/"]', has_text="lcspr-review"))
    page.locator('a[href*="/deployments/deployment/"]').filter(has_text=re.compile(r"^lcspr-review$")).first.click()
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Custom run").click()
    form = page.locator("body")
    form.get_by_role("button", name="Submit").wait_for()
    fill_text(form, "Referring Agency", "Thames Valley Police")
    fill_text(form, "Agency Reference", "POL-UI-0001")
    fill_text(form, "Referred By", "J. Patel, DSL")
    set_switch(form, "Dsl Consulted", True)
    set_date(form, "Incident Date", today - timedelta(days=3))
    set_date(form, "La Aware Date", today - timedelta(days=2))
    choose(form, "Abuse Or Neglect", "suspected")
    choose(form, "Harm", "seriously_harmed")
    fill_text(form, "Child Pseudonym", "Child B")
    # A sibling of the same incident: "Other children in the same incident" → Add item, the child's own fields.
    form.get_by_role("button", name="Add item").click()
    fill_text(form, "Other child: pseudonym", "Sibling C")
    choose(form, "Other child: harm", "died")
    set_switch(form, "Other child: looked after", True)
    fill_text(form, "Outline", "Serious injury to a toddler at home; concerns about information sharing.")
    shots.take(page, "custom-run-form")
    created = answered(page, "/create_flow_run", lambda: form.get_by_role("button", name="Submit").click())
    assert created.status == 201, (created.status, created.text())
    flow_run_id = str(created.json()["id"])

    # 2. The run names itself by the review's reference when it starts; its page says so.
    reference = wait_for("the run to be named by its reference", lambda: flow_run_named(system, flow_run_id), 120)
    status = wait_for("the run waiting on the notification",
                      lambda: waits_on(system, reference, flow_run_id, "notification-1"), 180)
    assert status["stage"] == "referred" and status["pseudonym"] == "Child B +1"
    assert [(c["pseudonym"], c["harm"], c["looked_after"]) for c in status["children"]] == [
        ("Child B", "seriously_harmed", False), ("Sibling C", "died", True)]
    run_url = f"{ui}/v2/runs/flow-run/{flow_run_id}"
    # Its log says what it waits on (the page's panels load one by one: wait for the last).
    open_page(page, run_url, lambda: page.get_by_text(f"{reference} waits on Serious incident notification"))
    page.get_by_text("Suspended").first.wait_for()
    shots.take(page, "run-suspended")

    # 3. Answer the notification step through the Resume form.
    summary_key = review_key(reference, "summary")
    summary_before = latest_artifact(system, summary_key)

    def notified(dialog: Locator) -> None:
        set_date(dialog, "Date", today)
        fill_text(dialog, "Recorded by", RECORDER)
        choose(dialog, "Outcome", "notified")
        fill_text(dialog, "Panel reference", "NP-2026-207")

    dialog = open_resume_form(page)
    dialog.get_by_text("Serious incident notification").first.wait_for()
    # The form says what the notification rules make of each child of the incident.
    dialog.get_by_text("Sibling C: died while looked after: must be notified whatever the cause").wait_for()
    answer = resume(page, notified, filled=lambda: shots.take(page, "resume-notification"))
    assert answer.get("status") == "ACCEPT", answer

    status = wait_for("the run waiting on the rapid review",
                      lambda: waits_on(system, reference, flow_run_id, "rapid-review-1"), 180)
    assert status["stage"] == "rapid_review"
    clocks = {c["key"]: c for c in status["clocks"]}
    assert clocks["serious_incident_notification"]["met_on"] == today.isoformat()
    assert clocks["rapid_review"]["state"] == "running"
    tags = (system.api(f"/flow_runs/{flow_run_id}") or {}).get("tags") or []
    assert "stage:rapid_review" in tags, tags
    assert any(t.startswith("rag:") for t in tags), tags

    def summary_updated() -> dict[str, Any] | None:
        latest = latest_artifact(system, summary_key)
        fresh = latest["id"] != summary_before["id"] and "rapid-review-1" in json.dumps(latest.get("data"))
        return latest if fresh else None

    summary = wait_for("the summary artifact updated", summary_updated, 60)
    assert "Rapid review" in json.dumps(summary["data"])
    # (Its log is long now and shown a page at a time: wait for its first lines and the run's graph.)
    open_page(page, run_url, lambda: page.get_by_text("Beginning flow run"))
    page.get_by_text("stage:rapid_review").first.wait_for()
    page.locator("canvas").first.wait_for()
    shots.take(page, "run-after-notification")
    # The summary artifact (the page a link in the portfolio opens) says what the review waits on now.
    open_page(page, f"{ui}/v2/artifacts/artifact/{summary['id']}", lambda: page.get_by_text("rapid-review-1"))
    page.get_by_text("Rapid review", exact=True).first.wait_for()
    shots.take(page, "summary-artifact")

    # 4. An answer our rules refuse: a date in the future. The server accepts it (its schema holds);
    #    the review records the refusal and asks again, saying why, with the kept values filled in.
    rationale = "Learning about information sharing between health and children's social care."

    def rapid_review(dialog: Locator) -> None:
        set_date(dialog, "Date", today + timedelta(days=30))
        fill_text(dialog, "Recorded by", RECORDER)
        choose(dialog, "Recommendation", "lcspr")
        set_switch(dialog, "Immediate safety actions agreed", True)
        set_switch(dialog, "Sent to the National Panel", True)
        fill_text(dialog, "Rationale", rationale)
        # The rapid review as Working Together 2023 asks for it.
        fill_text(dialog, "Facts and agency involvement", "Police, health visiting and children's social care.")
        fill_text(dialog, "Key practice episodes", "Two strategy discussions held without health present.")
        fill_text(dialog, "How learning is shared", "A seven-minute briefing to every agency.")
        fill_text(dialog, "Possible improvements", "Health at every strategy discussion.")
        fill_text(dialog, "Racism and other inequalities", "Language needs and a parent's disability considered.")

    def future_date_shown() -> None:
        page.get_by_role("dialog").get_by_label(labelled("Date")).scroll_into_view_if_needed()
        shots.take(page, "resume-future-date")

    open_page(page, run_url, lambda: page.get_by_text("Beginning flow run"))
    answer = resume(page, rapid_review, filled=future_date_shown)
    assert answer.get("status") == "ACCEPT", answer
    status = wait_for("the run asking again after the refusal",
                      lambda: waits_on(system, reference, flow_run_id, "rapid-review-1-retry-2"), 180)
    assert status["stage"] == "rapid_review"
    assert "future" in status["open_step"]["last_refusal"]

    page.reload()
    dialog = open_resume_form(page)
    refusal = dialog.get_by_text("The previous answer was refused")
    refusal.wait_for()
    assert "future" in dialog.inner_text()
    # The refusal comes first, above what is asked.
    text = dialog.inner_text()
    assert text.index("The previous answer was refused") < text.index("Rapid Review")
    shots.take(page, "resume-refused-reason")
    # What could be kept of the refused answer fills the form again (the refused date too: it is a
    # date, only not allowed yet).
    assert dialog.get_by_label(labelled("Date")).inner_text().strip() == shown(today + timedelta(days=30))
    assert dialog.get_by_label(labelled("Recorded by")).input_value() == RECORDER
    assert dialog.get_by_role("button", name="Select Recommendation").inner_text().strip() == "lcspr"
    assert dialog.get_by_role("switch", name=labelled("Immediate safety actions agreed")).is_checked()
    assert dialog.get_by_role("switch", name=labelled("Sent to the National Panel")).is_checked()
    rationale_box = dialog.get_by_label(labelled("Rationale"))
    assert rationale_box.input_value() == rationale
    rationale_box.scroll_into_view_if_needed()
    shots.take(page, "resume-refused-prefilled")
    page.keyboard.press("Escape")
    assert system.run_state(flow_run_id).get("name") == "Suspended"

    # 5. The portfolio artifact, the sub group's start page, lists the review.
    #    Its key's page lists the versions, newest first; the newest shows the table.
    open_page(page, f"{ui}/v2/artifacts/key/lcspr-portfolio",
              lambda: page.locator('a[href*="/artifacts/artifact/"]'))
    page.locator('a[href*="/artifacts/artifact/"]').first.click()
    row = page.get_by_role("row").filter(has_text=reference)
    row.first.wait_for()
    assert "Rapid review" in row.first.inner_text()
    shots.take(page, "portfolio")

    assert len(shots.taken) == 9

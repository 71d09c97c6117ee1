"""The daily digest: which messages may wait for it, how one is composed and rendered (``models.digest``,
``notifications.render.render_digest``), its setting, and the sweep making and sending it on the fakes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from lcspr.bootstrap import config_from
from lcspr.settings import Settings
from models.digest import (
    DIGESTIBLE,
    DigestItem,
    check_digest_roles,
    compose,
    digest_key,
    goes_in_digest,
    is_digestible,
    wants_digest,
)
from models.errors import ConfigurationError
from models.lifecycle import Policy
from models.reminders import DEFAULT_POLICIES, MessageLevel
from notifications.render import KINDS, render_digest
from services import messages, queries, referrals
from services.app import App, Config
from tests.conftest import make_referral
from tests.fakes import FakeDispatcher, FrozenClock, fake_app

DAY = date(2026, 11, 25)
LINK = "http://127.0.0.1:4200/v2/runs/flow-run/"


def item(reference: str = "LCSPR-2026-0001", step: str = "Rapid review", kind: str = "reminder",
         due: date | None = date(2026, 11, 30), days_overdue: int = 0, link: str = LINK + "1") -> DigestItem:
    return DigestItem(reference, step, kind, due, days_overdue, link)


FIVE = [
    item("LCSPR-2026-0004", kind="reminder", due=date(2026, 11, 27)),
    item("LCSPR-2026-0001", kind="overdue", due=date(2026, 11, 18), days_overdue=5),
    item("LCSPR-2026-0005", kind="reminder", due=date(2026, 11, 30)),
    item("LCSPR-2026-0003", kind="due_today", due=DAY),
    item("LCSPR-2026-0002", kind="overdue", due=date(2026, 11, 24), days_overdue=1),
]


# ---------------------------------------------------------------- the rule


def test_only_reminders_to_the_owner_may_wait_for_a_digest() -> None:
    assert set(DIGESTIBLE) == {"reminder", "due_today", "overdue"}
    assert {kind for kind in KINDS if is_digestible(kind)} == DIGESTIBLE
    for at_once in ("escalation", "step_opened", "inform_bodies", "final_report_to_bodies"):
        assert not is_digestible(at_once)
    assert {level.value for level in MessageLevel} - DIGESTIBLE == {"escalation"}


def test_a_reminder_is_held_only_for_a_role_that_gets_a_digest_or_when_every_role_does() -> None:
    roles = frozenset({"safeguarding_partners", "agency-thames-valley-police"})
    assert goes_in_digest("overdue", "safeguarding_partners", roles)
    assert goes_in_digest("reminder", "agency-thames-valley-police", roles)
    assert not goes_in_digest("escalation", "safeguarding_partners", roles)
    assert not goes_in_digest("reminder", "business_unit", roles)
    assert not goes_in_digest("reminder", "business_unit", frozenset())  # the default: no digests
    assert wants_digest("anyone", frozenset({"*"}))
    assert not goes_in_digest("step_opened", "business_unit", frozenset({"*"}))


def test_the_digest_roles_are_known_roles_agencies_or_every_role() -> None:
    assert check_digest_roles(["subgroup_chair", " agency-thames-valley-police ", ""]) == {
        "subgroup_chair", "agency-thames-valley-police"}
    assert check_digest_roles(["*"]) == {"*"}
    with pytest.raises(ConfigurationError, match="'chairman' in the digest roles is not a role"):
        check_digest_roles(["subgroup_chair", "chairman"])


def test_a_digest_lists_the_most_pressing_first_under_one_key_a_role_a_day() -> None:
    digest = compose("safeguarding_partners", DAY, FIVE)

    assert digest.key == digest_key("safeguarding_partners", DAY) == "digest:safeguarding_partners:2026-11-25"
    assert [i.reference[-1] for i in digest.items] == ["1", "2", "3", "4", "5"]
    assert [i.what for i in digest.items] == [
        "5 working days overdue (due 2026-11-18)", "1 working day overdue (due 2026-11-24)", "due today, 2026-11-25",
        "due by 2026-11-27", "due by 2026-11-30"]
    assert digest.day_in_words == "25 Nov 2026"
    with pytest.raises(ValueError, match="at least one item"):
        compose("safeguarding_partners", DAY, [])


def test_an_item_without_a_deadline_says_so_and_an_item_survives_the_outboxs_json() -> None:
    assert item(due=None).what == "still open (no statutory deadline)"
    for one in [*FIVE, item(due=None, link="")]:
        assert DigestItem.from_record(one.as_record()) == one


# ---------------------------------------------------------------- the email


def test_a_digest_email_counts_its_items_in_the_subject_and_lists_each_with_its_link() -> None:
    message = render_digest(compose("safeguarding_partners", DAY, FIVE), partnership="Test Partnership",
                            portfolio_link="http://127.0.0.1:4200/v2/artifacts/key/lcspr-portfolio")

    assert message.subject == "LCSPR: 5 things due from you (25 Nov 2026)"
    for one in FIVE:
        assert f"[{one.reference}] Rapid review: {one.what}." in message.text
        assert f"for review {one.reference}: {one.what}." in message.html
    assert message.text.count(f"Open the review: {LINK}1") == 5
    assert message.html.count(f'<a href="{LINK}1">') == 5
    assert "Escalations and new steps are not held for this digest" in message.text
    assert "Sent to the safeguarding partners role." in message.text
    assert message.text.endswith(".\n") and message.html.endswith("</html>\n")


def test_a_digest_of_one_thing_reads_in_the_singular_and_escapes_its_html() -> None:
    message = render_digest(compose("author", DAY, [item(step="Draft <b> & co")]), partnership="P",
                            portfolio_link="")

    assert message.subject == "LCSPR: 1 thing due from you (25 Nov 2026)"
    assert "Draft &lt;b&gt; &amp; co" in message.html and "Draft <b> & co" in message.text


# ---------------------------------------------------------------- the setting


def test_the_digest_roles_setting_is_read_from_the_environment_and_defaults_to_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).digest_roles == []
    assert config_from(Settings(_env_file=None)).digest_roles == frozenset()
    monkeypatch.setenv("LCSPR_DIGEST_ROLES", "subgroup_chair,agency-thames-valley-police")
    settings = Settings(_env_file=None)
    assert settings.digest_roles == ["agency-thames-valley-police", "subgroup_chair"]
    assert config_from(settings).digest_roles == {"agency-thames-valley-police", "subgroup_chair"}
    monkeypatch.setenv("LCSPR_DIGEST_ROLES", "*")
    assert Settings(_env_file=None).digest_roles == ["*"]
    monkeypatch.setenv("LCSPR_DIGEST_ROLES", "subgroup_chair,chairman")
    with pytest.raises(ValidationError, match="'chairman' in the digest roles is not a role"):
        Settings(_env_file=None)


def test_lists_in_the_environment_are_comma_separated_as_the_readme_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LCSPR_CLOSURE_DAYS", "2026-12-24,2026-12-29")
    monkeypatch.setenv("LCSPR_REMINDERS_BEFORE_WORKING_DAYS", "5,1")
    settings = Settings(_env_file=None)
    assert settings.closure_days == [date(2026, 12, 24), date(2026, 12, 29)]
    assert settings.reminders_before_working_days == [5, 1]


# ---------------------------------------------------------------- the sweep, on the fakes

# Five reviews, each aware on 3 Mar 2026: their notification clocks (the business unit's) are all due on
# Tue 10 Mar; on Wed 11 Mar each is 1 working day overdue (the business unit's reminder) and escalated
# (to the business unit manager and the sub group chair, at once).
AWARE, OVERDUE_DAY = date(2026, 3, 3), date(2026, 3, 11)


def digest_world(digest_roles: frozenset[str]) -> tuple[App, FakeDispatcher]:
    mail = FakeDispatcher()
    config = Config(policy=Policy(), reminder_policies=DEFAULT_POLICIES, digest_roles=digest_roles)
    app = fake_app(AWARE, dispatcher=mail, config=config)
    for n in range(5):
        started = referrals.refer(app, make_referral(agency_reference=f"DIGEST-{n}"))
        assert started.flow_run_id is not None
        referrals.attach_run(app, started.reference, started.flow_run_id)
    messages.deliver(app)  # the step-opened messages, at once
    mail.sent.clear()
    clock(app).set(OVERDUE_DAY)
    return app, mail


def clock(app: App) -> FrozenClock:
    assert isinstance(app.clock, FrozenClock)
    return app.clock


def test_on_the_fakes_a_digest_role_gets_one_email_and_its_escalations_still_go_alone() -> None:
    app, mail = digest_world(frozenset({"business_unit", "subgroup_chair"}))

    report = messages.sweep(app)

    assert report.digests == ["digest:business_unit:2026-03-11"]
    assert len(report.queued) == 15
    assert [role for role, _ in mail.sent].count("business_unit") == 1
    # The sub group chair gets a digest too, but an escalation is never held for one.
    assert [role for role, _ in mail.sent].count("subgroup_chair") == 5
    digest = next(m for role, m in mail.sent if role == "business_unit")
    assert digest.subject == "LCSPR: 5 things due from you (11 Mar 2026)"
    held = [e for e in queries.outbox(app) if e.kind == "overdue"]
    assert {(e.status, e.digest_key) for e in held} == {("sent", "digest:business_unit:2026-03-11")}

    again = messages.sweep(app)
    assert (again.queued, again.digests, again.delivery.sent) == ([], [], [])


def test_on_the_fakes_a_failed_digest_is_retried_and_its_reminders_stay_held_until_it_goes() -> None:
    app, mail = digest_world(frozenset({"business_unit"}))
    mail.down = True

    report = messages.sweep(app)

    assert report.delivery.failed["digest:business_unit:2026-03-11"] == "the mail server is down"
    entries = {e.key: e for e in queries.outbox(app)}
    assert entries["digest:business_unit:2026-03-11"].status == "pending"
    assert {e.status for e in entries.values() if e.kind == "overdue"} == {"held"}
    mail.down = False
    clock(app).at += timedelta(minutes=1)

    retried = messages.deliver(app)

    assert "digest:business_unit:2026-03-11" in retried.sent
    assert [role for role, _ in mail.sent].count("business_unit") == 1
    assert {e.status for e in queries.outbox(app)} == {"sent"}


def test_on_the_fakes_reminders_held_for_a_role_that_no_longer_gets_a_digest_go_one_by_one() -> None:
    app, mail = digest_world(frozenset({"business_unit"}))
    # A sweep queues the day's messages, the reminders held, and is killed before it makes the digests.
    for planned in messages.plan(app, OVERDUE_DAY):
        with app.uow() as uow:
            messages.queue(uow, app, planned.reference, planned.notices, planned.flow_run_id, clock(app).now())
            uow.commit()
    assert len(queries.outbox(app, "held")) == 5
    # The partnership turns the digest off before the next sweep.
    app.config = replace(app.config, digest_roles=frozenset())

    report = messages.sweep(app)

    assert report.digests == []
    assert [role for role, _ in mail.sent].count("business_unit") == 5
    assert {e.status for e in queries.outbox(app)} == {"sent"}

"""Out of office and handover (``lcspr delegate``): in its days, a role's messages go to the delegate, through the
role's own email service, saying whose they are; before and after, to the role's own address. On the real
register, with Apprise sending to a local SMTP server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pytest

from lcspr.cli import main
from lcspr.settings import Settings
from models.roles import Role
from notifications.local_smtp import LocalOutbox
from services import delegations, messages, referrals
from services.app import App
from tests.conftest import make_app, make_referral, routed_mailbox

CHAIR = Role.SUBGROUP_CHAIR.value


@pytest.fixture
def mailbox(settings: Settings) -> Iterator[LocalOutbox]:
    with routed_mailbox(settings) as box:
        yield box


def _message_for(app: App, reference: str, role: str, key: str) -> None:
    """A message for ``role`` in the outbox, as a sweep or an answer queues one."""
    with app.uow() as uow:
        uow.outbox.add(key, reference, "reminder", role, f"Reminder {key}", f"Text of {key}.",
                       f"<html><body><p>Text of {key}.</p></body></html>", app.clock.now())
        uow.commit()


def test_in_its_days_a_roles_messages_go_to_the_delegate_and_before_and_after_to_the_role(
        settings: Settings, mailbox: LocalOutbox) -> None:
    app = make_app(settings, today=date(2026, 7, 30))
    reference = referrals.register_referral(app, make_referral(la_aware_date=date(2026, 7, 29))).reference
    made = delegations.delegate(app, CHAIR, "deputy.chair@partnership.test", date(2026, 8, 3), date(2026, 8, 14),
                                "Annual leave", "A. Jones, Partnership Manager")
    assert made.id is not None

    sent_to: dict[str, list[str]] = {}
    for day in (date(2026, 7, 31), date(2026, 8, 3), date(2026, 8, 14), date(2026, 8, 17)):
        app.clock.set(day)
        _message_for(app, reference, CHAIR, f"chair-{day}")
        _message_for(app, reference, Role.AUTHOR.value, f"author-{day}")  # another role: never delegated
        report = messages.deliver(app)
        assert sorted(report.sent) == [f"author-{day}", f"chair-{day}"] and report.failed == {}
    for mail in mailbox.messages():
        sent_to.setdefault(str(mail["Subject"]).removeprefix("Reminder "), []).append(str(mail["To"]))
        if "deputy.chair" in str(mail["To"]):
            body = mail.get_body(("plain",))
            assert body is not None
            assert "You receive this message for the chair of the LCSPR sub group" in body.get_content()
            assert "from 2026-08-03 to 2026-08-14" in body.get_content()

    assert sent_to == {
        "chair-2026-07-31": ["subgroup_chair@partnership.test"],
        "chair-2026-08-03": ["deputy.chair@partnership.test"],   # the first day
        "chair-2026-08-14": ["deputy.chair@partnership.test"],   # the last day, included
        "chair-2026-08-17": ["subgroup_chair@partnership.test"],
        **{f"author-{day}": ["author@partnership.test"] for day in ("2026-07-31", "2026-08-03", "2026-08-14",
                                                                      "2026-08-17")},
    }


def test_a_cancelled_delegation_sends_to_the_role_again_and_stays_on_record(settings: Settings,
                                                                               mailbox: LocalOutbox) -> None:
    app = make_app(settings, today=date(2026, 8, 3))
    reference = referrals.register_referral(app, make_referral(la_aware_date=date(2026, 8, 3))).reference
    made = delegations.delegate(app, CHAIR, "deputy.chair@partnership.test", date(2026, 8, 3), date(2026, 8, 14),
                                "Annual leave", "A. Jones")
    assert made.id is not None
    delegations.cancel(app, made.id, "B. Smith, Business Unit Manager")
    _message_for(app, reference, CHAIR, "after-cancel")
    assert messages.deliver(app).sent == ["after-cancel"]
    assert [str(m["To"]) for m in mailbox.messages()] == ["subgroup_chair@partnership.test"]
    assert delegations.delegations(app) == []
    kept, = delegations.delegations(app, include_past=True)
    assert (kept.id, kept.cancelled_by) == (made.id, "B. Smith, Business Unit Manager")


@pytest.fixture
def lcspr(settings: Settings) -> Callable[..., int]:
    app = make_app(settings, today=date(2026, 8, 1))

    def run(*args: str) -> int:
        return main(list(args), settings=settings, app=lambda _: app)

    return run


def test_lcspr_delegate_records_lists_refuses_an_overlap_and_cancels(lcspr: Callable[..., int], capsys) -> None:
    record = ["delegate", CHAIR, "--to", "deputy.chair@partnership.test", "--from", "2026-08-03", "--until",
              "2026-08-14", "--reason", "Annual leave", "--by", "A. Jones"]
    assert lcspr(*record) == 0
    assert capsys.readouterr().out.startswith(
        "Delegation 1: subgroup_chair's messages go to deputy.chair@partnership.test from 2026-08-03 to 2026-08-14")
    assert lcspr(*record[:-7], "2026-08-10", "--until", "2026-08-20", "--reason", "Cover", "--by", "A. Jones") == 2
    assert "already delegated from 2026-08-03 to 2026-08-14 (delegation 1)" in capsys.readouterr().err
    assert lcspr("delegate", "nobody", "--to", "x@p.test", "--from", "2026-08-03", "--until", "2026-08-04",
                 "--reason", "Leave", "--by", "A. Jones") == 2
    assert "is not a role" in capsys.readouterr().err
    assert lcspr("delegate", CHAIR, "--to", "x@p.test") == 2
    assert "needs --from, --until, --reason, --by" in capsys.readouterr().err
    assert lcspr("delegate", "--list") == 0
    listing = capsys.readouterr().out
    assert "deputy.chair@partnership.test" in listing and "2026-08-14" in listing
    assert lcspr("delegate", "--cancel", "1") == 2
    assert lcspr("delegate", "--cancel", "1", "--by", "B. Smith") == 0
    assert "cancelled" in capsys.readouterr().out
    assert lcspr("delegate", "--cancel", "1", "--by", "B. Smith") == 2
    assert lcspr("delegate", "--list") == 0 and "No delegation" in capsys.readouterr().out
    assert lcspr("delegate", "--list", "--all") == 0 and "cancelled by B. Smith" in capsys.readouterr().out
    assert lcspr("delegate", "--cancel", "9", "--by", "B. Smith") == 2


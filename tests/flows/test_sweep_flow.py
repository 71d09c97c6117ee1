"""The sweep and delivery flows run on the real server and send through the real SMTP server."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from flows.sweep import delivery_flow, sweep_flow
from models.notices import Notice
from services import messages, referrals
from tests.conftest import make_referral


@pytest.fixture(scope="module")
def deadline_sweep(flow_app):
    return sweep_flow(lambda: flow_app)


@pytest.fixture(scope="module")
def deliver_outbox(flow_app):
    return delivery_flow(lambda: flow_app)


def test_the_sweep_flow_queues_and_delivers_todays_escalations(driver, register, mailbox, deadline_sweep):
    run_id = driver.start(make_referral(agency_reference="FLOW-SWEEP", la_aware_date=date(2026, 3, 3)))
    ref = register.reference("FLOW-SWEEP")
    result = asyncio.run(deadline_sweep(as_of=date(2026, 3, 11)))
    assert result["failed"] == 0 and result["sent"] >= 3
    assert result["today"] == "2026-03-11" and result["dry_run"] is False and result["digests"] == 0
    escalated = {m["To"] for m in mailbox.messages() if f"[{ref}]" in m["Subject"] and "Escalation" in m["Subject"]}
    assert escalated == {"business_unit_manager@partnership.test", "subgroup_chair@partnership.test"}
    again = asyncio.run(deadline_sweep(as_of=date(2026, 3, 11)))
    assert again["queued"] == 0 and again["sent"] == 0
    assert driver.state(run_id).name == "Suspended"  # the review's own run keeps waiting meanwhile


def test_a_dry_run_sweep_counts_but_sends_nothing(deadline_sweep, prefect_server):
    result = asyncio.run(deadline_sweep(as_of=date(2026, 3, 12), dry_run=True))
    assert result["dry_run"] is True and result["sent"] == 0 and result["queued"] == 0


def test_the_delivery_flow_sends_what_is_pending_and_reports_it(deliver_outbox, flow_app, mailbox):
    ref = referrals.register_referral(flow_app, make_referral(agency_reference="FLOW-DELIVER")).reference
    notice = Notice(key=f"{ref}:test:delivery", kind="step_opened", role="business_unit", step="A test step",
                    due=None)
    with flow_app.uow() as uow:
        assert messages.queue(uow, flow_app, ref, [notice], None, flow_app.clock.now()) == [notice.key]
        uow.commit()
    result = asyncio.run(deliver_outbox())
    assert result == {"sent": 1, "failed": {}}
    sent = [m for m in mailbox.messages() if f"[{ref}]" in m["Subject"]]
    assert [m["To"] for m in sent] == ["business_unit@partnership.test"]
    assert asyncio.run(deliver_outbox()) == {"sent": 0, "failed": {}}

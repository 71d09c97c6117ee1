from __future__ import annotations

from tasks.review import register_for
from tests.conftest import make_referral


def test_a_referral_waits_at_the_notification_step(driver, flow_settings):
    run_id = driver.start(make_referral(agency_reference="SMOKE-1"))
    assert driver.state(run_id).name == "Suspended"
    register = register_for(flow_settings)
    ref = register.find_by_agency_reference("Thames Valley Police", "SMOKE-1")
    assert register.open_step(ref).key == "notification-1"
    state = driver.answer(run_id, dict(decided_on="2026-03-05", decided_by="A. Jones, BU", outcome="notified", panel_reference="NP-123"))
    assert state == "Suspended"
    print("OPEN", register.open_step(ref).key)
    for d in register.decisions(ref):
        print("DECISION", d.key, d.accepted, d.reason)

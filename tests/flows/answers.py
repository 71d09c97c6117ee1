"""Answers the people give at each step of a full LCSPR, in order, as Resume form data."""

from __future__ import annotations

from typing import Any

BY = {"decided_by": "A. Jones, Partnership Manager"}


def a(**values: Any) -> dict[str, Any]:
    return {**BY, **values}


NOTIFIED = a(decided_on="2026-03-05", outcome="notified", panel_reference="NP-2026-118")
RAPID_REVIEW = a(decided_on="2026-03-20", recommendation="lcspr", immediate_safety_actions=True,
                 sent_to_panel=True, rationale="Learning about information sharing between agencies.",
                 facts="Agencies involved: police, health visiting and children's social care.",
                 practice_episodes="Two strategy discussions held without health; a missed referral.",
                 learning_shared="Briefing to the sub group and a seven-minute briefing to agencies.",
                 possible_improvements="Health to attend every strategy discussion; referral checks.",
                 inequalities="Considered language needs, ethnicity and a parent's disability; none changed practice.")
LCSPR = a(decided_on="2026-04-01", outcome="lcspr", decider_role="independent_chair",
          delegation="Partnership arrangements 2024, section 4", rationale="Criteria met; significant learning.")
INFORMED = a(decided_on="2026-04-03", dfe_informed=True, ofsted_informed=True, panel_informed=True)
AUTHOR = a(decided_on="2026-04-10", author="R. Author", independence_confirmed=True, conflicts="none")
TOR = a(decided_on="2026-04-20", period_from="2025-06-01", period_to="2026-03-02",
        agencies_in_scope="Thames Valley Police, Frimley ICB", methodology="systems_approach",
        family_involvement="The author will invite the parents to meet.")
REPORT_POLICE = a(decided_on="2026-05-05", agency="Thames Valley Police", author_independent=True)
REPORT_ICB = a(decided_on="2026-05-10", agency="Frimley ICB", author_independent=True)
ENGAGEMENT = a(decided_on="2026-05-20", practitioner_events=2, family_views="contributed")
DRAFT_1 = a(decided_on="2026-06-01", version="v0.1")
CHANGES = a(decided_on="2026-06-10", outcome="changes_requested", comments="Sharpen findings 2 and 3.")
DRAFT_2 = a(decided_on="2026-06-20", version="v0.2")
ACCEPTED = a(decided_on="2026-06-30", outcome="accepted")
FINAL = a(decided_on="2026-07-06",
          recommendations="Share information at strategy meetings | Train staff on bruising in non-mobile babies",
          executive_summary=True, planned_publication="2026-08-03")
SENT = a(decided_on="2026-07-10", sent_to_panel=True, sent_to_dfe=True, sent_to_ofsted=True)
DEFERRED = a(decided_on="2026-08-03", outcome="deferred", deferral_reason="criminal_proceedings",
             deferral_details="Trial listed for the autumn.", panel_told=True)
PUBLISHED = a(decided_on="2026-09-01", outcome="published", published_url="https://example.org/reviews/lcspr-child-a")
ACTION_1 = a(decided_on="2026-09-07", recommendation_number=1, owner_agency="Thames Valley Police",
             action="Attend every strategy meeting in person", due_on="2026-12-01")
ACTION_2 = a(decided_on="2026-09-07", recommendation_number=2, owner_agency="Frimley ICB",
             action="Deliver bruising protocol training", due_on="2027-01-15", last_action=True)
DONE_1 = a(decided_on="2026-10-01", action_number=1, evidence="Attendance audit for September.")
DONE_2 = a(decided_on="2026-10-05", action_number=2, evidence="Training records: 140 staff.")
CLOSED = a(decided_on="2026-11-02", impact_evidence="Re-audit shows strategy meeting attendance at 98%.")

# (expected open step key, answer) for the whole route, drafts looping twice.
FULL_LCSPR: list[tuple[str, dict[str, Any]]] = [
    ("notification-1", NOTIFIED),
    ("rapid-review-1", RAPID_REVIEW),
    ("chair-decision-1", LCSPR),
    ("inform-bodies-1", INFORMED),
    ("author-appointment-1", AUTHOR),
    ("terms-of-reference-1", TOR),
    ("agency-report-1", REPORT_POLICE),
    ("agency-report-2", REPORT_ICB),
    ("engagement-1", ENGAGEMENT),
    ("draft-circulated-1", DRAFT_1),
    ("draft-review-1", CHANGES),
    ("draft-circulated-2", DRAFT_2),
    ("draft-review-2", ACCEPTED),
    ("final-report-1", FINAL),
    ("final-report-sent-1", SENT),
    ("publication-1", DEFERRED),
    ("publication-2", PUBLISHED),
    ("action-1", ACTION_1),
    ("action-2", ACTION_2),
    ("action-update-1", DONE_1),
    ("action-update-2", DONE_2),
    ("closure-1", CLOSED),
]

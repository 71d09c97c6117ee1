"""Who the people in a review are, in the words the forms and messages use.

Each role is one Apprise tag in the notification config; an agency's role is
``agency-<slug>`` (``models.reminders.agency_role``).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who a message or a step is for; each is one Apprise tag in the notification config."""

    BUSINESS_UNIT = "business_unit"
    BUSINESS_UNIT_MANAGER = "business_unit_manager"
    SUBGROUP_CHAIR = "subgroup_chair"
    INDEPENDENT_CHAIR = "independent_chair"
    SAFEGUARDING_PARTNERS = "safeguarding_partners"
    PANEL = "panel"
    PANEL_CHAIR = "panel_chair"
    AUTHOR = "author"
    SUBGROUP = "subgroup"


ROLE_TITLES: dict[str, str] = {
    Role.BUSINESS_UNIT: "the safeguarding partnership business unit",
    Role.BUSINESS_UNIT_MANAGER: "the business unit manager",
    Role.SUBGROUP_CHAIR: "the chair of the LCSPR sub group",
    Role.SAFEGUARDING_PARTNERS: "the three safeguarding partners (local authority, ICB, police)",
    Role.INDEPENDENT_CHAIR: "the Independent Chair (or the delegated safeguarding partners)",
    Role.PANEL: "the review panel",
    Role.PANEL_CHAIR: "the review panel chair",
    Role.AUTHOR: "the independent author",
    Role.SUBGROUP: "the LCSPR sub group",
}


def describe_role(role: str) -> str:
    """A role as a person reads it ("the independent author"); an unknown one as written."""
    return ROLE_TITLES.get(role, role.replace("_", " "))

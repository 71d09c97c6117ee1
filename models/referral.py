"""The referral that starts a review: the deployment's parameter and the CLI's input file.

A referral holds a pseudonym and agency references only. Its free text is checked
for anything that would identify a child (``models.identifiers``); dates are checked
against ``today``, which the caller passes in.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.errors import Refused
from models.identifiers import ensure_no_identifiers

# "Child A", "Baby S", "Young Person K", "Sibling Group T2", "Family T". A name such as
# "Jane Smith" does not fit, which is the point: the register never holds a real name.
PSEUDONYM = re.compile(
    r"^(Child|Baby|Infant|Young Person|Sibling Group|Siblings|Children|Family)"
    r" [A-Z][A-Z0-9]{0,3}$"
)


class Referral(BaseModel):
    """A serious incident referred to the LCSPR sub group."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, title="Referral")

    referring_agency: str = Field(
        min_length=2, max_length=80, description="The agency making the referral, e.g. 'Thames Valley Police'."
    )
    agency_reference: str = Field(
        min_length=2,
        max_length=40,
        description="The referring agency's own case reference. "
        "A second referral with the same reference returns the existing review.",
    )
    referred_by: str = Field(
        min_length=2, max_length=80, description="Who is referring (name and role), e.g. 'J. Patel, DSL'."
    )
    dsl_consulted: bool = Field(
        description="The agency's Designated Safeguarding Lead was consulted before this referral."
    )
    incident_date: date = Field(description="Date of the serious incident.")
    la_aware_date: date = Field(
        description="Date the local authority became aware. The 5-working-day notification clock starts here."
    )
    abuse_or_neglect: Literal["known", "suspected", "not_suspected"] = Field(
        description="Is abuse or neglect known or suspected?"
    )
    harm: Literal["died", "seriously_harmed", "neither"] = Field(
        description="Did the child die or suffer serious harm (including long-term impairment)?"
    )
    child_pseudonym: str = Field(
        max_length=30,
        description="Pseudonym only, e.g. 'Child A' or 'Baby S'. Never the child's name.",
    )
    looked_after: bool = Field(default=False, description="The child was looked after by a local authority.")
    care_leaver: bool = Field(default=False, description="The young person was a care leaver (up to 24).")
    outline: str = Field(
        min_length=10,
        max_length=1000,
        description="A short outline of what happened. No names, dates of birth, addresses, NHS numbers or schools.",
    )

    @property
    def meets_criteria(self) -> bool:
        """Abuse or neglect known or suspected, and death or serious harm (the statutory test)."""
        return self.abuse_or_neglect != "not_suspected" and self.harm != "neither"

    @property
    def died_in_or_after_care(self) -> bool:
        """The death of a looked-after child or care leaver.

        It must be notified to the National Panel whether or not abuse or neglect is
        suspected, so the local authority may not record it as not notifiable. (Whether
        the criteria are met is the local authority's judgement when it decides.)
        """
        return self.harm == "died" and (self.looked_after or self.care_leaver)


def check_referral(referral: Referral, today: date) -> None:
    """Refuse a referral that cannot be accepted, with a reason; return None if it can."""
    if not referral.dsl_consulted:
        raise Refused(
            "The referring agency's Designated Safeguarding Lead must be consulted before a "
            "referral is made. Discuss the case with them, then refer again."
        )
    if referral.la_aware_date > today:
        raise Refused(
            f"The date the local authority became aware ({referral.la_aware_date}) is after "
            f"today ({today}). Give the date it actually became aware."
        )
    if referral.incident_date > today:
        raise Refused(f"The incident date ({referral.incident_date}) is after today ({today}).")
    if referral.la_aware_date < referral.incident_date:
        raise Refused(
            f"The local authority cannot have become aware ({referral.la_aware_date}) before the "
            f"incident ({referral.incident_date}). Check both dates."
        )
    if not PSEUDONYM.match(referral.child_pseudonym):
        raise Refused(
            f"'{referral.child_pseudonym}' is not a pseudonym of the form 'Child A', 'Baby S' or "
            "'Young Person K'. Never enter a child's real name; use the pseudonym agreed for the review."
        )
    for field in ("outline", "referred_by", "referring_agency", "agency_reference"):
        ensure_no_identifiers(field.replace("_", " ").capitalize(), getattr(referral, field))

"""The referral that starts a review: the deployment's parameter and the CLI's input file.

A referral holds a pseudonym and agency references only. Its free text is checked
for anything that would identify a child (``models.identifiers``); dates are checked
against ``today``, which the caller passes in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from models.errors import Refused
from models.inputs import (
    Day,
    Flag,
    Line,
    Person,
    Prose,
    Reference,
    describe_validation_error,
    ensure_no_identifiers_in,
)

# "Child A", "Baby S", "Young Person K", "Sibling Group T2", "Family T". A name such as
# "Jane Smith" does not fit, which is the point: the register never holds a real name.
PSEUDONYM_PATTERN = (r"^(Child|Baby|Infant|Young Person|Sibling Group|Siblings|Children|Family)"
                     r" [A-Z][A-Z0-9]{0,3}$")
PSEUDONYM = re.compile(PSEUDONYM_PATTERN)


def _pseudonym(value: str) -> str:
    if not PSEUDONYM.match(value):
        # Never quote the value: it may be the child's real name.
        raise ValueError("is not a pseudonym of the form 'Child A', 'Baby S' or 'Young Person K'; "
                         "never enter a child's real name, use the pseudonym agreed for the review")
    return value


Pseudonym = Annotated[Line, AfterValidator(_pseudonym)]


class Referral(BaseModel):
    """A serious incident referred to the LCSPR sub group."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, title="Referral")

    referring_agency: Line = Field(
        min_length=2, max_length=80, description="The agency making the referral, e.g. 'Thames Valley Police'."
    )
    agency_reference: Reference = Field(
        min_length=2,
        max_length=40,
        description="The referring agency's own case reference. "
        "A second referral with the same reference returns the existing review.",
    )
    referred_by: Person = Field(
        min_length=2, max_length=80, description="Who is referring (name and role), e.g. 'J. Patel, DSL'."
    )
    dsl_consulted: Flag = Field(
        description="The agency's Designated Safeguarding Lead was consulted before this referral."
    )
    incident_date: Day = Field(description="Date of the serious incident.")
    la_aware_date: Day = Field(
        description="Date the local authority became aware. The 5-working-day notification clock starts here."
    )
    abuse_or_neglect: Literal["known", "suspected", "not_suspected"] = Field(
        description="Is abuse or neglect known or suspected?"
    )
    harm: Literal["died", "seriously_harmed", "neither"] = Field(
        description="Did the child die or suffer serious harm (including long-term impairment)?"
    )
    child_pseudonym: Pseudonym = Field(
        max_length=30,
        # In the schema too, so the server refuses a name typed into the Custom run form at the door.
        json_schema_extra={"pattern": PSEUDONYM_PATTERN},
        description="Pseudonym only, e.g. 'Child A' or 'Baby S'. Never the child's name.",
    )
    looked_after: Flag = Field(default=False, description="The child was looked after by a local authority.")
    care_leaver: Flag = Field(default=False, description="The young person was a care leaver (up to 24).")
    outline: Prose = Field(
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


def read_referral(raw: Any) -> Referral:
    """A referral from what a person sent (the Custom run form's parameters, an API call, a file):
    refused with a reason that names fields, never their text."""
    if isinstance(raw, Referral):
        return raw
    if not isinstance(raw, Mapping):
        raise Refused("The referral is not valid: it must be an object of the referral's fields.")
    try:
        return Referral.model_validate(dict(raw))
    except ValidationError as exc:
        raise Refused(describe_validation_error(exc, "The referral")) from None


REDACTED = "[removed: the referral was refused]"


def redacted(raw: Any) -> dict[str, Any]:
    """What of a refused referral Prefect may keep as the run's parameters: the yes/no answers.

    Every other value (text, dates, anything of the wrong type) is replaced, and a field the
    form does not have is dropped, name and all: any of them may be what identified the child.
    """
    values = raw.model_dump(mode="json") if isinstance(raw, Referral) else raw if isinstance(raw, Mapping) else {}
    return {name: (value if value is None or isinstance(value, bool) else REDACTED)
            for name, value in values.items() if name in Referral.model_fields}


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
    ensure_no_identifiers_in(referral)

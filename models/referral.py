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

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

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

# "Child A", "Sibling B", "Baby S", "Young Person K", "Sibling Group T2", "Family T". A name such as
# "Jane Smith" does not fit, which is the point: the register never holds a real name.
PSEUDONYM_PATTERN = (r"^(Child|Baby|Infant|Young Person|Sibling Group|Siblings|Sibling|Children|Family)"
                     r" [A-Z][A-Z0-9]{0,3}$")
PSEUDONYM = re.compile(PSEUDONYM_PATTERN)


def _pseudonym(value: str) -> str:
    if not PSEUDONYM.match(value):
        # Never quote the value: it may be the child's real name.
        raise ValueError("is not a pseudonym of the form 'Child A', 'Baby S' or 'Young Person K'; "
                         "never enter a child's real name, use the pseudonym agreed for the review")
    return value


Pseudonym = Annotated[Line, AfterValidator(_pseudonym)]

Harm = Literal["died", "seriously_harmed", "neither"]

# The national notification service takes the details of up to four children per incident, and free
# text for any more; a referral may name more (a large sibling group), up to this many in all.
NOTIFICATION_FORM_CHILDREN = 4
MAX_CHILDREN = 12


class Child(BaseModel):
    """One child of an incident, by pseudonym: what happened to them and their care status.

    The rules that depend on a child (a looked-after child's or care leaver's death must be notified;
    the statutory criteria) are judged per child (:class:`Referral`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True, title="Child")

    pseudonym: Pseudonym = Field(
        max_length=30, title="Other child: pseudonym", json_schema_extra={"pattern": PSEUDONYM_PATTERN},
        description="Pseudonym only, e.g. 'Sibling B', 'Child C' or 'Baby D'. Never the child's name.",
    )
    harm: Harm = Field(title="Other child: harm",
                       description="Did this child die, suffer serious harm, or neither ('other')?")
    looked_after: Flag = Field(default=False, title="Other child: looked after",
                               description="This child was looked after by a local authority.")
    care_leaver: Flag = Field(default=False, title="Other child: care leaver",
                              description="This young person was a care leaver (up to 24).")

    def meets_criteria(self, abuse_or_neglect: str) -> bool:
        """Abuse or neglect known or suspected, and this child died or was seriously harmed."""
        return abuse_or_neglect != "not_suspected" and self.harm != "neither"

    @property
    def died_in_or_after_care(self) -> bool:
        """This child died while looked after, or as a care leaver: notifiable whatever the cause."""
        return self.harm == "died" and (self.looked_after or self.care_leaver)


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
    harm: Harm = Field(
        description="Did the child die or suffer serious harm (including long-term impairment)? "
        "'neither' is the notification service's 'other'."
    )
    child_pseudonym: Pseudonym = Field(
        max_length=30,
        # In the schema too, so the server refuses a name typed into the Custom run form at the door.
        json_schema_extra={"pattern": PSEUDONYM_PATTERN},
        description="Pseudonym only, e.g. 'Child A' or 'Baby S'. Never the child's name.",
    )
    looked_after: Flag = Field(default=False, description="The child was looked after by a local authority.")
    care_leaver: Flag = Field(default=False, description="The young person was a care leaver (up to 24).")
    other_children: list[Child] = Field(
        default_factory=list, max_length=MAX_CHILDREN - 1, title="Other children in the same incident",
        description="Brothers, sisters or other children of the same incident, each by pseudonym with their own "
        "harm and care status. One referral, one rapid review and one decision cover them all.",
    )
    outline: Prose = Field(
        min_length=10,
        max_length=1000,
        description="A short outline of what happened. No names, dates of birth, addresses, NHS numbers or schools.",
    )

    @model_validator(mode="after")
    def _distinct_pseudonyms(self) -> Referral:
        if len({c.pseudonym for c in self.children}) != len(self.children):
            raise ValueError("names the same pseudonym for two children; give each child of the incident its own")
        return self

    @property
    def children(self) -> tuple[Child, ...]:
        """Every child of the incident, the first (the form's own fields) first."""
        first = Child(pseudonym=self.child_pseudonym, harm=self.harm, looked_after=self.looked_after,
                      care_leaver=self.care_leaver)
        return (first, *self.other_children)

    @property
    def pseudonym(self) -> str:
        """How the register names the review: the child's pseudonym, or the first child's and how many more
        ('Child A +2'), at most 30 characters."""
        more = len(self.other_children)
        return self.child_pseudonym if not more else f"{self.child_pseudonym} +{more}"

    @property
    def meets_criteria(self) -> bool:
        """The statutory test holds for at least one child: abuse or neglect known or suspected, and the
        child died or was seriously harmed."""
        return any(c.meets_criteria(self.abuse_or_neglect) for c in self.children)

    @property
    def died_in_or_after_care(self) -> tuple[Child, ...]:
        """The children who died while looked after or as care leavers (empty: none).

        Each death must be notified to the National Panel whether or not abuse or neglect is
        suspected, so the local authority may not record the incident as not notifiable. (Whether
        the criteria are met is the local authority's judgement when it decides.)
        """
        return tuple(c for c in self.children if c.died_in_or_after_care)

    @property
    def care_leavers(self) -> tuple[Child, ...]:
        return tuple(c for c in self.children if c.care_leaver)


def notification_rules(referral: Referral) -> list[str]:
    """What the notification rules say of each child, one line per child, for the person who notifies.

    Pseudonyms only: the lines go into the step's description in the Prefect UI."""
    lines = []
    for c in referral.children:
        if c.died_in_or_after_care:
            why = ("died while looked after" if c.looked_after else "died as a care leaver") + \
                ": must be notified whatever the cause"
            if c.care_leaver and not c.meets_criteria(referral.abuse_or_neglect):
                why += " (no rapid review for this child unless the criteria are met)"
        elif c.meets_criteria(referral.abuse_or_neglect):
            why = ("died" if c.harm == "died" else "seriously harmed") + \
                ", abuse or neglect " + referral.abuse_or_neglect + ": meets the criteria, notify"
        elif c.harm == "neither":
            why = "neither died nor seriously harmed: not notifiable on its own"
        else:
            why = "abuse or neglect not suspected: not notifiable on its own"
        lines.append(f"{c.pseudonym}: {why}")
    if len(referral.children) > NOTIFICATION_FORM_CHILDREN:
        lines.append(f"The notification service takes {NOTIFICATION_FORM_CHILDREN} children's details: "
                     "give the others in its free text.")
    return lines


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

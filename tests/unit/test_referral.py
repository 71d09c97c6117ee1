"""The referral that starts a review: shape (pydantic), then the checks against today."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from models.errors import IdentifierFound, Refused
from models.referral import check_referral, read_referral
from tests.conftest import make_referral

TODAY = date(2026, 11, 23)


def test_a_good_referral_is_accepted() -> None:
    check_referral(make_referral(), TODAY)  # returns, raising nothing


def test_a_referral_with_dates_on_today_is_accepted() -> None:
    check_referral(make_referral(incident_date=TODAY, la_aware_date=TODAY), TODAY)


@pytest.mark.parametrize(
    "pseudonym", ["Child A", "Baby S", "Young Person K", "Sibling Group T2", "Family T", "Infant Q"]
)
def test_a_pseudonym_of_the_agreed_form_is_accepted(pseudonym: str) -> None:
    check_referral(make_referral(child_pseudonym=pseudonym), TODAY)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"dsl_consulted": False}, "Designated Safeguarding Lead must be consulted"),
        ({"la_aware_date": date(2026, 11, 24)}, r"became aware \(2026-11-24\) is after today"),
        (
            {"incident_date": date(2026, 11, 24), "la_aware_date": date(2026, 11, 23)},
            r"incident date \(2026-11-24\) is after today",
        ),
        (
            {"incident_date": date(2026, 3, 4), "la_aware_date": date(2026, 3, 3)},
            r"cannot have become aware \(2026-03-03\) before the incident \(2026-03-04\)",
        ),
    ],
)
def test_a_referral_that_breaks_a_rule_is_refused_with_the_reason(
    overrides: dict[str, Any], match: str
) -> None:
    with pytest.raises(Refused, match=match):
        check_referral(make_referral(**overrides), TODAY)


@pytest.mark.parametrize("pseudonym", ["Jane Smith", "Child Annabel", "child a"])
def test_a_name_for_a_pseudonym_is_refused_without_being_quoted(pseudonym: str) -> None:
    raw = {**make_referral().model_dump(mode="json"), "child_pseudonym": pseudonym}
    with pytest.raises(Refused, match="child_pseudonym is not a pseudonym of the form 'Child A'") as refused:
        read_referral(raw)
    assert pseudonym not in refused.value.reason


@pytest.mark.parametrize(
    ("outline", "kind"),
    [
        ("Injury at home; the infant's NHS number is 943 476 5919.", "NHS number"),
        ("Serious injury at the family home in HP19 8FF last week.", "postcode"),
        ("Concerns first raised by mum at parent.name@example.com.", "email address"),
        ("Grandmother rang the hospital from 01296 383 000 at night.", "phone number"),
        ("Child A, DOB 12/03/2015, was taken to hospital.", "date of birth"),
    ],
)
def test_an_outline_with_something_that_identifies_a_child_is_refused(
    outline: str, kind: str
) -> None:
    with pytest.raises(IdentifierFound, match=f"Outline appears to contain .*{kind}") as refusal:
        check_referral(make_referral(outline=outline), TODAY)
    assert outline not in refusal.value.reason  # the message names the kind, never the text


def test_an_nhs_number_with_a_wrong_check_digit_is_not_taken_for_one() -> None:
    check_referral(
        make_referral(outline="Agency case 943 476 5918 logged after the injury."), TODAY
    )


def test_identifiers_are_looked_for_in_every_free_text_field_not_only_the_outline() -> None:
    with pytest.raises(IdentifierFound, match="Referred by appears to contain"):
        check_referral(make_referral(referred_by="J. Patel, j.patel@school.example.org"), TODAY)


@pytest.mark.parametrize(
    "missing", ["abuse_or_neglect", "harm", "dsl_consulted", "la_aware_date", "child_pseudonym"]
)
def test_a_referral_without_a_required_answer_fails_validation(missing: str) -> None:
    values = make_referral().model_dump()
    del values[missing]
    with pytest.raises(ValidationError, match=missing):
        type(make_referral()).model_validate(values)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("abuse_or_neglect", "maybe"),
        ("harm", "injured"),
        ("outline", "short"),
        ("unexpected", "extra fields are forbidden"),
    ],
)
def test_a_referral_with_an_answer_outside_the_form_fails_validation(
    field: str, value: str
) -> None:
    with pytest.raises(ValidationError, match=field):
        make_referral(**{field: value})


@pytest.mark.parametrize(
    ("abuse", "harm", "meets"),
    [
        ("known", "died", True),
        ("suspected", "seriously_harmed", True),
        ("not_suspected", "died", False),
        ("suspected", "neither", False),
        ("not_suspected", "neither", False),
    ],
)
def test_the_criteria_need_abuse_or_neglect_and_death_or_serious_harm(
    abuse: str, harm: str, meets: bool
) -> None:
    referral = make_referral(abuse_or_neglect=abuse, harm=harm)
    assert referral.meets_criteria is meets


@pytest.mark.parametrize(
    ("overrides", "died_in_or_after_care"),
    [
        ({"looked_after": True, "harm": "died"}, True),
        ({"care_leaver": True, "harm": "died"}, True),
        ({"looked_after": True, "harm": "seriously_harmed"}, False),
        ({"care_leaver": True, "harm": "neither"}, False),
        ({"harm": "died"}, False),
    ],
)
def test_the_death_of_a_looked_after_child_or_care_leaver_is_recognised_whatever_is_suspected(
    overrides: dict[str, Any], died_in_or_after_care: bool
) -> None:
    referral = make_referral(abuse_or_neglect="not_suspected", **overrides)
    assert not referral.meets_criteria
    assert bool(referral.died_in_or_after_care) is died_in_or_after_care

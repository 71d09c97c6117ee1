"""Free text that could identify a child is refused; ordinary review text is not."""

from __future__ import annotations

import pytest

from models.errors import IdentifierFound, Refused
from models.identifiers import ensure_no_identifiers, find_identifiers


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("NHS no 943 476 5919 recorded by the GP", "NHS number"),
        ("nhs 9434765919", "NHS number"),
        ("ref 943-476-5919", "NHS number"),
        ("4010232137", "NHS number"),
        ("Lives at HP19 8FF with mother", "postcode"),
        ("moved to SW1A 1AA", "postcode"),
        ("address M1 1AE", "postcode"),
        ("postcode hp198ff", "postcode"),
        ("EC1A 1BB", "postcode"),
        ("contact mum on jo.bloggs@example.org", "email address"),
        ("J.Smith+school@school.sch.uk", "email address"),
        ("mobile 07700 900123", "phone number"),
        ("mobile 07700900123", "phone number"),
        ("+44 7700 900123", "phone number"),
        ("+447700900123", "phone number"),
        ("+44 (0)20 7946 0958", "phone number"),
        ("020 7946 0958", "phone number"),
        ("01296 383204", "phone number"),
        ("(01296) 383204", "phone number"),
        ("0300 123 4567", "phone number"),
        ("DOB 12/03/2015", "date of birth"),
        ("D.O.B.: 12-03-2015", "date of birth"),
        ("dob 12.03.15", "date of birth"),
        ("date of birth 2015-03-12", "date of birth"),
        ("Date of Birth: 12 March 2015", "date of birth"),
        ("born on 12 March 2015", "date of birth"),
        ("was born on the 3rd of May 2015", "date of birth"),
        ("born March 12, 2015 in hospital", "date of birth"),
        ("Child A (b. 12/03/2015)", "date of birth"),
        ("b. 12 Mar 2015", "date of birth"),
    ],
)
def test_identifiers_of_each_kind_are_found(text: str, kind: str) -> None:
    assert kind in find_identifiers(text)


@pytest.mark.parametrize(
    "text",
    [
        "Child A was seen by the health visitor.",
        "the incident on 12/03/2026",
        "Strategy meeting held 2026-03-12; Child A born prematurely.",
        "Baby S was born early; the incident on 12/03/2026 followed.",
        "Appendix B. 12/03/2026 panel minutes",
        "Police reference POL-2026-0042",
        "Children's social care ref CSC/12345",
        "case CSC/0123456789 reviewed",
        "943 476 5918",  # bad check digit
        "1234567890",  # bad check digit
        "4010232138",
        "Year 10 pupil, Y10 1st term",
        "Agency reports due in 20 working days",
        "Panel met at 10:30 on 14 April 2026",
        "Email the business unit through the portal",
        "Report rated 12/20 by reviewers",
        "Child A had 3 hospital visits in 2025",
        "Section 47 enquiry opened; s47 1 of 2",
    ],
)
def test_ordinary_review_text_is_not_refused(text: str) -> None:
    assert find_identifiers(text) == []
    ensure_no_identifiers("outline", text)


def test_several_kinds_are_all_reported_in_a_fixed_order() -> None:
    text = "DOB 12/03/2015, HP19 8FF, NHS 943 476 5919"
    assert find_identifiers(text) == ["NHS number", "postcode", "date of birth"]


def test_the_refusal_names_the_field_and_kinds_but_not_the_text() -> None:
    text = "Lives at HP19 8FF, NHS 943 476 5919, mum on 07700 900123"
    with pytest.raises(IdentifierFound) as found:
        ensure_no_identifiers("outline", text)
    reason = found.value.reason
    assert reason.startswith("outline appears to contain")
    assert "(NHS number, postcode, phone number)" in reason
    assert "Refer to the child only by the review pseudonym (e.g. 'Child A')" in reason
    for secret in ("HP19", "8FF", "943", "5919", "07700", "900123"):
        assert secret not in reason


def test_an_identifier_refusal_is_a_refusal() -> None:
    """Callers that handle Refused in general also handle identifier refusals."""
    with pytest.raises(Refused):
        ensure_no_identifiers("summary", "contact jo@example.org")

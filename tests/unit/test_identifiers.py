"""Free text that could identify a child is refused; ordinary review text is not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from models.errors import IdentifierFound, Refused
from models.identifiers import KINDS, Finding, ensure_no_identifiers, find_identifiers, scan

CORPUS = Path(__file__).resolve().parents[1] / "data" / "identifier_corpus.jsonl"
# Bars for the labelled corpus, set a little below what bench/identifier_scanner.py measured
# (docs/performance.md, "Identifier scanner": recall 0.984, no false alarm in 240 clean sentences).
MIN_RECALL = 0.96
MIN_RECALL_PER_KIND = 0.90
MAX_FALSE_ALARMS = 0.02


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
        ("Mr Okoro shouted at the health visitor", "name"),
        ("the baby's father, Liam Doherty, was not known", "name"),
        ("Dr. F. Osei saw her twice", "name"),
        ("Her cousin Shanice Baptiste-Lowe collected her", "name"),
        ("Dylan said he was hungry", "name"),
        ("Freya's stepfather drank heavily", "name"),
        ("he was nicknamed Smudge at school", "name"),
        ("the Dabrowski family moved twice", "name"),
        ("the car was parked outside 31 Tudor Gardens", "street address"),
        ("a room at Flat 2, Kingsbury Court", "street address"),
        ("She went to Hazell Park Infant School", "school"),
        ("a place at Sunshine Day Nursery", "school"),
        ("registered at Riverside Surgery", "GP surgery"),
        ("seen at Whitchurch Medical Centre", "GP surgery"),
        ("NINO GH 23 45 67 B", "National Insurance number"),
        ("ni no ZA987654C", "National Insurance number"),
        ("UPN B801200005001", "unique pupil number"),
        ("messages from @jayjay_07", "social media handle"),
        ("texted from +48 512 345 678", "phone number"),
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
        "Agency reference AUTH0-1795498439 quoted",
        "Police ref TVP-2026-1234; CSC/0123456789",
        "Child A, Baby S and Family T; Sibling B and Young Person K",
        "The Mother of Child A spoke to the GP and the health visitor.",
        "Mother and Father were interviewed separately.",
        "Thames Valley Police and South Central Ambulance Service attended.",
        "Buckinghamshire Council Children's Social Care and Buckinghamshire Healthcare NHS Trust",
        "Oxford Health NHS Foundation Trust provided a report to the National Panel.",
        "The Independent Chair opened the Rapid Review.",
        "The strategy meeting on 12 March 2026 agreed actions.",
        "May 2026: the panel met again.",
        "School B and GP Practice C were not invited.",
        "The school nurse and the nursery raised concerns.",
        "Will the partnership accept the findings?",
        "the Polish family and the Traveller community",
        "Mr A and Mrs B attended with Child C. Police then left.",
        "Teacher A. Staff then called the police.",
        "@ 10:30 the meeting resumed",
        "Baby S was admitted to the John Radcliffe Hospital.",
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


def test_a_names_and_address_outline_is_refused() -> None:
    """The outline the old regexes let through: two names and an address."""
    outline = ("Jane Smith, aged 2, was injured at home by her father John Smith at 14 Mill Lane, "
               "Aylesbury.")
    assert find_identifiers(outline) == ["name", "street address"]
    with pytest.raises(IdentifierFound, match=r"\(name, street address\)") as found:
        ensure_no_identifiers("Outline", outline)
    for secret in ("Jane", "Smith", "Mill Lane"):
        assert secret not in found.value.reason


def test_a_school_is_an_identifier() -> None:
    assert find_identifiers("St Mary's Primary School") == ["school"]


def test_an_agency_reference_is_not_an_nhs_number() -> None:
    """Digits glued to letters or a hyphen belong to the reference (the check digit would fit)."""
    assert find_identifiers("AUTH0-1795498439") == []
    assert find_identifiers("1795498439") == ["NHS number"]


def test_a_field_that_may_hold_a_professionals_name_still_refuses_everything_else() -> None:
    ensure_no_identifiers("Recorded by", "J. Patel, DSL", names_allowed=True)
    ensure_no_identifiers("Recorded by", "Dr A. Shah, Designated Doctor", names_allowed=True)
    assert find_identifiers("J. Patel, DSL") == ["name"]
    with pytest.raises(IdentifierFound, match=r"Recorded by appears .*\(NHS number, postcode\)"):
        ensure_no_identifiers("Recorded by", "Partners 943 476 5919 HP19 8FF", names_allowed=True)
    assert find_identifiers("J. Patel, St Mary's Primary School", names_allowed=True) == ["school"]


def test_scan_gives_each_finding_with_its_offsets_in_order() -> None:
    text = "Seen by Mrs Okafor at 27 Meadow Close, HP21 7QX; NHS 943 476 5919."
    findings = scan(text)
    assert findings == [
        Finding("name", 8, 18),
        Finding("street address", 22, 37),
        Finding("postcode", 39, 47),
        Finding("NHS number", 53, 65),
    ]
    assert [text[f.start : f.end] for f in findings] == ["Mrs Okafor", "27 Meadow Close", "HP21 7QX", "943 476 5919"]
    assert scan(text, names_allowed=True) == findings[1:]
    assert scan("") == []


def test_findings_are_frozen_values() -> None:
    finding = Finding("name", 0, 4)
    with pytest.raises(AttributeError):
        finding.kind = "postcode"  # type: ignore[misc]
    assert finding == Finding("name", 0, 4)


def test_importing_the_scanner_does_not_load_the_name_or_phone_data() -> None:
    """Every CLI call and worker imports the module; the lists load on the first scan that needs them."""
    script = ("import sys, models.identifiers as m\n"
              "print('faker' in sys.modules, 'phonenumbers' in sys.modules)\n"
              "m.scan('J. Patel', names_allowed=True)\n"
              "print('faker' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=CORPUS.parents[2], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "False", "False"]


def _corpus() -> list[tuple[str, set[str]]]:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["text"], set(row["kinds"])) for row in rows]


def test_the_labelled_corpus_is_large_and_uses_the_scanners_kinds() -> None:
    corpus = _corpus()
    assert len(corpus) >= 300
    assert {kind for _, kinds in corpus for kind in kinds} == set(KINDS)
    clean = sum(not kinds for _, kinds in corpus)
    assert 0.4 <= clean / len(corpus) <= 0.6


def test_the_scanner_finds_the_corpus_identifiers_and_leaves_its_clean_prose_alone() -> None:
    """Recall: every labelled kind found in a sentence; false alarms: clean sentences with any finding."""
    found = [(set(find_identifiers(text)), kinds) for text, kinds in _corpus()]
    identifying = [(got, want) for got, want in found if want]
    clean = [got for got, want in found if not want]
    recall = sum(want <= got for got, want in identifying) / len(identifying)
    false_alarms = [got for got in clean if got]
    assert recall >= MIN_RECALL
    assert len(false_alarms) / len(clean) <= MAX_FALSE_ALARMS, false_alarms
    for kind in KINDS:
        holding = [got for got, want in identifying if kind in want]
        assert sum(kind in got for got in holding) / len(holding) >= MIN_RECALL_PER_KIND, kind

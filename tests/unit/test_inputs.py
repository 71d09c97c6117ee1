"""The input boundary (``models.inputs``): every input model refuses what a careless or hostile
person could send, with one short line that never quotes the refused text.

Property-based: for every field of every input model (the referral, each step's answer, a
clock adjustment), hypothesis draws wrongly typed, oversized, invisible-character and
malformed values and checks each is refused, the reason is one bounded line, and none of
the drawn text appears in it.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from models.errors import Refused
from models.inputs import canonical_reference, describe_validation_error, prefill
from models.lifecycle import ClockAdjustment
from models.referral import Referral, read_referral, redacted
from models.steps import SPECS, StepKind
from tests.flows import answers

REFERRAL: dict[str, Any] = json.loads(Path("examples/referral.json").read_text(encoding="utf-8"))

# A valid answer for every step kind (the full LCSPR walk has all but the learning review's).
VALID: dict[StepKind, dict[str, Any]] = {
    SPECS[StepKind(key.rsplit("-", 1)[0].replace("-", "_"))].kind: payload for key, payload in answers.FULL_LCSPR
}
VALID[StepKind.LEARNING_REVIEW] = answers.a(decided_on="2026-05-01", learning="Supervision of new staff.")
CLOCK = {"clock": "rapid_review", "action": "pause", "on": "2026-03-05", "by": "A. Jones, Manager",
         "reason": "Criminal proceedings started."}

MODELS: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (Referral, REFERRAL), (ClockAdjustment, CLOCK),
    *((SPECS[kind].input_model, payload) for kind, payload in VALID.items()),
]
FIELDS = [(model, payload, name) for model, payload in MODELS for name in model.model_fields]
IDS = [f"{model.__name__}.{name}" for model, _, name in FIELDS]

INVISIBLE = ["\x00", "\x07", "\x1b", "\x7f", "\u200b", "\u200d", "\u2060", "\ufeff", "\u202e", "\u2066",
             "\u00ad", "\u2028", "\ue000"]


def refusal(model: type[BaseModel], payload: dict[str, Any]) -> str:
    """The one-line reason the boundary gives, or fail the test if it accepts."""
    try:
        model.model_validate(payload)
    except ValidationError as exc:
        return describe_validation_error(exc, "The input")
    pytest.fail(f"{model.__name__} accepted {payload!r:.200}")


def assert_safe(reason: str, *refused: str) -> None:
    assert "\n" not in reason and len(reason) <= 400, reason
    for text in refused:
        if len(text) >= 4:
            assert text not in reason, reason


def test_every_model_accepts_its_valid_example() -> None:
    for model, payload in MODELS:
        model.model_validate(payload)


def test_every_step_has_a_valid_example() -> None:
    assert set(VALID) == set(StepKind)


@pytest.mark.parametrize(("model", "payload", "name"), FIELDS, ids=IDS)
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(value=st.one_of(
    st.lists(st.text(max_size=5), min_size=1, max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), min_size=1, max_size=2),
    st.floats(allow_nan=True),
))
def test_a_value_of_the_wrong_type_is_refused(model: type[BaseModel], payload: dict[str, Any], name: str,
                                              value: Any) -> None:
    assert_safe(refusal(model, {**payload, name: value}))


@pytest.mark.parametrize(("model", "payload", "name"), FIELDS, ids=IDS)
def test_a_boolean_is_a_json_boolean_and_a_count_an_integer(model: type[BaseModel], payload: dict[str, Any],
                                                           name: str) -> None:
    kind = model.model_fields[name].annotation
    if kind is bool:
        for loose in ("yes", "on", "true", 1, 0, "1"):
            assert "valid boolean" in refusal(model, {**payload, name: loose})
    elif kind is int:
        for loose in ("3", 3.0, True, "three"):
            refusal(model, {**payload, name: loose})


DATE_FIELDS = [(m, p, n) for m, p, n in FIELDS
               if "date" in str(m.model_fields[n].annotation) or n in ("on", "new_due")]


@pytest.mark.parametrize(("model", "payload", "name"), DATE_FIELDS,
                         ids=[f"{m.__name__}.{n}" for m, _, n in DATE_FIELDS])
@settings(max_examples=30, deadline=None)
@given(value=st.one_of(
    st.integers(),
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes(),
    st.dates(max_value=date(1989, 12, 31)).map(date.isoformat),
    st.sampled_from(["2026-02-30", "20260301", "2026-W10-1", "01/03/2026", "1 March 2026", "2026-3-1",
                     "0001-01-01", "9999-12-31", "today"]),
))
def test_a_date_is_an_iso_calendar_date_in_a_plausible_range(model: type[BaseModel], payload: dict[str, Any],
                                                             name: str, value: Any) -> None:
    reason = refusal(model, {**payload, name: value})
    assert name in reason
    assert_safe(reason)


def test_a_date_before_1990_is_refused_and_the_reason_says_so() -> None:
    assert "incident_date is before 1990-01-01" in refusal(Referral, {**REFERRAL, "incident_date": "1970-01-01"})
    assert "without a time" in refusal(Referral, {**REFERRAL, "incident_date": datetime(2026, 1, 1)})
    assert "yyyy-mm-dd" in refusal(Referral, {**REFERRAL, "incident_date": 0})


TEXT_FIELDS = [(m, p, n) for m, p, n in FIELDS if m.model_fields[n].annotation is str]


@pytest.mark.parametrize(("model", "payload", "name"), TEXT_FIELDS,
                         ids=[f"{m.__name__}.{n}" for m, _, n in TEXT_FIELDS])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_invisible_and_control_characters_are_refused_anywhere_in_text(
        model: type[BaseModel], payload: dict[str, Any], name: str, data: st.DataObject) -> None:
    text = str(payload.get(name) or "Thames Valley")
    bad = data.draw(st.sampled_from([*INVISIBLE, "\n"]))
    if bad == "\n" and _allows_lines(model, name):
        return
    at = data.draw(st.integers(min_value=1, max_value=max(1, len(text) - 1)))
    poisoned = text[:at] + bad + text[at:]
    reason = refusal(model, {**payload, name: poisoned})
    assert name in reason
    assert_safe(reason, poisoned)


def _allows_lines(model: type[BaseModel], name: str) -> bool:
    return any(getattr(m, "__name__", "") == "_prose" for m in _validators(model, name))


def _validators(model: type[BaseModel], name: str) -> list[Any]:
    return [getattr(m, "func", m) for m in model.model_fields[name].metadata]


@pytest.mark.parametrize(("model", "payload", "name"), TEXT_FIELDS,
                         ids=[f"{m.__name__}.{n}" for m, _, n in TEXT_FIELDS])
def test_oversized_text_is_refused_with_a_short_reason(model: type[BaseModel], payload: dict[str, Any],
                                                       name: str) -> None:
    flood = "Lorem ipsum dolor " * 60_000  # about 1 MB
    reason = refusal(model, {**payload, name: flood})
    assert_safe(reason, flood[:50])


@pytest.mark.parametrize(("model", "payload"), MODELS, ids=[m.__name__ for m, _ in MODELS])
@settings(max_examples=20, deadline=None)
@given(extra=st.text(min_size=1, max_size=60))
def test_a_field_the_form_does_not_have_is_refused_and_its_name_not_echoed_unless_plain(
        model: type[BaseModel], payload: dict[str, Any], extra: str) -> None:
    if extra in model.model_fields:
        return
    reason = refusal(model, {**payload, extra: "Jane Smith"})
    assert "not a field of this form" in reason
    assert "Jane Smith" not in reason
    if not extra.isascii() or not extra.islower() or len(extra) > 40:
        assert_safe(reason, extra)


def test_a_name_given_as_a_field_name_is_not_echoed() -> None:
    reason = refusal(Referral, {**REFERRAL, "Jane Smith": True})
    assert "Jane" not in reason and "(a field with an unreadable name)" in reason


def test_homoglyphs_are_refused() -> None:
    cyrillic_a = "\u0430"
    reason = refusal(Referral, {**REFERRAL, "referring_agency": f"Thames V{cyrillic_a}lley Police"})
    assert "different alphabets" in reason


def test_text_is_stored_in_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Café practitioner group met to discuss the learning")
    referral = Referral.model_validate({**REFERRAL, "outline": decomposed})
    assert referral.outline == unicodedata.normalize("NFC", decomposed)


@pytest.mark.parametrize(("given", "canonical"), [
    ("x-1", "X-1"), ("  tvp / 2026 /  12 ", "TVP / 2026 / 12"), ("ＸＹ-１", "XY-1"), ("csc.0042_a", "CSC.0042_A"),
])
def test_references_have_one_canonical_form(given: str, canonical: str) -> None:
    assert canonical_reference(given) == canonical


@pytest.mark.parametrize("reference", ["X\u200b", "X\u00a0Y\u200d", "X;DROP", "X<Y>", "X\x00"])
def test_references_refuse_anything_but_letters_digits_and_separators(reference: str) -> None:
    with pytest.raises(ValueError):
        canonical_reference(reference)


def test_one_case_with_invisible_variants_of_its_reference_is_one_reference() -> None:
    a = Referral.model_validate({**REFERRAL, "agency_reference": "pol-2026-0042"})
    b = Referral.model_validate({**REFERRAL, "agency_reference": " POL-2026-0042 "})
    assert a.agency_reference == b.agency_reference == "POL-2026-0042"
    with pytest.raises(ValidationError):
        Referral.model_validate({**REFERRAL, "agency_reference": "POL-2026-0042\u200b"})


@pytest.mark.parametrize("raw", [None, [], "Jane Smith", 42, [REFERRAL]])
def test_a_referral_that_is_not_an_object_is_refused_in_one_line(raw: Any) -> None:
    with pytest.raises(Refused) as refused:
        read_referral(raw)
    assert_safe(refused.value.reason, "Jane Smith")


def test_a_refused_referral_keeps_only_its_yes_no_answers_in_prefect() -> None:
    raw = {**REFERRAL, "outline": "Jane Smith was hurt", "Jane Smith": "x", "incident_date": "2015-03-12"}
    kept = redacted(raw)
    assert "Jane Smith" not in json.dumps(kept)
    assert kept["dsl_consulted"] is True and kept["incident_date"].startswith("[removed")
    assert set(kept) <= set(Referral.model_fields)


# ---------------------------------------------------------------- pre-filling a form asked again

STEP_FIELDS = [(m, p, n) for m, p, n in FIELDS if m is not Referral and m is not ClockAdjustment]


def test_a_valid_answer_prefills_every_field_as_its_form_reads_it() -> None:
    for kind, payload in VALID.items():
        model = SPECS[kind].input_model
        read = model.model_validate(payload).model_dump(mode="json")
        assert prefill(model, payload) == {k: v for k, v in read.items() if k in payload}


def test_only_the_values_that_pass_their_own_field_are_prefilled() -> None:
    model = SPECS[StepKind.NOTIFICATION].input_model
    kept = {"decided_on": "05/03/2026", "decided_by": " A. Jones, Manager ", "outcome": "notified",
            "panel_reference": "np-2026-1", "rationale": "x" * 2001, "not_a_field": "y"}
    assert prefill(model, kept) == {"decided_by": "A. Jones, Manager", "outcome": "notified",
                                    "panel_reference": "NP-2026-1"}
    assert prefill(model, {"decided_on": "2026-03-01", "outcome": "maybe"}) == {"decided_on": "2026-03-01"}


@pytest.mark.parametrize(("model", "payload", "name"), STEP_FIELDS,
                         ids=[f"{m.__name__}.{n}" for m, _, n in STEP_FIELDS])
@settings(max_examples=25, deadline=None)
@given(value=st.one_of(st.text(max_size=12), st.integers(), st.booleans(), st.none(),
                       st.dates().map(date.isoformat), st.sampled_from(["05/03/2026", "2026-02-30", "v0.1 "])))
def test_a_prefilled_value_never_makes_the_form_refuse_the_answer(model: type[BaseModel], payload: dict[str, Any],
                                                                   name: str, value: Any) -> None:
    """Whatever was kept, what goes into the form is what the form itself would take."""
    filled = prefill(model, {name: value})
    if filled:
        model.model_validate({**payload, **filled})



@pytest.mark.parametrize("name", ["referral.json", "referral-siblings.json"])
def test_the_example_referrals_are_accepted_as_they_are(name: str) -> None:
    referral = read_referral(json.loads((Path("examples") / name).read_text(encoding="utf-8")))
    assert referral.children[0].pseudonym == "Child A"
    assert len(referral.children) == (3 if "siblings" in name else 1)

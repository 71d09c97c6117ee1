"""The Resume form a step is asked with (``flows.review.form_for``): after a refusal, the reason first
and the kept values as the schema's defaults, which the UI fills the form with; the field's title,
description, limits and checks all kept.

The schema is made as Prefect makes it when the run suspends (``RunInput.save``); the test against a
real server is in ``tests/flows/test_review_flow.py``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from prefect._internal.pydantic.v2_schema import create_v2_schema
from pydantic import ValidationError

from flows.review import describe_step, form_for
from models.lifecycle import OpenStep, Policy, open_review, open_step
from tests.conftest import make_referral
from tests.flows import answers as A

REF = "LCSPR-2026-0001"
REASON = "The date given (2026-03-01) is before this step opened (2026-03-03). Check the date."


def notification(refused: bool) -> OpenStep:
    step = open_step(open_review(REF, make_referral(), Policy()), Policy())
    assert step is not None
    return replace(step, key="notification-1-retry-2", attempt=2, last_refusal=REASON) if refused else step


def schema(form: type[Any]) -> dict[str, Any]:
    return create_v2_schema(form.__name__, model_base=form)


def test_the_reason_for_a_refusal_comes_before_anything_else() -> None:
    text = describe_step(REF, notification(refused=True))
    assert text.startswith(f"> **The previous answer was refused:** {REASON}")
    assert text.index(REASON) < text.index("### Serious incident notification")
    assert "refused" not in describe_step(REF, notification(refused=False))


def test_a_form_asked_again_holds_the_kept_values_as_defaults_and_keeps_its_labels_and_limits() -> None:
    kept = {**A.NOTIFIED, "decided_on": "2026-03-01"}
    plain, again = schema(form_for(REF, notification(False))), schema(form_for(REF, notification(True), kept))

    assert {name: p.get("default") for name, p in again["properties"].items()} == {
        **kept, "rationale": ""}
    for name, prop in plain["properties"].items():  # everything else as the first form had it
        assert {k: v for k, v in again["properties"][name].items() if k != "default"} == \
            {k: v for k, v in prop.items() if k != "default"}
    assert again["properties"]["decided_on"]["title"] == "Date"
    assert again["properties"]["decided_by"]["maxLength"] == 80


@pytest.mark.parametrize("bad", [{"decided_on": "05/03/2026"}, {"decided_by": "A\u200bJones"},
                                 {"decided_on": "1970-01-01"}])
def test_a_prefilled_form_still_reads_an_answer_with_the_steps_own_checks(bad: dict[str, Any]) -> None:
    """The flow tells a person's mistake from its own by the model's name in the error's title."""
    form = form_for(REF, notification(True), dict(A.NOTIFIED))
    with pytest.raises(ValidationError) as refused:
        form.model_validate({**A.NOTIFIED, **bad})
    assert refused.value.title.startswith("NotificationInput")


def test_a_value_left_as_prefilled_is_read_like_one_typed() -> None:
    form = form_for(REF, notification(True), {"decided_on": "2026-03-05", "decided_by": A.BY["decided_by"]})
    answer: Any = form.model_validate({"outcome": "notified", "panel_reference": "np-1"})
    assert answer.model_dump(mode="json")["decided_on"] == "2026-03-05"
    assert (answer.decided_on, answer.panel_reference) == (date(2026, 3, 5), "NP-1")

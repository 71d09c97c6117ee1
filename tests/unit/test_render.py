"""Every notification kind renders from the closed context, and nothing else gets in."""

from __future__ import annotations

import jinja2
import pytest

from models.reminders import MessageLevel
from notifications.render import (
    CONTEXT_VARIABLES,
    KINDS,
    TEMPLATES_DIR,
    kind_for_level,
    render,
)

CONTEXT: dict[str, object] = {
    "reference": "REF",
    "step": "Rapid Review outcome",
    "due": "2026-04-21",
    "days_overdue": 3,
    "escalated_from": "safeguarding_partners",
    "recipient_role": "independent_chair",
    "link": "http://127.0.0.1:4200/runs/flow-run/1",
    "partnership": "Test Safeguarding Children Partnership",
}


def test_the_test_context_holds_every_allowed_variable() -> None:
    assert set(CONTEXT) == CONTEXT_VARIABLES


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_a_one_line_subject_and_both_bodies(kind: str) -> None:
    message = render(kind, CONTEXT)

    assert message.subject.startswith("[REF] ")
    assert "\n" not in message.subject
    assert "REF" in message.text
    assert "REF" in message.html
    assert "http://127.0.0.1:4200/runs/flow-run/1" in message.text
    assert 'href="http://127.0.0.1:4200/runs/flow-run/1"' in message.html


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_without_a_link_or_escalation(kind: str) -> None:
    message = render(kind, {**CONTEXT, "link": "", "escalated_from": "", "days_overdue": 0})

    assert message.subject.startswith("[REF] ")
    assert "href" not in message.html


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_variable_raises_instead_of_rendering_blank(kind: str) -> None:
    context = {k: v for k, v in CONTEXT.items() if k != "reference"}
    with pytest.raises(jinja2.UndefinedError):
        render(kind, context)


@pytest.mark.parametrize("kind", KINDS)
def test_the_html_body_escapes_values_but_the_subject_and_text_do_not(kind: str) -> None:
    message = render(kind, {**CONTEXT, "partnership": "Tom & Jerry <script>"})

    assert "<script>" not in message.html
    assert "Tom &amp; Jerry &lt;script&gt;" in message.html
    assert "Tom & Jerry <script>" in message.text
    assert "&amp;" not in message.subject


@pytest.mark.parametrize("kind", KINDS)
def test_a_newline_in_a_value_cannot_break_the_subject_line(kind: str) -> None:
    message = render(kind, {**CONTEXT, "reference": "REF\nBcc: someone@example.org"})
    assert "\n" not in message.subject


def test_a_variable_outside_the_allowed_list_is_refused() -> None:
    with pytest.raises(ValueError, match="child_pseudonym"):
        render("reminder", {**CONTEXT, "child_pseudonym": "CANARY-PSEUDONYM"})


def test_an_unknown_kind_is_refused_naming_the_known_kinds() -> None:
    with pytest.raises(ValueError, match=r"step_opened.*final_report_to_bodies"):
        render("birthday", CONTEXT)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_its_three_templates(kind: str) -> None:
    for suffix in ("subject.j2", "txt.j2", "html.j2"):
        assert (TEMPLATES_DIR / f"{kind}.{suffix}").is_file()


def test_no_template_source_mentions_a_pseudonym_or_case_text() -> None:
    sources = [p.read_text() for p in TEMPLATES_DIR.glob("*.j2")]
    assert sources
    for source in sources:
        assert "CANARY-PSEUDONYM" not in source
        assert "pseudonym" not in source
        assert "outline" not in source


@pytest.mark.parametrize("level", list(MessageLevel))
def test_every_reminder_level_has_a_template_kind(level: MessageLevel) -> None:
    assert kind_for_level(level) in KINDS


def test_the_escalation_names_the_role_it_was_escalated_from() -> None:
    message = render("escalation", CONTEXT)
    assert "safeguarding partners" in message.text
    assert "3 working days overdue" in message.subject


def test_inform_bodies_is_ready_to_send_to_dfe_ofsted_and_the_national_panel() -> None:
    text = render("inform_bodies", CONTEXT).text
    for body in ("Department for Education", "Ofsted", "Child Safeguarding Practice Review Panel"):
        assert body in text
    assert "by 2026-04-21" in text


def test_final_report_to_bodies_states_the_seven_working_day_rule() -> None:
    text = render("final_report_to_bodies", CONTEXT).text
    assert "at least seven working days before it is published" in " ".join(text.split())

"""Every notification kind renders from the closed context, and nothing else gets in."""

from __future__ import annotations

import jinja2
import pytest

from models.reminders import MessageLevel
from notifications.render import CONTEXT_VARIABLES, KINDS, TEMPLATES_DIR, RenderedMessage, render

CONTEXT: dict[str, object] = {
    "reference": "REF",
    "step": "Rapid Review outcome",
    "due": "2026-04-21",
    "days_overdue": 3,
    "escalated_from": "safeguarding_partners",
    "recipient_role": "independent_chair",
    "link": "http://127.0.0.1:4200/runs/flow-run/1",
    "partnership": "Test Safeguarding Children Partnership",
    "final_report_working_days": 7,
}

# How each allowed variable of CONTEXT reads in the messages that quote it.
SHOWN: dict[str, str] = {
    "reference": "review REF",
    "step": "Rapid Review outcome",
    "due": "2026-04-21",
    "days_overdue": "3 working days overdue",
    "escalated_from": "the safeguarding partners role",
    "recipient_role": "to the independent chair role",
    "link": "Open the review: http://127.0.0.1:4200/runs/flow-run/1",
    "partnership": "Test Safeguarding Children Partnership",
    "final_report_working_days": "at least 7 working days before it is published",
}

RULE_KINDS = ("inform_bodies", "final_report_to_bodies")


def _words(text: str) -> str:
    """The text with every run of white space (line breaks included) as one space."""
    return " ".join(text.split())


def _all_parts(message: RenderedMessage) -> list[str]:
    return [_words(message.subject), _words(message.text), _words(message.html)]


@pytest.mark.parametrize("name", sorted(CONTEXT_VARIABLES))
def test_every_allowed_variable_is_quoted_by_some_message(name: str) -> None:
    """No variable in the closed list is dead, and the test context gives each one."""
    texts = [_words(render(kind, CONTEXT).text) for kind in KINDS]
    assert any(SHOWN[name] in text for text in texts)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_a_one_line_subject_and_both_bodies(kind: str) -> None:
    message = render(kind, CONTEXT)

    assert message.subject.startswith("[REF] ")
    assert "\n" not in message.subject
    assert "REF" in message.text
    assert "REF" in message.html
    assert "http://127.0.0.1:4200/runs/flow-run/1" in message.text
    assert 'href="http://127.0.0.1:4200/runs/flow-run/1"' in message.html
    # Each body ends with one line break, as the MIME part carrying it does.
    assert message.text.endswith(".\n")
    assert not message.text.endswith("\n\n")
    assert message.html.startswith("<!DOCTYPE html>\n")
    assert message.html.endswith("</html>\n")


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_without_a_link_or_escalation(kind: str) -> None:
    message = render(kind, {**CONTEXT, "link": "", "escalated_from": "", "days_overdue": 0})

    assert message.subject.startswith("[REF] ")
    assert "href" not in message.html
    assert "Open the review" not in message.text


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_variable_raises_instead_of_rendering_blank(kind: str) -> None:
    context = {k: v for k, v in CONTEXT.items() if k != "reference"}
    with pytest.raises(jinja2.UndefinedError):
        render(kind, context)


@pytest.mark.parametrize("kind", RULE_KINDS)
def test_a_message_quoting_a_rule_cannot_render_without_the_partnerships_figure(kind: str) -> None:
    context = {k: v for k, v in CONTEXT.items() if k != "final_report_working_days"}
    with pytest.raises(jinja2.UndefinedError, match="final_report_working_days"):
        render(kind, context)


@pytest.mark.parametrize("kind", RULE_KINDS)
def test_the_final_report_rule_is_the_partnerships_not_a_default(kind: str) -> None:
    message = render(kind, {**CONTEXT, "final_report_working_days": 10})

    assert "at least 10 working days before it is published" in _words(message.text)
    assert "at least 10 working days before it is published" in _words(message.html)
    for part in _all_parts(message):
        assert "seven" not in part
        assert " 7 " not in part


@pytest.mark.parametrize("kind", RULE_KINDS)
def test_a_one_day_rule_reads_in_the_singular(kind: str) -> None:
    message = render(kind, {**CONTEXT, "final_report_working_days": 1})

    assert "at least 1 working day before it is published" in _words(message.text)
    assert "at least 1 working day before it is published" in _words(message.html)


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
    assert message.subject.startswith("[REF Bcc: someone@example.org] ")


def test_a_variable_outside_the_allowed_list_is_refused() -> None:
    with pytest.raises(ValueError, match="child_pseudonym"):
        render("reminder", {**CONTEXT, "child_pseudonym": "CANARY-PSEUDONYM"})


def test_an_unknown_kind_is_refused_naming_the_known_kinds() -> None:
    with pytest.raises(ValueError, match=r"step_opened.*final_report_to_bodies"):
        render("birthday", CONTEXT)


def test_the_templates_are_three_per_kind_and_two_shared_parts() -> None:
    expected = {f"{kind}.{suffix}" for kind in KINDS for suffix in ("subject.j2", "txt.j2", "html.j2")}
    expected |= {"_layout.html.j2", "_footer.txt.j2"}
    assert {p.name for p in TEMPLATES_DIR.glob("*.j2")} == expected


def test_no_template_source_mentions_a_pseudonym_or_case_text() -> None:
    for path in TEMPLATES_DIR.glob("*.j2"):
        source = path.read_text()
        assert "CANARY-PSEUDONYM" not in source, path.name
        assert "pseudonym" not in source, path.name
        assert "outline" not in source, path.name


@pytest.mark.parametrize("level", list(MessageLevel))
def test_every_reminder_level_names_a_template_kind(level: MessageLevel) -> None:
    """Clock notices use the level's value as their kind (models.notices.clock_notices)."""
    assert level.value in KINDS


def test_the_escalation_names_the_role_it_was_escalated_from() -> None:
    message = render("escalation", CONTEXT)
    assert "It is the responsibility of the safeguarding partners role" in message.text
    assert message.subject == "[REF] Escalation: Rapid Review outcome is 3 working days overdue"


def test_inform_bodies_is_ready_to_send_to_dfe_ofsted_and_the_national_panel() -> None:
    text = render("inform_bodies", CONTEXT).text
    for body in ("Department for Education", "Ofsted", "Child Safeguarding Practice Review Panel"):
        assert body in text
    assert "by 2026-04-21" in text


def test_final_report_to_bodies_states_the_partnerships_working_day_rule() -> None:
    text = render("final_report_to_bodies", CONTEXT).text
    assert "at least 7 working days before it is published" in _words(text)

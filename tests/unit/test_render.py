"""Every notification kind renders from the closed context, and nothing else gets in."""

from __future__ import annotations

import re

import jinja2
import pytest

from models.digest import DIGEST_KIND
from models.reminders import MessageLevel
from notifications.briefing import TEMPLATES as BRIEFING_TEMPLATES
from notifications.render import CONTEXT_VARIABLES, KINDS, TEMPLATES_DIR, RenderedMessage, for_forwarding, render

CONTEXT: dict[str, object] = {
    "reference": "REF",
    "step": "Rapid Review outcome",
    "due": "2026-04-21",
    "days_overdue": 3,
    "escalated_from": "safeguarding_partners",
    "recipient_role": "independent_chair",
    "link": "http://127.0.0.1:4200/runs/flow-run/1",
    "portfolio_link": "http://127.0.0.1:4200/v2/artifacts/key/lcspr-portfolio",
    "partnership": "Test Safeguarding Children Partnership",
    "final_report_working_days": 7,
    "meeting": "Panel meeting",
    "when": "Monday 30 March 2026, 10:00 to 11:30 (UK time)",
    "where": "Council offices, Room 2",
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
    "portfolio_link": "Every open review (the portfolio): http://127.0.0.1:4200/v2/artifacts/key/lcspr-portfolio",
    "partnership": "Test Safeguarding Children Partnership",
    "final_report_working_days": "at least 7 working days before it is published",
    "meeting": "panel meeting of review REF",
    "when": "When: Monday 30 March 2026, 10:00 to 11:30 (UK time)",
    "where": "Where: Council offices, Room 2",
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
    message = render(kind, {**CONTEXT, "link": "", "portfolio_link": "", "escalated_from": "", "days_overdue": 0})

    assert message.subject.startswith("[REF] ")
    assert "href" not in message.html
    assert "Open the review" not in message.text


@pytest.mark.parametrize("kind", KINDS)
def test_every_footer_links_to_the_portfolio_of_open_reviews(kind: str) -> None:
    message = render(kind, CONTEXT)

    body, signature = message.text.rsplit("\n\n--\n", 1)
    assert body.endswith("\nEvery open review (the portfolio): http://127.0.0.1:4200/v2/artifacts/key/lcspr-portfolio")
    assert "Every open review" not in signature
    assert 'href="http://127.0.0.1:4200/v2/artifacts/key/lcspr-portfolio"' in message.html


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("missing", ["reference", "portfolio_link"])
def test_a_missing_variable_raises_instead_of_rendering_blank(kind: str, missing: str) -> None:
    context = {k: v for k, v in CONTEXT.items() if k != missing}
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


def test_the_templates_are_three_per_kind_two_shared_parts_and_the_learning_briefings() -> None:
    expected = {f"{kind}.{suffix}" for kind in (*KINDS, DIGEST_KIND) for suffix in ("subject.j2", "txt.j2", "html.j2")}
    expected |= {"_layout.html.j2", "_footer.txt.j2", *BRIEFING_TEMPLATES}
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


# ---------------------------------------------------------------- reading right (issue 13)

NO_DUE: dict[str, object] = {**CONTEXT, "due": ""}
# What a sentence reads like when an empty due date was dropped into it.
GAPS = ("by ,", "by .", "by :", "()", " on and ", "by  ", "no statutory due date")


def test_a_step_with_no_due_date_says_no_deadline_applies_instead_of_a_date() -> None:
    message = render("step_opened", NO_DUE)

    assert message.subject == "[REF] Action needed: Rapid Review outcome"
    note = "No statutory deadline applies to this step; please answer as soon as you can."
    assert note in _words(message.text)
    assert note in _words(message.html)


@pytest.mark.parametrize("kind", KINDS)
def test_no_kind_leaves_a_gap_where_a_missing_due_date_would_go(kind: str) -> None:
    message = render(kind, NO_DUE)

    for part in _all_parts(message):
        for gap in GAPS:
            assert gap not in part, (gap, part)
    assert not message.subject.endswith(" by")


@pytest.mark.parametrize("kind", ["due_today", "overdue"])
def test_the_business_unit_is_not_asked_to_tell_or_agree_with_the_business_unit(kind: str) -> None:
    message = render(kind, {**CONTEXT, "recipient_role": "business_unit"})

    for part in (_words(message.text), _words(message.html)):
        assert "tell the business unit" not in part
        assert "with the business unit" not in part
        assert "agree an extension" in part


@pytest.mark.parametrize("kind", ["due_today", "overdue"])
def test_anyone_else_is_asked_to_agree_an_extension_with_the_business_unit(kind: str) -> None:
    message = render(kind, {**CONTEXT, "recipient_role": "agency-thames-valley-police"})

    for part in (_words(message.text), _words(message.html)):
        assert "tell the business unit" in part or "with the business unit" in part


FORWARD_NOTE = (
    "This message is for the Independent Chair (or the delegated safeguarding partners), "
    "who has no address configured; please forward it to them."
)


def test_a_message_rerouted_for_want_of_an_address_says_whom_it_is_for_in_both_parts() -> None:
    message = render("step_opened", CONTEXT)

    rerouted = for_forwarding(message, "independent_chair")

    assert rerouted.subject == message.subject
    assert rerouted.text == FORWARD_NOTE + "\n\n" + message.text
    assert rerouted.html.startswith(message.html.split("<body")[0])
    assert rerouted.html.replace(_html_note(rerouted.html), "", 1) == message.html
    assert _words(_html_note(rerouted.html)).endswith(FORWARD_NOTE + "</p>")


def test_a_rerouted_agency_message_names_the_agency() -> None:
    rerouted = for_forwarding(render("reminder", CONTEXT), "agency-thames-valley-police")

    first = rerouted.text.split("\n\n")[0]
    assert first == ("This message is for the agency thames valley police, who has no address "
                     "configured; please forward it to them.")
    assert "the agency thames valley police" in rerouted.html


def _html_note(html: str) -> str:
    """The first paragraph after the opening body tag, with its line break."""
    after_body = html.split("<body", 1)[1].split(">", 1)[1]
    return after_body[: after_body.index("</p>") + len("</p>\n")].lstrip("\n")


MARKUP = re.compile(r"\*\*|`|&[#a-zA-Z0-9]+;|<[a-zA-Z/!]")
REALISTIC: dict[str, object] = {
    **CONTEXT,
    "reference": "LCSPR-2026-0001",
    "step": "Agency report or chronology (thames valley police)",
    "escalated_from": "business unit",
    "partnership": "Bath & North East Somerset Safeguarding Children Partnership",
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("due", ["2026-04-21", ""])
@pytest.mark.parametrize("role", ["business_unit", "independent_chair", "agency-thames-valley-police"])
@pytest.mark.parametrize("rerouted", [False, True])
def test_the_plain_text_parts_and_subject_carry_no_markup(kind: str, due: str, role: str, rerouted: bool) -> None:
    message = render(kind, {**REALISTIC, "due": due, "recipient_role": role})
    if rerouted:
        message = for_forwarding(message, role)

    for part in (message.subject, message.text):
        assert MARKUP.search(part) is None, part
    assert "Bath & North East Somerset" in message.text
    assert "Bath &amp; North East Somerset" in message.html

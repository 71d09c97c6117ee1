"""Themes of recommendations (``models.themes``), learning by theme in the yearly report (``models.learning``,
``notifications.learning``) and the learning briefing (``models.briefing``, ``notifications.briefing``)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from lcspr.bootstrap import config_from
from lcspr.settings import Settings
from models.briefing import briefing
from models.errors import ConfigurationError, IdentifierFound, Refused
from models.learning import with_learning
from models.lifecycle import LoggedDecision, Policy, replay
from models.report import annual_report
from models.themes import (
    DEFAULT_THEMES,
    ThemeAssignment,
    ThemeChange,
    ThemeKind,
    ThemeList,
    by_review,
    parse_themes,
    plan_change,
)
from notifications.briefing import briefing_key, render_briefing
from notifications.learning import learning_markdown
from notifications.report import to_csv, to_markdown
from tests import report_cases as cases

LIST = ThemeList()
AT = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
POLICY = Policy()
STORED = [cases.stored_review(f"LCSPR-2026-{i:04d}", case, POLICY) for i, case in enumerate(cases.CASES, 1)]
FULL, LATE, LEARNING = STORED[0], STORED[1], STORED[2]


def given(reference: str, recommendation: int, value: str, kind: ThemeKind = ThemeKind.CONTROLLED,
          id: int | None = None, removed: bool = False) -> ThemeAssignment:
    return ThemeAssignment(reference, recommendation, kind, value, "A. Jones", AT,
                           "B. Smith" if removed else "", AT if removed else None, id)


def change(**values: object) -> ThemeChange:
    return ThemeChange(**{"recommendation": 1, "by": "A. Jones, Partnership Manager", **values})  # type: ignore[arg-type]


# ---------------------------------------------------------------- the list and the settings


def test_the_default_list_is_the_national_panels_recurring_themes_each_with_a_key_and_a_title() -> None:
    assert 15 <= len(DEFAULT_THEMES) <= 20
    keys = LIST.keys
    assert len(set(keys)) == len(keys)
    for key in ("neglect", "domestic_abuse", "parental_mental_health", "information_sharing", "safer_sleep",
                "voice_of_the_child", "professional_curiosity", "criminal_exploitation", "race_and_culture"):
        assert key in LIST
    assert all(re.fullmatch(r"[a-z][a-z0-9_]+", t.key) and t.title for t in DEFAULT_THEMES)


def test_the_settings_give_the_default_list_or_the_partnerships_own(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    assert Settings(_env_file=None).theme_list() == ThemeList(DEFAULT_THEMES)
    monkeypatch.setenv("LCSPR_THEMES", "Neglect, Domestic abuse,pre_birth=Pre-birth assessment")
    own = Settings(_env_file=None)
    assert [(t.key, t.title) for t in own.theme_list().themes] == [
        ("neglect", "Neglect"), ("domestic_abuse", "Domestic abuse"), ("pre_birth", "Pre-birth assessment")]
    assert config_from(own).themes == own.theme_list()  # what the App judges changes with
    listed = tmp_path / "themes.txt"
    listed.write_text("# our themes\nRace, ethnicity and culture\n\nsleep=Safer sleep\n", encoding="utf-8")
    from_file = Settings(_env_file=None, themes_file=listed).theme_list()
    assert [(t.key, t.title) for t in from_file.themes] == [
        ("race_ethnicity_and_culture", "Race, ethnicity and culture"), ("sleep", "Safer sleep")]


@pytest.mark.parametrize(("items", "says"), [
    (["Neglect", "neglect=Neglect again"], "the key neglect is given twice"),
    (["Bad Key=Title"], "the key must be"),
    (["x" * 81], "the title must be"),
])
def test_a_list_that_cannot_be_kept_is_refused_naming_the_setting(items: list[str], says: str) -> None:
    with pytest.raises(ConfigurationError, match=f"LCSPR_THEMES, theme .*{says}"):
        parse_themes(items)


def test_an_unreadable_themes_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="Cannot read LCSPR_THEMES_FILE"):
        Settings(_env_file=None, themes_file=tmp_path / "missing.txt").theme_list()


# ---------------------------------------------------------------- the rules of a change


def test_themes_and_tags_are_added_to_an_existing_recommendation_and_repeats_are_noted() -> None:
    standing = [given("R", 1, "neglect", id=1)]
    plan = plan_change(change(add=("neglect", "information_sharing"), tags=("Pre birth", "pre-birth")), LIST, 2,
                       standing)
    assert plan.add == ((ThemeKind.CONTROLLED, "information_sharing"), (ThemeKind.TAG, "pre-birth"))
    assert plan.already == ("neglect",)
    assert plan.remove == ()


def test_a_standing_theme_or_tag_is_removed_by_its_key_or_tag() -> None:
    standing = [given("R", 1, "neglect", id=1), given("R", 1, "pre-birth", ThemeKind.TAG, id=2),
                given("R", 2, "neglect", id=3), given("R", 1, "online_harm", id=4, removed=True)]
    plan = plan_change(change(remove=("neglect", "Pre-Birth")), LIST, 2, standing)
    assert [a.id for a in plan.remove] == [1, 2]
    with pytest.raises(Refused, match="Item 1 of --remove is not on recommendation 1, which carries: neglect, "
                                      "pre-birth"):
        plan_change(change(remove=("online_harm",)), LIST, 2, standing)


@pytest.mark.parametrize(("count", "values", "says"), [
    (0, {}, "has no recommendations yet"),
    (2, {"recommendation": 3}, r"Recommendation 3 does not exist: the review has 2 recommendations \(1 to 2\)"),
    (1, {"recommendation": 0}, r"the review has 1 recommendation \(1 to 1\)"),
    (2, {"add": ()}, "Say what to change"),
    (2, {"add": ("neglect",), "by": " "}, "Say who records it"),
    (2, {"tags": ("pre birth!",)}, "Tag 1 must be a short lowercase slug"),
    (2, {"tags": ("ok", "x" * 41)}, "Tag 2 must be a short lowercase slug"),
    (2, {"tags": ("information-sharing",)}, "Tag 1 is a theme of the partnership's list: give it with --add"),
])
def test_a_change_that_cannot_be_kept_is_refused_with_the_reason(count: int, values: dict[str, object],
                                                                 says: str) -> None:
    with pytest.raises(Refused, match=says):
        plan_change(change(**{"add": ("neglect",), **values}), LIST, count, [])


def test_a_theme_not_in_the_list_is_refused_listing_the_valid_keys_without_echoing_it() -> None:
    with pytest.raises(Refused) as refused:
        plan_change(change(add=("neglect", "Jane Smith's neglect")), LIST, 2, [])
    assert "Theme 2 of --add is not in the partnership's list" in refused.value.reason
    assert ", ".join(LIST.keys) in refused.value.reason
    assert "Jane" not in refused.value.reason


@pytest.mark.parametrize("tag", ["Jane Smith", "jane-smith", "nhs 943 476 5919", "hp22-5ab"])
def test_a_tag_that_could_identify_a_child_is_refused_without_echoing_it(tag: str) -> None:
    with pytest.raises(IdentifierFound) as refused:
        plan_change(change(tags=(tag,)), LIST, 2, [])
    assert "tag 1" in refused.value.reason
    for word in re.findall(r"\w+", tag):
        if len(word) > 3:
            assert word.lower() not in refused.value.reason.lower()


# ---------------------------------------------------------------- learning by theme


def year_report(assignments: list[ThemeAssignment]):  # type: ignore[no-untyped-def]
    r = annual_report(STORED, date(2026, 1, 1), date(2026, 12, 31), today=date(2027, 1, 15), policy=POLICY)
    return with_learning(r, STORED, by_review(assignments), LIST, POLICY)


THEMED = [
    given(FULL.reference, 1, "information_sharing"), given(FULL.reference, 1, "multi_agency_working"),
    given(FULL.reference, 2, "non_accidental_injury"), given(FULL.reference, 2, "pre-birth", ThemeKind.TAG),
    given(LEARNING.reference, 1, "multi_agency_working"), given(LEARNING.reference, 2, "supervision", ThemeKind.TAG),
    given(LEARNING.reference, 2, "neglect", removed=True),
    # The late review has no recommendations yet on the report's day: a theme on its number 1 is left out.
    given(LATE.reference, 1, "neglect"),
]


def test_the_report_groups_reviews_recommendations_and_actions_by_theme() -> None:
    section = year_report(THEMED).learning
    assert section is not None
    # FULL: rec. 1 and 2, each with one action completed; LEARNING: rec. 1 with an action open and overdue on
    # 31 Dec (due 30 Nov), rec. 2 with none.
    assert [(t.key, t.reviews, t.recommendations, t.actions_completed, t.actions_open, t.actions_overdue)
            for t in section.themes] == [
        ("multi_agency_working", 2, 2, 1, 1, 1),  # most recommendations first
        ("non_accidental_injury", 1, 1, 1, 0, 0),  # then in the list's order
        ("information_sharing", 1, 1, 1, 0, 0),
    ]
    assert [(t.title, t.reviews, t.recommendations, t.actions) for t in section.tags] == [
        ("#pre-birth", 1, 1, 1), ("#supervision", 1, 1, 0)]
    assert (section.recommendations, section.without_theme, section.themed) == (4, 1, 3)


def test_each_rows_themes_are_the_titles_and_tags_of_its_recommendations() -> None:
    rows = {row.reference: row for row in year_report(THEMED).rows}
    assert rows[FULL.reference].themes == ("Non-accidental injury in infants", "Information sharing",
                                           "Multi-agency working and escalation", "#pre-birth")
    assert rows[LEARNING.reference].themes == ("Multi-agency working and escalation", "#supervision")
    assert rows[LATE.reference].themes == ()
    assert "Non-accidental injury in infants; Information sharing" in to_csv(year_report(THEMED))


def test_the_markdown_section_has_the_tables_and_a_chart_of_recommendations_by_theme() -> None:
    report = year_report(THEMED)
    text = to_markdown(report, partnership="Anyshire Safeguarding Children Partnership", produced=date(2027, 1, 15))
    assert "## Learning by theme" in text
    assert text.index("## Learning by theme") < text.index("## Reviews (NHS Safeguarding")
    assert "3 of 4 recommendations carry a theme of the partnership's list; 1 has none yet" in text
    assert "| Multi-agency working and escalation | 2 | 2 | 2 | 1 | 1 | 1 |" in text
    assert "| \\#pre-birth | 1 | 1 | 1 | 1 | 0 | 0 |" in text
    image = re.search(r"!\[([^]]*)\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", text.split(
        "## Learning by theme")[1])
    assert image is not None
    assert image[1].startswith("Multi-agency working and escalation: 2")
    svg = base64.b64decode(image[2]).decode()
    assert "Recommendations by theme" in svg


def test_without_themes_the_section_says_none_is_recorded_yet() -> None:
    section = year_report([]).learning
    assert section is not None and section.themes == () == section.tags
    assert "No recommendation of these reviews has a theme yet." in learning_markdown(section)


# ---------------------------------------------------------------- the learning briefing


def test_a_briefing_is_refused_for_a_review_not_yet_published() -> None:
    learning = replay(LEARNING.reference, LEARNING.referral, LEARNING.log, POLICY)
    with pytest.raises(Refused, match=f"published reviews only; {LEARNING.reference} is at stage action plan"):
        briefing(learning, [], LIST, date(2026, 12, 1))
    late = replay(LATE.reference, LATE.referral, LATE.log, POLICY)
    with pytest.raises(Refused, match="is at stage agency reports"):
        briefing(late, [], LIST, date(2026, 12, 1))


def published_full(today: date = date(2026, 11, 1)):  # type: ignore[no-untyped-def]
    """The full LCSPR with its first action open (the log up to the first action update)."""
    review = replay(FULL.reference, FULL.referral, FULL.log[:-3], POLICY)
    return briefing(review, [a for a in THEMED if a.reference == FULL.reference], LIST, today)


def test_a_published_reviews_briefing_gives_its_recommendations_themes_and_actions() -> None:
    b = published_full()
    assert (b.reference, b.kind, b.published_on, b.published_url) == (
        FULL.reference, "Local child safeguarding practice review", date(2026, 9, 1),
        "https://example.org/reviews/lcspr-child-a")
    assert [(r.number, r.themes) for r in b.recommendations] == [
        (1, ("Information sharing", "Multi-agency working and escalation")),
        (2, ("Non-accidental injury in infants", "#pre-birth"))]
    assert [(a.number, a.recommendation, a.owner_agency, a.status) for a in b.actions] == [
        (1, "1", "Thames Valley Police", "open"), (2, "2", "Frimley ICB", "open")]
    assert published_full(date(2026, 12, 2)).actions[0].status == "overdue"  # due 1 Dec
    assert b.themes == ("Non-accidental injury in infants", "Information sharing",
                        "Multi-agency working and escalation", "#pre-birth")


def test_a_briefing_names_an_immediate_action_for_what_it_is_not_for_a_recommendation() -> None:
    rapid = next(i for i, e in enumerate(FULL.log) if e.key.startswith("rapid-review"))
    immediate = LoggedDecision("immediate-action-1", {
        "kind": "immediate_safety", "action": "Review the safety plans of the other children",
        "owner_agency": "Childrens Social Care", "due_on": "2026-06-01", "agreed_on": "2026-03-10", "by": "A. Jones"},
        True)
    log = (*FULL.log[:rapid], immediate, *FULL.log[rapid:-3])
    b = briefing(replay(FULL.reference, FULL.referral, log, POLICY), [], LIST, date(2026, 11, 1))
    assert [(a.number, a.recommendation, a.status) for a in b.actions] == [
        (1, "immediate safety action", "overdue"), (2, "1", "open"), (3, "2", "open")]


def test_the_briefing_page_says_what_practitioners_should_do_and_never_the_pseudonym_or_case_facts() -> None:
    b = published_full()
    text = render_briefing(b, partnership="Anyshire Safeguarding Children Partnership")
    assert text.startswith(f"# Learning briefing: review {FULL.reference}\n")
    assert "## What practitioners should do differently" in text
    assert "1. Share information at strategy meetings *(Information sharing, Multi-agency working and " \
           "escalation)*" in text
    assert "| 1 | 1 | Thames Valley Police | 2026-12-01 | open |" in text
    html = render_briefing(b, partnership="Anyshire & Co", fmt="html")
    assert "<li>Train staff on bruising in non-mobile babies <em>(Non-accidental injury in infants, #pre-birth)" \
           "</em></li>" in html
    assert "Anyshire &amp; Co" in html
    referral = FULL.referral
    for page in (text, html):
        assert referral.child_pseudonym not in page
        assert referral.outline not in page and "infant at home" not in page
        assert referral.agency_reference not in page
        # The actions' own wording and evidence were never published.
        assert "Attend every strategy meeting" not in page and "Attendance audit" not in page


def test_typed_text_on_the_briefing_is_escaped_in_markdown_and_in_html() -> None:
    from dataclasses import replace

    b = published_full()
    odd = replace(b, recommendations=(replace(b.recommendations[0], text="Use <b>the</b> | form *now*"),))
    text = render_briefing(odd, partnership="P")
    assert "Use \\<b\\>the\\</b\\> \\| form \\*now\\*" in text
    assert "Use &lt;b&gt;the&lt;/b&gt; | form *now*" in render_briefing(odd, partnership="P", fmt="html")


def test_the_briefings_artifact_key_is_the_reference_in_prefects_alphabet() -> None:
    assert briefing_key("LCSPR-2026-0001") == "lcspr-briefing-lcspr-2026-0001"

"""The yearly report's section "Learning by theme" (``models.learning.LearningByTheme``) as Markdown, with a
bar chart of the recommendations by theme embedded as a ``data:`` image (``notifications/charts.py``).

Titles of the list and tags are the partnership's own words and stored slugs; they are escaped all the same.
Pure: no clock, no settings, no I/O.
"""

from __future__ import annotations

from models.learning import LearningByTheme, ThemeLine
from notifications.artifacts import md
from notifications.charts import bar_chart_svg, data_uri

BAR = "#1d70b8"
CHART_TITLE = "Recommendations by theme"


def learning_chart_svg(section: LearningByTheme) -> str:
    """One bar a theme of the list in use: how many recommendations carry it."""
    return bar_chart_svg([(line.title, line.recommendations, BAR) for line in section.themes], CHART_TITLE)


def describe_learning_chart(section: LearningByTheme) -> str:
    """The chart in words (its alternative text)."""
    return "; ".join(f"{line.title}: {line.recommendations}" for line in section.themes) or "no theme recorded"


def learning_markdown(section: LearningByTheme) -> list[str]:
    """The section's lines: what it counts, the chart, a table of the list's themes, a table of the tags."""
    lines = [
        "## Learning by theme",
        "",
        f"{section.themed} of {section.recommendations} recommendation{'' if section.recommendations == 1 else 's'} "
        "carry a theme of the partnership's list"
        + (f"; {section.without_theme} {'has' if section.without_theme == 1 else 'have'} none yet "
           "(`lcspr themes REF`)." if section.without_theme else "."),
        "A recommendation counts under each of its themes, and its actions with it; a review counts once under "
        "a theme any of its recommendations carries. Themes as recorded today; actions as they stood on the "
        "report's day (overdue: open past their due date).",
        "",
    ]
    if section.themes:
        lines += [f"![{md(describe_learning_chart(section))}]({data_uri(learning_chart_svg(section))})", "",
                  *_table("Theme", section.themes), ""]
    if section.tags:
        lines += [*_table("Tag", section.tags), ""]
    if not section.themes and not section.tags:
        lines += ["No recommendation of these reviews has a theme yet.", ""]
    return lines


def _table(heading: str, rows: tuple[ThemeLine, ...]) -> list[str]:
    return [
        f"| {heading} | Reviews | Recommendations | Actions | Completed | Open | … of which overdue |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(f"| {md(r.title)} | {r.reviews} | {r.recommendations} | {r.actions} | {r.actions_completed} | "
          f"{r.actions_open} | {r.actions_overdue} |" for r in rows),
    ]

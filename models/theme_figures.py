"""The figures of the yearly report's section "Learning by theme", as values (``models.learning`` makes them).

Apart from ``models.learning`` so that ``models.report``, whose ``AnnualReport`` carries the section, need not
import the module that reads the report.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.themes import ThemeKind


@dataclass(frozen=True)
class ThemeLine:
    """One theme (or tag) of the section: how many reviews, recommendations and actions it gathers."""

    kind: ThemeKind
    key: str
    title: str
    reviews: int
    recommendations: int
    actions_completed: int
    actions_open: int
    actions_overdue: int  # of the open ones

    @property
    def actions(self) -> int:
        return self.actions_completed + self.actions_open


@dataclass(frozen=True)
class LearningByTheme:
    """The section: the list's themes in use (most recommendations first), the free tags in use, and how many
    recommendations carry no theme of the list yet."""

    themes: tuple[ThemeLine, ...]
    tags: tuple[ThemeLine, ...]
    recommendations: int
    without_theme: int

    @property
    def themed(self) -> int:
        return self.recommendations - self.without_theme

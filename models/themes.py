"""Themes: what each recommendation of a review is about, so learning can be gathered across reviews.

Two kinds, given to a recommendation (by its number on the review, 1 the first):

* a **theme** from the partnership's **controlled list** (:class:`ThemeList`), each a key and a title. The
  default (:data:`DEFAULT_THEMES`) is drawn from the themes the Child Safeguarding Practice Review Panel
  keeps finding in reviews; a partnership sets its own (setting ``LCSPR_THEMES`` or ``LCSPR_THEMES_FILE``,
  read by :func:`parse_themes`);
* a **free tag**: a short lowercase slug a person makes up (``pre-birth``, ``private-fostering``), for what
  the list does not name. Never identifying text: it is scanned like any other free text.

Each assignment is kept (:class:`ThemeAssignment`): a removed one stays, with who removed it and when, so the
register says what a recommendation was filed under on any day. :func:`plan_change` judges a change against
the list, the review's number of recommendations and what the recommendation carries already; a refusal
never quotes what was typed (it names the position of the value instead).

Pure: no I/O, no clock (times are arguments).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from models.errors import ConfigurationError, Refused
from models.identifiers import ensure_no_identifiers


@dataclass(frozen=True)
class Theme:
    """One theme of the controlled list: its key (what commands and the register use) and its title."""

    key: str
    title: str


# Drawn from the Child Safeguarding Practice Review Panel's annual reports and national reviews (the themes it
# finds again and again), in a partnership's words. A partnership replaces the list with its own setting.
DEFAULT_THEMES: tuple[Theme, ...] = (
    Theme("neglect", "Neglect"),
    Theme("domestic_abuse", "Domestic abuse"),
    Theme("parental_mental_health", "Parental mental health"),
    Theme("substance_misuse", "Parental substance misuse"),
    Theme("non_accidental_injury", "Non-accidental injury in infants"),
    Theme("safer_sleep", "Safer sleep and sudden unexpected death in infancy"),
    Theme("fathers_and_male_carers", "Fathers and male carers"),
    Theme("sexual_exploitation", "Child sexual exploitation"),
    Theme("criminal_exploitation", "Child criminal exploitation"),
    Theme("online_harm", "Online harm"),
    Theme("adolescent_risk", "Adolescents at risk outside the home"),
    Theme("information_sharing", "Information sharing"),
    Theme("multi_agency_working", "Multi-agency working and escalation"),
    Theme("professional_curiosity", "Professional curiosity"),
    Theme("voice_of_the_child", "Voice of the child"),
    Theme("race_and_culture", "Race, ethnicity and culture"),
    Theme("disability", "Disability"),
    Theme("transitions", "Transitions between services"),
)

_KEY = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_TAG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TAG_LONGEST = 40
TITLE_LONGEST = 80


class ThemeKind(StrEnum):
    CONTROLLED = "controlled"  # a theme of the partnership's list, by key
    TAG = "tag"  # a free tag


@dataclass(frozen=True)
class ThemeList:
    """The partnership's controlled list of themes, in the order it gives them."""

    themes: tuple[Theme, ...] = DEFAULT_THEMES

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(t.key for t in self.themes)

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    def title(self, key: str) -> str:
        """The theme's title; a key no longer in the list (the list changed since) says so."""
        return next((t.title for t in self.themes if t.key == key), f"{key} (no longer in the list)")

    def position(self, key: str) -> int:
        """Where the theme comes in the list (a key no longer in it comes last)."""
        return self.keys.index(key) if key in self.keys else len(self.themes)


def theme_key(title: str) -> str:
    """The key a title gives: "Parental mental health" → ``parental_mental_health``."""
    return "_".join(re.findall(r"[a-z0-9]+", title.lower()))[:40].rstrip("_")


def parse_themes(items: Iterable[str], source: str = "LCSPR_THEMES") -> ThemeList:
    """The controlled list from a setting: one item a theme, ``Title`` (its key made from it) or ``key=Title``;
    empty items (and, from a file, lines starting with ``#``) are skipped. No item at all: the default list.
    ConfigurationError (naming ``source``) for a key that is not a short lowercase word, a title too long, a key
    given twice."""
    themes: list[Theme] = []
    for n, raw in enumerate(items, start=1):
        item = raw.strip()
        if not item or item.startswith("#"):
            continue
        key, sep, title = item.partition("=")
        key, title = (key.strip(), title.strip()) if sep else (theme_key(item), item)
        if not _KEY.match(key):
            raise ConfigurationError(f"{source}, theme {n}: the key must be 2 to 40 lowercase letters, digits or _, "
                                     "starting with a letter (write key=Title to choose it).")
        if not title or len(title) > TITLE_LONGEST:
            raise ConfigurationError(f"{source}, theme {n}: the title must be 1 to {TITLE_LONGEST} characters.")
        if key in {t.key for t in themes}:
            raise ConfigurationError(f"{source}, theme {n}: the key {key} is given twice.")
        themes.append(Theme(key, title))
    return ThemeList(tuple(themes)) if themes else ThemeList()


def normalise_tag(text: str) -> str:
    """A tag as kept: lower case, spaces and underscores as hyphens ("Pre birth" → ``pre-birth``)."""
    return re.sub(r"[\s_]+", "-", text.strip().lower())


@dataclass(frozen=True)
class ThemeAssignment:
    """A theme (or a tag) given to recommendation ``recommendation`` of review ``reference``; kept once removed."""

    reference: str
    recommendation: int
    kind: ThemeKind
    value: str  # the theme's key, or the tag
    assigned_by: str
    assigned_at: datetime
    removed_by: str = ""
    removed_at: datetime | None = None
    id: int | None = None

    @property
    def current(self) -> bool:
        return self.removed_at is None


@dataclass(frozen=True)
class ThemeChange:
    """What a person asks: add themes (keys of the list) and tags to a recommendation, remove some, and who."""

    recommendation: int
    add: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    by: str = ""


@dataclass(frozen=True)
class ThemePlan:
    """A change judged: what to add (kind, value), which assignments to remove, and what was there already."""

    add: tuple[tuple[ThemeKind, str], ...]
    remove: tuple[ThemeAssignment, ...]
    already: tuple[str, ...]


def current_by_recommendation(assignments: Iterable[ThemeAssignment]) -> dict[int, tuple[ThemeAssignment, ...]]:
    """The assignments standing (not removed), by recommendation number: themes first, then tags, in the
    order given."""
    found: dict[int, list[ThemeAssignment]] = {}
    for a in assignments:
        if a.current:
            found.setdefault(a.recommendation, []).append(a)
    return {n: tuple(sorted(items, key=lambda a: a.kind is ThemeKind.TAG)) for n, items in sorted(found.items())}


def plan_change(change: ThemeChange, controlled: ThemeList, recommendations: int,
                standing: Sequence[ThemeAssignment]) -> ThemePlan:
    """Judge ``change`` on a review with ``recommendations`` recommendations whose recommendation carries
    ``standing`` (its current assignments). Refused with the reason: a recommendation that does not exist, a
    theme not in the list (the refusal lists the valid keys), a tag that is not a short slug or that could
    identify a child, a removal of something the recommendation does not carry, no name, nothing asked.
    Adding what is there already is not an error: it is reported in ``already``."""
    n = change.recommendation
    if recommendations == 0:
        raise Refused("The review has no recommendations yet: themes are given to the recommendations of its final "
                      "report (or of its learning review) once they are recorded.")
    if not 1 <= n <= recommendations:
        raise Refused(f"Recommendation {n} does not exist: the review has {recommendations} "
                      f"recommendation{'' if recommendations == 1 else 's'} (1 to {recommendations}).")
    if not (change.add or change.tags or change.remove):
        raise Refused("Say what to change: --add THEME, --tag TAG or --remove THEME_OR_TAG.")
    if not change.by.strip():
        raise Refused("Say who records it (--by).")
    ensure_no_identifiers("by", change.by, names_allowed=True)
    for i, key in enumerate(change.add, start=1):
        if key not in controlled:
            raise Refused(f"Theme {i} of --add is not in the partnership's list; the themes are: "
                          f"{', '.join(controlled.keys)} (`lcspr themes --list`; anything else is a --tag).")
    tags = tuple(_check_tag(i, tag, controlled) for i, tag in enumerate(change.tags, start=1))
    current = {(a.kind, a.value): a for a in standing if a.current and a.recommendation == n}
    wanted = [*((ThemeKind.CONTROLLED, k) for k in change.add), *((ThemeKind.TAG, t) for t in tags)]
    add: list[tuple[ThemeKind, str]] = []
    already: list[str] = []
    for item in wanted:
        if item in current:
            already.append(item[1])
        elif item not in add:
            add.append(item)
    remove: list[ThemeAssignment] = []
    for i, value in enumerate(change.remove, start=1):
        found = current.get((ThemeKind.CONTROLLED, value)) or current.get((ThemeKind.TAG, normalise_tag(value)))
        if found is None:
            carried = ", ".join(v for _, v in current) or "nothing"
            raise Refused(f"Item {i} of --remove is not on recommendation {n}, which carries: {carried}.")
        if (found.kind, found.value) in add:
            raise Refused(f"Item {i} of --remove is also added: say one or the other.")
        if found not in remove:
            remove.append(found)
    return ThemePlan(tuple(add), tuple(remove), tuple(already))


def _check_tag(position: int, text: str, controlled: ThemeList) -> str:
    ensure_no_identifiers(f"tag {position}", text)
    tag = normalise_tag(text)
    if not _TAG.match(tag) or len(tag) > TAG_LONGEST:
        raise Refused(f"Tag {position} must be a short lowercase slug: letters, digits and hyphens, up to "
                      f"{TAG_LONGEST} characters (e.g. pre-birth).")
    # Typed in lower case, a name or a postcode escapes the scanner, which reads capitals: scan the words as a
    # name and as a postcode would be written too ("jane-smith" is refused).
    words = tag.replace("-", " ")
    for form in (words, words.title(), words.upper()):
        ensure_no_identifiers(f"tag {position}", form)
    if tag.replace("-", "_") in controlled:
        raise Refused(f"Tag {position} is a theme of the partnership's list: give it with --add instead.")
    return tag


def labels(assignments: Iterable[ThemeAssignment], controlled: ThemeList) -> tuple[str, ...]:
    """The assignments as people read them: a theme's title, a tag with ``#`` in front."""
    return tuple(controlled.title(a.value) if a.kind is ThemeKind.CONTROLLED else f"#{a.value}" for a in assignments)


def by_review(assignments: Iterable[ThemeAssignment]) -> Mapping[str, tuple[ThemeAssignment, ...]]:
    """The assignments grouped by review reference."""
    found: dict[str, list[ThemeAssignment]] = {}
    for a in assignments:
        found.setdefault(a.reference, []).append(a)
    return {ref: tuple(items) for ref, items in found.items()}

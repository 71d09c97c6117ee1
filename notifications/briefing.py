"""A published review's learning briefing (``models.briefing.Briefing``) as a one-page Markdown or HTML file.

One template per format in ``notifications/templates`` (``briefing.md.j2``, ``briefing.html.j2``), rendered
with ``StrictUndefined`` by :func:`render_briefing`, a pure function. The templates see the briefing value and
the partnership's name only: nothing else of the review can reach the page. Typed text (a recommendation, an
agency's name, the link) is escaped: in Markdown so it shows literally, in HTML by autoescaping.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Literal

from models.briefing import Briefing
from notifications.artifacts import md
from notifications.render import TEMPLATES_DIR

if TYPE_CHECKING:
    import jinja2

FORMATS = ("md", "html")
TEMPLATES = tuple(f"briefing.{fmt}.j2" for fmt in FORMATS)


def render_briefing(briefing: Briefing, *, partnership: str, fmt: Literal["md", "html"] = "md") -> str:
    """The briefing as a page, ending with one line break."""
    if fmt not in FORMATS:
        raise ValueError(f"A briefing is written as {' or '.join(FORMATS)}.")
    text = _environment().get_template(f"briefing.{fmt}.j2").render(b=briefing, partnership=partnership)
    return text.strip() + "\n"


def briefing_key(reference: str) -> str:
    """The briefing's artifact key in the Prefect UI: ``lcspr-briefing-lcspr-2026-0001``."""
    return "lcspr-briefing-" + re.sub(r"[^a-z0-9]+", "-", reference.lower()).strip("-")


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False,
                                            default=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = md
    return env

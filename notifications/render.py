"""Turn a notification kind and its context into a subject, a plain-text and an HTML body.

One template triple per kind lives in ``notifications/templates``:
``<kind>.subject.j2`` (one line), ``<kind>.txt.j2`` and ``<kind>.html.j2`` (autoescaped).
:func:`render` is pure: no I/O beyond reading the templates, no clock, no settings.

Messages leave the building, so the context is a closed list (:data:`CONTEXT_VARIABLES`):
the review reference, the step, dates, roles, a link, the partnership's name and the
figures of its settings that a message quotes (never a hard-coded default). A key
outside that list is refused, so a caller cannot slip a pseudonym or case text into a
template by accident; a variable a template uses but the caller left out raises
(``StrictUndefined``) instead of rendering as blank.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

TEMPLATES_DIR = Path(__file__).parent / "templates"

KINDS: tuple[str, ...] = (
    "step_opened",
    "reminder",
    "due_today",
    "overdue",
    "escalation",
    "inform_bodies",
    "final_report_to_bodies",
)

CONTEXT_VARIABLES: frozenset[str] = frozenset(
    {
        "reference",
        "step",
        "due",
        "days_overdue",
        "escalated_from",
        "recipient_role",
        "link",
        "partnership",
        # The partnership's rule for sending the final report before publication
        # (setting final_report_before_publication_working_days).
        "final_report_working_days",
    }
)


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready to send: a one-line subject and two bodies saying the same thing."""

    subject: str
    text: str
    html: str


def render(kind: str, context: Mapping[str, object]) -> RenderedMessage:
    """Render the three templates of ``kind`` with ``context``.

    Raises ValueError for an unknown kind or a variable outside the allowed list, and
    ``jinja2.UndefinedError`` when a variable a template needs is missing.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown notification kind {kind!r}; known kinds: {', '.join(KINDS)}.")
    extra = sorted(set(context) - CONTEXT_VARIABLES)
    if extra:
        raise ValueError(
            f"Notification context may only hold {', '.join(sorted(CONTEXT_VARIABLES))}; "
            f"refusing {', '.join(extra)} (messages must not carry case details)."
        )
    env = _environment()
    values = dict(context)
    subject = env.get_template(f"{kind}.subject.j2").render(values)
    return RenderedMessage(
        # One line, whatever the values held: a newline in a mail subject would be
        # header injection, and a template's trailing newline is not part of it.
        subject=" ".join(subject.split()),
        # Each body ends with one line break, as a MIME text part does, so the parts a
        # recipient gets are exactly these.
        text=env.get_template(f"{kind}.txt.j2").render(values).strip() + "\n",
        html=env.get_template(f"{kind}.html.j2").render(values).strip() + "\n",
    )


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        # Only the HTML bodies are markup; escaping the subject or the text would put
        # "&amp;" in front of the reader.
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",), default_for_string=False, default=False
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )

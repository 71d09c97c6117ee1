"""Turn a notification kind and its context into a subject, a plain-text and an HTML body.

One template triple per kind lives in ``notifications/templates``:
``<kind>.subject.j2`` (one line), ``<kind>.txt.j2`` and ``<kind>.html.j2`` (autoescaped).
:func:`render` is pure: no I/O beyond reading the templates, no clock, no settings.

Messages leave the building, so the context is a closed list (:data:`CONTEXT_VARIABLES`):
the review reference, the step, dates, roles, links (the review's, the portfolio's), the partnership's name and the
figures of its settings that a message quotes (never a hard-coded default). A key
outside that list is refused, so a caller cannot slip a pseudonym or case text into a
template by accident; a variable a template uses but the caller left out raises
(``StrictUndefined``) instead of rendering as blank. A step with no deadline has ``due``
set to ``""``, and every template then says so in words rather than quoting a date.

A message is rendered for its role when it is queued; if that role turns out to have no
address when it is sent, it goes to the fallback role with :func:`for_forwarding`'s note
on top of both bodies.

A daily digest (``models.digest``) is rendered by :func:`render_digest` from its items, each made of a
reminder's closed context (reference, what is due, due date, days overdue, link), with the ``digest``
templates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import escape

from models.digest import DIGEST_KIND, Digest
from models.roles import describe_role

if TYPE_CHECKING:
    import jinja2

TEMPLATES_DIR = Path(__file__).parent / "templates"

_BODY_TAG = re.compile(r"<body\b[^>]*>")
_NOTE_STYLE = "border-left: 4px solid #d4351c; padding: 0.5em 1em; margin: 0 0 1em;"

# The kinds a review's notices have (``models.notices``): a step opened, a clock's reminders and escalations.
NOTICE_KINDS: tuple[str, ...] = (
    "step_opened",
    "reminder",
    "due_today",
    "overdue",
    "escalation",
    "inform_bodies",
    "final_report_to_bodies",
)
# A review's meetings (``services/meetings.py``): each invitee role's invitation, update and cancellation (with
# the iCalendar of ``notifications/meeting_calendar.py`` attached), and the reminder the working day before.
MEETING_KINDS: tuple[str, ...] = (
    "meeting_invitation",
    "meeting_update",
    "meeting_cancelled",
    "meeting_reminder",
)
KINDS: tuple[str, ...] = NOTICE_KINDS + MEETING_KINDS

CONTEXT_VARIABLES: frozenset[str] = frozenset(
    {
        "reference",
        "step",
        "due",
        "days_overdue",
        "escalated_from",
        "recipient_role",
        "link",
        # The portfolio of every open review in the Prefect UI (``Config.portfolio_link``), in every footer.
        "portfolio_link",
        "partnership",
        # The partnership's rule for sending the final report before publication
        # (setting final_report_before_publication_working_days).
        "final_report_working_days",
        # A meeting: its kind in words ("Panel meeting"), its time in words, its place (a room, "Teams").
        "meeting",
        "when",
        "where",
    }
)


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready to send: a one-line subject and two bodies saying the same thing."""

    subject: str
    text: str
    html: str
    # An iCalendar (.ics text) sent with it as a text/calendar attachment, or None (see notifications/calendar.py).
    ics: str | None = None


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
    return _render(kind, context)


def _render(kind: str, context: Mapping[str, object]) -> RenderedMessage:
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


def render_digest(digest: Digest, *, partnership: str, portfolio_link: str) -> RenderedMessage:
    """A role's daily digest: one subject, and both bodies listing its items in the digest's order."""
    items = [{"reference": i.reference, "step": i.step, "kind": i.kind, "what": i.what,
              "due": i.due.isoformat() if i.due else "", "link": i.link} for i in digest.items]
    context = {"items": items, "digest_day": digest.day_in_words, "recipient_role": digest.role,
               "partnership": partnership, "portfolio_link": portfolio_link, "link": ""}
    return _render(DIGEST_KIND, context)


def for_forwarding(message: RenderedMessage, meant_for: str) -> RenderedMessage:
    """``message`` as sent to a fallback role because ``meant_for`` has no address.

    It was rendered for ``meant_for`` when it was queued, so the note is added here, as
    the first paragraph of both bodies: who it is for, and a request to forward it.
    """
    return _with_note(message, f"This message is for {_whom(meant_for)}, who has no address configured; "
                               "please forward it to them.")


def for_delegate(message: RenderedMessage, meant_for: str, period: str) -> RenderedMessage:
    """``message`` as sent to the delegate of ``meant_for`` during a delegation (``models.delegation``): the
    first paragraph of both bodies says whose it is and for how long it comes to them."""
    return _with_note(message, f"You receive this message for {_whom(meant_for)}, whose messages come to you "
                               f"from {period} (a delegation recorded by the partnership).")


def _with_note(message: RenderedMessage, note: str) -> RenderedMessage:
    paragraph = f'<p style="{_NOTE_STYLE}">{escape(note)}</p>'
    html, found = _BODY_TAG.subn(lambda tag: f"{tag[0]}\n{paragraph}", message.html, count=1)
    return RenderedMessage(
        subject=message.subject,
        text=f"{note}\n\n{message.text}",
        # Every layout has a body tag; a bare fragment gets the note in front all the same.
        html=html if found else f"{paragraph}\n{message.html}",
        ics=message.ics,  # the attachment goes with it
    )


def _whom(role: str) -> str:
    """A role as the note names it: "the independent author", "the agency thames valley police"."""
    if role.startswith("agency-"):
        return "the agency " + role.removeprefix("agency-").replace("-", " ")
    return describe_role(role)


@cache
def _environment() -> jinja2.Environment:
    # Imported on the first message made: every lcspr command loads this module, few send a message.
    import jinja2

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

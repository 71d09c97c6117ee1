"""The input boundary: the strict types every value a person gives goes through.

A referral (CLI file, the UI's Custom run form, the API), an answer (CLI file, the UI's
Resume form) and a clock adjustment are pydantic models built from these types, so each
value is read the same way wherever it came from:

* **text** is a ``str`` (never a number or a list), put into Unicode NFC, stripped, and
  refused if it holds NUL or other control characters (``Prose`` allows new lines and
  tabs), format characters (bidi overrides, zero-width spaces and joiners), surrogates,
  private-use or unassigned code points, or a word that mixes alphabets (a Cyrillic "а"
  in a Latin word: a homoglyph). Lengths are bounded per field.
* **references** (``Reference``) are compared in one canonical form: NFKC (so a
  full-width "Ｘ" is "X"), upper case, single spaces, and only letters, digits, spaces and
  ``/ . _ -``. "x-1" and "X-1" are one case.
* **booleans** are JSON booleans only (no "yes", "on" or 1); **counts** are integers only.
* **dates** are ISO calendar dates (``yyyy-mm-dd``) or ``date`` values only: no numbers
  (Unix timestamps), no date-times, no "2026W01". ``EARLIEST`` .. ``LATEST`` bounds every date;
  whether a date may lie in the future is the domain's rule, which knows today.

A refusal message names the field and what is wrong, never the refused text: it may be
logged, shown in the UI or stored in Prefect. Every free-text field is also scanned for
identifiers (``models.identifiers``) by :func:`ensure_no_identifiers_in`; a field that
holds a professional's own name (``Person``) is scanned with names allowed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Strict,
    StrictBool,
    StrictInt,
    ValidationError,
    create_model,
)

from models.identifiers import ensure_no_identifiers, find_identifiers

EARLIEST = date(1990, 1, 1)
LATEST = date(2099, 12, 31)

# Categories never allowed in text: control (Cc, new line and tab aside for prose), format
# (Cf: bidi controls, zero-width characters, soft hyphen), surrogate, private use, unassigned.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_PROSE_CONTROLS = {"\n", "\t", "\r"}


def _script(ch: str) -> str:
    """The alphabet of a letter, as far as homoglyphs go: LATIN, CYRILLIC, GREEK or other."""
    name = unicodedata.name(ch, "")
    for script in ("LATIN", "CYRILLIC", "GREEK"):
        if name.startswith(script):
            return script
    return "OTHER"


def _check_characters(value: str, *, prose: bool) -> str:
    value = unicodedata.normalize("NFC", value)
    for ch in value:
        if prose and ch in _PROSE_CONTROLS:
            continue
        category = unicodedata.category(ch)
        if ch == "\x00":
            raise ValueError("holds a NUL character; remove it")
        if category in _REFUSED_CATEGORIES:
            what = "a line break" if ch in _PROSE_CONTROLS or category in ("Zl", "Zp") else \
                "an invisible or control character"
            raise ValueError(f"holds {what} (U+{ord(ch):04X}); remove it")
    for word in re.findall(r"\w+", value):
        scripts = {_script(ch) for ch in word if ch.isalpha()} - {"OTHER"}
        if len(scripts) > 1:
            raise ValueError("mixes letters of different alphabets in one word (a look-alike character?)")
    return value.strip()


def _line(value: str) -> str:
    return " ".join(_check_characters(value, prose=False).split())


def _prose(value: str) -> str:
    return _check_characters(value, prose=True)


_REFERENCE_CHARS = re.compile(r"^[A-Z0-9 /._-]*$")


def canonical_reference(value: str) -> str:
    """The one form references are stored and compared in: NFKC, upper case, single spaces."""
    value = _check_characters(unicodedata.normalize("NFKC", value), prose=False)
    value = " ".join(value.split()).upper()
    if not _REFERENCE_CHARS.match(value):
        raise ValueError("may hold only letters, digits, spaces and / . _ -")
    return value


def _iso_date(value: Any) -> Any:
    """Only a ``date`` or an ISO ``yyyy-mm-dd`` string is a date (a date-time or a number is not)."""
    if isinstance(value, datetime):
        raise ValueError("must be a date as yyyy-mm-dd, without a time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("is not a real calendar date") from None
    raise ValueError("must be a date as yyyy-mm-dd")


def _plausible(value: date) -> date:
    if value < EARLIEST:
        raise ValueError(f"is before {EARLIEST.isoformat()}; check the year")
    if value > LATEST:
        raise ValueError(f"is after {LATEST.isoformat()}; check the year")
    return value


class NamesAllowed:
    """Marks a text field that holds a professional's own name ("J. Patel, DSL"): scanned for
    every identifier but names."""

    def __repr__(self) -> str:
        return "NamesAllowed()"


# Single-line text (a name, an agency, a short label): no line breaks.
Line = Annotated[str, Strict(), AfterValidator(_line)]
# Free text that may run over several lines (an outline, a rationale).
Prose = Annotated[str, Strict(), AfterValidator(_prose)]
# Who recorded something or who was appointed: a professional's name and role.
Person = Annotated[str, Strict(), AfterValidator(_line), NamesAllowed()]
# An agency's or the Panel's own reference, compared in canonical form.
Reference = Annotated[str, Strict(), AfterValidator(canonical_reference)]
# An ISO date within EARLIEST..LATEST.
Day = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_plausible)]
Flag = StrictBool
Count = StrictInt


def ensure_no_identifiers_in(value: BaseModel) -> None:
    """Scan every text field of a validated input for identifiers (``IdentifierFound`` names the
    field by its title and the kinds found, never the text)."""
    for name, info in type(value).model_fields.items():
        text = getattr(value, name)
        if isinstance(text, str) and text:
            names_allowed = any(isinstance(m, NamesAllowed) for m in info.metadata)
            ensure_no_identifiers(info.title or name.replace("_", " ").capitalize(), text,
                                  names_allowed=names_allowed)


_SAFE_FIELD = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")
_SHOWN_ERRORS = 3


def describe_validation_error(exc: ValidationError, what: str = "The answer") -> str:
    """The one wording of a value that could not be read: "<what> is not valid: field: why; ...".

    It never quotes the value (it may be the text that identifies a child): pydantic's
    messages name the rule broken, ours (``models.inputs``) the field. A field name the person
    made up is shown only if it looks like one; at most three problems are listed.
    """
    parts = []
    errors = exc.errors(include_input=False, include_url=False)
    for err in errors[:_SHOWN_ERRORS]:
        names = [str(p) for p in err["loc"]]
        if err["type"] == "extra_forbidden":
            shown = names[-1] if names and _SAFE_FIELD.match(names[-1]) else "(a field with an unreadable name)"
            parts.append(f"{shown}: not a field of this form")
            continue
        where = ".".join(n if _SAFE_FIELD.match(n) or n.isdigit() else "?" for n in names) or "input"
        message = err["msg"]
        if err["type"] == "value_error":
            parts.append(f"{where} {message.removeprefix('Value error, ')}")
        else:
            parts.append(f"{where}: {message}")
    if len(errors) > _SHOWN_ERRORS:
        parts.append(f"and {len(errors) - _SHOWN_ERRORS} more")
    return f"{what} is not valid: " + "; ".join(parts) + "."


def keepable(model: type[BaseModel], payload: Mapping[str, Any]) -> dict[str, Any]:
    """The values of a refused answer that are safe to keep on record, each judged on its own.

    A field the form has, holding a yes/no, a small number, or text that passes the character
    checks, fits the longest field and identifies nobody; nothing else (not even the name of a
    field the form does not have). A refused answer is kept to show what was refused, but it
    must never carry what was refused for being unsafe to store (a NUL fails a PostgreSQL write).
    """
    kept: dict[str, Any] = {}
    for name, value in payload.items():
        info = model.model_fields.get(name) if isinstance(name, str) else None
        if info is None:
            continue
        if value is None or isinstance(value, bool) or (isinstance(value, int) and abs(value) < 1_000_000):
            kept[name] = value
        elif isinstance(value, str) and len(value) <= _LONGEST_KEPT:
            try:
                text = _check_characters(value, prose=True)
            except ValueError:
                continue
            names_allowed = any(isinstance(m, NamesAllowed) for m in info.metadata)
            if not find_identifiers(text, names_allowed=names_allowed):
                kept[name] = text
    return kept


_LONGEST_KEPT = 8000


def prefill(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """The values that may fill a form of ``model`` again (a step asked again after a refusal), as JSON.

    Each value is read on its own by its field's type, limits and checks, as the whole answer would
    be (a date as ``yyyy-mm-dd``, within the plausible years; text within its length); one that fails
    is left out, so the form never starts out holding something it would refuse. Only values already
    kept on record should come here (``keepable``): this judges shape, not identifiers.
    """
    filled: dict[str, Any] = {}
    for name, value in values.items():
        info = model.model_fields.get(name) if isinstance(name, str) else None
        if info is None:
            continue
        # One field with the model's own settings (e.g. stripping whitespace) and the field's own checks.
        definition: Any = (info.annotation, info)
        alone = create_model(model.__name__, __config__=model.model_config, **{name: definition})
        try:
            filled[name] = alone.model_validate({name: value}).model_dump(mode="json")[name]
        except ValidationError:
            continue
    return filled

"""Refuse free text that looks like it identifies a child.

Reviews refer to the child only by a pseudonym ("Child A") and to records by agency
references; real identities live in the agencies' own case systems. This module is the
guard every free-text field passes through before it is stored or sent: it looks for
NHS numbers, postcodes, email addresses, UK phone numbers and dates of birth.

The checks lean towards precision where a false alarm would block ordinary review work:
an NHS number needs a valid check digit, a postcode needs a real postcode area, and a
date counts as a date of birth only when words such as "DOB" or "born" introduce it.
Refusal messages name *what kind* of identifier was found, never the matched text,
because the message itself may be logged or shown elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from models.errors import IdentifierFound

# -- NHS number ---------------------------------------------------------------------------

# Not preceded/followed by word characters or "/" so digits inside agency references
# (e.g. "CSC/0123456789") and longer numbers are not taken for NHS numbers.
_NHS = re.compile(r"(?<![\w/])([0-9]{3})([ -]?)([0-9]{3})\2([0-9]{4})(?![\w/])")


def _nhs_check_digit_ok(digits: str) -> bool:
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    # A computed 10 means no valid NHS number has these first nine digits.
    return check != 10 and check == int(digits[9])


def _has_nhs_number(text: str) -> bool:
    return any(_nhs_check_digit_ok("".join(m.group(1, 3, 4))) for m in _NHS.finditer(text))


# -- postcode -------------------------------------------------------------------------------

# The real postcode areas (plus Crown dependencies). Requiring one keeps look-alikes such
# as "Y10 1st" (school year) from being refused.
# fmt: off
_AREAS = (
    "AB", "AL", "B", "BA", "BB", "BD", "BH", "BL", "BN", "BR", "BS", "BT", "CA", "CB", "CF",
    "CH", "CM", "CO", "CR", "CT", "CV", "CW", "DA", "DD", "DE", "DG", "DH", "DL", "DN", "DT",
    "DY", "E", "EC", "EH", "EN", "EX", "FK", "FY", "G", "GL", "GU", "GY", "HA", "HD", "HG",
    "HP", "HR", "HS", "HU", "HX", "IG", "IM", "IP", "IV", "JE", "KA", "KT", "KW", "KY", "L",
    "LA", "LD", "LE", "LL", "LN", "LS", "LU", "M", "ME", "MK", "ML", "N", "NE", "NG", "NN",
    "NP", "NR", "NW", "OL", "OX", "PA", "PE", "PH", "PL", "PO", "PR", "RG", "RH", "RM", "S",
    "SA", "SE", "SG", "SK", "SL", "SM", "SN", "SO", "SP", "SR", "SS", "ST", "SW", "SY", "TA",
    "TD", "TF", "TN", "TQ", "TR", "TS", "TW", "UB", "W", "WA", "WC", "WD", "WF", "WN", "WR",
    "WS", "WV", "YO", "ZE",
)
# fmt: on
_POSTCODE = re.compile(
    r"(?<![\w/-])(?:GIR ?0AA|(?:"
    + "|".join(sorted(_AREAS, key=len, reverse=True))
    + r")[0-9][0-9A-Z]? ?[0-9][ABD-HJLNP-UW-Z]{2})(?!\w)",
    re.IGNORECASE,
)

# -- email ----------------------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

# -- UK phone number ------------------------------------------------------------------------

# Trunk "0" or "+44" (optionally "+44 (0)"), then the national number starting 1, 2, 3
# (landlines, non-geographic 03) or 7 (mobiles), with spaces, dashes or a closing
# bracket between digits. The digit count is checked afterwards.
_PHONE = re.compile(
    r"(?<![\w+/-])(?:\+44[ -]?(?:\(0\)[ -]?)?|\(?0)([1237](?:[ \-)]{0,2}[0-9]){8,9})(?![0-9])"
)


def _has_phone_number(text: str) -> bool:
    for m in _PHONE.finditer(text):
        national = re.sub(r"[^0-9]", "", m.group(1))
        # Mobiles are always 10 national digits; landlines are 9 or 10.
        if len(national) == 10 or (len(national) == 9 and national[0] != "7"):
            return True
    return False


# -- date of birth --------------------------------------------------------------------------

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"[0-9]{1,2}(?:st|nd|rd|th)?"
_DATE = (
    r"(?:"
    r"[0-9]{1,2}[/.-][0-9]{1,2}[/.-](?:[0-9]{4}|[0-9]{2})"  # 12/03/2015, 12-03-15
    r"|[0-9]{4}[/.-][0-9]{1,2}[/.-][0-9]{1,2}"  # 2015-03-12
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH},?\s+(?:[0-9]{{4}}|[0-9]{{2}})"  # 12th of March 2015
    rf"|{_MONTH}\s+{_DAY},?\s+[0-9]{{4}}"  # March 12, 2015
    r")(?![0-9])"
)
# "b." is matched case-sensitively so "Appendix B. 12/03/2026" is not a birth date.
_DOB_CUE = r"(?:\bdate\s+of\s+birth\b|\bD\.?\s?O\.?\s?B\b\.?|\bborn\b|(?-i:\bb\.))"
# Up to three words between cue and date ("born on the 12th ..."), but never across
# sentence punctuation, so "born early; the incident on 12/03/2026" is not a birth date.
_GAP = r"[\s:,()\-–]*(?:[A-Za-z']+[\s:,()\-–]+){0,3}?"
_DOB = re.compile(_DOB_CUE + _GAP + _DATE, re.IGNORECASE)

# -- the checks, in the order they are reported ----------------------------------------------

_CHECKS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("NHS number", _has_nhs_number),
    ("postcode", lambda text: _POSTCODE.search(text) is not None),
    ("email address", lambda text: _EMAIL.search(text) is not None),
    ("phone number", _has_phone_number),
    ("date of birth", lambda text: _DOB.search(text) is not None),
)


def find_identifiers(text: str) -> list[str]:
    """Names of the kinds of child identifier found in ``text``; ``[]`` when clean."""
    return [name for name, check in _CHECKS if check(text)]


def ensure_no_identifiers(field: str, text: str) -> None:
    """Raise :class:`IdentifierFound` if ``text`` (the value of ``field``) has identifiers.

    The message names the kinds found, not the text itself, so it is safe to log.
    """
    found = find_identifiers(text)
    if not found:
        return
    what = (
        "something that could identify a child"
        if len(found) == 1
        else "things that could identify a child"
    )
    raise IdentifierFound(
        f"{field} appears to contain {what} ({', '.join(found)}). Refer to the child only "
        "by the review pseudonym (e.g. 'Child A') and agency references."
    )

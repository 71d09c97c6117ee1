"""Refuse free text that looks like it identifies a child, or anyone around the child.

Reviews refer to the child only by a pseudonym ("Child A") and to records by agency
references; real identities live in the agencies' own case systems. This module is the
guard every free-text field passes through before it is stored or sent, and the engine of
``lcspr scan``. :func:`scan` finds, with offsets:

* people's **names**: a title and a surname ("Mrs Okafor", "DC Morgan", "Dr A. Shah"), a first
  name and a surname ("Jane Smith", "Siobhan O'Brien", "Tom Baker-Jones"), an initial and a
  surname ("K. Walsh"), a known first name on its own ("Tyler told his teacher"), a nickname
  after "known as" / "called him", "Uncle Dave", "the Kowalski family";
* **street addresses** (a house number, a street name and a street word; flats), **schools and
  nurseries**, **GP surgeries** and medical or health centres;
* **dates of birth** (a date introduced by "DOB", "born", "date of birth"), **NHS numbers**
  (check digit), **National Insurance numbers** (HMRC's prefix rules), **unique pupil numbers**
  (the DfE check letter), **postcodes** (real postcode areas), **email addresses**, **phone
  numbers** and **social-media handles** ("@jsmith_99").

It leaves pseudonymised review prose alone: pseudonyms (Child A, Baby S, Young Person K,
Mother of Child A), role words (the GP, the health visitor, Mother), agency and service names
(Thames Valley Police, Buckinghamshire Healthcare NHS Trust, National Panel, Rapid Review),
dates of meetings and events, and agency references ("TVP-2026-1234", "CSC/0123456789",
"AUTH0-1795498439": digits glued to letters, hyphens or slashes are part of a reference).

How, and why these libraries. No named-entity model can be installed from PyPI alone (spaCy's
and presidio's models are not on it), so names are found by rules over word lists:

* **Faker** (MIT, released monthly) ships the first names and surnames of 86 locales; the 60 in
  Latin script give ~20,800 first names and ~19,900 surnames, loaded once per process on the
  first scan that needs them (~0.12 s, ~24 MB resident). On the names of our labelled corpus it
  knew 95 % of first names: as many as gender-guesser's 48,000-name dictionary (GPLv3, unchanged
  since 2016), far more than the eight locales nearest England's population alone (78 %).
  names-dataset needs 2 GB and 13 s to load; nameparser parses a name already found but finds
  none in prose. A first name that is also an everyday word (``models.name_words``: "Grace",
  "Will", "May") counts only next to a known surname ("Grace Wilson", not "Grace periods").
* **phonenumbers** (the lite build of Google's libphonenumber) finds phone numbers in text, with
  every separator and international form; a number needs a trunk "0" or a "+" and must be one
  libphonenumber knows, or have a UK national number's length (so Ofcom's drama numbers count).
* Checksums (NHS, UPN) and the fixed-format kinds stay as short rules here: python-stdnum has them
  but would add a dependency for a dozen lines, and commonregex, scrubadub and pyap were tried:
  US-only, too heavy (1.2 s, 160 MB) and postcode-bound respectively.

Not recognised: text in capitals only ("JANE SMITH") or lower case, a surname standing alone
("Smith said"), a first name the lists lack before an unknown surname at a sentence's start
("Chidi Okonkwo had ..."), an everyday-word first name alone ("Amir's uncle"), a school named
without a school word ("The Misbourne"). The corpus test and ``bench/identifier_scanner.py``
measure what is (docs/performance.md, "Identifier scanner").

A field that holds a professional's own name ("Recorded by": "J. Patel, DSL") is scanned with
``names_allowed=True``: every other kind is still refused there. Refusal messages name *what
kind* of identifier was found, never the matched text, because the message itself may be logged
or shown elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from models.errors import IdentifierFound
from models.name_words import FIRST_NAMES_THAT_ARE_WORDS

NHS_NUMBER = "NHS number"
POSTCODE = "postcode"
EMAIL = "email address"
PHONE = "phone number"
DATE_OF_BIRTH = "date of birth"
NAME = "name"
ADDRESS = "street address"
SCHOOL = "school"
GP_SURGERY = "GP surgery"
NI_NUMBER = "National Insurance number"
UPN = "unique pupil number"
HANDLE = "social media handle"

# The order kinds are reported in (the first five were the original checks).
KINDS = (NHS_NUMBER, POSTCODE, EMAIL, PHONE, DATE_OF_BIRTH, NAME, ADDRESS, SCHOOL, GP_SURGERY, NI_NUMBER, UPN,
         HANDLE)


@dataclass(frozen=True)
class Finding:
    """One possible identifier: its kind and where it is (``text[start:end]``)."""

    kind: str
    start: int
    end: int


Span = tuple[int, int]

# -- NHS number ---------------------------------------------------------------------------

# Not glued to word characters, "/" or "-" on either side, so digits inside agency references
# ("CSC/0123456789", "AUTH0-1795498439") and longer numbers are not taken for NHS numbers.
_NHS = re.compile(r"(?<![\w/-])([0-9]{3})([ -]?)([0-9]{3})\2([0-9]{4})(?![\w/]|-\w)")


def _nhs_check_digit_ok(digits: str) -> bool:
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    # A computed 10 means no valid NHS number has these first nine digits.
    return check != 10 and check == int(digits[9])


def _nhs_numbers(text: str) -> Iterator[Span]:
    for m in _NHS.finditer(text):
        if _nhs_check_digit_ok("".join(m.group(1, 3, 4))):
            yield m.span()


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

# -- email and social-media handle ----------------------------------------------------------

# The local part starts where a run of its characters starts: linear on a long run without "@".
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# "@name" after a space, a bracket or a quote (after a word character it is an email address,
# after ":" or "}" part of a URL), 2-30 characters with a letter.
_HANDLE = re.compile(r"(?<![^\s(\[\"'‘“,;])@(?=[\w.]{0,29}[A-Za-z])"
                     r"[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?(?![\w@])")

# -- phone number ---------------------------------------------------------------------------


def _phone_numbers(text: str) -> Iterator[Span]:
    import phonenumbers  # loads its metadata lazily; the lite build has no geocoding data

    if not any(ch.isdigit() for ch in text):
        return
    for match in phonenumbers.PhoneNumberMatcher(text, "GB", leniency=phonenumbers.Leniency.POSSIBLE):
        start, end, raw = match.start, match.end, match.raw_string
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "/-_"):
            continue  # glued to a reference: "AUTH0-1795498439", "CSC/0123456789"
        if end < len(text) and (text[end].isalnum() or text[end] in "/_"):
            continue
        # Dialled forms only: a trunk "0" or an international "+"/"00". A bare run of digits in
        # British prose is a reference or a count, not a number anyone would ring.
        if not raw.lstrip("(").startswith(("0", "+")):
            continue
        number = match.number
        national = str(number.national_number)
        uk_length = number.country_code == 44 and national[:1] in "1237" and (
            len(national) == 10 or (len(national) == 9 and national[0] != "7"))
        if uk_length or phonenumbers.is_valid_number(number):
            yield start, end


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

# -- National Insurance number, unique pupil number ------------------------------------------

# HMRC: D, F, I, Q, U and V are never the first or second letter, O never the second, and the
# prefixes BG, GB, KN, NK, NT, TN and ZZ are not allocated. The suffix letter is A-D; it may be
# left off only in the spaced form "AB 12 34 56", which no agency reference looks like.
_NINO_PREFIX = r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
_NINO = re.compile(
    rf"(?<![A-Za-z0-9]){_NINO_PREFIX}(?:[0-9]{{6}}[A-D]|(?: [0-9]{{2}}){{3}}(?: ?[A-D])?)(?![A-Za-z0-9])"
)

# DfE: a check letter, 3-digit LA number, 4-digit establishment number, 2-digit year, 3-digit
# serial (a temporary UPN ends in a letter). The check letter is the weighted sum mod 23.
_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN = re.compile(r"(?<![A-Za-z0-9])([A-HJ-NP-RT-Z])([0-9]{11}[0-9A-HJ-NP-RT-Z])(?![A-Za-z0-9])")


def _upn_check_ok(letter: str, rest: str) -> bool:
    values = [int(ch) if ch.isdigit() else _UPN_LETTERS.index(ch) for ch in rest]
    return _UPN_LETTERS[sum(w * v for w, v in zip(range(2, 14), values, strict=True)) % 23] == letter


def _pupil_numbers(text: str) -> Iterator[Span]:
    for m in _UPN.finditer(text):
        if _upn_check_ok(m.group(1), m.group(2)):
            yield m.span()


# -- words ----------------------------------------------------------------------------------

# A word: letters, with inner apostrophes and hyphens ("O'Brien", "Baker-Jones", "Kai's").
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*(?:-[^\W\d_]+(?:['’][^\W\d_]+)*)*")


@dataclass(frozen=True)
class _Word:
    text: str
    start: int
    end: int
    base: str  # without a possessive "'s"
    spaced: bool  # only spaces or tabs separate it from the word before


def _words(text: str) -> list[_Word]:
    words: list[_Word] = []
    previous_end = None
    for m in _WORD.finditer(text):
        word = m.group()
        base = re.sub(r"['’]s?$", "", word) if word[-2:] in ("'s", "’s") else word
        gap = text[previous_end:m.start()] if previous_end is not None else "\n"
        words.append(_Word(word, m.start(), m.end(), base, bool(gap) and gap.strip(" \t") == ""))
        previous_end = m.end()
    return words


def _capitalised(word: str) -> bool:
    """A word as a name is written: "Smith", "O'Brien", "McAllister"; not "NHS", "A" or "smith"."""
    return len(word) > 1 and word[0].isupper() and any(ch.islower() for ch in word)


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_MONTHS = _set("January February March April May June July August September October November December")
_DAYS = _set("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
# With "Day", "Eve", "Week": "May Day", "Boxing Day", "Christmas Eve", "Safeguarding Week".
_HOLIDAYS = _set("Christmas Easter Eid Ramadan Diwali Hanukkah Passover Lent Advent Whitsun Halloween Day Days Eve "
                 "Week Holiday Holidays")
# Words that follow a pseudonym letter or stand for a person in a pseudonymised review.
_PSEUDONYM_HEADS = _set(
    "Child Children Baby Babies Infant Young Person People Sibling Siblings Family Families Group Twin Twins "
    "Mother Father Mum Dad Parent Parents Carer Carers Stepfather Stepmother Step-father Step-mother Grandmother "
    "Grandfather Grandparent Grandparents Aunt Uncle Brother Sister Cousin Partner Partners Adult Male Female "
    "Boy Girl Victim Perpetrator Subject Agency Agencies School Schools Nursery Practice Hospital Trust Teacher "
    "Worker Officer Visitor Nurse Doctor Practitioner Professional Reviewer Appendix Annex Section Part Table "
    "Figure Plan Schedule Stage Level Option Recommendation Finding Year Key Line Enquiry Paragraph Chapter Page")
# Words that are never the surname in "First Last" (roles, institutions, places, the calendar).
_NOT_SURNAMES = _PSEUDONYM_HEADS | _MONTHS | _DAYS | _HOLIDAYS | _set(
    "Police Council Councils Trust Trusts NHS Service Services Care Social Health Hospital Hospitals School "
    "Academy College Nursery Surgery Centre Center Practice Clinic Court Courts Team Teams Unit Units Panel "
    "Review Reviews Board Partnership Hub Department Authority Agency Office Ward Wards University Foundation "
    "Network Project Programme Plan Plans Conference Meeting Meetings Act Order Orders Lead Leads Worker Workers "
    "Visitor Visitors Nurse Nurses Doctor Doctors Practitioner Practitioners Chair Manager Managers Head Teacher "
    "Teachers Designated Named Independent Safeguarding Chief Executive Director Inspector Constable Sergeant "
    "Superintendent Assistant Deputy Senior Registrar Consultant Paediatrician Midwife Midwives Coroner Judge "
    "Magistrates Crown County City Borough District Street Road Lane Avenue Close Drive Way Report Reports "
    "Guidance Procedures Procedure Policy Framework Approach Model Profile Tool Toolkit Assessment Assessments "
    "Strategy Discussion Notification Operation Area Region Regional Local National Central North South East West "
    "Northern Southern Eastern Western Valley Mental Early Help Front Door Emergency Ambulance Fire Rescue "
    "Probation Youth Justice Offending Housing Education Inclusion Attendance Virtual Pupil Referral Transport "
    "Support Intervention Protection Medical Community Voluntary Church Mosque Temple Gurdwara Foodbank Food "
    "Bank Panel's Review's Government Minister Secretary Department Office Hub Front Line Lines Enquiries "
    "The A An And Or Of In On At By To For From With Was Were Is Are Had Has Have Did Does Said Told")
# Institution words: "John Radcliffe Hospital", "Sir William Ramsay School" are places, not people.
_INSTITUTIONS = _set(
    "Hospital Hospitals School Academy College Nursery Pre-School Preschool Surgery Centre Center Practice Clinic "
    "Trust Council Court House Ward Unit University Foundation Park Station Church Chapel Library Prison Club Hall "
    "Institute Service Services Partnership Team Building Estate Hotel Arms Inn Road Street Lane Avenue Close "
    "Drive Way Crescent Place Grove Gardens Terrace Square Hill Mews Rise Walk View Green Parade Leisure Stadium "
    "Airport Shopping Mall Market Bridge Home Homes Lodge Village Town Barracks Health Medical Mosque Temple")
# English place names whose first word is also a first name (the lone "London" included).
_PLACES = frozenset({
    "London", "Milton Keynes", "Leighton Buzzard", "Sheffield", "Bradford", "York", "Lincoln", "Chester",
    "Camden", "Brent", "Dudley", "Stafford", "Kendal", "Florence", "Chelsea", "Preston", "Victoria",
})
# Words before a lone first name that make it a place ("in Preston", "from Chelsea").
_PLACE_PREPOSITIONS = _set("in at from near around outside via towards across within into through beyond the")
# Titles and family terms before a surname or first name.
_TITLES = _set(
    "Mr Mrs Ms Miss Mx Dr Doctor Prof Professor Rev Revd Reverend Sir Dame Cllr Councillor PC DC DS DI DCI DSI DCS "
    "PCSO Sgt Sergeant Inspector Constable Superintendent Nan Nana Nanna Nanny Gran Granny Grandma Grandad "
    "Granddad Grandpa Auntie Aunty Aunt Uncle Cousin Baby")
# After "St": "St Mary's", "St John Ambulance" are saints, not people.
_SAINTS = _set("St St. Saint")
_NICKNAME = re.compile(
    r"\b(?:known\s+as|nicknamed|nickname\s+(?:was|is)|call(?:ed|s)?\s+(?:him|her|them)(?:self)?|goes\s+by|went\s+by"
    r"|referred\s+to\s+as)\s+[\"'‘“]?(?P<name>[A-Z][a-z][\w'’-]*)"
    r"|\bas\s+[\"'‘“](?P<quoted>[A-Z][a-z][\w'’-]*)[\"'’”]"
    r"|\bcalled\s+(?P<called>[A-Z][a-z][\w'’-]*)\s+by\b"
)
_FAMILY = re.compile(
    r"\b[Tt]he\s+(?P<name>[A-Z][a-z][\w'’-]*)\s+(?:family|household|children|twins|brothers|sisters)\b")
# "the Polish family", "the Traveller family": who they are, not their name.
_DEMONYM = re.compile(r"(?:ish|ian|ean|ese|an|ic|i)$")
_SLAVIC_SURNAME = re.compile(r"(?:sk|ck|dzk)[aiy]$|(?:wicz|czyk|enko)$")
_NOT_FAMILY_NAMES = _set("Traveller Roma Muslim Sikh Hindu Jewish Black White Asian British English Irish Welsh "
                         "Scottish Gypsy Christian Catholic Foster Adoptive Birth Extended Wider Host")


_BEFORE_A_LETTER = _PSEUDONYM_HEADS | _TITLES
_NOT_ALONE = _MONTHS | _DAYS | _PLACES
_NOT_UNKNOWN_FIRST = _NOT_SURNAMES | _TITLES | _INSTITUTIONS | _SAINTS


# Faker locales whose person names are written in another script than Latin.
_OTHER_SCRIPTS = _set("ar bg bn el fa gu he hi hy ja ka ko mk mr ne or ru si ta th uk zh")


@cache
def _name_lists() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """First names, surnames and both, from Faker's person providers (every locale), Latin script only.

    Loaded on first use, once per process (~0.1 s): a text without a capitalised word, or one
    scanned with names allowed, never needs them.
    """
    import importlib
    import pkgutil

    import faker.providers.person as person

    latin = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ɏḀ-ỿ'’-]+$")
    first: set[str] = set()
    last: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        if module.name.split("_")[0] in _OTHER_SCRIPTS:
            continue  # their names are in Arabic, Cyrillic, Greek ... script: nothing to match here
        provider = importlib.import_module(f"{person.__name__}.{module.name}").Provider
        for attribute in dir(provider):
            values = getattr(provider, attribute)
            if not isinstance(values, tuple | list | dict):
                continue
            if attribute.startswith("first_name"):
                first.update(v for v in values if isinstance(v, str) and latin.match(v))
            elif attribute.startswith("last_name"):
                last.update(v for v in values if isinstance(v, str) and latin.match(v))
    # Faker also lists placeholders and words ("Baby", "Unknown", "Council"): role and
    # institution words are never a first name here (month names can be: "April Jones").
    first -= (_NOT_SURNAMES - _MONTHS) | {"Unknown", "Unnamed"}
    return frozenset(first), frozenset(last), frozenset(first | last)


def _is_initial(text: str, word: _Word) -> bool:
    return len(word.text) == 1 and word.text.isupper() and text[word.end : word.end + 1] == "."


def _names(text: str) -> Iterator[Span]:
    words = _words(text)
    if not any(_capitalised(w.base) for w in words):
        return
    first_names, surnames, known = _name_lists()

    def next_to(i: int) -> _Word | None:
        return words[i + 1] if i + 1 < len(words) and words[i + 1].spaced else None

    def surname_like(word: _Word | None) -> bool:
        return word is not None and _capitalised(word.base) and word.base not in _NOT_SURNAMES

    def run_end(i: int) -> int:
        """The last word of a name whose first or surname is word i (middle names, double surnames)."""
        while (words[i].text == words[i].base and (following := next_to(i)) is not None
               and surname_like(following) and following.base not in _INSTITUTIONS):
            i += 1
        return i

    def known_surname(word: _Word) -> bool:
        return any(part in surnames for part in word.base.split("-"))

    def institution_after(i: int) -> bool:
        following = next_to(i)
        return following is not None and following.base in _INSTITUTIONS

    def after_initials(j: int) -> int:
        """The first word after word j and any initials following it ("Dr A. B. Shah" -> "Shah")."""
        j += 1
        while j + 1 < len(words) and _is_initial(text, words[j]):
            j += 1
        return j

    def joined(a: _Word, b: _Word) -> bool:
        """Only spaces and full stops between two words ("Dr. Shah", "J. Patel")."""
        return text[a.end : b.start].strip(" \t.") == ""

    i = 0
    while i < len(words):
        word, following = words[i], next_to(i)
        previous = words[i - 1] if i > 0 else None
        # "Mrs Okafor", "Dr. A. Shah", "DC Morgan", "Uncle Dave"; not "Mr A", "Baby S", "Dr Barnardo's Homes".
        if word.text in _TITLES and i + 1 < len(words):
            j = after_initials(i)
            if (j < len(words) and joined(words[j - 1], words[j]) and surname_like(words[j])
                    and words[j].base not in _TITLES):
                end = run_end(j)
                if not institution_after(end):
                    yield word.start, words[end].end
                    i = end + 1
                    continue
        # "J. Patel", "A. B. Smith" with a known name; not a pseudonym's letter ("Child A. Police ...").
        if _is_initial(text, word) and (previous is None or previous.base not in _BEFORE_A_LETTER):
            j = after_initials(i)
            if (j < len(words) and joined(words[j - 1], words[j]) and surname_like(words[j])
                    and words[j].base in known and not institution_after(j)):
                end = run_end(j)
                yield word.start, words[end].end
                i = end + 1
                continue
        head = word.base.split("-")[0]
        after_saint = previous is not None and word.spaced and previous.text in _SAINTS
        if _capitalised(word.base) and not after_saint and (word.base in first_names or head in first_names):
            everyday = word.base.lower() in FIRST_NAMES_THAT_ARE_WORDS or (
                word.base not in first_names and head.lower() in FIRST_NAMES_THAT_ARE_WORDS)
            # "Jane Smith", "Muhammad Ali Raza", "Ellie-May Turner", "Ethan Green"; "Grace Wilson" and
            # "Tom Baker-Jones" (a known surname after an everyday word) but not "Key Line", "Victoria Park".
            if (word.text == word.base and following is not None and surname_like(following)
                    and (following.base not in _INSTITUTIONS
                         or (not everyday and word.base not in _PLACES and following.base in surnames))
                    and (not everyday or known_surname(following))):
                end = run_end(i) if following.base not in _INSTITUTIONS else i + 1
                if not institution_after(end) and " ".join(w.base for w in words[i : end + 1]) not in _PLACES:
                    yield word.start, words[end].end
                    i = end + 1
                    continue
            # A first name on its own: "Tyler told his teacher", "Kai's father"; not "in Preston".
            if (not everyday and word.base not in _NOT_ALONE
                    and not (following is not None and _capitalised(following.base))
                    and not (previous is not None and previous.text.lower() in _PLACE_PREPOSITIONS)):
                yield word.start, word.end
        # A first name the lists lack before a known surname, inside a sentence: "that Harpreet Kaur".
        elif (_capitalised(word.base) and word.text == word.base and following is not None
              and previous is not None and word.spaced and previous.text.islower()
              and previous.text not in _PLACE_PREPOSITIONS
              and word.base not in _NOT_UNKNOWN_FIRST
              and word.base.lower() not in FIRST_NAMES_THAT_ARE_WORDS and surname_like(following)
              and following.base not in _INSTITUTIONS and known_surname(following) and not institution_after(i + 1)
              and f"{word.base} {following.base}" not in _PLACES):
            yield word.start, following.end
            i += 2
            continue
        i += 1
    for m in _NICKNAME.finditer(text):
        group = next(g for g in ("name", "quoted", "called") if m.group(g))
        if m.group(group) not in _NOT_SURNAMES:
            yield m.span(group)
    for m in _FAMILY.finditer(text):
        name = m.group("name")
        if name in _NOT_SURNAMES or name in _NOT_FAMILY_NAMES or name in _PLACES:
            continue
        if name in surnames or _SLAVIC_SURNAME.search(name) or not _DEMONYM.search(name):
            yield m.span("name")


# -- street address -------------------------------------------------------------------------

_STREET_WORDS = (
    "Street|St|Road|Rd|Lane|Ln|Avenue|Ave|Close|Cl|Drive|Dr|Way|Crescent|Cres|Place|Pl|Grove|Gardens|Gdns|Court|Ct"
    "|Terrace|Tce|Row|Walk|Square|Sq|Hill|Mews|Park|Rise|View|Green|Parade|Vale|Wharf|Yard|Gate|Meadow|Meadows"
    "|Chase|Cottages|Fields|Leys|Heights|Hollow|Boulevard|Circus|Embankment|Esplanade|Quay|Reach|Ridge|Croft"
    "|Copse|Glade|Dale|Bank|Broadway|Approach|Passage|Mount|Drove|Wynd|Brow|Orchard|End|Wood|Common|Grange"
)
_BUILDING_WORDS = "House|Lodge|Tower|Towers|Mansions|Building|Buildings|Point|Block|Hall|Apartments|Flats|Court"
_STREET_NAME = r"(?:(?:The|St\.?|Saint)\s+)?[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*){0,3}?"
_ADDRESS = re.compile(
    rf"(?<![\w/.,-])[0-9]{{1,4}}[A-Za-z]?(?:[-–][0-9]{{1,4}}[A-Za-z]?)?,?\s+{_STREET_NAME}\s+(?:{_STREET_WORDS})\b(?![-'’])"
    rf"|\b(?:Flat|Apartment|Apt\.?)\s+[0-9]{{1,4}}[A-Za-z]?,?\s+(?:[0-9]{{1,4}}[A-Za-z]?,?\s+)?"
    rf"{_STREET_NAME}\s+(?:{_STREET_WORDS}|{_BUILDING_WORDS})\b(?![-'’])"
)
# "Section 47 Strategy ...", "Year 7 Park ...": a number after these is not a house number.
_NOT_HOUSE_NUMBERS = _set(
    "Year Section Finding Recommendation Appendix Annex Level Tier Phase Stage Part Chapter Page Paragraph Table "
    "Figure Agency School Nursery Practice Worker Officer Visitor Teacher Step Week Day Room Ward Bed Court Enquiry "
    "aged age section year paragraph page")


def _addresses(text: str) -> Iterator[Span]:
    for m in _ADDRESS.finditer(text):
        before = text[: m.start()].rstrip().rsplit(None, 1)
        if before and before[-1] in _NOT_HOUSE_NUMBERS and m.group()[0].isdigit():
            continue
        if re.search(r"\b(?:Family|Crown|County|Magistrates['’]?|Youth|High|Coroners?['’]?s?)\s+Court$", m.group()):
            continue  # "2 Family Court hearings"
        yield m.span()


# -- schools and GP surgeries ---------------------------------------------------------------

# A school or surgery is named by the capitalised words before the institution word ("Oak Green
# School"), at least one of them not generic ("the Primary School", "Virtual School", "GP Practice").
_GENERIC = _PSEUDONYM_HEADS | _set(
    "The A An Our Their His Her Its This That Every Each Any Primary Secondary Infant Infants Junior Juniors Grammar "
    "High Senior Upper Middle Lower Combined First Special Independent Virtual Free Faith Church England Catholic "
    "Roman CofE C E Community Day Sunday Forest Boarding State Local Village Nursery Pre-School Preschool Academy "
    "School College Royal Sixth Form Further Education Alternative Provision Pupil Referral Hospital Medical Health "
    "General GP Family Group Safeguarding Social Work Good Best Clinical Nursing Professional Reflective Dental "
    "Care Multi-Agency Practice Surgery Centre New Old Previous Current Same Next Last Former Mainstream Private "
    "National Regional Early Years Sure Start Specialist Residential Secure Out-of-Hours Integrated Designated "
    "Named Lead Children Children's Mother's Father's Child's Baby's")
_SCHOOL = re.compile(r"\b(?:School|Academy|Nursery|Pre-School|Preschool|College)\b(?![-'’])")
# A bare "Practice" only at the end of the name: "Practice Review", "Practice Framework" are other things.
_SURGERY = re.compile(r"\b(?:Surgery|Medical\s+Centre|Medical\s+Center|Health\s+Centre|Medical\s+Practice"
                      r"|Practice(?![ \t]+[A-Z][a-z]))\b(?![-'’])")
_RUN_WORD = re.compile(r"St\.|[A-Z][\w'’-]*|of|and|&")
# "School 1", "Nursery B", "GP Practice A": pseudonymised.
_PSEUDONYM_AFTER = re.compile(r"[ \t]+(?:[A-Z][0-9]?|[0-9]{1,2})(?![\w'’])")


def _named_institutions(text: str, pattern: re.Pattern[str]) -> Iterator[Span]:
    for m in pattern.finditer(text):
        if _PSEUDONYM_AFTER.match(text, m.end()):
            continue
        # Walk back over the capitalised words before it, within the line.
        window_start = max(0, m.start() - 120)
        tokens = list(_RUN_WORD.finditer(text, window_start, m.start()))
        start, specific = m.start(), False
        for token in reversed(tokens):
            if text[token.end() : start].strip(" \t") != "":
                break
            word = token.group()
            following = text[start : start + 8]
            # Links only inside a name: "Church of England", "St Peter and St Paul".
            if word == "of" and not following.startswith(("England", "E ")):
                break
            if word in ("and", "&") and not following.startswith(("St", "Saint")):
                break
            start = token.start()
            if word not in ("of", "and", "&") and word not in _GENERIC and word.removesuffix("'s") not in _GENERIC:
                specific = True
        if specific:
            yield start, m.end()


def _schools(text: str) -> Iterator[Span]:
    return _named_institutions(text, _SCHOOL)


def _surgeries(text: str) -> Iterator[Span]:
    return _named_institutions(text, _SURGERY)


# -- scan -----------------------------------------------------------------------------------


def scan(text: str, *, names_allowed: bool = False) -> list[Finding]:
    """Every possible identifier in ``text``, sorted by position (then by kind).

    With ``names_allowed`` (a field that holds a professional's own name) people's names are
    not reported; every other kind still is.
    """
    spans: dict[str, list[Span]] = {
        NHS_NUMBER: list(_nhs_numbers(text)),
        POSTCODE: [m.span() for m in _POSTCODE.finditer(text)],
        EMAIL: [m.span() for m in _EMAIL.finditer(text)],
        PHONE: list(_phone_numbers(text)),
        DATE_OF_BIRTH: [m.span() for m in _DOB.finditer(text)],
        NAME: [] if names_allowed else list(_names(text)),
        ADDRESS: list(_addresses(text)),
        SCHOOL: list(_schools(text)),
        GP_SURGERY: list(_surgeries(text)),
        NI_NUMBER: [m.span() for m in _NINO.finditer(text)],
        UPN: list(_pupil_numbers(text)),
        HANDLE: [m.span() for m in _HANDLE.finditer(text)],
    }
    # A valid NHS number that starts with 0 also fits a phone number's shape: it is the NHS number.
    spans[PHONE] = [s for s in spans[PHONE] if not any(_overlap(s, n) for n in spans[NHS_NUMBER])]
    # "St Mary's Primary School", "5 St John's Road": the words of a place's name are not a person's.
    places = spans[SCHOOL] + spans[GP_SURGERY] + spans[ADDRESS]
    spans[NAME] = [s for s in spans[NAME] if not any(_overlap(s, p) for p in places)]
    order = {kind: n for n, kind in enumerate(KINDS)}
    findings = [Finding(kind, start, end) for kind, found in spans.items() for start, end in _merged(found)]
    return sorted(findings, key=lambda f: (f.start, order[f.kind], f.end))


def _overlap(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _merged(spans: list[Span]) -> list[Span]:
    """Overlapping spans of one kind as one ("Flat 3, 22 Church Street" is one address)."""
    merged: list[Span] = []
    for start, end in sorted(set(spans)):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def find_identifiers(text: str, *, names_allowed: bool = False) -> list[str]:
    """The kinds of identifier found in ``text``, in the fixed order of :data:`KINDS`; ``[]`` when clean."""
    found = {f.kind for f in scan(text, names_allowed=names_allowed)}
    return [kind for kind in KINDS if kind in found]


def ensure_no_identifiers(field: str, text: str, *, names_allowed: bool = False) -> None:
    """Raise :class:`IdentifierFound` if ``text`` (the value of ``field``) has identifiers.

    The message names the kinds found, not the text itself, so it is safe to log.
    """
    found = find_identifiers(text, names_allowed=names_allowed)
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

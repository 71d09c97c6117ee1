"""The pure rules of out of office and handover (``models.delegation``)."""

from __future__ import annotations

from datetime import date

import pytest

from models.delegation import Delegation, check_canceller, check_delegation, covering
from models.errors import IdentifierFound, Refused

TODAY = date(2026, 8, 1)


def leave(role: str = "subgroup_chair", starts: date = date(2026, 8, 3), ends: date = date(2026, 8, 14),
          delegate: str = "deputy.chair@partnership.test", reason: str = "Annual leave", by: str = "A. Jones",
          id: int | None = None) -> Delegation:
    return Delegation(role, delegate, starts, ends, reason, by, id)


def test_a_delegation_covers_its_role_from_its_first_day_to_its_last_included():
    d = leave()
    assert [day.day for day in (date(2026, 8, n) for n in range(1, 18)) if d.covers("subgroup_chair", day)] == \
        list(range(3, 15))
    assert not d.covers("author", date(2026, 8, 5))
    other = leave("author", id=2)
    assert covering([d, other], "author", date(2026, 8, 5)) is other
    assert covering([d, other], "panel", date(2026, 8, 5)) is None
    assert covering([], "subgroup_chair", date(2026, 8, 5)) is None


def test_a_delegation_that_can_be_kept_is_accepted():
    check_delegation(leave(), [], TODAY)
    check_delegation(leave("agency-thames-valley-police"), [], TODAY)
    # Back to back with another of the same role, or overlapping another role's: fine.
    check_delegation(leave(starts=date(2026, 8, 15), ends=date(2026, 8, 20)), [leave(id=1)], TODAY)
    check_delegation(leave("author"), [leave(id=1)], TODAY)


@pytest.mark.parametrize(("changes", "says"), [
    ({"role": "nobody"}, "is not a role"),
    ({"delegate": "deputy chair"}, "one email address"),
    ({"delegate": "a@b.test, c@d.test"}, "one email address"),
    ({"ends": date(2026, 8, 2)}, r"ends \(2026-08-02\) before it starts"),
    ({"starts": date(2026, 7, 1), "ends": date(2026, 7, 31)}, "before today"),
    ({"ends": date(2027, 8, 14)}, "at most 366 days"),
    ({"reason": "  "}, "Say why"),
    ({"by": ""}, "Say why"),
])
def test_a_delegation_that_cannot_be_kept_is_refused_with_the_reason(changes, says):
    with pytest.raises(Refused, match=says):
        check_delegation(leave(**changes), [], TODAY)


def test_two_delegations_of_one_role_never_overlap():
    with pytest.raises(Refused, match=r"already delegated from 2026-08-03 to 2026-08-14 \(delegation 1\)"):
        check_delegation(leave(starts=date(2026, 8, 14), ends=date(2026, 8, 20)), [leave(id=1)], TODAY)


def test_a_reason_or_name_that_identifies_a_child_is_refused_without_echoing_it():
    with pytest.raises(IdentifierFound) as refused:
        check_delegation(leave(reason="Covering while Jane Smith (NHS 943 476 5919) is in hospital"), [], TODAY)
    assert "943" not in str(refused.value)
    with pytest.raises(Refused):
        check_canceller("")
    check_canceller("B. Smith, Business Unit Manager")

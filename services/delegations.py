"""Delegations: a role's messages go to someone else for a range of days (``lcspr delegate``).

Recorded with who asked and why, checked by the domain (``models.delegation``), never deleted: a cancelled
one stays, with who cancelled it. The outbox reads the ones in force on the day it sends
(``services.messages.deliver``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from models.delegation import Delegation, check_canceller, check_delegation
from services.app import App


def delegate(app: App, role: str, delegate_to: str, starts_on: date, ends_on: date, reason: str, by: str) -> Delegation:
    """Record that ``role``'s messages go to ``delegate_to`` from ``starts_on`` to ``ends_on``; the delegation."""
    wanted = Delegation(role.strip(), delegate_to.strip(), starts_on, ends_on, reason.strip(), by.strip())
    with app.uow() as uow:
        check_delegation(wanted, uow.delegations.current(app.clock.today()), app.clock.today())
        made = replace(wanted, id=uow.delegations.add(wanted, app.clock.now()))
        uow.commit()
    return made


def cancel(app: App, delegation_id: int, by: str) -> Delegation:
    """Cancel a delegation (from now on the role's messages go to its own addresses); it as it was."""
    check_canceller(by)
    with app.uow() as uow:
        cancelled = uow.delegations.cancel(delegation_id, by.strip(), app.clock.now())
        uow.commit()
    return cancelled


def delegations(app: App, include_past: bool = False) -> list[Delegation]:
    """The delegations in force or to come (or every one ever recorded, cancelled ones too)."""
    with app.uow() as uow:
        return uow.delegations.every() if include_past else uow.delegations.current(app.clock.today())

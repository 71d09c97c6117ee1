"""The exceptions the domain raises, each carrying a reason a person can read.

::

    LcsprError
    ├── Refused            a rule refused a step; ``reason`` says why, nothing was written
    │   └── IdentifierFound    free text looks like it identifies a child
    ├── NotFound           no review / step / clock with that reference
    ├── Conflict           someone else wrote the same key at the same moment: theirs stands
    ├── Unavailable        a service we depend on (Prefect, a run) cannot do it now
    ├── DeliveryFailed     a message could not be handed to a mail server; it stays pending
    │   └── NoRecipient        no address carries the role's tag
    └── ConfigurationError a setting is missing or unusable
"""

from __future__ import annotations


class LcsprError(Exception):
    """Base of every error this system raises on purpose."""


class Refused(LcsprError):
    """A rule refused a step. ``reason`` is meant for the person who asked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IdentifierFound(Refused):
    """Free text looks like it contains something that identifies a child."""


class NotFound(LcsprError):
    """Nothing with that reference exists."""


class Conflict(LcsprError):
    """A write lost a race on a unique key (the register keeps the first)."""


class Unavailable(LcsprError):
    """The system cannot do it now (Prefect unreachable, a run not waiting); nothing was recorded."""


class DeliveryFailed(LcsprError):
    """A message could not be handed to any mail server for its role; retry later."""


class NoRecipient(DeliveryFailed):
    """No address in the config carries the role's tag."""


class ConfigurationError(LcsprError):
    """A setting is missing or cannot be used."""

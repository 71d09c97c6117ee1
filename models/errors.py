"""The exceptions the domain raises, each carrying a reason a person can read.

::

    LcsprError
    ├── Refused            a rule refused a step; ``reason`` says why, nothing was written
    │   └── IdentifierFound    free text looks like it identifies a child
    ├── NotFound           no review / step / clock with that reference
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


class ConfigurationError(LcsprError):
    """A setting is missing or cannot be used."""

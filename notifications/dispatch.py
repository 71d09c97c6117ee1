"""Deliver rendered messages to roles through Apprise, and fail loudly when delivery fails.

Routing is Apprise's own: the config file is an Apprise YAML file in which every URL
carries the TAG of the role it serves (``business_unit``, ``independent_chair``,
``agency-thames-valley-police``, ...). There is no routing code of ours to get wrong, and
changing who receives what is an edit to that file, not to the software::

    version: 1
    urls:
      - "mailto://127.0.0.1:8025?from=lcspr%40localhost&to=bu%40example.org":
          - tag: business_unit

Apprise's ``notify()`` never raises: it returns False when a service failed and None when
nothing matched. Prefect's notification blocks pass that on silently, which would lose a
statutory reminder without a trace, so :class:`AppriseDispatcher` turns both into
:class:`DeliveryFailed` and the calling task retries.

Local and test use: :func:`write_local_config` points every role at the local outbox
server (:mod:`notifications.local_smtp`) over plain SMTP (``mailto://``).

Production: use ``mailtos://`` (STARTTLS and login), for example::

    - "mailtos://USER:PASSWORD@smtp.example.org:587?from=lcspr%40example.org&to=chair%40example.org":
        - tag: independent_chair

Apprise's YAML config does not expand environment variables, so the file must never be
committed with a password in it: generate it at deployment time from secrets held in the
environment (or a secret store), keep it outside the repository, readable only by the
service account, and point the ``apprise_config`` setting at it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlencode

import apprise
import yaml

from models.errors import ConfigurationError, LcsprError
from notifications.render import RenderedMessage

# Apprise reads ":" in a tag filter as a priority or retry marker and "," or spaces as
# a list of tags, so only plain slugs are accepted as roles.
_ROLE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class DeliveryFailed(LcsprError):
    """A message could not be handed to any mail server for its role; retry later."""


class NoRecipient(DeliveryFailed):
    """No address in the config carries the role's tag."""


class AppriseDispatcher:
    """Sends a rendered message to every address tagged with a role in an Apprise config."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path

    def send(self, *, role: str, message: RenderedMessage) -> None:
        """Deliver ``message`` to the URLs tagged ``role``; raise DeliveryFailed otherwise."""
        if not _ROLE.match(role):
            raise DeliveryFailed(f"{role!r} is not a valid role name for notification routing.")
        notifier = self._load()
        if not any(True for _ in notifier.find(role)):
            raise NoRecipient(
                f"No recipient is configured for role {role} in {self.config_path}."
            )
        # Apprise reports why a send failed only in its log; capture it for the error.
        # LogCapture has no annotations in apprise 1.13.
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as log:  # type: ignore[no-untyped-call]
            sent = notifier.notify(
                title=message.subject,
                body=message.html,
                body_format=apprise.NotifyFormat.HTML,
                tag=role,
            )
            detail = " ".join(log.getvalue().split())
        if sent is None:
            raise DeliveryFailed(f"Nothing was sent to role {role}: no URL matched its tag.")
        if not sent:
            raise DeliveryFailed(
                f"Sending to role {role} failed"
                + (f": {detail}" if detail else "; Apprise gave no reason.")
            )

    def _load(self) -> apprise.Apprise:
        # Read the file on every send so an edited config applies without a restart.
        if not self.config_path.is_file():
            raise ConfigurationError(
                f"The notification config {self.config_path} does not exist; create it "
                "(for local use, write_local_config writes one)."
            )
        config = apprise.AppriseConfig()
        if not config.add(str(self.config_path)):
            raise ConfigurationError(f"Apprise could not read {self.config_path}.")
        notifier = apprise.Apprise()
        notifier.add(config)
        return notifier


def write_local_config(
    path: Path,
    *,
    smtp_host: str,
    smtp_port: int,
    addresses: Mapping[str, str],
    sender: str,
) -> None:
    """Write an Apprise YAML config sending each role (key) to one address over plain SMTP.

    For the local outbox server only: no TLS and no login.
    """
    urls: list[dict[str, list[dict[str, str]]]] = []
    for role, address in sorted(addresses.items()):
        if not _ROLE.match(role):
            raise ConfigurationError(f"{role!r} is not a valid role name for a config tag.")
        query = urlencode({"from": sender, "to": address})
        urls.append({f"mailto://{smtp_host}:{smtp_port}?{query}": [{"tag": role}]})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by lcspr: every role's mail goes to the local outbox server.\n"
        + yaml.safe_dump({"version": 1, "urls": urls}, sort_keys=False),
        encoding="utf-8",
    )

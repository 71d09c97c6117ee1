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

Apprise's YAML config does not expand environment variables, so we do, before Apprise
reads it: ``${NAME}`` is replaced by the environment variable NAME and ``${secret:NAME}``
by the Prefect Secret block NAME (the resolver is passed in, so this module does not
depend on Prefect). The file in the repository or on disk then holds no password::

    - "mailtos://${LCSPR_SMTP_USER}:${secret:lcspr-smtp-password}@smtp.example.org:587?from=...&to=...":
        - tag: independent_chair

A placeholder with no value is a configuration error naming the placeholder (never a
value). Keep the file readable only by the service account.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import quote, urlencode

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

    def __init__(self, config_path: Path, secret: Callable[[str], str | None] | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.config_path = config_path
        self.secret = secret
        self.environ = os.environ if environ is None else environ

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
        text = expand_placeholders(self.config_path.read_text(encoding="utf-8"), self.environ, self.secret,
                                   where=str(self.config_path))
        config = apprise.AppriseConfig()
        if not config.add_config(text, format="yaml"):
            raise ConfigurationError(f"Apprise could not read {self.config_path}.")
        notifier = apprise.Apprise()
        notifier.add(config)
        return notifier


_PLACEHOLDER = re.compile(r"\$\{(secret:)?([A-Za-z0-9_.-]+)\}")


def expand_placeholders(text: str, environ: Mapping[str, str],
                        secret: Callable[[str], str | None] | None, where: str) -> str:
    """Replace ``${NAME}`` (environment) and ``${secret:NAME}`` (secret store) in a config text."""

    def value(match: re.Match[str]) -> str:
        is_secret, name = match.group(1), match.group(2)
        found = (secret(name) if secret else None) if is_secret else environ.get(name)
        if found is None:
            source = "secret" if is_secret else "environment variable"
            raise ConfigurationError(f"{where} uses the {source} {name}, which has no value.")
        return quote(found, safe="")

    return _PLACEHOLDER.sub(value, text)


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

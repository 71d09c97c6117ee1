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

Both parts of every email: a rendered message has its own plain-text body beside the HTML
one, but Apprise's email service (``mailto://``, ``mailtos://``) always writes its text
part itself, by converting the HTML, and offers no way to pass one in. So for each send
the email services that match the role are replaced by :class:`_TextAndHtmlEmail`: the
same service with every setting Apprise parsed from its URL, whose ``send`` builds the
mail with Apprise's own ``NotifyEmail.prepare_emails`` (headers, names, Cc, Bcc,
Reply-To) from OUR text and then adds OUR HTML as the alternative part:
multipart/alternative, text/plain first, text/html second. Only the SMTP hand-over
(connect, TLS, login, send) is written here, after Apprise's own. Everything else is still
Apprise's ``notify()``: tag matching, tag priorities, retries and the True/False/None
result; other services (chat, push) get the HTML, which Apprise converts to what each
one takes (Markdown or text). A URL with ``format=text`` gets our text part alone, and
one asking for PGP (``pgp=sign`` or ``encrypt``) is refused: signing the text part and
then adding an HTML part beside it would break the signature.

A message with an iCalendar (``RenderedMessage.ics``: a step-opened email's due date, see
``notifications/calendar.py``) goes as multipart/mixed: the text (and HTML) first, then the
calendar as a ``text/calendar; method=PUBLISH`` attachment, base64 so its CRLF line ends
arrive as RFC 5545 has them. A meeting invitation, update or cancellation
(``notifications/meeting_calendar.py``, METHOD:REQUEST or CANCEL) goes as Outlook and Gmail
send one: the calendar as the last alternative of the body, ``text/calendar; method=REQUEST``,
and again as an ``invite.ics`` attachment (see :func:`_attach_calendar`). Services that are
not email get no attachment.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Iterator, Mapping
from email.message import EmailMessage, MIMEPart
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import apprise
import yaml
from apprise.plugins.base import NotifyBase
from apprise.plugins.email import AppriseEmailException, NotifyEmail, SecureMailMode
from apprise.plugins.email.base import PGP_MODE_DEFAULT

from models.errors import ConfigurationError, DeliveryFailed, NoRecipient
from notifications.render import RenderedMessage

# Apprise reads ":" in a tag filter as a priority or retry marker and "," or spaces as
# a list of tags, so only plain slugs are accepted as roles.
_ROLE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class AppriseDispatcher:
    """Sends a rendered message to every address tagged with a role in an Apprise config.

    ``environ`` fills ``${NAME}`` placeholders and ``secret`` resolves ``${secret:NAME}``;
    the caller at the edge passes them in (in production, the process environment), so
    nothing here reads the environment itself.
    """

    def __init__(self, config_path: Path, *, environ: Mapping[str, str],
                 secret: Callable[[str], str | None] | None = None) -> None:
        self.config_path = config_path
        self.environ = environ
        self.secret = secret

    def send(self, *, role: str, message: RenderedMessage, to: str | None = None) -> None:
        """Deliver ``message`` to the URLs tagged ``role``; raise DeliveryFailed otherwise. ``to``: a delegate's
        address taking the role's place: the role's email services send to it instead of their own To
        addresses (their sender, server and copies as configured); its other services send nothing."""
        if not _ROLE.match(role):
            raise DeliveryFailed(f"{role!r} is not a valid role name for notification routing.")
        found: list[NotifyBase] = list(self._load().find(role))
        if to is not None:
            found = [service for service in found if isinstance(service, NotifyEmail)]
        services = [self._sending(service, message, to) for service in found]
        if not services:
            raise NoRecipient(
                f"No {'email service' if to else 'recipient'} is configured for role {role} in {self.config_path}."
            )
        notifier = apprise.Apprise()
        for service in services:
            notifier.add(service)
        # Apprise reports why a send failed only in its log; capture it for the error.
        # LogCapture has no annotations in apprise 1.13.
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as log:  # type: ignore[no-untyped-call]
            # The HTML is what non-email services get, converted by Apprise to their
            # format; email services send the message's own text and HTML parts.
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

    def addresses(self, role: str) -> list[str]:
        """The To addresses of the role's email services, in the config's order, each once (none for a role
        with no email service); ConfigurationError if the config cannot be read."""
        if not _ROLE.match(role):
            return []
        found: list[str] = []
        for service in self._load().find(role):
            if isinstance(service, NotifyEmail):
                found.extend(str(address) for _, address in service.targets if str(address) not in found)
        return found

    def _sending(self, service: NotifyBase, message: RenderedMessage, to: str | None = None) -> NotifyBase:
        """``service`` itself or, for an email service, a copy that sends ``message``'s two parts (to ``to``
        rather than its own To addresses, if given)."""
        if not isinstance(service, NotifyEmail):
            return service
        if service.pgp_mode != PGP_MODE_DEFAULT:
            raise ConfigurationError(
                f"An email URL in {self.config_path} asks for PGP (pgp={service.pgp_mode}), which "
                "lcspr cannot apply to emails with their own text and HTML parts; remove it."
            )
        twin = _TextAndHtmlEmail.sending(service, message)
        if to is not None:
            twin.targets = [(False, to)]
        return twin

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


class _TextAndHtmlEmail(NotifyEmail):  # type: ignore[no-untyped-call]  # NotifyBase.__init_subclass__ is unannotated
    """Apprise's email service, sending one rendered message as text and HTML alternatives.

    Made by :meth:`sending` from a service Apprise built from the config. It is a copy
    rather than a service rebuilt from ``url()``, because that round trip does not keep
    every setting (a Gmail-style ``user@host`` login comes back as ``user``). Apprise's
    converted ``body`` is ignored: the parts sent are the message's own.
    """

    message: RenderedMessage

    @classmethod
    def sending(cls, service: NotifyEmail, message: RenderedMessage) -> _TextAndHtmlEmail:
        twin = cls.__new__(cls)
        vars(twin).update(vars(service))  # every setting as Apprise parsed it; copy.copy does the same
        twin.message = message
        return twin

    def send(self, body: str, title: str = "", notify_type: Any = None, attach: Any = None,
             **kwargs: Any) -> bool:
        """Hand one mail per recipient to the SMTP server, as NotifyEmail.send does."""
        if not self.targets:
            self.logger.warning("There are no Email recipients to notify")
            return False
        try:
            mails = list(self._mails())
        except AppriseEmailException as exc:
            self.logger.warning("The email could not be prepared: %s", exc)
            return False
        self.throttle()  # type: ignore[no-untyped-call]  # unannotated in apprise
        context = ssl.create_default_context()
        if not self.verify_certificate:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        port = int(self.port or 0)  # 0: smtplib's default port for the connection type
        sender = str(self.from_addr[1])
        server: smtplib.SMTP | None = None
        all_sent = True
        try:
            if self.secure_mode == SecureMailMode.SSL:
                server = smtplib.SMTP_SSL(self.smtp_host, port, timeout=self.socket_connect_timeout,
                                          context=context)
            else:
                server = smtplib.SMTP(self.smtp_host, port, timeout=self.socket_connect_timeout)
                if self.secure_mode == SecureMailMode.STARTTLS:
                    server.starttls(context=context)
            if self.user and self.password:
                server.login(self.user, self.password)
            for recipient, to_addrs, mail in mails:
                try:
                    server.sendmail(sender, to_addrs, mail)
                    self.logger.info("Sent Email to %s", recipient)
                except (OSError, smtplib.SMTPException) as exc:
                    self.logger.warning('Sending email to "%s" failed: %s', recipient, exc)
                    all_sent = False
        except (OSError, smtplib.SMTPException) as exc:
            self.logger.warning('Connection error while submitting email to "%s": %s', self.smtp_host, exc)
            return False
        finally:
            if server is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    server.quit()
        return all_sent

    def _mails(self) -> Iterator[tuple[str, list[str], str]]:
        """(recipient, envelope addresses, mail) for each To address of the URL."""
        for prepared in NotifyEmail.prepare_emails(
            subject=self.message.subject,
            body=self.message.text,
            notify_format=apprise.NotifyFormat.TEXT,
            from_addr=self.from_addr,
            to=self.targets,
            cc=self.cc,
            bcc=self.bcc,
            reply_to=self.reply_to,
            smtp_host=self.smtp_host,
            headers={"X-Application": self.app_id, **self.headers},
            names=self.names,
            tzinfo=self.tzinfo,
        ):
            # Apprise built a complete text/plain mail; the HTML joins it as its alternative.
            mail = email.message_from_string(prepared.body, policy=email.policy.default)
            if self.notify_format == apprise.NotifyFormat.HTML:
                html = MIMEPart(policy=email.policy.default)
                html.set_content(self.message.html, subtype="html", cte="quoted-printable")
                mail.make_alternative()
                mail.attach(html)  # type: ignore[arg-type]  # typeshed wants an EmailMessage; any MIMEPart is a subpart
            if self.message.ics:
                _attach_calendar(mail, self.message.ics)
            yield prepared.recipient, prepared.to_addrs, mail.as_string()


CALENDAR_FILENAME = "due-date.ics"
INVITATION_FILENAME = "invite.ics"
_METHOD = re.compile(r"^METHOD:([A-Z-]+)\r?$", re.MULTILINE)
# The iTIP methods (RFC 5546) a mail program acts on: a meeting request or update, and its cancellation.
INVITATION_METHODS = ("REQUEST", "CANCEL")


def calendar_method(ics: str) -> str:
    """The METHOD of an iCalendar text (PUBLISH if it has none, as RFC 5545 reads a calendar without one)."""
    found = _METHOD.search(ics)
    return found.group(1) if found else "PUBLISH"


def _attach_calendar(mail: EmailMessage, ics: str) -> None:
    """Add the iCalendar to the mail: a published calendar (due dates) as a ``.ics`` attachment; an invitation,
    update or cancellation (METHOD:REQUEST or CANCEL, ``notifications/meeting_calendar.py``) as the major mail
    programs send one, which is what Outlook needs to show it as a meeting with Accept and Decline rather than
    a file: the calendar as the last alternative of the body (``text/calendar; method=REQUEST``, inline), and
    the same bytes again as an ``invite.ics`` attachment for the programs that look only at attachments."""
    method = calendar_method(ics)
    if method not in INVITATION_METHODS:
        mail.make_mixed()
        mail.attach(_calendar_part(ics, method, attachment=True))  # type: ignore[arg-type]  # as in _mails
        return
    if mail.get_content_type() != "multipart/alternative":
        mail.make_alternative()
    mail.attach(_calendar_part(ics, method, attachment=False))  # type: ignore[arg-type]  # as in _mails
    mail.make_mixed()
    attached = MIMEPart(policy=email.policy.default)
    attached.set_content(ics.encode("utf-8"), maintype="application", subtype="ics", cte="base64",
                         disposition="attachment", filename=INVITATION_FILENAME)
    mail.attach(attached)  # type: ignore[arg-type]  # as in _mails


def _calendar_part(ics: str, method: str, *, attachment: bool) -> MIMEPart:
    """An iCalendar as a ``text/calendar; method=...`` part; base64 keeps its bytes (CRLF line ends) exact."""
    part = MIMEPart(policy=email.policy.default)
    part.set_content(ics.encode("utf-8"), maintype="text", subtype="calendar", cte="base64",
                     disposition="attachment" if attachment else None,
                     filename=CALENDAR_FILENAME if attachment else None,
                     params={"method": method, "charset": "utf-8"})
    return part


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

"""Real mail: Apprise over SMTP to the local outbox server, routed by role tags."""

from __future__ import annotations

import io
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import apprise
import pytest
import yaml
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from apprise.manager_plugins import NotificationManager
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from models.errors import ConfigurationError, DeliveryFailed
from models.notices import Notice
from notifications.dispatch import AppriseDispatcher, expand_placeholders, write_local_config
from notifications.local_smtp import LocalOutbox, _AnyPortController
from notifications.render import RenderedMessage, render
from services import messages
from tests.fakes import fake_app

SENDER = "lcspr@localhost"
ADDRESSES = {
    "business_unit": "business.unit@example.org",
    "agency-thames-valley-police": "safeguarding@police.example.org",
}
CONTEXT: dict[str, object] = {
    "reference": "LCSPR-2026-0001",
    "step": "Rapid Review outcome",
    "due": "2026-04-21",
    "days_overdue": 0,
    "escalated_from": "",
    "link": "http://127.0.0.1:4200/runs/flow-run/1",
    "portfolio_link": "http://127.0.0.1:4200/v2/artifacts/key/lcspr-portfolio",
    "partnership": "Test Safeguarding Children Partnership",
    "final_report_working_days": 7,
}
CHAT_SCHEMA = "lcsprtestchat"


def _message(role: str, kind: str = "reminder", **values: object) -> RenderedMessage:
    return render(kind, {**CONTEXT, "recipient_role": role, **values})


def _parts(mail: EmailMessage) -> list[tuple[str, str]]:
    """(content type, decoded content) of each part of a multipart mail, in order."""
    parts: list[tuple[str, str]] = []
    for part in mail.iter_parts():
        content = part.get_content()
        assert isinstance(content, str), part.get_content_type()
        parts.append((part.get_content_type(), content))
    return parts


def _config(path: Path, urls: dict[str, str]) -> Path:
    """An Apprise YAML config tagging each URL (key) with a role (value)."""
    path.write_text(yaml.safe_dump({"version": 1, "urls": [{url: [{"tag": role}]} for url, role in urls.items()]}))
    return path


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[LocalOutbox]:
    with LocalOutbox(tmp_path / "outbox") as server:
        yield server


@pytest.fixture
def dispatcher(tmp_path: Path, outbox: LocalOutbox) -> AppriseDispatcher:
    config = tmp_path / "apprise.yml"
    write_local_config(
        config, smtp_host="127.0.0.1", smtp_port=outbox.port, addresses=ADDRESSES, sender=SENDER
    )
    return AppriseDispatcher(config, environ={})


@pytest.fixture
def chat() -> Iterator[list[dict[str, Any]]]:
    """A test-only chat service (``lcsprtestchat://``, plain text) that records what it is sent."""
    received: list[dict[str, Any]] = []

    def capture(body: str, title: str, notify_type: str, body_format: str, meta: dict[str, Any],
                *args: Any, **kwargs: Any) -> bool:
        received.append({"title": title, "body": body})
        return True

    apprise.decorators.notify(on=CHAT_SCHEMA, name="Test chat")(capture)  # type: ignore[no-untyped-call]  # unannotated
    yield received
    NotificationManager().remove(CHAT_SCHEMA)  # type: ignore[no-untyped-call]  # unannotated in apprise


def test_every_email_carries_the_rendered_text_and_html_as_alternatives(
    outbox: LocalOutbox, dispatcher: AppriseDispatcher
) -> None:
    # Non-ASCII and long lines: the parts must survive quoted-printable and come back exact.
    message = _message("business_unit", "inform_bodies", partnership="Ynys Môn Safeguarding Children Partnership",
                       final_report_working_days=10)
    dispatcher.send(role="business_unit", message=message)

    [mail] = outbox.messages()
    assert mail.get_content_type() == "multipart/alternative"
    assert _parts(mail) == [("text/plain", message.text), ("text/html", message.html)]
    assert str(mail["Subject"]) == message.subject
    assert [part.get_content_charset() for part in mail.iter_parts()] == ["utf-8", "utf-8"]


def test_each_role_receives_its_message_once_at_its_own_address(
    outbox: LocalOutbox, dispatcher: AppriseDispatcher
) -> None:
    for role in ADDRESSES:
        dispatcher.send(role=role, message=_message(role))

    received = outbox.messages()
    assert sorted(str(m["To"]) for m in received) == sorted(ADDRESSES.values())
    by_recipient = {str(m["To"]): m for m in received}
    for role, address in ADDRESSES.items():
        mail = by_recipient[address]
        expected = _message(role)
        assert str(mail["Subject"]) == expected.subject
        assert str(mail["From"]) == SENDER
        assert _parts(mail) == [("text/plain", expected.text), ("text/html", expected.html)]
        assert f"Sent to the {role.replace('_', ' ')} role." in expected.text


def test_a_service_that_is_not_email_gets_the_message_as_its_own_format(
    tmp_path: Path, outbox: LocalOutbox, chat: list[dict[str, Any]]
) -> None:
    config = _config(tmp_path / "apprise.yml", {
        f"mailto://127.0.0.1:{outbox.port}?from=lcspr%40localhost&to=bu%40example.org": "business_unit",
        f"{CHAT_SCHEMA}://": "business_unit",
    })
    message = _message("business_unit")

    AppriseDispatcher(config, environ={}).send(role="business_unit", message=message)

    [posted] = chat
    assert posted["title"] == message.subject
    assert "<" not in posted["body"]
    assert "This is a reminder that Rapid Review outcome for review LCSPR-2026-0001 is due by 2026-04-21." in (
        " ".join(posted["body"].split())
    )
    [mail] = outbox.messages()
    assert _parts(mail) == [("text/plain", message.text), ("text/html", message.html)]


def test_an_email_url_asking_for_plain_text_gets_the_rendered_text_alone(
    tmp_path: Path, outbox: LocalOutbox
) -> None:
    config = _config(tmp_path / "apprise.yml", {
        f"mailto://127.0.0.1:{outbox.port}?from=lcspr%40localhost&to=bu%40example.org&format=text": "business_unit",
    })
    message = _message("business_unit")

    AppriseDispatcher(config, environ={}).send(role="business_unit", message=message)

    [mail] = outbox.messages()
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content() == message.text


def test_an_email_url_asking_for_pgp_is_refused_before_anything_is_sent(
    tmp_path: Path, outbox: LocalOutbox
) -> None:
    config = _config(tmp_path / "apprise.yml", {
        f"mailto://127.0.0.1:{outbox.port}?from=lcspr%40localhost&to=bu%40example.org&pgp=sign": "business_unit",
    })

    with pytest.raises(ConfigurationError, match=r"asks for PGP \(pgp=sign\)"):
        AppriseDispatcher(config, environ={}).send(role="business_unit", message=_message("business_unit"))
    assert outbox.messages() == []


def test_the_outbox_keeps_each_message_as_an_eml_file_named_by_arrival(
    tmp_path: Path, outbox: LocalOutbox, dispatcher: AppriseDispatcher
) -> None:
    dispatcher.send(role="business_unit", message=_message("business_unit"))
    dispatcher.send(role="business_unit", message=_message("business_unit"))

    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    assert files[0].name.endswith("-000001.eml")
    assert files[1].name.endswith("-000002.eml")


def test_a_role_with_no_configured_address_fails_delivery(
    outbox: LocalOutbox, dispatcher: AppriseDispatcher
) -> None:
    with pytest.raises(DeliveryFailed, match="No recipient is configured for role panel"):
        dispatcher.send(role="panel", message=_message("panel"))
    assert outbox.messages() == []


def test_an_smtp_server_that_is_not_listening_fails_delivery(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    config = tmp_path / "apprise.yml"
    write_local_config(
        config, smtp_host="127.0.0.1", smtp_port=closed_port, addresses=ADDRESSES, sender=SENDER
    )

    with pytest.raises(DeliveryFailed, match=r"Sending to role business_unit failed: .*127\.0\.0\.1"):
        AppriseDispatcher(config, environ={}).send(role="business_unit", message=_message("business_unit"))


def test_a_missing_config_file_is_a_configuration_error(tmp_path: Path) -> None:
    dispatcher = AppriseDispatcher(tmp_path / "absent.yml", environ={})
    with pytest.raises(ConfigurationError, match="does not exist"):
        dispatcher.send(role="business_unit", message=_message("business_unit"))


def test_the_local_config_tags_one_plain_smtp_url_per_role(tmp_path: Path) -> None:
    config = tmp_path / "apprise.yml"
    write_local_config(
        config, smtp_host="127.0.0.1", smtp_port=8025, addresses=ADDRESSES, sender=SENDER
    )

    assert yaml.safe_load(config.read_text()) == {
        "version": 1,
        "urls": [
            {"mailto://127.0.0.1:8025?from=lcspr%40localhost&to=safeguarding%40police.example.org":
                [{"tag": "agency-thames-valley-police"}]},
            {"mailto://127.0.0.1:8025?from=lcspr%40localhost&to=business.unit%40example.org":
                [{"tag": "business_unit"}]},
        ],
    }


def test_config_placeholders_come_from_the_environment_and_the_secret_store() -> None:
    """Passwords never sit in the config file: ${NAME} and ${secret:NAME} are filled in at send time."""
    text = "mailtos://${SMTP_USER}:${secret:smtp-password}@smtp.example.org:587?to=a%40b.org"
    out = expand_placeholders(text, {"SMTP_USER": "lcspr"}, {"smtp-password": "p@ss word"}.get, where="cfg")
    assert out == "mailtos://lcspr:p%40ss%20word@smtp.example.org:587?to=a%40b.org"
    with pytest.raises(ConfigurationError, match="environment variable SMTP_USER"):
        expand_placeholders(text, {}, {"smtp-password": "x"}.get, where="cfg")
    with pytest.raises(ConfigurationError, match="secret smtp-password"):
        expand_placeholders(text, {"SMTP_USER": "u"}, None, where="cfg")


def _chair_config(path: Path, port: int) -> Path:
    path.write_text(
        "version: 1\nurls:\n"
        f"  - \"mailto://127.0.0.1:{port}?from=x%40p.test&to=${{CHAIR_ADDRESS}}\":\n"
        "      - tag: independent_chair\n")
    return path


def test_a_config_with_an_environment_placeholder_delivers(tmp_path: Path) -> None:
    with LocalOutbox(tmp_path / "box") as box:
        config = _chair_config(tmp_path / "apprise.yml", box.port)
        AppriseDispatcher(config, environ={"CHAIR_ADDRESS": "chair@p.test"}).send(
            role="independent_chair", message=_message("independent_chair"))
        assert [str(m["To"]) for m in box.messages()] == ["chair@p.test"]


def test_placeholders_come_only_from_the_environment_passed_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatcher never reads the process environment itself: the edge hands it in."""
    monkeypatch.setenv("CHAIR_ADDRESS", "chair@p.test")
    with LocalOutbox(tmp_path / "box") as box:
        config = _chair_config(tmp_path / "apprise.yml", box.port)
        with pytest.raises(ConfigurationError, match="environment variable CHAIR_ADDRESS, which has no value"):
            AppriseDispatcher(config, environ={}).send(
                role="independent_chair", message=_message("independent_chair"))
        assert box.messages() == []


class _Recorder:
    """aiosmtpd handler keeping, for each mail, whether it came over TLS after a login."""

    def __init__(self) -> None:
        self.received: list[tuple[bool, bool, EmailMessage]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        # As LocalOutbox.messages reads its files: line ends as text (CRLF on the wire).
        mail = BytesParser(policy=policy.default).parse(io.BytesIO(raw if isinstance(raw, bytes) else raw.encode()))
        assert isinstance(mail, EmailMessage)
        self.received.append((session.ssl is not None, bool(session.authenticated), mail))
        return "250 Message accepted for delivery"


def _only_lcspr(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object) -> AuthResult:
    accepted = isinstance(data, LoginPassword) and (data.login, data.password) == (b"lcspr", b"s3cret")
    return AuthResult(success=accepted, handled=False)  # handled=False: aiosmtpd answers 535 itself


def _self_signed_tls(folder: Path) -> ssl.SSLContext:
    """A server TLS context with a certificate for 127.0.0.1 that no authority signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


@pytest.fixture
def starttls_server(tmp_path: Path) -> Iterator[tuple[int, _Recorder]]:
    """An SMTP server that accepts mail only after STARTTLS and a login as lcspr / s3cret."""
    recorder = _Recorder()
    controller = _AnyPortController(recorder, hostname="127.0.0.1", port=0,
                                    tls_context=_self_signed_tls(tmp_path / "tls"), require_starttls=True,
                                    authenticator=_only_lcspr, auth_require_tls=True)
    controller.start()
    yield controller.port, recorder
    controller.stop()


def _starttls_config(path: Path, port: int, password: str, verify: str) -> Path:
    return _config(path, {
        f"mailtos://lcspr:{password}@127.0.0.1:{port}?mode=starttls&verify={verify}"
        "&from=lcspr%40example.org&to=chair%40example.org": "independent_chair",
    })


def test_a_mailtos_url_sends_both_parts_over_starttls_after_logging_in(
    tmp_path: Path, starttls_server: tuple[int, _Recorder]
) -> None:
    port, recorder = starttls_server
    message = _message("independent_chair")

    AppriseDispatcher(_starttls_config(tmp_path / "apprise.yml", port, "s3cret", verify="no"), environ={}).send(
        role="independent_chair", message=message)

    [(over_tls, logged_in, mail)] = recorder.received
    assert (over_tls, logged_in) == (True, True)
    assert str(mail["To"]) == "chair@example.org"
    assert _parts(mail) == [("text/plain", message.text), ("text/html", message.html)]


def test_a_refused_login_fails_delivery(tmp_path: Path, starttls_server: tuple[int, _Recorder]) -> None:
    port, recorder = starttls_server
    config = _starttls_config(tmp_path / "apprise.yml", port, "wrong", verify="no")

    with pytest.raises(DeliveryFailed, match=r"Sending to role independent_chair failed: .*Authentication"):
        AppriseDispatcher(config, environ={}).send(role="independent_chair", message=_message("independent_chair"))
    assert recorder.received == []


def test_a_server_certificate_nobody_signed_is_refused_unless_the_url_says_verify_no(
    tmp_path: Path, starttls_server: tuple[int, _Recorder]
) -> None:
    port, recorder = starttls_server
    config = _starttls_config(tmp_path / "apprise.yml", port, "s3cret", verify="yes")

    with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
        AppriseDispatcher(config, environ={}).send(role="independent_chair", message=_message("independent_chair"))
    assert recorder.received == []


def test_a_message_for_a_role_with_no_address_reaches_the_business_unit_asking_it_to_forward(
    tmp_path: Path, outbox: LocalOutbox
) -> None:
    """The fallback of services.messages over real SMTP: both parts open with whom it is for."""
    config = tmp_path / "apprise.yml"
    write_local_config(config, smtp_host="127.0.0.1", smtp_port=outbox.port,
                       addresses={"business_unit": ADDRESSES["business_unit"]}, sender=SENDER)
    app = fake_app(date(2026, 3, 3))
    app.dispatcher = lambda: AppriseDispatcher(config, environ={})
    notice = Notice(key="LCSPR-2026-0001:step:chair-decision-1:independent_chair", kind="step_opened",
                    role="independent_chair", step="Chair decision", due=None)
    with app.uow() as uow:
        messages.queue(uow, app, "LCSPR-2026-0001", [notice], "run-1", app.clock.now())
        uow.commit()

    report = messages.deliver(app)

    assert (report.sent, report.failed) == ([notice.key], {})
    [mail] = outbox.messages()
    assert str(mail["To"]) == ADDRESSES["business_unit"]
    assert str(mail["Subject"]) == "[LCSPR-2026-0001] Action needed: Chair decision"
    [(_, text), (_, html)] = _parts(mail)
    note = ("This message is for the Independent Chair (or the delegated safeguarding partners), "
            "who has no address configured; please forward it to them.")
    assert text.startswith(note + "\n\nReview LCSPR-2026-0001 has reached a new step: Chair decision.")
    assert "No statutory deadline applies to this step; please answer as soon as you can." in " ".join(text.split())
    assert "Sent to the independent chair role." in text
    body = " ".join(html.split("<body", 1)[1].split(">", 1)[1].split())
    assert body.startswith("<p") and body.split(">", 1)[1].startswith(note + "</p>")


def test_a_message_for_a_role_with_an_address_carries_no_forwarding_note(
    tmp_path: Path, outbox: LocalOutbox, dispatcher: AppriseDispatcher
) -> None:
    app = fake_app(date(2026, 3, 3))
    app.dispatcher = lambda: dispatcher
    notice = Notice(key="LCSPR-2026-0001:step:notification-1:business_unit", kind="step_opened",
                    role="business_unit", step="Serious incident notification", due=date(2026, 3, 10))
    with app.uow() as uow:
        messages.queue(uow, app, "LCSPR-2026-0001", [notice], "run-1", app.clock.now())
        uow.commit()

    messages.deliver(app)

    [mail] = outbox.messages()
    assert "forward" not in mail.as_string()

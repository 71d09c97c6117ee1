"""Real mail: Apprise over SMTP to the local outbox server, routed by role tags."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from models.errors import ConfigurationError
from notifications.dispatch import AppriseDispatcher, DeliveryFailed, write_local_config
from notifications.local_smtp import LocalOutbox
from notifications.render import RenderedMessage, render

SENDER = "lcspr@localhost"
ADDRESSES = {
    "business_unit": "business.unit@example.org",
    "agency-thames-valley-police": "safeguarding@police.example.org",
}


def _message(role: str) -> RenderedMessage:
    return render(
        "reminder",
        {
            "reference": "LCSPR-2026-0001",
            "step": "Rapid Review outcome",
            "due": "2026-04-21",
            "days_overdue": 0,
            "escalated_from": "",
            "recipient_role": role,
            "link": "http://127.0.0.1:4200/runs/flow-run/1",
            "partnership": "Test Safeguarding Children Partnership",
        },
    )


def _text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


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
    return AppriseDispatcher(config)


def test_each_role_receives_its_message_once_at_its_own_address(
    outbox: LocalOutbox, dispatcher: AppriseDispatcher
) -> None:
    for role in ADDRESSES:
        dispatcher.send(role=role, message=_message(role))

    received = outbox.messages()
    assert len(received) == 2
    by_recipient = {str(m["To"]): m for m in received}
    assert set(by_recipient) == set(ADDRESSES.values())
    for role, address in ADDRESSES.items():
        mail = by_recipient[address]
        assert str(mail["Subject"]) == _message(role).subject
        assert str(mail["From"]) == SENDER
        body = _text_body(mail)
        assert "Rapid Review outcome" in body
        assert "is due by 2026-04-21" in body


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

    with pytest.raises(DeliveryFailed, match="Sending to role business_unit failed"):
        AppriseDispatcher(config).send(role="business_unit", message=_message("business_unit"))


def test_a_missing_config_file_is_a_configuration_error(tmp_path: Path) -> None:
    dispatcher = AppriseDispatcher(tmp_path / "absent.yml")
    with pytest.raises(ConfigurationError, match="does not exist"):
        dispatcher.send(role="business_unit", message=_message("business_unit"))


def test_the_local_config_tags_one_plain_smtp_url_per_role(tmp_path: Path) -> None:
    config = tmp_path / "apprise.yml"
    write_local_config(
        config, smtp_host="127.0.0.1", smtp_port=8025, addresses=ADDRESSES, sender=SENDER
    )

    text = config.read_text()
    assert text.count("mailto://127.0.0.1:8025?from=lcspr%40localhost&to=") == 2
    assert "tag: business_unit" in text
    assert "tag: agency-thames-valley-police" in text


def test_config_placeholders_come_from_the_environment_and_the_secret_store(tmp_path, monkeypatch):
    """Passwords never sit in the config file: ${NAME} and ${secret:NAME} are filled in at send time."""
    from notifications.dispatch import expand_placeholders

    text = "mailtos://${SMTP_USER}:${secret:smtp-password}@smtp.example.org:587?to=a%40b.org"
    out = expand_placeholders(text, {"SMTP_USER": "lcspr"}, {"smtp-password": "p@ss word"}.get, where="cfg")
    assert out == "mailtos://lcspr:p%40ss%20word@smtp.example.org:587?to=a%40b.org"
    with pytest.raises(ConfigurationError, match="environment variable SMTP_USER"):
        expand_placeholders(text, {}, {"smtp-password": "x"}.get, where="cfg")
    with pytest.raises(ConfigurationError, match="secret smtp-password"):
        expand_placeholders(text, {"SMTP_USER": "u"}, None, where="cfg")


def test_a_config_with_an_environment_placeholder_delivers(tmp_path):
    from notifications.dispatch import AppriseDispatcher

    with LocalOutbox(tmp_path / "box") as box:
        cfg = tmp_path / "apprise.yml"
        cfg.write_text(
            "version: 1\nurls:\n"
            f"  - \"mailto://127.0.0.1:{box.port}?from=x%40p.test&to=${{CHAIR_ADDRESS}}\":\n"
            "      - tag: independent_chair\n")
        AppriseDispatcher(cfg, environ={"CHAIR_ADDRESS": "chair@p.test"}).send(
            role="independent_chair", message=_message("independent_chair"))
        assert [m["To"] for m in box.messages()] == ["chair@p.test"]

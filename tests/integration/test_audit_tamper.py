"""Tampering with the register behind its back is reported by ``lcspr audit --verify``.

Each test walks reviews through real decisions on a real register (SQLite, and PostgreSQL when
one answers on 127.0.0.1:5432), then changes the database directly with SQL, as someone with
access to the database file or server could, and checks that the verification names the first
entry (or decision, or field) affected. The audit key lives in a file outside the register
(``<home>/audit.key`` here), which the tamperer does not have.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from adapters.register.audit import AuditKeyFile, legacy_chain_hash
from adapters.register.database import MIGRATIONS, engine_for, migrate
from adapters.register.mapping import AuditEvent, Decision, ReviewRow
from lcspr.cli import main
from lcspr.settings import Settings
from models.errors import ConfigurationError
from models.lifecycle import ClockAdjustment
from services import answers, clocks, queries, referrals, reviews
from services.app import App
from tests.conftest import make_app, make_referral, register_settings
from tests.unit.test_lifecycle import GOOD

TODAY = date(2026, 11, 23)
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
EVENTS = ["review_referred", "flow_run_attached", "decision_recorded", "decision_recorded", "decision_refused",
          "decision_recorded", "clock_paused", "decision_recorded"]


def postgres_url() -> str | None:
    """LCSPR_TEST_DATABASE_URL if it is PostgreSQL, else the project machines' local one if it answers."""
    configured = os.environ.get("LCSPR_TEST_DATABASE_URL", "")
    if configured.startswith("postgresql"):
        return configured
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return POSTGRES
    except OSError:
        return None


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """This module's register: SQLite, then PostgreSQL (skipped when none answers)."""
    url = None
    if request.param == "postgresql":
        url = postgres_url()
        if url is None:
            pytest.skip("no PostgreSQL answers on 127.0.0.1:5432")
    with register_settings(tmp_path, url) as made:
        yield made


@pytest.fixture
def app(settings: Settings) -> App:
    return make_app(settings, TODAY)


@contextmanager
def database(settings: Settings) -> Iterator[Session]:
    """A transaction straight on the register's tables: what a tamperer with database access has."""
    with Session(engine_for(settings.register_url), expire_on_commit=False) as s, s.begin():
        yield s


def review_id(s: Session, reference: str) -> int:
    return s.scalars(select(ReviewRow.id).where(ReviewRow.reference == reference)).one()


def trail(s: Session, reference: str) -> list[AuditEvent]:
    return list(s.scalars(select(AuditEvent).where(AuditEvent.review_id == review_id(s, reference))
                          .order_by(AuditEvent.seq)))


def walk(app: App, agency_reference: str) -> str:
    """A review with eight audit entries and six decisions: referral, run attached, two answers, a
    refused answer and its retry, a clock paused, one more answer (entries 3–8 bear decisions 1–6)."""
    reference = referrals.register_referral(app, make_referral(agency_reference=agency_reference)).reference
    referrals.attach_run(app, reference, f"run-{agency_reference}")
    for key in ("notification-1", "rapid-review-1"):
        assert answers.record_answer(app, reference, key, GOOD[key]).accepted
    answers.record_unreadable(app, reference, "chair-decision-1", "The form could not be read.")
    retry = reviews.waiting_on(app, reference)
    assert retry is not None and retry.key != "chair-decision-1"
    assert answers.record_answer(app, reference, retry.key, GOOD["chair-decision-1"]).accepted
    clocks.adjust_clock(app, reference, ClockAdjustment(clock="inform_bodies", action="pause", on=date(2026, 4, 2),
                                                        by="A. Jones", reason="Waiting for the Panel's reply"))
    assert answers.record_answer(app, reference, "inform-bodies-1", GOOD["inform-bodies-1"]).accepted
    assert [e.event for e in queries.audit_trail(app, reference)] == EVENTS
    return reference


def problems(app: App, reference: str | None = None) -> list[str]:
    return queries.verify_audit(app, reference).problems


# ---------------------------------------------------------------- intact


def test_an_untouched_trail_verifies_intact_entry_by_entry(app: App, settings: Settings) -> None:
    reference = walk(app, "POL-1")
    report = queries.verify_audit(app, reference)
    assert (report.checked, report.problems, report.notes) == (1, [], [])
    keys = [d.key for d in queries.decisions(app, reference)]
    assert keys[4] == "clock-1"
    with database(settings) as s:
        entries = trail(s, reference)
        row = s.scalars(select(ReviewRow).where(ReviewRow.reference == reference)).one()
    assert (row.audit_head_seq, len(entries)) == (8, 8)
    # Each entry records the decisions it bears and the row it left behind.
    assert [[d["key"] for d in e.decisions or []] for e in entries] == [[], [], *[[k] for k in keys]]
    assert entries[-1].review_state is not None
    assert entries[-1].review_state["stage"] == row.stage == "author_appointment"
    assert entries[-1].review_state["pseudonym"] == "Child A"


def test_the_key_file_is_made_owner_only_in_the_home_folder_on_first_use(app: App, settings: Settings) -> None:
    key = settings.home / "audit.key"
    assert key.exists() and key.stat().st_mode & 0o777 == 0o600
    assert len(bytes.fromhex(key.read_text().strip())) == 32
    walk(app, "POL-1")
    assert key.read_text() == (settings.home / "audit.key").read_text()  # never replaced


# ---------------------------------------------------------------- the six changes


def test_deleting_the_newest_audit_entry_is_reported_as_entries_missing_after_the_one_before(
        app: App, settings: Settings) -> None:
    reference, untouched = walk(app, "POL-1"), walk(app, "POL-2")
    with database(settings) as s:
        s.execute(text("DELETE FROM audit_events WHERE review_id = :id AND seq = 8"),
                  {"id": review_id(s, reference)})
    found = problems(app)
    assert found[0] == f"{reference}: entries after 7 are missing (the head says 8)"
    assert f"{reference}: decision 6 (key inform-bodies-1) has no audit entry (inserted without one)" in found
    assert all(line.startswith(reference) for line in found)
    assert problems(app, untouched) == []


def test_editing_an_entry_and_recomputing_the_chain_with_sha256_is_reported_at_that_entry(
        app: App, settings: Settings) -> None:
    reference = walk(app, "POL-1")
    with database(settings) as s:
        entries = trail(s, reference)
        entries[3].detail = {**entries[3].detail, "decided_on": "2026-03-01"}
        prev = entries[2].hash
        for e in entries[3:]:  # everything an unkeyed chain would need, done right
            e.prev_hash = prev
            e.hash = prev = legacy_chain_hash(prev, e.seq, e.at, e.actor, e.event, e.detail)
    assert problems(app, reference) == [f"{reference}: audit entry 4 (decision_recorded) was changed or inserted"]


def test_an_entry_appended_with_a_correct_unkeyed_hash_is_reported(app: App, settings: Settings) -> None:
    reference = walk(app, "POL-1")
    with database(settings) as s:
        last = trail(s, reference)[-1]
        at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
        detail = {"key": "author-appointment-1", "step": "Author appointed"}
        s.add(AuditEvent(review_id=last.review_id, seq=9, at=at, actor="A. Jones", event="decision_recorded",
                         detail=detail, prev_hash=last.hash,
                         hash=legacy_chain_hash(last.hash, 9, at, "A. Jones", "decision_recorded", detail)))
    assert problems(app, reference) == [
        f"{reference}: audit entry 9 (decision_recorded) was changed or inserted (it has no keyed hash)"]


def test_an_entry_appended_looking_like_a_keyed_one_is_reported(app: App, settings: Settings) -> None:
    reference = walk(app, "POL-1")
    with database(settings) as s:
        last = trail(s, reference)[-1]
        s.add(AuditEvent(review_id=last.review_id, seq=9, at=last.at, actor="A. Jones", event="decision_recorded",
                         detail={}, prev_hash=last.hash, hash="0" * 64, decisions=[],
                         review_state=last.review_state))
    assert problems(app, reference) == [f"{reference}: audit entry 9 (decision_recorded) was changed or inserted"]


@pytest.mark.parametrize(("seq", "change", "entry"), [
    (2, {"payload": {**GOOD["rapid-review-1"], "rationale": "No learning for anyone."}}, 4),
    (3, {"accepted": True}, 5),
    (1, {"decided_by": "Someone Else"}, 3),
])
def test_editing_a_decision_row_is_reported_against_its_audit_entry(
        app: App, settings: Settings, seq: int, change: dict[str, Any], entry: int) -> None:
    reference = walk(app, "POL-1")
    with database(settings) as s:
        key = s.scalars(select(Decision.key).where(Decision.review_id == review_id(s, reference),
                                                   Decision.seq == seq)).one()
        s.execute(update(Decision).where(Decision.review_id == review_id(s, reference), Decision.seq == seq)
                  .values(**change))
    found = problems(app, reference)
    assert found[0] == f"{reference}: decision {seq} (key {key}) does not match its audit entry {entry}"


def test_deleting_a_decision_is_reported_and_the_replay_shows_the_review_moved_back(
        app: App, settings: Settings) -> None:
    reference = walk(app, "POL-1")
    with database(settings) as s:
        s.execute(text("DELETE FROM decisions WHERE review_id = :id AND seq = 6"), {"id": review_id(s, reference)})
    assert problems(app, reference) == [
        f"{reference}: decision 6 (key inform-bodies-1) of audit entry 8 is missing (removed)",
        f"{reference}: replaying the decision log gives stage informing_bodies, open step inform-bodies-1, "
        "but the review row says stage author_appointment, open step author-appointment-1",
    ]


@pytest.mark.parametrize(("column", "value", "fields"), [
    ("pseudonym", "Child B", "pseudonym"),
    ("agency_reference", "POL-9999", "agency_reference"),
    ("stage", "closed", "stage"),
])
def test_changing_the_review_row_is_reported_naming_the_field(
        app: App, settings: Settings, column: str, value: str, fields: str) -> None:
    reference = walk(app, "POL-1")
    with database(settings) as s:
        s.execute(text(f"UPDATE reviews SET {column} = :value WHERE reference = :ref"),
                  {"value": value, "ref": reference})
    found = problems(app, reference)
    assert found[0] == (f"{reference}: the review row does not match the state its last audit entry (8) "
                        f"recorded ({fields})")


def test_changing_the_referral_json_is_reported(app: App, settings: Settings) -> None:
    reference = walk(app, "POL-1")
    with database(settings) as s:
        referral = s.scalars(select(ReviewRow.referral).where(ReviewRow.reference == reference)).one()
        s.execute(update(ReviewRow).where(ReviewRow.reference == reference)
                  .values(referral={**referral, "outline": "Nothing of note happened."}))
    assert problems(app, reference) == [
        f"{reference}: the review row does not match the state its last audit entry (8) recorded (referral)"]


def test_a_changed_pseudonym_stays_reported_after_the_next_decision_seals_the_row(
        app: App, settings: Settings) -> None:
    reference = walk(app, "POL-1")
    with database(settings) as s:
        s.execute(text("UPDATE reviews SET pseudonym = 'Child B' WHERE reference = :ref"), {"ref": reference})
    assert answers.record_answer(app, reference, "author-appointment-1", GOOD["author-appointment-1"]).accepted
    assert problems(app, reference) == [
        f"{reference}: audit entry 9 (decision_recorded) recorded another pseudonym than the trail began with: "
        "the review row was changed before it"]


# ---------------------------------------------------------------- the key


def test_a_wrong_key_file_reports_every_entry_of_every_review(app: App, settings: Settings, tmp_path: Path) -> None:
    first, second = walk(app, "POL-1"), walk(app, "POL-2")
    other = tmp_path / "other.key"
    other.write_text("ab" * 32 + "\n")
    other.chmod(0o600)
    wrong = make_app(settings.model_copy(update={"audit_key_file": other}), TODAY)
    assert problems(wrong) == [
        f"{ref}: none of its 8 keyed audit entries (1–8) verifies under this audit key: the key file is not the "
        "one they were sealed with, or every entry was rewritten" for ref in (first, second)]
    assert problems(app) == []


def test_without_its_key_file_the_register_reads_but_refuses_to_write_until_it_is_restored(
        app: App, settings: Settings) -> None:
    reference = walk(app, "POL-1")
    key = settings.home / "audit.key"
    saved = key.read_bytes()
    key.unlink()
    keyless = make_app(settings, TODAY)
    assert not key.exists()  # no new key over a sealed trail
    assert [e.event for e in queries.audit_trail(keyless, reference)] == EVENTS
    assert problems(keyless, reference) == [
        f"{reference}: cannot be checked: the audit key file {key} is missing (restore it from its backup)"]
    with pytest.raises(ConfigurationError, match=r"audit key file .* is missing"):
        answers.record_answer(keyless, reference, "author-appointment-1", GOOD["author-appointment-1"])
    key.write_bytes(saved)
    key.chmod(0o600)
    restored = make_app(settings, TODAY)
    assert answers.record_answer(restored, reference, "author-appointment-1", GOOD["author-appointment-1"]).accepted
    assert problems(restored) == []


def test_a_key_file_others_may_read_is_refused(settings: Settings) -> None:
    key = settings.home / "audit.key"
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text("cd" * 32 + "\n")
    key.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        make_app(settings, TODAY)


def test_two_processes_making_the_key_at_once_end_up_with_the_same_one(tmp_path: Path) -> None:
    path = tmp_path / "home" / "audit.key"
    first, second = AuditKeyFile(path).create(), AuditKeyFile(path).create()
    assert (first[1], second[1]) == (True, False)
    assert first[0] == second[0] == AuditKeyFile(path).read()
    assert [p.name for p in path.parent.iterdir()] == ["audit.key"]  # no temporary file left


# ---------------------------------------------------------------- changes made through the register


def test_re_projecting_a_row_adds_an_entry_only_when_its_state_changes(app: App, settings: Settings) -> None:
    """A row written before the open-step projection is projected again when read; if a changed
    calendar moved its due date, that change is audited too, and the trail stays intact."""
    reference = walk(app, "POL-1")
    unchanged = referrals.register_referral(app, make_referral(agency_reference="POL-2")).reference
    with database(settings) as s:
        s.execute(text("UPDATE reviews SET open_step = NULL"))
    assert reviews.waiting_on(app, reference) is not None
    assert len(queries.audit_trail(app, reference)) == 8
    closure = settings.model_copy(update={"closure_days": [date(2026, 3, 5)]})
    step = reviews.waiting_on(make_app(closure, TODAY), unchanged)
    assert step is not None and step.due == date(2026, 3, 11)
    last = queries.audit_trail(app, unchanged)[-1]
    assert (last.event, last.detail) == ("review_reprojected", {"fields": ["open_step_due"]})
    assert problems(app) == []


# ---------------------------------------------------------------- heads kept elsewhere


def test_heads_exported_elsewhere_catch_a_review_rolled_back_to_an_earlier_sealed_state(
        app: App, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reference = walk(app, "POL-1")
    with database(settings) as s:
        before = {c: getattr(s.scalars(select(ReviewRow).where(ReviewRow.reference == reference)).one(), c)
                  for c in ("stage", "route", "open_step_key", "open_step_due", "open_step", "audit_head_seq",
                            "audit_head_mac")}
    assert answers.record_answer(app, reference, "author-appointment-1", GOOD["author-appointment-1"]).accepted
    heads = tmp_path / "heads.json"
    assert main(["audit", "--export-heads", str(heads)], settings=settings, app=lambda _: app) == 0
    assert json.loads(heads.read_text())["heads"][reference]["seq"] == 9
    # Roll the review back to how it stood before that answer: every row as it was then.
    with database(settings) as s:
        rid = review_id(s, reference)
        s.execute(delete(AuditEvent).where(AuditEvent.review_id == rid, AuditEvent.seq == 9))
        s.execute(delete(Decision).where(Decision.review_id == rid, Decision.seq == 7))
        s.execute(update(ReviewRow).where(ReviewRow.id == rid).values(**before))
    assert problems(app) == []  # consistent inside the register: only the copy kept elsewhere can tell
    assert main(["audit", "--verify", "--heads", str(heads)], settings=settings, app=lambda _: app) == 1
    assert capsys.readouterr().out.splitlines()[-2:] == [
        f"{reference}: entries after 8 are missing (the heads file says 9)", "1 review checked: 1 problem found."]


# ---------------------------------------------------------------- the command


def test_lcspr_audit_verify_exits_0_when_intact_and_1_with_the_problem_lines_after_tampering(
        app: App, settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = walk(app, "POL-1"), walk(app, "POL-2")

    def lcspr(*args: str) -> int:
        return main(list(args), settings=settings, app=lambda _: app)

    assert lcspr("audit", first, "--verify") == 0
    out = capsys.readouterr().out
    assert "decision_recorded" in out and out.rstrip().endswith("1 review checked, all intact.")
    assert lcspr("audit", "--verify") == 0
    assert capsys.readouterr().out == "2 reviews checked, all intact.\n"

    with database(settings) as s:
        s.execute(text("UPDATE reviews SET pseudonym = 'Child B' WHERE reference = :ref"), {"ref": second})
    assert lcspr("audit", "--verify") == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{second}: the review row does not match the state its last audit entry (8) recorded (pseudonym)",
        "2 reviews checked: 1 problem found.",
    ]
    assert lcspr("audit", first, "--verify") == 0
    capsys.readouterr()
    assert lcspr("audit", second) == 0  # without --verify it only lists the trail
    assert len(capsys.readouterr().out.splitlines()) == 8
    assert lcspr("audit") == 2
    assert "--verify" in capsys.readouterr().err
    bad = settings.home / "heads.json"
    bad.write_text('{"heads": "none"}')
    assert lcspr("audit", "--verify", "--heads", str(bad)) == 2
    assert "is not a heads file" in capsys.readouterr().err


# ---------------------------------------------------------------- migration


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def test_a_register_written_at_0002_upgrades_and_its_older_entries_are_sealed_once(settings: Settings) -> None:
    app = make_app(settings, TODAY)
    reference = walk(app, "POL-1")
    url = settings.register_url
    # Make it what the code before 0003 wrote: unkeyed sha256 chains, no keyed head, no key file.
    with database(settings) as s:
        prev = ""
        for e in trail(s, reference):
            e.prev_hash = prev
            e.hash = prev = legacy_chain_hash(prev, e.seq, e.at, e.actor, e.event, e.detail)
    cfg = alembic_config()
    with engine_for(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    with engine_for(url).connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
    (settings.home / "audit.key").unlink()

    migrate(url, again=True)
    upgraded = make_app(settings, date(2026, 11, 24))
    assert (settings.home / "audit.key").exists()
    assert [e.event for e in queries.audit_trail(upgraded, reference)] == [*EVENTS, "audit_sealed"]
    report = queries.verify_audit(upgraded)
    assert report.problems == []
    assert report.notes == [f"{reference}: audit entries 1–8 were written before keyed hashes (unkeyed sha256); "
                            "entry 9 sealed them under the audit key on 2026-11-24"]
    # The seal is written once; later entries are keyed and the whole trail keeps verifying.
    again = make_app(settings, date(2026, 11, 25))
    assert answers.record_answer(again, reference, "author-appointment-1", GOOD["author-appointment-1"]).accepted
    assert [e.event for e in queries.audit_trail(again, reference)][-2:] == ["audit_sealed", "decision_recorded"]
    assert queries.verify_audit(again).problems == []
    # An older entry changed now, even with its unkeyed chain recomputed, no longer fits the seal.
    with database(settings) as s:
        entries = trail(s, reference)
        entries[3].detail = {**entries[3].detail, "decided_on": "2026-03-01"}
        prev = entries[2].hash
        for e in entries[3:8]:
            e.prev_hash = prev
            e.hash = prev = legacy_chain_hash(prev, e.seq, e.at, e.actor, e.event, e.detail)
    assert problems(again) == [f"{reference}: one of audit entries 1–8 (written before keyed hashes) was changed: "
                               "entry 9 sealed them with a different hash"]

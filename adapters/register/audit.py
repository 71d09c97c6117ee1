"""The audit trail's seal: keyed hashes over each entry, what it covers, the key file, and the row-level check.

Every audit entry's ``hash`` is an HMAC-SHA256, under a key kept **outside** the register, of the
previous entry's hash and the canonical JSON of: the review's reference; the entry (seq, time,
actor, event, detail); every decision row it bears, as seq, key and a digest of the whole row
(step, payload, accepted, reason, decided_by, asked_of, decided_on); and the review row's state
once the entry's change was made (``STATE_FIELDS``). The review row carries the trail's head: its
newest seq and an HMAC over (reference, seq, that entry's hash). Without the key nobody can
recompute a changed entry, append one, or move the head back over removed ones. A copy of the
heads kept elsewhere (``lcspr audit --export-heads``) also catches a whole review rolled back to an
earlier sealed state.

Entries written before migration 0003 carry the older unkeyed sha256 chain (``review_state`` is
NULL). They are accepted only as a prefix sealed by an ``audit_sealed`` entry, which the register
writes once, when it creates the key file (``unit_of_work.SqlRegister``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from adapters.register.mapping import AuditEvent, Decision, ReviewRow
from models.errors import ConfigurationError
from models.records import AuditCheck, AuditHead, RecordedState, ReviewState

KEY_BYTES = 32
SEALED = "audit_sealed"
REPROJECTED = "review_reprojected"
LOGGED = "decision_logged"
# Events that may change the flow run a review is driven by.
RUN_EVENTS = frozenset({"flow_run_attached", "flow_run_detached"})
# The review row's fields each entry records: who the review is about (never changes after the
# referral), and where it stands (changes only with an audited decision or run link).
IDENTITY_FIELDS = ("pseudonym", "referring_agency", "agency_reference", "referral")
STATE_FIELDS = (*IDENTITY_FIELDS, "stage", "route", "open_step_key", "open_step_due", "closed_on", "flow_run_id")


# ---------------------------------------------------------------------------------------- the key


class AuditKeyFile:
    """The audit key's file: 64 hex digits, owner-only (0600), created on first use, never overwritten."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> bytes | None:
        """The key, or None if the file does not exist; ConfigurationError if it is unusable."""
        try:
            mode = self.path.stat().st_mode
            text = self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"Cannot read the audit key file {self.path}: {exc}.") from None
        if mode & 0o077:
            raise ConfigurationError(f"The audit key file {self.path} may be read by others: `chmod 600 {self.path}`.")
        try:
            key = bytes.fromhex(text.strip())
        except ValueError:
            key = b""
        if len(key) < KEY_BYTES:
            raise ConfigurationError(f"{self.path} does not hold an audit key (64 hexadecimal digits).")
        return key

    def create(self) -> tuple[bytes, bool]:
        """A new key in a new file; or, if another process created the file first, the key in it.
        True when this call created it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(KEY_BYTES)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".audit-key-")  # 0600 from the start
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(key.hex() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, self.path)  # whole or not at all, and never over an existing file
            except FileExistsError:
                existing = self.read()
                if existing is None:
                    raise ConfigurationError(f"The audit key file {self.path} vanished while it was created.") from None
                return existing, False
        finally:
            os.unlink(tmp)
        return key, True


@dataclass(frozen=True)
class AuditKey:
    """The key the register was opened with; ``value`` None when its file is missing over a sealed trail."""

    value: bytes | None
    path: Path

    def require(self) -> bytes:
        if self.value is None:
            raise ConfigurationError(
                f"The audit key file {self.path} is missing, but this register's audit trail was sealed with a "
                "key: restore the file from its backup (set LCSPR_AUDIT_KEY_FILE if it lives elsewhere). "
                "A new key is never made over a sealed trail.")
        return self.value


# ------------------------------------------------------------------------------------- the hashes


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _stamp(at: datetime) -> str:
    # Timestamps are hashed as stored; SQLite returns them naive, so drop tzinfo for a stable form.
    # PostgreSQL returns them in the session's time zone, so bring an aware one back to UTC first.
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.replace(tzinfo=None).isoformat(timespec="microseconds")


def legacy_chain_hash(prev: str, seq: int, at: datetime, actor: str, event_name: str, detail: Any) -> str:
    """The unkeyed sha256 chain of entries written before migration 0003."""
    body = canonical({"seq": seq, "at": _stamp(at), "actor": actor, "event": event_name, "detail": detail})
    return hashlib.sha256((prev + body).encode()).hexdigest()


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def entry_hash(key: bytes, reference: str, e: AuditEvent) -> str:
    body = canonical({"review": reference, "seq": e.seq, "at": _stamp(e.at), "actor": e.actor, "event": e.event,
                      "detail": e.detail, "decisions": e.decisions, "state": e.review_state})
    return _mac(key, e.prev_hash + body)


def head_mac(key: bytes, reference: str, seq: int, entry_hash: str) -> str:
    return _mac(key, canonical({"head": reference, "seq": seq, "hash": entry_hash}))


def decision_digest(d: Decision) -> dict[str, Any]:
    """What an entry keeps of a decision it bears: its seq and key, and a digest of the whole row."""
    row = {"seq": d.seq, "key": d.key, "step": d.step, "payload": d.payload, "accepted": d.accepted,
           "reason": d.reason, "decided_by": d.decided_by, "asked_of": d.asked_of,
           "decided_on": d.decided_on.isoformat() if d.decided_on else None}
    return {"seq": d.seq, "key": d.key, "digest": hashlib.sha256(canonical(row).encode()).hexdigest()}


def row_state(row: ReviewRow) -> dict[str, Any]:
    """The review row's fields an entry records (the referral as a digest of its JSON)."""
    return {
        "pseudonym": row.pseudonym, "referring_agency": row.referring_agency,
        "agency_reference": row.agency_reference,
        "referral": hashlib.sha256(canonical(row.referral).encode()).hexdigest(),
        "stage": row.stage, "route": row.route, "open_step_key": row.open_step_key,
        "open_step_due": row.open_step_due.isoformat() if row.open_step_due else None,
        "closed_on": row.closed_on.isoformat() if row.closed_on else None,
        "flow_run_id": row.flow_run_id,
    }


def seal_entries(key: bytes, row: ReviewRow, prev: str, entries: Sequence[AuditEvent],
                 decisions: Sequence[Decision]) -> None:
    """Chain and seal a review's new entries (the first bears ``decisions``) over the row as it is
    now, and move the row's keyed head to the last of them."""
    state = row_state(row)
    for i, e in enumerate(entries):
        e.prev_hash = prev
        e.decisions = [decision_digest(d) for d in decisions] if i == 0 else []
        e.review_state = state
        e.hash = prev = entry_hash(key, row.reference, e)
    row.audit_head_seq = entries[-1].seq
    row.audit_head_mac = head_mac(key, row.reference, entries[-1].seq, prev)


# -------------------------------------------------------------------------------------- the check


def _name(e: AuditEvent) -> str:
    return f"audit entry {e.seq} ({e.event})"


def _first(found: list[tuple[int, str]]) -> list[str]:
    """The problem about the earliest entry (or decision), if any: later ones may only be its echo."""
    return [min(found, key=lambda p: p[0])[1]] if found else []


def _state(recorded: Mapping[str, Any]) -> ReviewState:
    closed = recorded.get("closed_on")
    return ReviewState(str(recorded.get("stage")), recorded.get("route"), recorded.get("open_step_key"),
                       date.fromisoformat(closed) if isinstance(closed, str) else None)


def check_trail(key: bytes, row: ReviewRow, events: Sequence[AuditEvent], decisions: Sequence[Decision],
                expected: AuditHead | None = None) -> AuditCheck:
    """Check one review's entries, head, decisions and row against each other (no replay: see
    ``services.queries.verify_audit``)."""
    ref = row.reference
    chain: list[tuple[int, str]] = []
    notes: list[str] = []
    legacy: list[AuditEvent] = []
    keyed: list[AuditEvent] = []
    forged = 0
    prev: AuditEvent | None = None
    expected_seq = 1
    for e in events:
        if e.seq > expected_seq:
            gap = (f"audit entry {expected_seq} is" if e.seq == expected_seq + 1
                   else f"audit entries {expected_seq}–{e.seq - 1} are")
            chain.append((expected_seq, f"{gap} missing (removed)"))
        elif e.seq < expected_seq:
            chain.append((e.seq, f"{_name(e)} was inserted (out of sequence)"))
        expected_seq = e.seq + 1
        before = prev.hash if prev else ""
        if e.review_state is None:
            if keyed:
                chain.append((e.seq, f"{_name(e)} was changed or inserted (it has no keyed hash)"))
            else:
                legacy.append(e)
                if e.prev_hash != before or e.hash != legacy_chain_hash(e.prev_hash, e.seq, e.at, e.actor, e.event,
                                                                       e.detail):
                    chain.append((e.seq, f"{_name(e)} was changed (it breaks the unkeyed chain of the entries "
                                         "written before keyed hashes)"))
        else:
            first_keyed = not keyed
            keyed.append(e)
            if not hmac.compare_digest(entry_hash(key, ref, e), e.hash):
                forged += 1
                chain.append((e.seq, f"{_name(e)} was changed or inserted"))
            elif e.prev_hash != before:
                # This entry is genuine, so the one before it is not the one it was sealed after.
                if prev is None:
                    chain.append((e.seq, f"the entries before {_name(e)} were removed"))
                elif prev.review_state is None:
                    chain.append((1, f"one of audit entries 1–{prev.seq} (written before keyed hashes) was changed: "
                                     f"entry {e.seq} sealed them with a different hash"))
                else:
                    chain.append((prev.seq, f"{_name(prev)} was changed or replaced"))
            if first_keyed and legacy:
                if e.event == SEALED and e.detail.get("legacy_entries") == len(legacy):
                    notes.append(f"audit entries 1–{len(legacy)} were written before keyed hashes (unkeyed sha256); "
                                 f"entry {e.seq} sealed them under the audit key on {e.at.date().isoformat()}")
                else:
                    chain.append((legacy[0].seq, f"audit entries {legacy[0].seq}–{legacy[-1].seq} have no keyed "
                                                 "hash and were never sealed"))
        prev = e

    if keyed:
        last = events[-1]
        head = row.audit_head_seq
        if head is None or row.audit_head_mac is None:
            chain.append((last.seq, "the trail's keyed head was removed from the review row"))
        elif last.seq < head:
            chain.append((last.seq + 1, f"entries after {last.seq} are missing (the head says {head})"))
        else:
            at_head = next((e for e in events if e.seq == head), None)
            if at_head is None or not hmac.compare_digest(head_mac(key, ref, head, at_head.hash), row.audit_head_mac):
                chain.append((head, f"the trail's head was changed (it carries no valid keyed seal for entry {head})"))
                forged += 1
            elif last.seq > head:
                after = next(e for e in events if e.seq > head)
                chain.append((after.seq, f"{_name(after)} was inserted after the head (the head says {head})"))
        if forged == len(keyed) + 1:
            chain = [(0, f"none of its {len(keyed)} keyed audit entries ({keyed[0].seq}–{keyed[-1].seq}) verifies "
                         "under this audit key: the key file is not the one they were sealed with, or every entry "
                         "was rewritten")]
    elif events:
        chain.append((events[0].seq, f"its {len(events)} audit entries have no keyed hash: written before keyed "
                                     "hashes and never sealed, or stripped of their seal"))
    elif row.audit_head_seq:
        chain.append((1, f"entries after 0 are missing (the head says {row.audit_head_seq})"))
    else:
        chain.append((1, "it has no audit entries"))

    if expected is not None:
        match = next((e for e in events if e.seq == expected.seq), None)
        if match is None:
            newest = events[-1].seq if events else 0
            chain.append((newest + 1, f"entries after {newest} are missing (the heads file says {expected.seq})"))
        elif match.hash != expected.hash:
            chain.append((match.seq, f"{_name(match)} differs from the heads file (the trail was rewritten or "
                                     "rolled back from there)"))

    problems = _first(chain)
    if not keyed:
        return AuditCheck(ref, len(events), tuple(problems), tuple(notes))

    # Every decision row is borne by an entry and matches it; every entry's decision is there.
    bound: dict[str, tuple[int, int, str]] = {}
    for e in keyed:
        for b in e.decisions or []:
            if isinstance(b, Mapping):
                bound[str(b.get("key"))] = (e.seq, int(b.get("seq") or 0), str(b.get("digest")))
    mismatched: list[tuple[int, str]] = []
    for d in decisions:
        label = f"decision {d.seq} (key {d.key})"
        found = bound.pop(d.key, None)
        if found is None:
            mismatched.append((d.seq, f"{label} has no audit entry (inserted without one)"))
        elif decision_digest(d)["digest"] != found[2]:
            mismatched.append((d.seq, f"{label} does not match its audit entry {found[0]}"))
    for k, (entry, seq, _) in bound.items():
        mismatched.append((seq, f"decision {seq} (key {k}) of audit entry {entry} is missing (removed)"))
    problems += _first(mismatched)

    # What each entry recorded of the row: the same child and referral throughout, the run changed
    # only by attaching or letting go of one; and the row as the last entry left it.
    drift: list[tuple[int, str]] = []
    first_state = keyed[0].review_state or {}
    for before_e, e in pairwise(keyed):
        now, then = e.review_state or {}, before_e.review_state or {}
        changed = [f for f in IDENTITY_FIELDS if now.get(f) != first_state.get(f)]
        if changed:
            drift.append((e.seq, f"{_name(e)} recorded another {', '.join(changed)} than the trail began with: "
                                 "the review row was changed before it"))
        if now.get("flow_run_id") != then.get("flow_run_id") and e.event not in RUN_EVENTS:
            drift.append((e.seq, f"{_name(e)} recorded another flow run than entry {before_e.seq} without one "
                                 "being attached: the review row was changed before it"))
    problems += _first(drift)
    current, recorded = row_state(row), keyed[-1].review_state or {}
    differ = [f for f in STATE_FIELDS if current.get(f) != recorded.get(f)]
    if differ:
        problems.append(f"the review row does not match the state its last audit entry ({keyed[-1].seq}) recorded "
                        f"({', '.join(differ)})")

    states = tuple(
        RecordedState(e.seq, str(max(e.decisions, key=lambda b: int(b.get("seq") or 0)).get("key")),
                      _state(e.review_state or {}))
        for e in keyed if e.decisions and all(isinstance(b, Mapping) for b in e.decisions))
    return AuditCheck(ref, len(events), tuple(problems), tuple(notes), states,
                      ReviewState(row.stage, row.route, row.open_step_key, row.closed_on))

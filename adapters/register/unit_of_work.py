"""The unit of work on the register: one session and transaction, committed only by ``commit()``."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from adapters.register.audit import AuditKey, AuditKeyFile
from adapters.register.database import engine_for, migrate
from adapters.register.delegations import SqlDelegations
from adapters.register.mapping import ReviewRow
from adapters.register.meetings import SqlMeetings
from adapters.register.outbox import SqlOutbox
from adapters.register.quality import SqlQualityAssessments
from adapters.register.reviews import SqlReviews
from adapters.register.themes import SqlThemeAssignments
from models.errors import Conflict


class SqlUnitOfWork:
    """``with uow: ...; uow.commit()``; leaving the block without committing rolls back.

    ``commit()`` seals the audit entries the unit of work added (``SqlReviews.seal``) first."""

    def __init__(self, sessions: sessionmaker[Session], key: AuditKey) -> None:
        self._sessions = sessions
        self._key = key

    def __enter__(self) -> SqlUnitOfWork:
        self._session = self._sessions()
        self._session.begin()
        self.reviews = SqlReviews(self._session, self._key)
        self.outbox = SqlOutbox(self._session)
        self.delegations = SqlDelegations(self._session)
        self.meetings = SqlMeetings(self._session)
        self.quality = SqlQualityAssessments(self._session)
        self.themes = SqlThemeAssignments(self._session)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._session.in_transaction():
                self._session.rollback()
        finally:
            self._session.close()

    def commit(self) -> None:
        try:
            self.reviews.seal()
            self._session.commit()
        except IntegrityError:
            self._session.rollback()
            raise Conflict("Another caller wrote the same record at the same moment; theirs stands.") from None


class SqlRegister:
    """The register at one database URL: migrated once, handing out units of work.

    ``audit_key`` is the key file of the audit trail (kept outside the register). If it does not
    exist yet and no review's trail was sealed with a key, a new key is made and every trail
    written before keyed hashes is sealed under it at ``now``, once. If it is missing over a sealed
    trail, reads work and every write refuses until the file is restored.
    """

    def __init__(self, url: str, *, audit_key: AuditKeyFile, now: datetime) -> None:
        self.url = url
        migrate(url)
        self._sessions = sessionmaker(engine_for(url), expire_on_commit=False)
        self.audit_key = self._open_key(audit_key, now)

    def _open_key(self, keyfile: AuditKeyFile, now: datetime) -> AuditKey:
        value = keyfile.read()
        if value is not None:
            return AuditKey(value, keyfile.path)
        with self._sessions() as s:
            sealed = s.scalar(select(ReviewRow.id).where(ReviewRow.audit_head_mac.is_not(None)).limit(1))
        if sealed is not None:
            return AuditKey(None, keyfile.path)
        value, created = keyfile.create()
        key = AuditKey(value, keyfile.path)
        if created:
            with SqlUnitOfWork(self._sessions, key) as uow:
                uow.reviews.seal_legacy(now)
                uow.commit()
        return key

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions, self.audit_key)

"""The unit of work on the register: one session and transaction, committed only by ``commit()``."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from adapters.register.database import engine_for, migrate
from adapters.register.outbox import SqlOutbox
from adapters.register.reviews import SqlReviews
from models.errors import Conflict


class SqlUnitOfWork:
    """``with uow: ...; uow.commit()``; leaving the block without committing rolls back."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __enter__(self) -> SqlUnitOfWork:
        self._session = self._sessions()
        self._session.begin()
        self.reviews = SqlReviews(self._session)
        self.outbox = SqlOutbox(self._session)
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
            self._session.commit()
        except IntegrityError:
            self._session.rollback()
            raise Conflict("Another caller wrote the same record at the same moment; theirs stands.") from None


class SqlRegister:
    """The register at one database URL: migrated once, handing out units of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        migrate(url)
        self._sessions = sessionmaker(engine_for(url), expire_on_commit=False)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions)

"""The people repository: users, teams, API tokens and failed logins in the database.

It stores and reads; the rules (what a valid name is, hashing, throttling) are
:mod:`carepath.service.people`'s.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, delete, select, update
from sqlalchemy.orm import Session

from carepath.adapters.db import models as m
from carepath.adapters.db.cases import transaction
from carepath.core.errors import ConflictError, NotFoundError
from carepath.service.types import User


def _split(text: str) -> frozenset[str]:
    return frozenset(part for part in text.split(",") if part)


class SqlPeopleRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _session(self) -> AbstractContextManager[Session]:
        return transaction(self.engine)

    @staticmethod
    def _teams_of(session: Session, names: list[str]) -> dict[str, set[str]]:
        teams: dict[str, set[str]] = {name: set() for name in names}
        if names:
            for user_name, team in session.execute(
                    select(m.UserTeamRow.user_name, m.UserTeamRow.team_name)
                    .where(m.UserTeamRow.user_name.in_(names))):
                teams[user_name].add(team)
        return teams

    def _user(self, session: Session, row: m.UserRow) -> User:
        teams = self._teams_of(session, [row.name])[row.name]
        return User(row.name, row.display_name, _split(row.roles), frozenset(teams), row.active)

    @staticmethod
    def _set_teams(session: Session, name: str, teams: frozenset[str]) -> None:
        known = set(session.scalars(select(m.TeamRow.name).where(m.TeamRow.name.in_(teams))))
        for team in sorted(teams - known):
            session.add(m.TeamRow(name=team))
        session.execute(delete(m.UserTeamRow).where(m.UserTeamRow.user_name == name))
        session.flush()
        for team in sorted(teams):
            session.add(m.UserTeamRow(user_name=name, team_name=team))

    # -- users -----------------------------------------------------------------------------

    def add_user(self, user: User, password_hash: str) -> User:
        with self._session() as session:
            if session.get(m.UserRow, user.name) is not None:
                raise ConflictError(f"There is already a user {user.name!r}")
            session.add(m.UserRow(name=user.name, display_name=user.display_name,
                                  password_hash=password_hash,
                                  roles=",".join(sorted(user.roles)), active=user.active,
                                  created_at=m.utcnow()))
            session.flush()
            self._set_teams(session, user.name, user.teams)
        return user

    def users(self) -> list[User]:
        with self._session() as session:
            rows = list(session.scalars(select(m.UserRow).order_by(m.UserRow.name)))
            teams = self._teams_of(session, [r.name for r in rows])
            return [User(r.name, r.display_name, _split(r.roles), frozenset(teams[r.name]),
                         r.active) for r in rows]

    def user(self, name: str) -> User | None:
        with self._session() as session:
            row = session.get(m.UserRow, name)
            return self._user(session, row) if row is not None else None

    def password_hash(self, name: str) -> str | None:
        with self._session() as session:
            found: str | None = session.scalar(
                select(m.UserRow.password_hash).where(m.UserRow.name == name))
            return found

    def teams(self) -> list[str]:
        with self._session() as session:
            return list(session.scalars(select(m.TeamRow.name).order_by(m.TeamRow.name)))

    def update_user(self, name: str, *, roles: frozenset[str] | None = None,
                    teams: frozenset[str] | None = None, active: bool | None = None,
                    password_hash: str | None = None) -> User:
        with self._session() as session:
            row = session.get(m.UserRow, name)
            if row is None:
                raise NotFoundError(f"There is no user {name!r}")
            if roles is not None:
                row.roles = ",".join(sorted(roles))
            if active is not None:
                row.active = active
            if password_hash is not None:
                row.password_hash = password_hash
            if teams is not None:
                self._set_teams(session, name, teams)
            session.flush()
            return self._user(session, row)

    # -- failed logins ---------------------------------------------------------------------

    def add_failure(self, name: str, source: str, at: datetime, forget_before: datetime
                    ) -> None:
        with self._session() as session:
            session.execute(delete(m.LoginFailureRow)
                            .where(m.LoginFailureRow.at < forget_before))
            session.add(m.LoginFailureRow(name=name, source=source, at=at))

    def failures(self, name: str, source: str, since: datetime
                 ) -> tuple[list[datetime], list[datetime]]:
        f = m.LoginFailureRow
        with self._session() as session:
            by_name = list(session.scalars(select(f.at).where(f.name == name, f.at >= since)))
            by_source = list(session.scalars(select(f.at).where(f.source == source,
                                                                 f.at >= since)))
            return by_name, by_source

    def clear_failures(self, name: str) -> None:
        with self._session() as session:
            session.execute(delete(m.LoginFailureRow).where(m.LoginFailureRow.name == name))

    # -- API tokens ------------------------------------------------------------------------

    def add_token(self, name: str, token_hash: str, at: datetime) -> None:
        with self._session() as session:
            session.add(m.ApiTokenRow(user_name=name, token_hash=token_hash, created_at=at))

    def user_for_token(self, token_hash: str) -> User | None:
        t = m.ApiTokenRow
        with self._session() as session:
            row = session.scalars(
                select(m.UserRow).join(t, t.user_name == m.UserRow.name)
                .where(t.token_hash == token_hash, t.revoked_at.is_(None))).one_or_none()
            return self._user(session, row) if row is not None else None

    def revoke_tokens(self, name: str, at: datetime) -> int:
        t = m.ApiTokenRow
        with self._session() as session:
            result = cast(CursorResult[Any], session.execute(
                update(t).where(t.user_name == name, t.revoked_at.is_(None))
                .values(revoked_at=at)))
            return int(result.rowcount)

"""People: users, their roles and teams, logins and API tokens.

Passwords are kept only as argon2 hashes; API tokens only as SHA-256 hashes (a token is shown
once, when it is made). A login is refused with one message whatever the reason (unknown name,
wrong password, disabled user). After :data:`MAX_FAILURES` failed logins for one name, or from
one place, within :data:`WINDOW`, logins for that name or from that place are refused even with
the right password until the window has passed. The failures are kept in the database, so every
worker process of the web app counts the same ones; the place (the client's address) is kept
only as a hash and is never logged.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from carepath.core.errors import AuthenticationError, LoginThrottledError, NotFoundError
from carepath.engine.time.clock import current_clock
from carepath.forms.validation import FieldError, FormErrors
from carepath.service.ports import PeopleRepository
from carepath.service.types import ROLES, User

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
NAME = re.compile(r"[a-z][a-z0-9._-]{1,63}")
TEAM = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")
REFUSED = "The name or password is not right"
BAD_TOKEN = "This API token is not valid (unknown, revoked, or its user is disabled)"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _source_key(source: str) -> str:
    return hashlib.sha256(("login-source:" + source).encode("utf-8")).hexdigest()


def check_name(name: str, field: str = "name") -> str:
    if not NAME.fullmatch(name or ""):
        raise FormErrors([FieldError(field, (
            "Enter a login name of 2 to 64 characters: lowercase letters, digits, '.', '_' "
            "or '-', starting with a letter (like sam.worker)"))])
    return name


def check_roles(roles: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(r.strip() for r in roles)
    unknown = sorted(chosen - set(ROLES))
    if unknown:
        raise FormErrors([FieldError("roles", (
            f"There is no role {', '.join(repr(r) for r in unknown)}: the roles are "
            f"{', '.join(ROLES)}"))])
    if not chosen:
        raise FormErrors([FieldError("roles", f"Choose at least one role: {', '.join(ROLES)}")])
    return chosen


def check_teams(teams: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(t.strip() for t in teams)
    bad = sorted(t for t in chosen if not TEAM.fullmatch(t))
    if bad:
        raise FormErrors([FieldError("teams", (
            f"{bad[0]!r} is not a team name: use 1 to 64 letters, digits, spaces, '.', '_' or "
            "'-', starting with a letter or digit"))])
    return chosen


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise FormErrors([FieldError("password", (
            f"Enter a password of at least {MIN_PASSWORD} characters"))])
    if len(password) > MAX_PASSWORD:
        raise FormErrors([FieldError("password", (
            f"Enter a password of at most {MAX_PASSWORD} characters"))])
    return password


class PeopleService:
    def __init__(self, people: PeopleRepository, hasher: PasswordHasher | None = None) -> None:
        self.people = people
        self.hasher = hasher if hasher is not None else PasswordHasher()
        self._dummy: str | None = None

    # -- users -----------------------------------------------------------------------------

    def add_user(self, name: str, display_name: str, password: str, roles: Iterable[str],
                 teams: Iterable[str] = ()) -> User:
        name = check_name((name or "").strip())
        display = " ".join((display_name or "").split())
        if not display or len(display) > 100:
            raise FormErrors([FieldError("display_name",
                                         "Enter the person's name (at most 100 characters)")])
        user = User(name, display, check_roles(roles), check_teams(teams), True)
        digest = self.hasher.hash(check_password(password))
        return self.people.add_user(user, digest)

    def users(self) -> list[User]:
        return self.people.users()

    def user(self, name: str) -> User:
        found = self.people.user(name)
        if found is None:
            raise NotFoundError(f"There is no user {name!r}")
        return found

    def teams(self) -> list[str]:
        return self.people.teams()

    def set_roles(self, name: str, roles: Iterable[str]) -> User:
        return self.people.update_user(name, roles=check_roles(roles))

    def set_teams(self, name: str, teams: Iterable[str]) -> User:
        return self.people.update_user(name, teams=check_teams(teams))

    def disable(self, name: str) -> User:
        """The user can no longer log in, and their API tokens stop working."""
        return self.people.update_user(name, active=False)

    def set_password(self, name: str, password: str) -> User:
        return self.people.update_user(name,
                                       password_hash=self.hasher.hash(check_password(password)))

    # -- logging in ------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, source: str) -> User:
        """The user, if ``password`` is theirs and they are active. ``source`` (the client's
        address) counts failures from one place; it is kept only hashed and never logged."""
        now = current_clock().now()
        login = (name or "").strip().lower()[:64]
        place = _source_key(source or "")
        by_name, by_place = self.people.failures(login, place, now - WINDOW)
        waits = [self._wait(times, now) for times in (by_name, by_place)
                 if len(times) >= MAX_FAILURES]
        if waits:
            retry = max(waits)
            minutes = max(1, math.ceil(retry / 60))
            raise LoginThrottledError(
                f"Too many failed logins: try again in {minutes} minute"
                f"{'s' if minutes != 1 else ''}", retry)
        stored = self.people.password_hash(login) if NAME.fullmatch(login) else None
        user = self.people.user(login) if stored is not None else None
        if not self._verify(stored, password or "") or user is None or not user.active:
            self.people.add_failure(login, place, now, now - WINDOW)
            raise AuthenticationError(REFUSED)
        if stored is not None and self.hasher.check_needs_rehash(stored):
            self.people.update_user(login, password_hash=self.hasher.hash(password))
        self.people.clear_failures(login)
        return user

    @staticmethod
    def _wait(times: list[datetime], now: datetime) -> int:
        """Seconds until fewer than MAX_FAILURES of ``times`` are within the window."""
        newest_first = sorted(times, reverse=True)
        frees_at = newest_first[MAX_FAILURES - 1] + WINDOW
        return max(1, math.ceil((frees_at - now).total_seconds()))

    def _verify(self, stored: str | None, password: str) -> bool:
        if stored is None:
            # the same work as for a real user: the time taken tells nothing
            if self._dummy is None:
                self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
            stored, password = self._dummy, password + "\x00"
        try:
            return self.hasher.verify(stored, password) and stored != self._dummy
        except (VerificationError, InvalidHashError):
            return False

    # -- API tokens ------------------------------------------------------------------------

    def create_token(self, name: str) -> str:
        """A new API token for the user: returned once, kept only as a hash."""
        user = self.user(name)
        if not user.active:
            raise AuthenticationError(f"The user {name!r} is disabled: no token was made")
        token = secrets.token_urlsafe(32)
        self.people.add_token(user.name, token_hash(token), current_clock().now())
        return token

    def user_for_token(self, token: str) -> User:
        user = self.people.user_for_token(token_hash(token or ""))
        if user is None or not user.active:
            raise AuthenticationError(BAD_TOKEN)
        return user

    def revoke_tokens(self, name: str) -> int:
        """Revoke every token of the user; how many were revoked."""
        self.user(name)
        return self.people.revoke_tokens(name, current_clock().now())

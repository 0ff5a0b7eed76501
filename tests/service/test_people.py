"""People: users, roles and teams, logins (throttled in the database), API tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select

from carepath.adapters.db import models as m
from carepath.adapters.db.people import SqlPeopleRepository
from carepath.core.errors import (
    AuthenticationError,
    ConflictError,
    LoginThrottledError,
    NotFoundError,
)
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.forms.validation import FormErrors
from carepath.service.people import REFUSED, PeopleService
from carepath.service.types import ROLES, Actor, User

START = datetime(2025, 5, 1, 9, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture
def clock() -> Iterator[FixedClock]:
    fixed = FixedClock(START)
    with use_clock(fixed):
        yield fixed


@pytest.fixture
def people(db: Engine, clock: FixedClock) -> PeopleService:
    # a cheap hasher: the tests hash many passwords
    return PeopleService(SqlPeopleRepository(db),
                         PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def add_sam(people: PeopleService) -> User:
    return people.add_user("sam.worker", "Sam Worker", PASSWORD, ["social_worker"], ["north"])


def test_a_user_is_added_with_roles_and_teams(people: PeopleService, db: Engine) -> None:
    sam = add_sam(people)
    assert sam == User("sam.worker", "Sam Worker", frozenset({"social_worker"}),
                       frozenset({"north"}), True)
    assert people.user("sam.worker") == sam
    assert people.users() == [sam]
    assert people.teams() == ["north"]
    assert sam.as_json() == {"name": "sam.worker", "display_name": "Sam Worker",
                             "roles": ["social_worker"], "teams": ["north"], "active": True}
    actor = sam.actor()
    assert actor == Actor("sam.worker", frozenset({"social_worker"}), teams=frozenset({"north"}))
    assert not actor.trusted and not actor.manages and not actor.administers
    with db.connect() as conn:
        stored = conn.execute(select(m.UserRow.password_hash)).scalar_one()
    assert stored.startswith("$argon2") and PASSWORD not in stored


def test_roles_and_actor_properties() -> None:
    assert ROLES == ("social_worker", "team_manager", "conference_chair", "administrator")
    admin = Actor("ada", frozenset({"administrator"}))
    assert admin.administers and not admin.manages
    assert Actor.operator("root").administers
    assert Actor.operator("root").teams == frozenset()


@pytest.mark.parametrize(("name", "display", "password", "roles", "teams", "field"), [
    ("Sam", "Sam", PASSWORD, ["social_worker"], [], "name"),
    ("s", "Sam", PASSWORD, ["social_worker"], [], "name"),
    ("sam worker", "Sam", PASSWORD, ["social_worker"], [], "name"),
    ("sam", "  ", PASSWORD, ["social_worker"], [], "display_name"),
    ("sam", "Sam", "short", ["social_worker"], [], "password"),
    ("sam", "Sam", PASSWORD, ["wizard"], [], "roles"),
    ("sam", "Sam", PASSWORD, [], [], "roles"),
    ("sam", "Sam", PASSWORD, ["social_worker"], ["no,commas"], "teams"),
])
def test_bad_user_details_are_refused_and_nothing_is_saved(
        people: PeopleService, name: str, display: str, password: str, roles: list[str],
        teams: list[str], field: str) -> None:
    with pytest.raises(FormErrors) as refused:
        people.add_user(name, display, password, roles, teams)
    assert refused.value.errors[0].field == field
    assert people.users() == []


def test_a_taken_name_is_a_conflict(people: PeopleService) -> None:
    add_sam(people)
    with pytest.raises(ConflictError, match="already a user 'sam.worker'"):
        people.add_user("sam.worker", "Another Sam", PASSWORD, ["team_manager"])


def test_roles_teams_and_password_change(people: PeopleService) -> None:
    add_sam(people)
    assert people.set_roles("sam.worker", ["team_manager", "social_worker"]).roles == {
        "team_manager", "social_worker"}
    assert people.set_teams("sam.worker", ["south", "east"]).teams == {"south", "east"}
    assert people.teams() == ["east", "north", "south"]
    assert people.set_teams("sam.worker", []).teams == frozenset()
    people.set_password("sam.worker", "a new password")
    with pytest.raises(AuthenticationError):
        people.authenticate("sam.worker", PASSWORD, "10.0.0.1")
    assert people.authenticate("sam.worker", "a new password", "10.0.0.1").name == "sam.worker"
    with pytest.raises(NotFoundError, match="no user 'nobody'"):
        people.set_roles("nobody", ["social_worker"])
    with pytest.raises(NotFoundError):
        people.user("nobody")
    with pytest.raises(FormErrors):
        people.set_password("sam.worker", "short")


def test_login_refuses_with_one_message_whatever_the_reason(people: PeopleService) -> None:
    add_sam(people)
    assert people.authenticate("sam.worker", PASSWORD, "10.0.0.1").name == "sam.worker"
    assert people.authenticate(" Sam.Worker ", PASSWORD, "10.0.0.1").name == "sam.worker"
    messages: set[str] = set()
    for name, password in (("nobody", PASSWORD), ("sam.worker", "wrong password"),
                           ("", ""), ("x" * 500, PASSWORD)):
        with pytest.raises(AuthenticationError) as refused:
            people.authenticate(name, password, f"10.0.0.{len(messages) + 2}")
        messages.add(str(refused.value))
    people.disable("sam.worker")
    with pytest.raises(AuthenticationError) as refused:
        people.authenticate("sam.worker", PASSWORD, "10.0.0.9")
    messages.add(str(refused.value))
    assert messages == {REFUSED}
    assert people.user("sam.worker").active is False


def test_five_failures_for_a_name_lock_it_for_fifteen_minutes(
        people: PeopleService, clock: FixedClock) -> None:
    add_sam(people)
    for n in range(5):
        with pytest.raises(AuthenticationError) as refused:
            people.authenticate("sam.worker", "wrong password", f"10.0.1.{n}")
        assert not isinstance(refused.value, LoginThrottledError)
        clock.set(clock.now() + timedelta(minutes=1))
    # now even the right password is refused, from anywhere
    with pytest.raises(LoginThrottledError) as throttled:
        people.authenticate("sam.worker", PASSWORD, "10.9.9.9")
    # the first failure (at START) leaves the window at START + 15 minutes
    assert throttled.value.retry_after == int((START + timedelta(minutes=15)
                                               - clock.now()).total_seconds())
    assert "try again in 10 minutes" in str(throttled.value)
    # another person is not locked
    people.add_user("ola.worker", "Ola Worker", PASSWORD, ["social_worker"], ["south"])
    assert people.authenticate("ola.worker", PASSWORD, "10.9.9.8").name == "ola.worker"
    clock.set(START + timedelta(minutes=15, seconds=1))
    assert people.authenticate("sam.worker", PASSWORD, "10.9.9.9").name == "sam.worker"
    # a good login clears the name's failures
    with pytest.raises(AuthenticationError) as again:
        people.authenticate("sam.worker", "wrong password", "10.9.9.9")
    assert not isinstance(again.value, LoginThrottledError)


def test_five_failures_from_one_place_lock_that_place(
        people: PeopleService, clock: FixedClock) -> None:
    add_sam(people)
    for n in range(5):
        with pytest.raises(AuthenticationError):
            people.authenticate(f"guess{n}", "wrong password", "192.0.2.7")
    with pytest.raises(LoginThrottledError) as throttled:
        people.authenticate("sam.worker", PASSWORD, "192.0.2.7")
    assert 0 < throttled.value.retry_after <= 15 * 60
    assert people.authenticate("sam.worker", PASSWORD, "192.0.2.8").name == "sam.worker"
    clock.set(START + timedelta(minutes=16))
    assert people.authenticate("sam.worker", PASSWORD, "192.0.2.7").name == "sam.worker"


def test_failures_are_shared_by_every_process_and_the_place_is_kept_hashed(
        people: PeopleService, db: Engine) -> None:
    add_sam(people)
    other = PeopleService(SqlPeopleRepository(db),
                          PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    for service in (people, other, people, other, people):
        with pytest.raises(AuthenticationError):
            service.authenticate("sam.worker", "wrong password", "203.0.113.5")
    with pytest.raises(LoginThrottledError):
        other.authenticate("sam.worker", PASSWORD, "203.0.113.6")
    with db.connect() as conn:
        sources = set(conn.execute(select(m.LoginFailureRow.source)).scalars())
    assert sources and all("203.0.113" not in s and len(s) == 64 for s in sources)


def test_tokens_are_shown_once_kept_hashed_and_revoked(people: PeopleService,
                                                       db: Engine) -> None:
    add_sam(people)
    token = people.create_token("sam.worker")
    assert len(token) >= 40
    assert people.user_for_token(token).name == "sam.worker"
    with db.connect() as conn:
        stored = conn.execute(select(m.ApiTokenRow.token_hash)).scalar_one()
    assert token not in stored and len(stored) == 64
    second = people.create_token("sam.worker")
    assert second != token
    with pytest.raises(AuthenticationError):
        people.user_for_token("not a token")
    with pytest.raises(AuthenticationError):
        people.user_for_token("")
    assert people.revoke_tokens("sam.worker") == 2
    assert people.revoke_tokens("sam.worker") == 0
    with pytest.raises(AuthenticationError):
        people.user_for_token(token)
    with pytest.raises(NotFoundError):
        people.create_token("nobody")
    with pytest.raises(NotFoundError):
        people.revoke_tokens("nobody")


def test_a_disabled_users_tokens_stop_working(people: PeopleService) -> None:
    add_sam(people)
    token = people.create_token("sam.worker")
    people.disable("sam.worker")
    with pytest.raises(AuthenticationError):
        people.user_for_token(token)
    with pytest.raises(AuthenticationError, match="disabled"):
        people.create_token("sam.worker")

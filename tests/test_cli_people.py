"""``carepath user …``, ``token …``, ``case restrict|unrestrict|grant`` and the demo's people."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from carepath.adapters.app import open_services
from carepath.cli import main
from carepath.core.errors import AuthenticationError, LoginThrottledError
from carepath.service.types import Actor, InboxQuery

PASSWORD = "a long password"


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'people.db'}"
    assert CliRunner().invoke(main, ["init", "--db", url]).exit_code == 0
    return url


def run(url: str, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--db", url], input=stdin)
    return result.exit_code, result.output


def add_sam(url: str) -> None:
    code, output = run(url, "user", "add", "sam.worker", "--name", "Sam Worker", "--role",
                       "social_worker", "--team", "north", "--password-stdin",
                       stdin=PASSWORD + "\n")
    assert code == 0, output
    assert "Added sam.worker: social_worker; north" in output


def test_users_are_added_listed_and_changed(url: str) -> None:
    add_sam(url)
    code, output = run(url, "user", "add", "tess.manager", "--name", "Tess Manager", "--role",
                       "team_manager", "--role", "social_worker", "--team", "north",
                       stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 0, output
    code, output = run(url, "user", "list", "--json")
    assert code == 0
    listed = json.loads(output)
    assert [u["name"] for u in listed] == ["sam.worker", "tess.manager"]
    assert listed[1]["roles"] == ["social_worker", "team_manager"]
    code, output = run(url, "user", "list")
    assert "Tess Manager" in output
    assert run(url, "user", "set-role", "sam.worker", "conference_chair")[0] == 0
    code, output = run(url, "user", "set-team", "sam.worker", "north", "south")
    assert code == 0 and "conference_chair; north, south" in output
    code, output = run(url, "user", "set-password", "sam.worker", "--password-stdin",
                       stdin="another long one\n")
    assert code == 0, output
    people = open_services(url).people
    assert people.authenticate("sam.worker", "another long one", "test").name == "sam.worker"
    code, output = run(url, "user", "disable", "sam.worker")
    assert code == 0 and "(disabled)" in output
    with pytest.raises(AuthenticationError):
        people.authenticate("sam.worker", "another long one", "test")


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["user", "add", "Sam", "--name", "S", "--role", "social_worker", "--password-stdin"],
     PASSWORD + "\n", "name: Enter a login name"),
    (["user", "add", "sam", "--name", "S", "--role", "wizard", "--password-stdin"],
     PASSWORD + "\n", "There is no role 'wizard'"),
    (["user", "add", "sam", "--name", "S", "--role", "social_worker", "--password-stdin"],
     "short\n", "at least 10 characters"),
    (["user", "add", "sam", "--name", "S", "--role", "social_worker"],
     f"{PASSWORD}\nsomething else\n", "Error"),
    (["user", "set-role", "nobody", "social_worker"], None, "There is no user 'nobody'"),
    (["user", "disable", "nobody"], None, "There is no user 'nobody'"),
    (["user", "set-password", "nobody", "--password-stdin"], PASSWORD + "\n",
     "There is no user 'nobody'"),
    (["token", "create", "nobody"], None, "There is no user 'nobody'"),
    (["case", "grant", "1", "sam.worker"], None, "There is no case 1"),
])
def test_bad_input_is_one_error_and_exit_2(url: str, args: list[str], stdin: str | None,
                                           message: str) -> None:
    code, output = run(url, *args, stdin=stdin)
    assert code != 0 and message in output, output
    assert "Traceback" not in output
    if message != "Error":
        assert code == 2
    assert open_services(url).people.users() == []


def test_a_taken_name_is_refused(url: str) -> None:
    add_sam(url)
    code, output = run(url, "user", "add", "sam.worker", "--name", "Other", "--role",
                       "social_worker", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 2 and "already a user 'sam.worker'" in output


def test_a_token_is_printed_once_and_works(url: str) -> None:
    add_sam(url)
    result = CliRunner().invoke(main, ["token", "create", "sam.worker", "--db", url])
    assert result.exit_code == 0
    made = result.stdout.strip()
    assert "will not be shown again" in result.stderr
    people = open_services(url).people
    assert people.user_for_token(made).name == "sam.worker"
    code, output = run(url, "token", "revoke", "sam.worker")
    assert code == 0 and "Revoked 1 token" in output
    with pytest.raises(AuthenticationError):
        people.user_for_token(made)


def test_restrict_unrestrict_and_grant_a_case(url: str, tmp_path: Path) -> None:
    add_sam(url)
    run(url, "user", "add", "tess.manager", "--name", "Tess", "--role", "team_manager",
        "--team", "north", "--password-stdin", stdin=PASSWORD + "\n")
    examples = Path(__file__).resolve().parents[1] / "examples"
    code, output = run(url, "case", "open", "--pack", "wt2023", "--child",
                       str(examples / "child.yaml"), "--referral",
                       str(examples / "referral.yaml"), "--team", "north")
    assert code == 0, output
    cases = open_services(url).cases
    sam = Actor("sam.worker", frozenset({"social_worker"}), teams=frozenset({"north"}))
    assert cases.may_see(1, sam)
    code, output = run(url, "case", "restrict", "1", "--allow", "tess.manager")
    assert code == 0 and "restricted to tess.manager" in output
    assert not cases.may_see(1, sam)
    assert cases.inbox(InboxQuery(scope="team"), sam).total == 0
    code, output = run(url, "case", "grant", "1", "sam.worker")
    assert code == 0 and cases.may_see(1, sam)
    run(url, "case", "restrict", "1", "--allow", "tess.manager")
    code, output = run(url, "case", "unrestrict", "1")
    assert code == 0 and cases.may_see(1, sam)
    code, output = run(url, "case", "restrict", "1", "--allow", "ghost")
    assert code == 2 and "There is no user 'ghost'" in output
    code, output = run(url, "audit", "verify")
    assert code == 0, output


def test_the_demo_has_people_who_see_work(tmp_path: Path) -> None:
    from carepath.adapters.cli.demo import DEMO_PASSWORD

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(main, ["demo", "--db", url])
    assert result.exit_code == 0, result.output
    assert "sam.worker" in result.output and DEMO_PASSWORD in result.output
    services = open_services(url)
    people = services.people
    names = {u.name: u for u in people.users()}
    assert {r for u in names.values() for r in u.roles} == {
        "social_worker", "team_manager", "conference_chair", "administrator"}
    assert {t for u in names.values() for t in u.teams} == {"north", "south"}
    sam = people.authenticate("sam.worker", DEMO_PASSWORD, "demo").actor()
    assert services.cases.inbox(InboxQuery(scope="mine"), sam).total > 0
    tess = people.authenticate("tess.manager", DEMO_PASSWORD, "demo").actor()
    assert tess.manages and services.cases.inbox(InboxQuery(scope="team"), tess).total > 0
    # a second run keeps the people (and adds none twice)
    again = CliRunner().invoke(main, ["demo", "--db", url])
    assert again.exit_code == 0 and "already in" in again.output
    assert len(people.users()) == len(names)
    with pytest.raises(AuthenticationError) as refused:
        people.authenticate("sam.worker", "wrong password", "demo")
    assert not isinstance(refused.value, LoginThrottledError)

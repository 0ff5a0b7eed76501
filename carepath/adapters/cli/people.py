"""``carepath user …``, ``carepath token …`` and who may see a case (``case restrict``,
``case unrestrict``, ``case grant``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
from rich.table import Table

from carepath.adapters.cli.cases import services
from carepath.adapters.cli.errors import UserError, handle_errors
from carepath.adapters.cli.options import actor, db_option, json_option, out, print_json

if TYPE_CHECKING:
    from carepath.service.types import User

ROLE_HELP = "social_worker, team_manager, conference_chair or administrator"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError("No password on standard input")
        return line.rstrip("\r\n")
    try:
        entered: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    except click.Abort:
        raise UserError("No password given: nothing was saved") from None
    return entered


def _said(user: User) -> str:
    roles = ", ".join(sorted(user.roles)) or "no role"
    teams = ", ".join(sorted(user.teams)) or "no team"
    state = "" if user.active else " (disabled)"
    return f"{user.name}{state}: {roles}; {teams}"


# -- users -------------------------------------------------------------------------------------

@click.group()
def user() -> None:
    """People who log in to the web app: roles, teams, passwords."""


@user.command("add")
@click.argument("name")
@click.option("--name", "display_name", required=True, help="The person's full name.")
@click.option("--role", "roles", multiple=True, required=True, help=f"A role: {ROLE_HELP}.")
@click.option("--team", "teams", multiple=True, help="A team (repeat for several).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@db_option
@handle_errors
def user_add(name: str, display_name: str, roles: tuple[str, ...], teams: tuple[str, ...],
             password_stdin: bool, db_url: str | None) -> None:
    """Add a user NAME (their login name) with a password asked for twice."""
    people = services(db_url).people
    password = _password(password_stdin)
    added = people.add_user(name, display_name, password, roles, teams)
    out.print(f"Added {_said(added)}")


@user.command("list")
@db_option
@json_option
@handle_errors
def user_list(db_url: str | None, as_json: bool) -> None:
    """Every user, with their roles and teams."""
    users = services(db_url).people.users()
    if as_json:
        print_json([u.as_json() for u in users])
        return
    if not users:
        out.print("No users yet: add one with `carepath user add`.")
        return
    table = Table("Name", "Full name", "Roles", "Teams", "Active")
    for u in users:
        table.add_row(u.name, u.display_name, ", ".join(sorted(u.roles)),
                      ", ".join(sorted(u.teams)), "yes" if u.active else "no")
    out.print(table)


@user.command("set-role")
@click.argument("name")
@click.argument("roles", nargs=-1, required=True)
@db_option
@handle_errors
def user_set_role(name: str, roles: tuple[str, ...], db_url: str | None) -> None:
    """Give NAME exactly these ROLES (replacing the ones they had)."""
    out.print(_said(services(db_url).people.set_roles(name, roles)))


@user.command("set-team")
@click.argument("name")
@click.argument("teams", nargs=-1, required=True)
@db_option
@handle_errors
def user_set_team(name: str, teams: tuple[str, ...], db_url: str | None) -> None:
    """Put NAME in exactly these TEAMS (replacing the ones they were in)."""
    out.print(_said(services(db_url).people.set_teams(name, teams)))


@user.command("disable")
@click.argument("name")
@db_option
@handle_errors
def user_disable(name: str, db_url: str | None) -> None:
    """NAME can no longer log in, and their API tokens stop working."""
    out.print(_said(services(db_url).people.disable(name)))


@user.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@db_option
@handle_errors
def user_set_password(name: str, password_stdin: bool, db_url: str | None) -> None:
    """Set NAME's password (asked for twice)."""
    people = services(db_url).people
    people.user(name)  # an unknown name is said before the password is asked for
    people.set_password(name, _password(password_stdin))
    out.print(f"Password changed for {name}.")


# -- tokens ------------------------------------------------------------------------------------

@click.group()
def token() -> None:
    """API tokens for the JSON API."""


@token.command("create")
@click.argument("name")
@db_option
@handle_errors
def token_create(name: str, db_url: str | None) -> None:
    """A new API token for user NAME, printed once."""
    made = services(db_url).people.create_token(name)
    click.echo(made)
    click.echo(f"This is {name}'s new API token. It will not be shown again: keep it safe.",
               err=True)


@token.command("revoke")
@click.argument("name")
@db_option
@handle_errors
def token_revoke(name: str, db_url: str | None) -> None:
    """Revoke every API token of user NAME."""
    count = services(db_url).people.revoke_tokens(name)
    out.print(f"Revoked {count} token{'s' if count != 1 else ''} of {name}.")


# -- who may see a case ------------------------------------------------------------------------

@click.command("restrict")
@click.argument("case_id", type=int)
@click.option("--allow", "names", multiple=True, required=True,
              help="A user who may see the case (repeat for several).")
@db_option
@handle_errors
def case_restrict(case_id: int, names: tuple[str, ...], db_url: str | None) -> None:
    """Only the users named with --allow may see case CASE_ID."""
    services(db_url).cases.restrict(case_id, names, actor())
    out.print(f"Case {case_id} is restricted to {', '.join(sorted(set(names)))}.")


@click.command("unrestrict")
@click.argument("case_id", type=int)
@db_option
@handle_errors
def case_unrestrict(case_id: int, db_url: str | None) -> None:
    """Case CASE_ID is seen by its team, its worker and those granted it again."""
    services(db_url).cases.unrestrict(case_id, actor())
    out.print(f"Case {case_id} is no longer restricted.")


@click.command("grant")
@click.argument("case_id", type=int)
@click.argument("name")
@db_option
@handle_errors
def case_grant(case_id: int, name: str, db_url: str | None) -> None:
    """User NAME may see case CASE_ID (a restricted one too)."""
    services(db_url).cases.grant(case_id, name, actor())
    out.print(f"{name} may now see case {case_id}.")

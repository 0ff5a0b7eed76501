"""Who may see a case.

A trusted operator sees every case. A restricted case is seen only by the people named on it.
Otherwise a person sees a case of one of their teams, a case they are the allocated worker of,
and a case they were granted by name. Being an administrator shows no case.
"""

from __future__ import annotations

from carepath.service.ports import CaseAccess, InboxScope
from carepath.service.types import Actor, InboxQuery


def may_see(actor: Actor, access: CaseAccess) -> bool:
    if actor.trusted:
        return True
    if actor.name in access.names:
        return True
    if access.restricted:
        return False
    return access.worker == actor.name or (access.team is not None
                                           and access.team in actor.teams)


def may_change_access(actor: Actor, access: CaseAccess) -> bool:
    """Restrict, unrestrict or grant: a trusted operator, or a team manager of the case's team
    who may see it."""
    if actor.trusted:
        return True
    return (actor.manages and access.team is not None and access.team in actor.teams
            and may_see(actor, access))


def inbox_scope(actor: Actor, query: InboxQuery) -> InboxScope:
    viewer = None if actor.trusted else actor.name
    if query.scope == "mine":
        return InboxScope(viewer, actor.teams, assignee=actor.name)
    return InboxScope(viewer, actor.teams, in_teams=actor.teams)

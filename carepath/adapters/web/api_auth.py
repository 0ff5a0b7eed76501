"""Bearer tokens for the JSON API (``carepath token create USER``)."""

from __future__ import annotations

from flask import abort, request

from carepath.core.errors import AuthenticationError
from carepath.service.types import User

from .context import services


def bearer_user() -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401, description="Send a bearer token: Authorization: Bearer TOKEN "
                               "(carepath token create USER makes one)")
    try:
        return services().people.user_for_token(token.strip())
    except AuthenticationError:
        abort(401, description="The bearer token is not valid: it is unknown, revoked, or "
                               "its user is disabled")

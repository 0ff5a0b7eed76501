"""Errors the engine raises. Each carries what a user needs to fix the input."""

from __future__ import annotations


class CarepathError(Exception):
    """Root of every error carepath reports to a user (never with a traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class PackError(CarepathError):
    """A pack (or one file in it) is broken. Names the file and line."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        super().__init__(where + message)
        self.detail = message


class ExpressionError(CarepathError):
    """An expression could not be evaluated (unknown name, wrong type...)."""


class UnsafeExpression(ExpressionError):
    """An expression uses something outside the allow-list. Nothing of it was run."""


class ConflictError(CarepathError):
    """The case changed since the caller read it; nothing was written."""


class NotFoundError(CarepathError):
    """A case, task or pack does not exist."""


class TaskStateError(CarepathError):
    """The task cannot be completed now (not ready, already done)."""


class ActionUnavailableError(CarepathError):
    """A pack action cannot be taken on the case now (its ``available`` is false)."""


class RecordError(CarepathError):
    """A change to the case record would break it (e.g. authorising an assessment never started)."""


class StoryError(CarepathError):
    """A story is malformed, or a pack asks for something the story cannot give."""


class PermissionDeniedError(CarepathError):
    """The acting user may not do this (wrong role, or the task is someone else's)."""


class StorageError(CarepathError):
    """The database refused or failed an operation (unreachable, out of date, damaged)."""


class AuthenticationError(CarepathError):
    """A login or an API token was refused. One message for every reason (unknown name, wrong
    password, disabled user), so the answer never tells which."""


class LoginThrottledError(AuthenticationError):
    """Too many failed logins for this name or from this place: refused, even with the right
    password, for ``retry_after`` more seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

"""How every command reports a problem the user can fix: one ``Error:`` line (or one line per
wrong answer), exit code 2, never a traceback. Nothing was saved when this is printed."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from carepath.core.errors import CarepathError

F = TypeVar("F", bound=Callable[..., Any])


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file: Any = None) -> None:
        # escape: messages quote user input and pack text, which may contain [brackets]
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[bold red]Error:[/] {escape(self.message)}")


def handle_errors(fn: F) -> F:
    """Turn the library's errors into :class:`UserError` at the edge of the program."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from carepath.forms.validation import FormErrors

        try:
            return fn(*args, **kwargs)
        except FormErrors as exc:
            count = len(exc.errors)
            lines = [f"There is a problem with {count} answer{'s' if count != 1 else ''}:"]
            lines += [f"  {e.field}: {e.message}" for e in exc.errors]
            raise UserError("\n".join(lines)) from None
        except CarepathError as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            raise UserError(f"Cannot use{where}: {exc.strerror or exc}") from None
        except Exception as exc:
            # the storage layer turns database errors into StorageError; one that slipped
            # through (e.g. while connecting) is still the database's, not a crash
            if not type(exc).__module__.startswith("sqlalchemy"):
                raise
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise UserError(f"Database error: {reason[0] if reason else type(exc).__name__}"
                            ) from None

    return wrapper  # type: ignore[return-value]

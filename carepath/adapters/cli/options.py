"""What every command shares: options, reading input files, the acting user, printing JSON."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from rich.console import Console

from carepath.adapters.cli.errors import UserError
from carepath.service.types import Actor

F = TypeVar("F", bound=Callable[..., Any])
LONDON = ZoneInfo("Europe/London")
DB_ENV = "CAREPATH_DATABASE_URL"
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def db_option(fn: F) -> F:
    """``--db URL`` on every command that touches the database (also accepted before the
    command: ``carepath --db URL task list``)."""
    return click.option("--db", "db_url", metavar="URL", envvar=DB_ENV,
                        help="Database URL (default: sqlite:///carepath.db in this directory; "
                             "env CAREPATH_DATABASE_URL).")(fn)


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(fn)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"'{text}' is not a date: write it as YYYY-MM-DD, like 2025-05-01") \
            from None


def set_today(text: str | None) -> None:
    """Pretend today is ``text`` (noon in London) for the rest of this command."""
    if not text:
        return
    from carepath.engine.time.clock import FixedClock, set_default_clock

    day = parse_day(text)
    set_default_clock(FixedClock(datetime.combine(day, time(12, 0), LONDON).astimezone(UTC)))


def _today_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    set_today(value)


TODAY_HELP = ("Pretend today is DATE (YYYY-MM-DD): for training, demos and replaying past work "
              "(env CAREPATH_TODAY).")


def today_option() -> click.Option:
    """``--today DATE``, accepted after any command as well as before it."""
    return click.Option(["--today"], metavar="DATE", expose_value=False, is_eager=True,
                        callback=_today_callback, help=TODAY_HELP)


# Far more than any child, referral, answers or story file needs; a larger file is refused
# before it is parsed (parsing megabytes of YAML takes many seconds).
MAX_INPUT_BYTES = 1_000_000


def read_yaml(path: str, what: str) -> Any:
    from carepath.core.yamlsource import load_yaml

    file = Path(path)
    if not file.is_file():
        raise UserError(f"{what} file not found: {path}")
    if file.stat().st_size > MAX_INPUT_BYTES:
        raise UserError(f"{what} file is larger than {MAX_INPUT_BYTES // 1_000_000} MB: {path}")
    try:
        return load_yaml(file.read_text(encoding="utf-8"), str(file))
    except UnicodeDecodeError:
        raise UserError(f"{what} file is not UTF-8 text: {path}") from None


def read_mapping(path: str, what: str, empty_ok: bool = False) -> dict[str, Any]:
    values = read_yaml(path, what)
    if values is None and empty_ok:
        return {}
    if not isinstance(values, dict):
        raise UserError(f"The {what.lower()} file must hold a mapping of field name to value")
    return values


def actor() -> Actor:
    """The person at the terminal. Someone who can run carepath on the database can change it
    anyway, so the CLI acts as a trusted operator; the web app checks roles."""
    return Actor.operator(os.environ.get("CAREPATH_USER") or getpass.getuser() or "unknown")


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def mask(url: str) -> str:
    from carepath.adapters.db.database import mask_url

    return mask_url(url)

"""The carepath command line: the click group that assembles the commands.

The commands live in :mod:`carepath.adapters.cli` and call only the application service
(:mod:`carepath.service`). Errors a user can fix come out as one clear line and exit code 2;
nothing prints a traceback.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from carepath import __version__
from carepath.adapters.cli.admin import audit, db, demo, init, story, timers
from carepath.adapters.cli.cases import case, task
from carepath.adapters.cli.check import check
from carepath.adapters.cli.migrate import migrate, pack_diff_command, pack_use
from carepath.adapters.cli.options import DB_ENV, TODAY_HELP, err, set_today, today_option
from carepath.adapters.cli.packs import pack
from carepath.adapters.cli.people import case_grant, case_restrict, case_unrestrict, token, user
from carepath.adapters.cli.returns import returns
from carepath.adapters.cli.serve import serve
from carepath.adapters.cli.simulate import pack_test_command, simulate_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="carepath")
@click.option("--today", metavar="DATE", envvar="CAREPATH_TODAY", help=TODAY_HELP)
@click.option("--db", "db_url", metavar="URL",
              help="Database URL for the command that follows (the same as its own --db).")
@click.pass_context
def main(ctx: click.Context, today: str | None, db_url: str | None) -> None:
    """carepath: council process packs over one canonical children's case record."""
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("spiff").setLevel(logging.WARNING)
    set_today(today)
    if db_url:
        # The command's own --db reads this variable when it has no value of its own; put
        # the previous value back when the command ends (tests run many in one process).
        previous = os.environ.get(DB_ENV)
        os.environ[DB_ENV] = db_url

        def restore() -> None:
            if previous is None:
                os.environ.pop(DB_ENV, None)
            else:
                os.environ[DB_ENV] = previous

        ctx.call_on_close(restore)


def _assemble() -> None:
    for command in (init, db, pack, case, task, timers, story, audit, demo, returns,
                    simulate_command, user, token, serve, migrate):
        main.add_command(command)
    for command in (case_restrict, case_unrestrict, case_grant):
        case.add_command(command)
    pack.add_command(check)
    pack.add_command(pack_test_command)
    pack.add_command(pack_use)
    pack.add_command(pack_diff_command)
    _accept_today_everywhere(main)


def _accept_today_everywhere(group: click.Group) -> None:
    """``--today`` works after any command too (``carepath task list --today 2026-01-05``)."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _accept_today_everywhere(command)
        elif not any(p.name == "today" for p in command.params):
            command.params.append(today_option())


_assemble()


def run() -> None:
    """Console entry point: no traceback ever reaches a user."""
    try:
        main(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        err.print("Stopped. Nothing more was saved.")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if os.environ.get("CAREPATH_DEBUG"):
            raise
        err.print(f"Error: carepath hit an unexpected problem ({type(exc).__name__}). "
                  "Nothing was saved. Run again with CAREPATH_DEBUG=1 to see the details.")
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    run()

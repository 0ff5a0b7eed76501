"""Alembic environment for carepath's packaged migrations.

carepath runs these through :func:`carepath.adapters.db.database.upgrade`, which passes its own
connection in ``config.attributes["connection"]``; no ``alembic.ini`` is needed. Run by hand
(``alembic`` with a config whose ``script_location`` points here), the database URL comes from
the config's ``sqlalchemy.url``, else ``$CAREPATH_DATABASE_URL``, else ``sqlite:///carepath.db``.

A new revision is numbered: against a database at head, run
``alembic.command.revision(alembic_config(), message="what", rev_id="0002", autogenerate=True)``
(``alembic_config`` from ``carepath.adapters.db.database``); it writes ``versions/0002_what.py``.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from carepath.adapters.db.database import make_engine, resolve_url
from carepath.adapters.db.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes ``UTCDateTime`` columns as plain ``sa.DateTime(timezone=True)``."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )


def run_offline() -> None:
    context.configure(
        url=resolve_url(config.get_main_option("sqlalchemy.url")),
        target_metadata=target_metadata,
        literal_binds=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(resolve_url(config.get_main_option("sqlalchemy.url")))
    with engine.connect() as connection:
        configure(connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

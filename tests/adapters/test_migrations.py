from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from carepath.adapters.db.database import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    make_engine,
    upgrade,
)
from carepath.adapters.db.models import Base

EXPECTED_TABLES = {
    "cases",
    "pack_pins",
    "migration_runs",
    "migration_cases",
    "children",
    "episodes",
    "assessments",
    "section47s",
    "cp_plans",
    "cp_reviews",
    "cin_plans",
    "process_instances",
    "tasks",
    "events",
    "users",
    "teams",
    "user_teams",
    "api_tokens",
    "login_failures",
    "case_access",
    "task_drafts",
    "looked_after",
    "lac_periods",
    "lac_legal_statuses",
    "lac_placements",
    "lac_reviews",
    "lac_missing",
    "lac_adoptions",
    "lac_outcomes",
    "lac_care_leaver_contacts",
    "lac_social_workers",
}


def test_chain_has_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1


def test_revision_files_are_numbered() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    for revision in script.walk_revisions():
        path = Path(revision.path)
        assert path.parent == MIGRATIONS_DIR / "versions"
        number = path.name.split("_", 1)[0]
        assert number.isdigit() and len(number) == 4, path.name
        assert revision.revision == number, path.name


def test_models_cover_the_schema() -> None:
    assert set(Base.metadata.tables) == EXPECTED_TABLES


def test_upgrade_on_empty_database_creates_every_table(db_url: str) -> None:
    engine = make_engine(db_url)
    assert inspect(engine).get_table_names() == []
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_models_match_migrated_schema(db: Engine) -> None:
    with db.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        diffs = compare_metadata(context, Base.metadata)
    assert diffs == []


def test_downgrade_removes_everything(db: Engine) -> None:
    with db.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert current_revision(db) is None
    assert set(inspect(db).get_table_names()) <= {"alembic_version"}
    upgrade(db)
    assert set(inspect(db).get_table_names()) == EXPECTED_TABLES | {"alembic_version"}

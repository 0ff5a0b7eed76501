"""Where the application service meets its adapters: the one place that wires them.

Every front end (CLI, web app, API, tests, benchmarks) gets its services here::

    services = open_services(db_url)          # a real database, checked to be up to date
    services.cases.complete_task(...)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carepath.adapters.db.audit import SqlAuditLog
from carepath.adapters.db.cases import SqlCaseRepository
from carepath.adapters.db.database import make_engine, require_current, resolve_url
from carepath.adapters.db.pack_moves import SqlMigrationStore
from carepath.adapters.db.people import SqlPeopleRepository
from carepath.adapters.db.record_cache import RecordCache
from carepath.adapters.db.record_stream import SqlCaseSource
from carepath.adapters.packs import PackRegistry
from carepath.engine.pack import Pack
from carepath.service.audit import AuditService
from carepath.service.cases import CaseService
from carepath.service.migration import MigrationService
from carepath.service.migration_types import ScratchCases
from carepath.service.packs import PackService
from carepath.service.people import PeopleService
from carepath.service.returns import ReturnsService

if TYPE_CHECKING:  # the engine is the database adapter's; only its type is named here
    from sqlalchemy import Engine


@dataclass(frozen=True)
class Services:
    cases: CaseService
    packs: PackService
    audit: AuditService
    returns: ReturnsService
    engine: Engine
    people: PeopleService
    migration: MigrationService


def services_for(engine: Engine, registry: PackRegistry | None = None,
                 cache: RecordCache | None = None) -> Services:
    """Services over an engine whose schema is already in place."""
    packs = registry if registry is not None else PackRegistry()
    apply_pins(engine, packs)
    return Services(
        cases=CaseService(SqlCaseRepository(engine, cache), packs),
        packs=PackService(packs),
        audit=AuditService(SqlAuditLog(engine)),
        returns=ReturnsService(SqlCaseSource(engine)),
        engine=engine,
        people=PeopleService(SqlPeopleRepository(engine)),
        migration=_migration(engine, packs, remember_checks=True),
    )


def open_services(db_url: str | None, registry: PackRegistry | None = None) -> Services:
    """Services over the database at ``db_url`` (or the configured one), which must be set up
    and at the schema revision this carepath ships."""
    engine = make_engine(resolve_url(db_url))
    require_current(engine)
    return services_for(engine, registry)


def pack_services(registry: PackRegistry | None = None) -> PackService:
    """Pack information needs no database."""
    return PackService(registry if registry is not None else PackRegistry())


def case_service(engine: Engine, registry: PackRegistry | None = None) -> CaseService:
    """The casework service alone over ``engine`` (tests, benchmarks, simulations)."""
    return CaseService(SqlCaseRepository(engine),
                       registry if registry is not None else PackRegistry())


def people_service(engine: Engine) -> PeopleService:
    """Users, logins and tokens alone over ``engine`` (tests, the demo)."""
    return PeopleService(SqlPeopleRepository(engine))


def apply_pins(engine: Engine, registry: PackRegistry) -> None:
    """The versions pinned for new cases (``carepath pack use``), from the database, read
    again when a second old (a pin made by another process applies here too)."""
    registry.read_pins_from(SqlMigrationStore(engine).pins)


def migration_service(engine: Engine, registry: PackRegistry | None = None) -> MigrationService:
    """Pack versions and moving running cases (``carepath pack list/use``, ``migrate``)."""
    packs = registry if registry is not None else PackRegistry()
    apply_pins(engine, packs)
    return _migration(engine, packs)


def _migration(engine: Engine, packs: PackRegistry,
               remember_checks: bool = False) -> MigrationService:
    """The migration service over ``packs`` (pins already applied). A long-lived app
    (``remember_checks``) runs ``pack check`` once per installed pack version: a version's
    files are read once, when the registry loads it."""
    from carepath.adapters.memory_cases import MemoryScratch
    from carepath.engine.check import check_pack

    scratch = MemoryScratch()
    lock = threading.Lock()

    def databases() -> ScratchCases:
        return scratch  # a fresh in-memory case store for each replay

    checked: dict[int, tuple[Pack, Any]] = {}

    def check(pack: Pack) -> Any:
        if not remember_checks:
            return check_pack(pack)
        with lock:
            found = checked.get(id(pack))
        if found is not None and found[0] is pack:
            return found[1]
        report = check_pack(pack)
        with lock:
            checked[id(pack)] = (pack, report)
        return report

    return MigrationService(SqlMigrationStore(engine), packs, databases, check)

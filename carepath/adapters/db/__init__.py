"""Storage: SQLAlchemy models, Alembic migrations, the case record's rows, the audit chain.

Import from the submodules: ``database`` (engines, sessions, migrations, version lock),
``models``, ``records`` (load/save the canonical record), ``audit`` (hash-chained events).
"""

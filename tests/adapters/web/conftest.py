"""The web tests' usual site: the demo people on a migrated database (``site.make_services``)
and the app over them. A module that needs another site defines its own ``services`` or
``app``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import Engine

from carepath.adapters.app import Services

from .site import make_app, make_services


@pytest.fixture
def services(db: Engine) -> Iterator[Services]:
    yield from make_services(db)


@pytest.fixture
def app(services: Services) -> Flask:
    return make_app(services)

"""The application service as views reach it."""

from __future__ import annotations

from typing import cast

from flask import current_app

from carepath.adapters.app import Services


def services() -> Services:
    return cast(Services, current_app.extensions["carepath"])

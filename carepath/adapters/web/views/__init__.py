"""The app's pages and the JSON API, one blueprint per area."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from . import admin, api, cases, inbox, moves, tasks

    for module in (inbox, cases, tasks, admin, moves):
        app.register_blueprint(module.bp)
    api.register(app)

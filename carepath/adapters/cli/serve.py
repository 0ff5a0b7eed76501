"""``carepath serve``: the caseworkers' web app and the JSON API."""

from __future__ import annotations

from typing import Any

import click

from carepath.adapters.cli.errors import UserError, handle_errors
from carepath.adapters.cli.options import db_option, out


def build_app(db_url: str | None) -> Any:
    """The Flask app over the database at ``db_url`` (checked to be set up and current)."""
    from carepath.adapters.app import open_services
    from carepath.adapters.web.app import create_app
    from carepath.adapters.web.config import WebConfig

    return create_app(open_services(db_url), WebConfig.from_environment())


def _gunicorn(db_url: str | None, host: str, port: int, workers: int, threads: int) -> None:
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # gunicorn is POSIX-only
        raise UserError("--workers needs gunicorn, which runs on Linux and macOS only: run "
                        "without --workers") from None

    class Server(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", None)  # addresses can name a child: no access log

        def load(self) -> Any:  # in each worker, after the fork
            return build_app(db_url)

    Server().run()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface: put TLS in front).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Serve with gunicorn and this many worker processes (production); without "
                   "it, one process for one person (Werkzeug).")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Threads in each gunicorn worker. More processes beat more threads: a page "
                   "makes many short database round trips, and threads of one process then "
                   "queue for Python's interpreter lock (measured: 4 threads a worker served "
                   "40 % fewer pages a second on PostgreSQL than 1).")
@db_option
@handle_errors
def serve(host: str, port: int, workers: int | None, threads: int, db_url: str | None) -> None:
    """Run the caseworkers' web app and the JSON API (/api/v1/)."""
    if threads != 1 and not workers:
        raise UserError("--threads is for gunicorn: give --workers N too")
    run_server(db_url, host, port, workers, threads)


def run_server(db_url: str | None, host: str, port: int, workers: int | None,
               threads: int = 1) -> None:
    app = build_app(db_url)  # fails here, with a clear line, if the database is not ready
    address = f"http://{host}:{port}/"
    out.print(f"carepath is running at {address}  (Ctrl+C to stop)")
    if app.config["CAREPATH"].govuk_frontend is None:
        out.print("GOV.UK Frontend is not installed: pages will be unstyled. Run: npm install")
    if workers:
        app.extensions["carepath"].engine.dispose()  # no pooled connection crosses a fork
        _gunicorn(db_url, host, port, workers, threads)
        return
    import logging

    from werkzeug.serving import run_simple

    # Werkzeug logs every request line; addresses can carry a child's ID: warnings only
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    run_simple(host, port, app, threaded=True, use_reloader=False)

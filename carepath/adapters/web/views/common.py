"""What the views share."""

from __future__ import annotations

from flask import flash

from carepath.core.errors import CarepathError

from ..context import services


def process_titles() -> dict[str, str]:
    """Process id -> title across the installed packs (for stage names)."""
    titles: dict[str, str] = {}
    packs = services().packs
    for info in packs.installed():
        try:
            detail = packs.detail(f"{info.name}")
        except CarepathError:
            continue
        for process in detail.processes:
            titles.setdefault(process.id, process.title)
    return titles


def say_error(e: CarepathError) -> None:
    """Show the service's message (written for users, holds no personal data) on the next
    page."""
    flash(str(e), "error")

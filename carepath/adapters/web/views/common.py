"""What the views share."""

from __future__ import annotations

from flask import flash

from carepath.core.errors import CarepathError

from ..context import services


def process_titles() -> dict[str, str]:
    """Process id -> title across the installed packs (for stage names)."""
    return services().cases.process_titles()


def say_error(e: CarepathError) -> None:
    """Show the service's message (written for users, holds no personal data) on the next
    page."""
    flash(str(e), "error")

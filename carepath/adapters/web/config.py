"""The web app's settings, from the environment (documented in docs/operations.md)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ASSETS_ENV = "CAREPATH_GOVUK_FRONTEND"
SECRET_ENV = "CAREPATH_SECRET_KEY"
INSTANCE_ENV = "CAREPATH_INSTANCE"
OVERRIDES_ENV = "CAREPATH_WEB_OVERRIDES"
SECURE_ENV = "CAREPATH_SECURE_COOKIES"
IDLE_ENV = "CAREPATH_IDLE_MINUTES"


def find_govuk_frontend() -> Path | None:
    """GOV.UK Frontend's ``dist/govuk`` folder, installed from npm by ``make demo`` / ``make
    test`` into ``node_modules`` (never committed): from $CAREPATH_GOVUK_FRONTEND, else
    ``node_modules`` in this directory or above the package (a checkout)."""
    configured = os.environ.get(ASSETS_ENV)
    candidates = [Path(configured)] if configured else []
    here = Path(__file__).resolve()
    for base in (Path.cwd(), *here.parents):
        candidates.append(base / "node_modules" / "govuk-frontend" / "dist" / "govuk")
    for candidate in candidates:
        if (candidate / "govuk-frontend.min.css").is_file():
            return candidate
    return None


def _secret_key(instance: Path) -> str:
    """$CAREPATH_SECRET_KEY, else one made once and kept in the instance folder (so every
    worker process and every restart signs sessions with the same key)."""
    configured = os.environ.get(SECRET_ENV)
    if configured:
        return configured
    path = instance / "secret_key"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key)
    return key


@dataclass(frozen=True)
class WebConfig:
    secret_key: str
    idle_minutes: int = 30
    secure_cookies: bool = False
    overrides: Path | None = None
    govuk_frontend: Path | None = None
    service_name: str = "carepath"
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_environment(cls) -> WebConfig:
        instance = Path(os.environ.get(INSTANCE_ENV, "instance"))
        overrides = os.environ.get(OVERRIDES_ENV)
        idle = os.environ.get(IDLE_ENV, "30")
        return cls(
            secret_key=_secret_key(instance),
            idle_minutes=int(idle) if idle.isdigit() and int(idle) > 0 else 30,
            secure_cookies=os.environ.get(SECURE_ENV, "") in ("1", "true", "yes"),
            overrides=Path(overrides) if overrides else None,
            govuk_frontend=find_govuk_frontend(),
        )

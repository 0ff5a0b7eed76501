"""Finding and loading packs: from a directory, or from installed distributions.

A distribution makes packs available through the entry point group ``carepath.packs``; each entry
point names an object that is (or, when called, returns) the path of a pack directory. carepath's
own packs are registered the same way, so they load through exactly this code.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import yaml

from carepath.core.errors import CarepathError, NotFoundError, PackError
from carepath.engine.pack import Pack, PackErrors, build_pack

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "carepath.packs"
PACK_SUFFIXES = (".yaml", ".yml", ".bpmn")
MAX_FILE_BYTES = 2_000_000


def read_pack_files(directory: Path) -> dict[str, str]:
    """Every pack file under ``directory`` as relative POSIX path -> text."""
    if not directory.is_dir():
        raise NotFoundError(f"No pack directory at {directory}")
    files: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.suffix not in PACK_SUFFIXES:
            continue
        rel = path.relative_to(directory).as_posix()
        if any(part.startswith(".") for part in Path(rel).parts):
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            raise PackErrors(str(directory), [PackError("file is larger than 2 MB", rel)])
        try:
            files[rel] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise PackErrors(str(directory), [PackError("file is not UTF-8 text", rel)]) from None
    return files


CLOSURE_DAYS_ENV = "CAREPATH_CLOSURE_DAYS"


def configured_closure_days() -> tuple[date, ...]:
    """Council closure days from ``CAREPATH_CLOSURE_DAYS`` (comma-separated YYYY-MM-DD)."""
    text = os.environ.get(CLOSURE_DAYS_ENV, "").strip()
    days: list[date] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            days.append(date.fromisoformat(part))
        except ValueError:
            raise CarepathError(f"{CLOSURE_DAYS_ENV}: '{part}' is not a date (write "
                                "YYYY-MM-DD, separated by commas)") from None
    return tuple(days)


_cache: dict[tuple[str, float, tuple[date, ...]], Pack] = {}


def load_pack_dir(directory: Path) -> Pack:
    """Load and check the pack in ``directory`` (cached per directory, modification time and
    closure days, so an edited pack is checked again)."""
    directory = directory.resolve()
    stamp = max((p.stat().st_mtime for p in directory.rglob("*") if p.is_file()), default=0.0)
    closure = configured_closure_days()
    key = (str(directory), stamp, closure)
    if key not in _cache:
        _cache[key] = build_pack(read_pack_files(directory), str(directory), closure)
    return _cache[key]


@dataclass(frozen=True)
class PackSource:
    name: str  # entry point name
    origin: str  # distribution that provides it
    load: Callable[[], Path]


def _entry_point_sources() -> Iterator[PackSource]:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        def resolve(ep: Any = ep) -> Path:
            target = ep.load()
            if callable(target):
                target = target()
            return Path(target)

        origin = ep.dist.name if ep.dist is not None else "unknown"
        yield PackSource(ep.name, origin, resolve)


PACK_PATH_ENV = "CAREPATH_PACK_PATH"


def _pack_name(directory: Path) -> str | None:
    """The name in a directory's pack.yaml, read cheaply (the pack is checked when loaded)."""
    try:
        data = yaml.safe_load((directory / "pack.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def _path_sources() -> Iterator[PackSource]:
    """Packs in the directories of ``CAREPATH_PACK_PATH`` (a pack, or a folder of packs)."""
    for entry in filter(None, os.environ.get(PACK_PATH_ENV, "").split(os.pathsep)):
        root = Path(entry)
        candidates = [root] if (root / "pack.yaml").is_file() else sorted(
            p for p in root.glob("*") if (p / "pack.yaml").is_file())
        for directory in candidates:
            name = _pack_name(directory)
            if name:
                yield PackSource(name, str(directory), functools.partial(Path.resolve,
                                                                         directory))


class PackRegistry:
    """The packs this installation knows, by name; loaded on first use.

    Sources, first wins: directories given here, ``CAREPATH_PACK_PATH``, then installed
    distributions (entry point group ``carepath.packs``, which includes the built-in packs)."""

    def __init__(self, extra_dirs: list[Path] | None = None) -> None:
        self._sources: dict[str, PackSource] = {}
        self._loaded: dict[str, Pack] = {}
        for source in _entry_point_sources():
            self._sources.setdefault(source.name, source)
        for source in _path_sources():
            self._sources[source.name] = source
        for directory in extra_dirs or []:
            self.add_dir(directory)

    def add_dir(self, directory: Path) -> Pack:
        pack = load_pack_dir(directory)
        self._loaded[pack.name] = pack
        resolved = directory.resolve()
        self._sources[pack.name] = PackSource(pack.name, str(directory), lambda: resolved)
        return pack

    def names(self) -> list[str]:
        return sorted(self._sources)

    def origin(self, name: str) -> str:
        return self._sources[name].origin

    def get(self, name_or_path: str) -> Pack:
        """A pack by name (installed) or by directory path. Loaded once per registry: a running
        service keeps the packs it started with."""
        if name_or_path in self._loaded:
            return self._loaded[name_or_path]
        if name_or_path in self._sources:
            pack = load_pack_dir(self._sources[name_or_path].load())
            self._loaded[name_or_path] = pack
            return pack
        path = Path(name_or_path)
        if path.is_dir():
            return self.add_dir(path)
        known = ", ".join(self.names()) or "none"
        raise NotFoundError(f"No pack called '{name_or_path}' (installed packs: {known}), "
                            f"and no pack directory at that path. A pack kept in a directory "
                            f"can be made known with {PACK_PATH_ENV}")

    def get_version(self, name: str, version: str) -> Pack:
        """The pack a running instance was pinned to; refuse to run it on another version."""
        try:
            pack = self.get(name)
        except NotFoundError:
            raise CarepathError(
                f"This case runs on pack {name}@{version}, which is not installed here. Install "
                f"it, or add its directory to {PACK_PATH_ENV}.") from None
        if pack.version != version:
            raise CarepathError(
                f"This case runs on pack {name}@{version}, but {name}@{pack.version} is "
                "installed. Install that version of the pack to continue this case."
            )
        return pack

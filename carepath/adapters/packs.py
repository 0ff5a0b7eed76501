"""Finding and loading packs: from a directory, or from installed distributions.

A distribution makes packs available through the entry point group ``carepath.packs``; each entry
point names an object that is (or, when called, returns) the path of a pack directory. carepath's
own packs are registered the same way, so they load through exactly this code.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from importlib.metadata import entry_points
from pathlib import Path

from carepath.core.errors import CarepathError, NotFoundError, PackError
from carepath.core.yamlsource import load_yaml
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


PACK_PATH_ENV = "CAREPATH_PACK_PATH"
PIN_REFRESH_S = 1.0  # how old the pins read from the database may be
_NAME = re.compile(r"[a-z][a-z0-9_-]*")  # what a pack name may be (see engine.pack)


@dataclass(frozen=True)
class BrokenPack:
    """A pack the registry found but refused: it is left out of :meth:`PackRegistry.names` and
    :meth:`PackRegistry.get` raises its error. ``name_or_path`` is the pack's name when its
    pack.yaml gives one, else where it was found (a directory, or an entry point's name);
    ``origin`` is the distribution or the directory it came from; ``message`` says why, in full
    (every problem found in the pack, or the pack it clashes with)."""

    name_or_path: str
    origin: str
    message: str


@dataclass
class PackSource:
    """Where one pack comes from, known before the pack is loaded and checked."""

    name: str  # from pack.yaml (an entry point must be named after its pack)
    version: str | None  # from pack.yaml, read cheaply; None if it does not say
    origin: str  # the distribution that provides it, or the directory
    directory: Path  # resolved
    kind: str  # "distribution", "path" (CAREPATH_PACK_PATH) or "given" (add_dir, get(path))

    @property
    def label(self) -> str:
        """The source as a sentence fragment, for messages that name two of them."""
        if self.kind == "distribution":
            return f"the installed distribution '{self.origin}' ({self.directory})"
        if self.kind == "path":
            return f"{self.directory} (on {PACK_PATH_ENV})"
        return str(self.directory)


def _manifest(directory: Path) -> tuple[str | None, str | None]:
    """The name and version in a directory's pack.yaml, read cheaply (the whole pack is checked
    when it is loaded)."""
    try:
        data = load_yaml((directory / "pack.yaml").read_text(encoding="utf-8"), "pack.yaml")
    except (OSError, CarepathError, UnicodeDecodeError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    name, version = data.get("name"), data.get("version")
    return (name if isinstance(name, str) else None,
            version if isinstance(version, str) else None)


def _not_a_pack(directory: Path) -> CarepathError | None:
    """Why ``directory`` cannot be a pack, or None if it may be one."""
    if not directory.exists():
        return NotFoundError(f"No pack directory at {directory}")
    if not directory.is_dir():
        hint = (f": give the directory it is in ({directory.parent})"
                if directory.name == "pack.yaml" else "")
        return NotFoundError(f"{directory} is a file, not a pack directory{hint}")
    if not (directory / "pack.yaml").is_file():
        return NotFoundError(f"{directory} is not a pack: it has no pack.yaml (a pack is a "
                             "directory with pack.yaml, processes/ and forms/; see "
                             "docs/pack-authoring.md)")
    return None


def _load_dir(directory: Path) -> Pack:
    """:func:`load_pack_dir`, with a file that cannot be read (permissions, say) reported as a
    problem of the pack rather than as an error of the program."""
    try:
        return load_pack_dir(directory)
    except OSError as exc:
        where = Path(exc.filename).relative_to(directory).as_posix() \
            if exc.filename and Path(exc.filename).is_relative_to(directory) else None
        raise PackErrors(str(directory), [PackError(
            f"cannot be read ({exc.strerror or exc})", where)]) from None


class PackRegistry:
    """The packs this installation knows, by name; each loaded and checked on first use.

    Packs come from installed distributions (entry point group ``carepath.packs``, which includes
    the built-in packs), then the directories on ``CAREPATH_PACK_PATH`` in order, then
    directories given here (``extra_dirs``, :meth:`add_dir`, or a path passed to :meth:`get`).

    * A pack that cannot be loaded (a broken pack, an entry point that fails, a missing
      directory on ``CAREPATH_PACK_PATH``) never stops the others: it is recorded in
      :meth:`broken`, left out of :meth:`names`, and :meth:`get` raises its error.
    * A name and a version identify one pack. A pack with the name and version of one already
      registered from another directory is refused (recorded in :meth:`broken`, naming both), so
      cases pinned to that version keep running on the pack they started on.
    * Several versions of one name may be registered side by side (``name@version``). New
      cases use the newest version, unless the council pinned one (:meth:`pin`, kept in the
      database by ``carepath pack use``); between packs of one version precedence decides:
      directories given here, then ``CAREPATH_PACK_PATH`` (first entry first), then installed
      distributions. :meth:`get_version` finds every registered version, for running cases.

    Loading is thread-safe; a registry keeps the packs it loaded (a running service keeps the
    packs it started with)."""

    def __init__(self, extra_dirs: list[Path] | None = None) -> None:
        self._lock = threading.RLock()
        self._sources: dict[str, list[PackSource]] = {}  # name -> sources, default first
        self._loaded: dict[Path, Pack] = {}  # resolved directory -> pack
        self._failed: dict[Path, CarepathError] = {}  # resolved directory -> why
        self._broken: dict[tuple[str, str], tuple[BrokenPack, CarepathError]] = {}
        self._pins: dict[str, str] = {}  # name -> the version new cases use (pack use)
        # where the pins are kept (the database), read again when older than PIN_REFRESH_S
        self._pin_source: Callable[[], dict[str, str]] | None = None
        self._pins_read_at = 0.0
        self._source_pins: dict[str, str] = {}  # the source's pins when last read
        for source_or_broken in _entry_point_sources():
            self._register(source_or_broken)
        for source_or_broken in _path_sources():
            self._register(source_or_broken)
        for directory in extra_dirs or []:
            self.add_dir(directory)

    # -- registering --------------------------------------------------------------------------

    def _refuse(self, name_or_path: str, origin: str, error: CarepathError) -> None:
        self._broken.setdefault((name_or_path, origin),
                                (BrokenPack(name_or_path, origin, str(error)), error))

    def _register(self, item: PackSource | tuple[BrokenPack, CarepathError]) -> None:
        if isinstance(item, tuple):
            broken, error = item
            self._refuse(broken.name_or_path, broken.origin, error)
            return
        clash = self._clash(item)
        if clash is not None:
            self._refuse(item.name, item.origin, clash)
            return
        if any(s.directory == item.directory for s in self._sources.get(item.name, [])):
            return  # the same directory twice (say, on CAREPATH_PACK_PATH and as a distribution)
        sources = self._sources.setdefault(item.name, [])
        if item.kind == "distribution":
            sources.append(item)
        elif item.kind == "path":  # after the given directories and earlier path entries
            at = next((i for i, s in enumerate(sources) if s.kind == "distribution"),
                      len(sources))
            sources.insert(at, item)
        else:
            sources.insert(0, item)
        # newest version first (precedence, as above, only between equal versions)
        sources.sort(key=lambda s: _version_key(s.version), reverse=True)

    def _clash(self, source: PackSource) -> CarepathError | None:
        for other in self._sources.get(source.name, []):
            if other.version is not None and other.version == source.version \
                    and other.directory != source.directory:
                return PackErrors(str(source.directory), [PackError(
                    f"pack {source.name} {source.version} is already installed from "
                    f"{other.label}; this one, from {source.label}, was not loaded. A name and "
                    "version identify one pack: give this pack a new version (or its own name) "
                    "in its pack.yaml, or remove one of the two", "pack.yaml")])
        return None

    def add_dir(self, directory: Path) -> Pack:
        """Load the pack in ``directory`` and make it the one its name gives (for new cases).
        Raises its errors (nothing is registered) if it is broken or clashes with a registered
        pack of the same name and version."""
        with self._lock:
            problem = _not_a_pack(directory)
            if problem is not None:
                raise problem
            resolved = directory.resolve()
            name, version = _manifest(resolved)
            if name is None:
                _load_dir(resolved)  # raises the pack's errors, with file and line
                raise PackErrors(str(directory), [PackError("pack.yaml gives no name",
                                                            "pack.yaml")])
            source = PackSource(name, version, str(directory), resolved, "given")
            error = self._clash(source)
            if error is not None:
                raise error
            pack = self._load(source)
            self._register(source)
            return pack

    # -- loading ------------------------------------------------------------------------------

    def _load(self, source: PackSource) -> Pack:
        """The pack of ``source``, loaded once; raises (and remembers) why it cannot be."""
        with self._lock:
            if source.directory in self._loaded:
                return self._loaded[source.directory]
            if source.directory in self._failed:
                raise self._failed[source.directory]
            try:
                pack = _load_dir(source.directory)
                if pack.name != source.name:  # an entry point named after another pack
                    raise PackErrors(str(source.directory), [PackError(
                        f"{source.label} offers this pack as '{source.name}', but its "
                        f"pack.yaml calls it '{pack.name}'", "pack.yaml")])
            except CarepathError as exc:
                self._failed[source.directory] = exc
                if source.kind != "given":
                    self._refuse(source.name, source.origin, exc)
                raise
            self._loaded[source.directory] = pack
            return pack

    def _load_all(self) -> None:
        with self._lock:
            for sources in list(self._sources.values()):
                for source in sources:
                    with contextlib.suppress(CarepathError):
                        self._load(source)

    # -- asking -------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The names of the packs that load (each is loaded and checked once, so a broken pack
        is found here and left out: see :meth:`broken`)."""
        self._load_all()
        return sorted(name for name, sources in self._sources.items()
                      if sources[0].directory in self._loaded)

    def keys(self) -> list[tuple[str, str]]:
        """(name, version) of every pack that loads, newest version of each name first."""
        self._load_all()
        return [(name, s.version) for name in sorted(self._sources)
                for s in self._sources[name]
                if s.directory in self._loaded and s.version is not None]

    def broken(self) -> list[BrokenPack]:
        """Every pack found but refused, with why (loads every pack once to find out)."""
        self._load_all()
        return sorted((b for b, _ in self._broken.values()),
                      key=lambda b: (b.name_or_path, b.origin))

    def read_pins_from(self, source: Callable[[], dict[str, str]]) -> None:
        """Take the pins from ``source`` now and again whenever they are older than
        :data:`PIN_REFRESH_S`: a pin made by another process (``carepath pack use``, another
        web worker) applies to new cases here within that time."""
        with self._lock:
            self._pin_source = source
            self._refresh_pins(force=True)

    def _refresh_pins(self, force: bool = False) -> None:
        source = self._pin_source
        if source is None:
            return
        now = time.monotonic()
        if not force and now - self._pins_read_at < PIN_REFRESH_S:
            return
        pins = source()
        with self._lock:
            # what changed in the source since it was last read is taken; a pin set here
            # (:meth:`pin`) stands until the source's pin for that pack changes
            for name in set(pins) | set(self._source_pins):
                if force or pins.get(name) != self._source_pins.get(name):
                    if name in pins:
                        self._pins[name] = pins[name]
                    else:
                        self._pins.pop(name, None)
            self._source_pins = dict(pins)
            self._pins_read_at = now

    def _current(self, name: str) -> PackSource:
        """The source new cases of ``name`` use: the pinned version, else the newest."""
        sources = self._sources[name]
        self._refresh_pins()
        pinned = self._pins.get(name)
        if pinned is not None:
            for source in sources:
                if source.version == pinned:
                    return source
            raise CarepathError(
                f"New cases of {name} are pinned to {name}@{pinned}, which is not installed "
                f"here (installed: {', '.join(self.versions(name))}). Install it, or pin "
                f"another version with: carepath pack use {name}@VERSION")
        return sources[0]

    def pin(self, name: str, version: str | None) -> None:
        """New cases of ``name`` use ``version`` (None: the newest again). Not checked here:
        :meth:`get` says so if the pinned version is not installed."""
        with self._lock:
            if version is None:
                self._pins.pop(name, None)
            else:
                self._pins[name] = version

    def pinned(self, name: str) -> str | None:
        self._refresh_pins()
        return self._pins.get(name)

    def current_version(self, name: str) -> str:
        """The version new cases of ``name`` use."""
        return self._current(name).version or "?"

    def origin(self, name: str) -> str:
        """Where the pack new cases use for ``name`` comes from: a distribution's name (the
        built-in packs: ``carepath``) or a directory."""
        return self._current(name).origin

    def origin_of(self, name: str, version: str) -> str:
        """Where ``name@version`` comes from."""
        for source in self._sources.get(name, []):
            if source.version == version:
                return source.origin
        raise NotFoundError(f"No pack {name}@{version} is installed")

    def directory(self, name: str) -> Path:
        """The directory of the pack new cases use for ``name`` (not loaded)."""
        return self._current(name).directory

    def loaded_versions(self, name: str) -> list[str]:
        """The versions of ``name`` that load (newest first)."""
        self._load_all()
        return [s.version for s in self._sources.get(name, [])
                if s.directory in self._loaded and s.version is not None]

    def versions(self, name: str) -> list[str]:
        """Every registered version of ``name``, the one new cases use first."""
        return [s.version or "?" for s in self._sources.get(name, [])]

    def get(self, name_or_path: str) -> Pack:
        """A pack by name (for new cases: see the class's precedence) or by directory path.
        Raises the pack's own errors if it is broken, :class:`NotFoundError` if there is no such
        pack or the path is not a pack directory."""
        with self._lock:
            sources = self._sources.get(name_or_path)
            if sources:
                return self._load(self._current(name_or_path))
            path = Path(name_or_path)
            if _NAME.fullmatch(name_or_path) and not path.is_dir():
                for (broken_name, _), (_, error) in sorted(self._broken.items()):
                    if broken_name == name_or_path:
                        raise error
                known = ", ".join(sorted(self._sources)) or "none"
                raise NotFoundError(
                    f"No pack called '{name_or_path}' (installed packs: {known}), and no pack "
                    f"directory at that path. A pack kept in a directory can be made known "
                    f"with {PACK_PATH_ENV}")
            problem = _not_a_pack(path)
            if problem is not None:
                raise problem
            resolved = path.resolve()
            for sources in self._sources.values():
                for source in sources:
                    if source.directory == resolved:
                        return self._load(source)
            return self.add_dir(path)

    def get_version(self, name: str, version: str) -> Pack:
        """The pack a running instance was pinned to; refuse to run it on another version."""
        with self._lock:
            for source in self._sources.get(name, []):
                if source.version == version:
                    return self._load(source)
            try:
                pack = self.get(name)
            except NotFoundError:
                raise CarepathError(
                    f"This case runs on pack {name}@{version}, which is not installed here. "
                    f"Install it, or add its directory to {PACK_PATH_ENV}.") from None
            if pack.version != version:
                raise CarepathError(
                    f"This case runs on pack {name}@{version}, but {name}@{pack.version} is "
                    "installed. Install that version of the pack to continue this case."
                )
            return pack


def _version_key(version: str | None) -> tuple[int, ...]:
    """A version as numbers for ordering (1.10.0 after 1.9.0); no version sorts first."""
    if version is None:
        return (-1,)
    core = version.split("-", 1)[0].split("+", 1)[0]
    try:
        numbers = tuple(int(p) for p in core.split("."))
    except ValueError:
        return (-1,)
    # a pre-release (1.1.0-rc1) comes before its release
    return (*numbers, 0 if "-" in version else 1)


def _entry_point_sources() -> Iterator[PackSource | tuple[BrokenPack, CarepathError]]:
    """The packs installed distributions offer (entry point group ``carepath.packs``)."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        origin = ep.dist.name if ep.dist is not None else "unknown"
        try:
            target = ep.load()
            if callable(target):
                target = target()
            directory = Path(target)
        except Exception as exc:  # a vendor's module may raise anything on import
            error = CarepathError(f"The pack '{ep.name}' of the installed distribution "
                                  f"'{origin}' could not be found: its entry point '{ep.value}' "
                                  f"failed ({type(exc).__name__}: {exc})")
            yield BrokenPack(ep.name, origin, str(error)), error
            continue
        problem = _not_a_pack(directory)
        if problem is not None:
            error = CarepathError(f"The pack '{ep.name}' of the installed distribution "
                                  f"'{origin}' points at {directory}: {problem}")
            yield BrokenPack(ep.name, origin, str(error)), error
            continue
        yield PackSource(ep.name, _manifest(directory)[1], origin, directory.resolve(),
                         "distribution")


def _path_sources() -> Iterator[PackSource | tuple[BrokenPack, CarepathError]]:
    """Packs in the directories of ``CAREPATH_PACK_PATH``: each entry is a pack, or a folder
    whose subdirectories with a pack.yaml are packs."""
    for entry in filter(None, os.environ.get(PACK_PATH_ENV, "").split(os.pathsep)):
        root = Path(entry)
        if not root.is_dir():
            error: CarepathError = NotFoundError(
                f"{PACK_PATH_ENV} names {entry}, which is not a directory")
            yield BrokenPack(entry, PACK_PATH_ENV, str(error)), error
            continue
        try:
            candidates = [root] if (root / "pack.yaml").is_file() else sorted(
                p for p in root.iterdir() if (p / "pack.yaml").is_file())
        except OSError as exc:
            error = NotFoundError(f"{PACK_PATH_ENV} names {entry}, which cannot be read "
                                  f"({exc.strerror or exc})")
            yield BrokenPack(entry, PACK_PATH_ENV, str(error)), error
            continue
        for directory in candidates:
            name, version = _manifest(directory)
            if name is None:
                try:
                    _load_dir(directory)
                    error = PackErrors(str(directory), [PackError("pack.yaml gives no name",
                                                                  "pack.yaml")])
                except CarepathError as exc:
                    error = exc
                yield BrokenPack(str(directory), str(directory), str(error)), error
                continue
            yield PackSource(name, version, str(directory), directory.resolve(), "path")

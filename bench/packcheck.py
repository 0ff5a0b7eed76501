"""Figure 4: how long ``carepath pack check`` takes per shipped pack.

The checker's entry point is looked up, not assumed: ``check_pack`` in ``carepath.engine.check``
(or a ``check_pack``/``check`` function of ``carepath.adapters.cli.check``). It is called with the
built pack, or with the pack's directory if its first parameter asks for a path. Baseline, in the
same run: building the pack from its files (``build_pack``: parse, compile, load forms and
timescales), which every check does first.
"""

from __future__ import annotations

import importlib
import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import Settings, log, median

CANDIDATES = (
    ("carepath.engine.check", ("check_pack",)),
    ("carepath.adapters.cli.check", ("check_pack", "check_pack_dir", "check")),
)


def find_checker() -> tuple[Callable[..., Any] | None, str]:
    """The checker and its dotted name, or None and why there is none."""
    problems = []
    for module_name, names in CANDIDATES:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # not there yet, or broken
            problems.append(f"{module_name} cannot be imported ({type(exc).__name__}: {exc})")
            continue
        for name in names:
            fn = getattr(module, name, None)
            if callable(fn) and not inspect.isclass(fn):
                return fn, f"{module_name}.{name}"
        problems.append(f"{module_name} has no {' / '.join(names)}")
    return None, "no pack checker found: " + "; ".join(problems)


def _wants_path(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if not params:
        return False
    first = params[0]
    text = f"{first.name} {first.annotation}".lower()
    return "path" in text or "dir" in text


def shipped_packs() -> dict[str, Path]:
    from carepath.adapters.packs import PackRegistry

    registry = PackRegistry()
    packs: dict[str, Path] = {}
    for name in registry.names():
        if registry.origin(name) == "carepath":  # shipped with carepath itself
            packs[name] = registry.directory(name)
    return packs


def build(directory: Path) -> Any:
    from carepath.adapters.packs import configured_closure_days, read_pack_files
    from carepath.engine.pack import build_pack

    return build_pack(read_pack_files(directory), str(directory), configured_closure_days())


def run(settings: Settings) -> dict[str, Any]:
    log("figure 4: pack check time per shipped pack")
    packs = shipped_packs()
    checker, name = find_checker()
    out: dict[str, Any] = {"checker": name if checker else None, "packs": sorted(packs)}
    load: dict[str, float] = {}
    check: dict[str, float | None] = {}
    reasons: dict[str, str] = {}
    summaries: dict[str, Any] = {}
    for pack_name, directory in packs.items():
        load_samples: list[float] = []
        check_samples: list[float] = []
        for _ in range(settings.check_repeats):
            start = time.perf_counter()
            pack = build(directory)
            load_samples.append(time.perf_counter() - start)
            if checker is None or pack_name in reasons:
                continue
            arg = directory if _wants_path(checker) else pack
            try:
                start = time.perf_counter()
                report = checker(arg)
                check_samples.append(time.perf_counter() - start)
                summaries[pack_name] = _summary(report)
            except Exception as exc:
                reasons[pack_name] = f"{name} failed: {type(exc).__name__}: {exc}"
        load[pack_name] = round(median(load_samples), 3)
        check[pack_name] = round(median(check_samples), 3) if check_samples else None
        log(f"  {pack_name}: build {load[pack_name]:.3f} s, check "
            f"{check[pack_name] if check[pack_name] is not None else 'not measured'}")
    out["pack_load_s"] = load
    out["pack_check_s"] = check
    if checker is None:
        out["pack_check_s_reason"] = name
    elif reasons:
        out["pack_check_s_reason"] = "; ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))
    if summaries:
        out["check_reports"] = summaries
    return out


def _summary(report: Any) -> Any:
    """Something small to show the checker did its work (counts, not the whole report)."""
    for attr in ("summary", "as_json"):
        value = getattr(report, attr, None)
        if callable(value):
            try:
                value = value()
            except TypeError:
                continue
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if isinstance(v, int | float | str | bool)}
    if isinstance(report, list | tuple):
        return {"findings": len(report)}
    return type(report).__name__

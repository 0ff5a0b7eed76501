"""Static checks of a pack before it is used (``carepath pack check``).

:func:`check_pack` walks every path of a pack (:mod:`.paths`), proves the record contract on
each (:mod:`.coverage`), that its forms can satisfy the record's value rules and that no path
leaves the case stuck (:mod:`.values`), lints the pack (:mod:`.lint`) and returns a
:class:`.report.Report`.
"""

from __future__ import annotations

import time

from carepath.engine.check.coverage import RecordContract
from carepath.engine.check.lint import TimescaleLint, notices, structure
from carepath.engine.check.paths import Limits, Observer, enumerate_paths
from carepath.engine.check.report import Finding, Findings, Report, render_text
from carepath.engine.check.values import DeadEnds, ValueRules
from carepath.engine.pack import Pack

__all__ = ["Finding", "Limits", "Report", "check_pack", "render_text"]


def check_pack(pack: Pack, limits: Limits | None = None) -> Report:
    """Lint ``pack`` and check the record contract on every path through it. A limit reached
    (``limits``) makes the report incomplete, and so not ok."""
    started = time.perf_counter()
    findings = Findings()
    observers: list[Observer] = [RecordContract(pack, findings), TimescaleLint(pack, findings),
                 ValueRules(pack, findings), DeadEnds(pack, findings)]
    paths = enumerate_paths(pack, observers, keep_paths=False, limits=limits)
    notices(paths, findings)
    structure(pack, paths, findings)
    report = Report(pack.key, findings.all(), paths.count, paths.states, paths.truncated)
    report.incomplete = [hit.text() for hit in paths.limits]
    if paths.truncated and not report.incomplete:
        report.incomplete.append(f"could not check everything: the walk stopped after "
                                 f"{paths.states:,} states")
    report.seconds = time.perf_counter() - started
    return report

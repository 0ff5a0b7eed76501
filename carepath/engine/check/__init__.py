"""Static checks of a pack before it is used (``carepath pack check``).

:func:`check_pack` walks every path of a pack (:mod:`.paths`), proves the record contract on
each (:mod:`.coverage`), lints the pack (:mod:`.lint`) and returns a :class:`.report.Report`.
"""

from __future__ import annotations

import time

from carepath.engine.check.coverage import RecordContract
from carepath.engine.check.lint import TimescaleLint, notices, structure
from carepath.engine.check.paths import enumerate_paths
from carepath.engine.check.report import Finding, Findings, Report, render_text
from carepath.engine.pack import Pack

__all__ = ["Finding", "Report", "check_pack", "render_text"]


def check_pack(pack: Pack) -> Report:
    """Lint ``pack`` and check the record contract on every path through it."""
    started = time.perf_counter()
    findings = Findings()
    paths = enumerate_paths(pack, [RecordContract(pack, findings), TimescaleLint(pack, findings)],
                            keep_paths=False)
    notices(paths, findings)
    structure(pack, paths, findings)
    report = Report(pack.key, findings.all(), paths.count, paths.states, paths.truncated)
    if paths.truncated:
        report.notes.append(f"The walk stopped after {paths.states:,} states: some paths were "
                            "not checked.")
    report.seconds = time.perf_counter() - started
    return report

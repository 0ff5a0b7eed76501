"""Checking the tamper-evident case history, and the record against it.

``verify`` checks each case's hash-chained events, and that the record tables equal what the
events say (the record changes replayed). An anchor (:meth:`AuditService.anchor`) is every case's
chain head at one moment: kept away from the database, it shows a log rewritten since with every
hash recomputed, which the chain alone cannot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from carepath.core.errors import CarepathError
from carepath.service.ports import AuditLog
from carepath.service.types import AuditAnchor, AuditReport, JsonObject

ANCHOR_FORMAT = "carepath-audit-anchor/1"


class AnchorError(CarepathError):
    """An anchor file that cannot be used."""


def anchor_digest(at: datetime, heads: Mapping[int, tuple[int, str]]) -> str:
    """sha256 (hex) of ``at`` (ISO) and one line ``case_id seq hash`` per case, in id order."""
    digest = hashlib.sha256(f"{ANCHOR_FORMAT}\n{at.isoformat()}\n".encode())
    for case_id in sorted(heads):
        seq, head = heads[case_id]
        digest.update(f"{case_id} {seq} {head}\n".encode())
    return digest.hexdigest()


def anchor_to_json(anchor: AuditAnchor) -> JsonObject:
    return {"format": ANCHOR_FORMAT, "at": anchor.at.isoformat(), "digest": anchor.digest,
            "cases": len(anchor.heads),
            "heads": [{"case_id": c, "seq": s, "hash": h}
                      for c, (s, h) in sorted(anchor.heads.items())]}


def anchor_from_json(data: Any, where: str) -> AuditAnchor:
    """An anchor as :func:`anchor_to_json` wrote it; :class:`AnchorError` if it is not one, or
    if its digest does not match its heads (it was edited)."""
    if not isinstance(data, dict) or data.get("format") != ANCHOR_FORMAT:
        raise AnchorError(f"{where} is not a carepath audit anchor (format {ANCHOR_FORMAT})")
    try:
        at = datetime.fromisoformat(str(data["at"]))
        heads: dict[int, tuple[int, str]] = {}
        for item in data["heads"]:
            case_id, seq, head = item["case_id"], item["seq"], item["hash"]
            if not (isinstance(case_id, int) and isinstance(seq, int)
                    and isinstance(head, str)) or isinstance(case_id, bool) \
                    or isinstance(seq, bool):
                raise TypeError
            heads[case_id] = (seq, head)
        digest = str(data["digest"])
    except (KeyError, TypeError, ValueError):
        raise AnchorError(f"{where} is not a carepath audit anchor: it lacks its time, heads "
                          "or digest, or they are of the wrong kind") from None
    if anchor_digest(at, heads) != digest:
        raise AnchorError(f"{where}: the anchor's digest does not match its heads: the file was "
                          "changed after it was written")
    return AuditAnchor(at, heads, digest)


class AuditService:
    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def verify(self, case_id: int | None = None,
               anchor: AuditAnchor | None = None) -> AuditReport:
        """Every problem in the event chain of one case, or of every case, and in their record
        tables against their events; with ``anchor``, also every anchored head not found."""
        found = self.log.verify(case_id, anchor.heads if anchor is not None else None)
        return AuditReport(case_id, [p for p in found if not p.note],
                           [p for p in found if p.note])

    def verify_case(self, case_id: int) -> AuditReport:
        """One case's audit, for a warning where the case is shown (``report.intact`` False:
        its events or its record tables were changed behind carepath's back)."""
        return self.verify(case_id)

    def anchor(self) -> AuditAnchor:
        """Every case's chain head now, with a digest over them all."""
        at, rows = self.log.heads()
        heads = {case_id: (seq, head) for case_id, seq, head in rows}
        return AuditAnchor(at, heads, anchor_digest(at, heads))

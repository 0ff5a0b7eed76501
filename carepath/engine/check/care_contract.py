"""The SSDA903 part of the record contract: the looked-after record, checked on every path.

The SSDA903 needs of the looked-after record (the child's, carried across the processes of a
path; a path starts with the child not looked after):

* a period of care starts with a legal status (144) and a placement (146) on the same form, and
  only when the child is not looked after already;
* a legal status has its code (144); a placement its type (146) and its provider (178), unless
  every type the form may record is one with no provider (T0-T4, Z11-Z14);
* a period of care that ends has its reason ceased, and the reason comes with the end (148);
* a looked-after review has the child's participation code (167);
* a legal status, placement, review, missing episode or end of care is recorded only while the
  child is looked after (the engine refuses it otherwise); a missing episode has its kind.

:class:`CareContract` holds these checks; :class:`~.coverage.RecordContract` runs them on each
step that records something of the looked-after record (:data:`_CARE`).
"""

from __future__ import annotations

from carepath.core.looked_after_codes import NO_PROVIDER_PLACEMENTS
from carepath.engine.check.contract import ContractBase, Level, _best, _Level, _Rec, _severity
from carepath.engine.check.paths import Step, Trail

_CARE = frozenset({"care", "legal_status", "placement", "missing", "lac_review"})


class CareContract(ContractBase):
    """The checks of the looked-after record (see the module's docstring)."""

    def _care(self, rec: _Rec, trail: Trail, lv: _Level) -> _Rec:
        """The 903's needs of the looked-after record (see the module's docstring)."""
        step = trail.step
        start, end = lv("care.start"), lv("care.end")
        care = rec.care
        if start:
            if care is not None:
                self._report(_severity(start, None if care == "sure" else "sure"), trail,
                             ("431",), "care.start", f"'{step.title}' starts a period of care "
                             "while the child may already be looked after (the engine refuses "
                             "it)")
            for item, rule, what in (("legal_status.start", "144", "legal status"),
                                     ("placement.start", "146", "placement")):
                self._report(_severity(start, lv(item)), trail, (rule,), item,
                             f"'{step.title}' starts a period of care without its {what} "
                             "(every 903 episode has a legal status and a placement from the "
                             "day care starts)" + self._why(step, item, lv(item)))
            care = _best(care, start)
        for item, rule, needs in (("legal_status.start", "144", "legal_status.code"),
                                  ("placement.start", "146", "placement.type"),
                                  ("missing.start", "", "missing.kind"),
                                  ("lac_review.date", "167", "lac_review.participation")):
            given = lv(item)
            if not given:
                continue
            if not start:
                self._during(care, given, trail, item)
            self._report(_severity(given, lv(needs)), trail, (rule,) if rule else (), needs,
                         f"'{step.title}' records {item} without {needs}"
                         + self._why(step, needs, lv(needs)))
        placed = lv("placement.start")
        if placed and self._needs_provider(step):
            have = lv("placement.provider")
            self._report(_severity(placed, have), trail, ("178",), "placement.provider",
                         f"'{step.title}' records a placement that may need a provider "
                         "(every type but T0-T4 and Z11-Z14) without its provider"
                         + self._why(step, "placement.provider", have))
        reason = lv("care.reason_ceased")
        if end:
            self._during(care, end, trail, "care.end")
            self._report(_severity(end, reason), trail, ("148",), "care.reason_ceased",
                         f"'{step.title}' ends the period of care without the reason it ceased"
                         + self._why(step, "care.reason_ceased", reason))
            care = None if end == "sure" and care == "sure" else \
                "unsure" if care is not None else None
        elif reason == "sure":
            self._report("error", trail, ("148",), "care.end", f"'{step.title}' records the "
                         "reason care ceased without ending the period of care")
        return rec._replace(care=care) if care != rec.care else rec

    def _during(self, care: Level | None, given: Level, trail: Trail, item: str) -> None:
        """``item`` is recorded only while the child is looked after."""
        self._report(_severity(given, care if care == "sure" else None if care is None
                               else "unsure"), trail, (), "care.start",
                     f"'{trail.step.title}' records {item} while the child may not be looked "
                     "after (the engine refuses it: record care.start first)")

    def _needs_provider(self, step: Step) -> bool:
        """Whether the placement ``step`` records may be of a type with a provider."""
        known = step.outcome.items.get("placement.type")
        if isinstance(known, str):
            return known not in NO_PROVIDER_PLACEMENTS
        form = self.pack.forms.get(step.form or "")
        for f in form.fields if form is not None else ():
            if f.record == "placement.type" and f.options:
                return any(o.value not in NO_PROVIDER_PLACEMENTS for o in f.options)
        return True

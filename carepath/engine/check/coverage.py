"""The statutory coverage proof: the record contract, checked on every path.

The CIN census (``../shared/domain/cin_census.md``) needs the case record to hold certain items,
in a certain order, whatever process recorded them. :class:`RecordContract` follows each path
(see :mod:`.paths`) form by form, keeping what the record holds so far, and reports where a path
breaks the contract, with the DfE rule:

* the referral decision of a referral with further action records the primary need, before any
  other activity (8610); a referral with no further action records nothing else (4000, 8831,
  8832), and is not marked so after activity;
* an assessment started is authorised, and its factors recorded, before the episode closes
  (8867, 8897Q), factors only once authorised (8614), one open assessment at a time (8896);
* a section 47 enquiry ends in an ICPC date or "ICPC not required" before closure (8868), one
  open at a time (8839, 8890);
* a child protection plan starts on the date of an ICPC recorded before it or on the same form
  (2885, 2883), with its initial category (8905), one open at a time (8935, 8940);
* a CIN plan and a CP plan never overlap (4001, 4016, 4017), no CP review while a CIN plan is
  open (4003), one open CIN plan at a time (4004);
* a closure records the date and the reason together (8805, 8810, 8640), leaves no plan open,
  and nothing is recorded after it (8565); RC8/RC9 only after an assessment (8825Q) and not
  after an enquiry or plan (2990) are warnings, as the worker chooses the reason, and so is a
  section 47 enquiry closed with no assessment on the episode (2991Q).

The SSDA903 needs of the looked-after record are checked by :mod:`.care_contract`; what the
checks share (the record so far, how surely an item is filled, how a breach is reported, and
``accept_undecided``) is in :mod:`.contract`.

Items a form fills only if an optional question is answered count as possibly missing (an
error where the item is required); items behind a ``show_if`` that cannot be worked out are
errors too, unless the pack accepts them (``accept_undecided`` in pack.yaml: then warnings).
Items the engine refuses to record (factors before authorisation, a second open plan) would
leave the case stuck at that task: those are errors too, also when the steps that must come in
order are in different branches of one parallel block.
"""

from __future__ import annotations

from typing import Any

from carepath.engine.check.care_contract import _CARE, CareContract
from carepath.engine.check.contract import (
    Level,
    Ref,
    _best,
    _Level,
    _Obj,
    _Rec,
    _settle,
    _severity,
)
from carepath.engine.check.paths import EndKind, Step, Trail, concurrent_branches
from carepath.engine.check.report import Findings
from carepath.engine.check.symbolic import UNKNOWN
from carepath.engine.pack import Pack

_ACTIVITY = ("assessment.", "s47.", "cp_plan.", "cin_plan.")
_CLOSED_AFTER_ASSESSMENT = ("RC8", "RC9")


class RecordContract(CareContract):
    """An observer (:class:`~carepath.engine.check.paths.Observer`) checking the record
    contract; its findings go to ``findings``."""

    def __init__(self, pack: Pack, findings: Findings) -> None:
        super().__init__(pack, findings)
        self.maps_nfa = any(f.record == "referral.nfa" for form in pack.forms.values()
                            for f in form.fields)
        self._seen: dict[tuple[Any, ...], _Rec] = {}

    def begin(self) -> _Rec:
        return _Rec()

    # -- the contract -----------------------------------------------------------------------

    def step(self, rec: _Rec, trail: Trail) -> _Rec:
        step = trail.step
        if step.kind != "task":
            return rec
        # The same step from the same record state reports the same and leads to the same
        # state: work it out once (the first path to get here is the shortest, or as short).
        key = (rec, step.process, step.node, id(step.outcome), step.branch)
        known = self._seen.get(key)
        if known is None:
            known = self._seen[key] = self._step(rec, trail)
        return known

    def _step(self, rec: _Rec, trail: Trail) -> _Rec:
        step = trail.step
        out = step.outcome
        here: Ref = step.branch

        def lv(item: str) -> Level | None:
            if item in out.sure:
                return "sure"
            if item in out.optional:
                return "optional"
            return "unsure" if item in out.unsure else None

        filled = out.filled()
        if rec.branched and not step.branch:
            rec = _settle(rec)
        if rec.closed is not None:
            self._report(_severity(rec.closed[1], None), trail, ("8565",),
                         next(iter(sorted(filled)), None),
                         f"'{step.title}' comes after the episode was closed: nothing can be "
                         "recorded after closure")
            return rec
        rec = self._referral(rec, trail, here, lv)
        rec = self._assessment(rec, trail, here, lv)
        rec = self._s47(rec, trail, here, lv)
        rec = self._plans(rec, trail, here, lv)
        if any(i.startswith(_ACTIVITY) for i in filled) and rec.activity is None:
            rec = rec._replace(activity=here)
        if any(i.split(".")[0] in _CARE for i in filled):
            rec = self._care(rec, trail, lv)
        if lv("closure.date") or lv("closure.reason"):
            rec = self._closure(rec, trail, here, lv)
        if step.branch:
            rec = rec._replace(fills=(*rec.fills, here) if filled else rec.fills, branched=True)
        return rec

    def _referral(self, rec: _Rec, trail: Trail, here: Ref, lv: _Level) -> _Rec:
        step, out = trail.step, trail.step.outcome
        says_nfa = out.items.get("referral.nfa") is True
        need_here = lv("episode.primary_need") == "sure"
        activity = sorted(i for i in out.filled() if i.startswith(_ACTIVITY))
        if says_nfa and lv("referral.nfa") == "sure":
            if rec.activity is not None:
                self._report("error", trail, ("8831",), "referral.nfa",
                             "the referral is marked as needing no further action after "
                             "activity was recorded on the episode")
            rec = rec._replace(nfa=here)
        if rec.nfa is not None and activity:
            item = activity[0]
            rule = "4000" if item.startswith("cin_plan") else \
                "8832" if item.startswith("cp_plan") else "8831"
            self._report(_severity(lv(item), None), trail, (rule,), item,
                         f"'{step.title}' records {item} on a referral with no further action")
        deciding = not rec.decided and (lv("referral.nfa") is not None or not self.maps_nfa)
        if deciding:
            if rec.nfa is None and not rec.need:
                have = lv("episode.primary_need")
                self._report(_severity("sure", have), trail, ("8610",), "episode.primary_need",
                             f"the referral decision '{step.title}' goes on to further action "
                             "without recording the primary need"
                             + self._why(step, "episode.primary_need", have))
            rec = rec._replace(decided=True)
        elif activity and not rec.decided and rec.activity is None and not rec.need \
                and not need_here and rec.nfa is None:
            self._report("error", trail, ("8610",), "episode.primary_need",
                         f"'{step.title}' records activity before the primary need is recorded")
        if need_here and not rec.need:
            rec = rec._replace(need=True)
        return rec

    def _assessment(self, rec: _Rec, trail: Trail, here: Ref, lv: _Level) -> _Rec:
        step = trail.step
        start, auth, factors = (lv("assessment.start"), lv("assessment.authorised"),
                                lv("assessment.factors"))
        a = rec.assessment
        if start:
            if a is not None and a.done != "sure":
                self._report(_severity(start, a.done), trail, ("8896",), "assessment.start",
                             f"'{step.title}' starts an assessment while another may still be "
                             "open (not authorised)")
            a = _Obj(here)
            rec = rec._replace(assessed=True)
        if auth:
            if a is None:
                self._report(_severity(auth, None), trail, ("8608",), "assessment.authorised",
                             f"'{step.title}' authorises an assessment, but none was started "
                             "(the engine refuses it)")
            else:
                if concurrent_branches(a.at, step.branch):
                    self._report("error", trail, ("8608",), "assessment.authorised",
                                 f"'{step.title}' may authorise the assessment before it starts "
                                 "(they are in parallel branches)")
                a = a._replace(done=_best(a.done, auth), done_at=here)
        if factors and a is not None:
            if a.done is not None and concurrent_branches(a.done_at, step.branch):
                self._report("error", trail, ("8614",), "assessment.factors",
                             f"'{step.title}' may record assessment factors before the "
                             "assessment is authorised (they are in parallel branches, and the "
                             "record refuses factors before authorisation)")
            elif a.done != "sure":
                self._report(_severity(factors, a.done), trail, ("8614",), "assessment.factors",
                             f"'{step.title}' records assessment factors before the assessment "
                             "is authorised (the engine refuses them)")
            a = a._replace(extra=_best(a.extra, factors))
        return rec._replace(assessment=a) if a is not rec.assessment else rec

    def _s47(self, rec: _Rec, trail: Trail, here: Ref, lv: _Level) -> _Rec:
        step, out = trail.step, trail.step.outcome
        start, icpc = lv("s47.start"), lv("s47.icpc_date")
        not_required = lv("s47.icpc_not_required") if out.items.get(
            "s47.icpc_not_required", UNKNOWN) is not False else None
        s = rec.s47
        if start:
            if s is not None and s.done != "sure":
                self._report(_severity(start, s.done), trail, ("8839", "8890"), "s47.start",
                             f"'{step.title}' starts a section 47 enquiry while another may still "
                             "be open")
            s = _Obj(here)
            rec = rec._replace(worked=True)
        concluded = _best(icpc, not_required)
        if concluded:
            if s is None:
                self._report(_severity(concluded, None), trail, ("8615",), "s47.start",
                             f"'{step.title}' records a conference outcome, but no section 47 "
                             "enquiry was started (the engine refuses it)")
            else:
                if concurrent_branches(s.at, step.branch):
                    self._report("error", trail, ("8615",), "s47.start",
                                 f"'{step.title}' may record the conference outcome before the "
                                 "section 47 enquiry starts (they are in parallel branches)")
                s = s._replace(done=_best(s.done, concluded), done_at=here)
        if icpc:
            rec = rec._replace(icpc=(here, icpc))
        return rec._replace(s47=s) if s is not rec.s47 else rec

    def _plans(self, rec: _Rec, trail: Trail, here: Ref, lv: _Level) -> _Rec:
        step = trail.step
        cp, cin = rec.cp, rec.cin
        cp_start, cin_start = lv("cp_plan.start"), lv("cin_plan.start")
        cp_end, cin_end = lv("cp_plan.end"), lv("cin_plan.end")
        if cp_start:
            icpc = rec.icpc
            have = None if icpc is None or concurrent_branches(icpc[0], step.branch) else icpc[1]
            have = _best(have, lv("s47.icpc_date"))
            self._report(_severity(cp_start, have), trail, ("2885", "2883"), "s47.icpc_date",
                         f"'{step.title}' starts a child protection plan, but no initial child "
                         "protection conference date is recorded before it or on the same form"
                         + self._why(step, "s47.icpc_date", lv("s47.icpc_date")))
            if cp is not None and cp.done != "sure":
                self._report(_severity(cp_start, cp.done), trail, ("8935", "8940"),
                             "cp_plan.start", f"'{step.title}' starts a child protection plan "
                             "while another may still be open")
            if cin is not None and (cin.done != "sure" or concurrent_branches(cin.at, step.branch)):
                have = _best(None if cin.done is None else cin.done, cin_end)
                self._report(_severity(cp_start, have), trail, ("4001", "4016", "4017"),
                             "cin_plan.end", f"'{step.title}' starts a child protection plan "
                             "while a child in need plan may still be open"
                             + self._why(step, "cin_plan.end", cin_end))
            cp = _Obj(here, None, lv("cp_plan.initial_category"))
            rec = rec._replace(icpc=None, worked=True)
        elif lv("cp_plan.initial_category") and cp is not None:
            cp = cp._replace(extra=_best(cp.extra, lv("cp_plan.initial_category")))
        for item in ("cp_plan.review", "cp_plan.end", "cp_plan.latest_category",
                     "cp_plan.initial_category"):
            if lv(item) == "sure" and cp is None:
                self._report("error", trail, (), item, f"'{step.title}' records {item}, but "
                             "no child protection plan was started (the engine refuses it)")
        if lv("cp_plan.review") and cin is not None and cin.done != "sure" and cin_end != "sure":
            self._report(_severity(lv("cp_plan.review"), cin.done), trail, ("4003",),
                         "cp_plan.review", f"'{step.title}' records a child protection review "
                         "while a child in need plan may be open")
        if cin_end:
            if cin is None:
                if cin_end == "sure":
                    self._report("error", trail, (), "cin_plan.end", f"'{step.title}' ends a "
                                 "child in need plan, but none was started (the engine refuses "
                                 "it)")
            else:
                cin = cin._replace(done=_best(cin.done, cin_end), done_at=here)
        for item, rule in (("cp_plan.end", "8840"), ("cp_plan.review", "8841")):
            if lv(item) and cp is not None and concurrent_branches(cp.at, step.branch):
                self._report("error", trail, (rule,), item,
                             f"'{step.title}' may record {item} before the child protection "
                             "plan starts (they are in parallel branches, and the record "
                             "refuses it)")
        if cin_end and cin is not None and concurrent_branches(cin.at, step.branch):
            self._report("error", trail, (), "cin_plan.end",
                         f"'{step.title}' may end the child in need plan before it starts "
                         "(they are in parallel branches, and the record refuses it)")
        if cp_end and cp is not None:
            cp = cp._replace(done=_best(cp.done, cp_end), done_at=here)
        if cin_start:
            if cin is not None and cin.done != "sure":
                self._report(_severity(cin_start, cin.done), trail, ("4004",), "cin_plan.start",
                             f"'{step.title}' starts a child in need plan while another may still "
                             "be open (the engine refuses it)")
            if cp is not None and (cp.done != "sure" or concurrent_branches(cp.at, step.branch)):
                self._report(_severity(cin_start, cp.done), trail, ("4001", "4016", "4017"),
                             "cin_plan.start", f"'{step.title}' starts a child in need plan "
                             "while a child protection plan may still be open")
            cin = _Obj(here)
            rec = rec._replace(worked=True)
        return rec._replace(cp=cp, cin=cin)

    def _closure(self, rec: _Rec, trail: Trail, here: Ref, lv: _Level) -> _Rec:
        step = trail.step
        when, reason = lv("closure.date"), lv("closure.reason")
        if when == "sure" and reason != "sure":
            self._report(_severity("sure", reason), trail, ("8805",), "closure.reason",
                         f"'{step.title}' records the closure date without the reason"
                         + self._why(step, "closure.reason", reason))
        if reason == "sure" and when != "sure":
            self._report(_severity("sure", when), trail, ("8810",), "closure.date",
                         f"'{step.title}' records the reason for closure without the date"
                         + self._why(step, "closure.date", when))
        if when is None:
            return rec
        closing = f"the episode closes at '{step.title}'"
        a = rec.assessment
        if a is not None:
            self._report(_severity(when, a.done), trail, ("8867",), "assessment.authorised",
                         f"{closing} while an assessment may not be authorised")
            if a.done == "sure":
                self._report(_severity(when, a.extra), trail, ("8897Q",), "assessment.factors",
                             f"{closing} but the assessment may have no factors recorded")
        if rec.s47 is not None:
            self._report(_severity(when, rec.s47.done), trail, ("8868",), "s47.icpc_date",
                         f"{closing} while the section 47 enquiry may have neither an ICPC date "
                         "nor 'ICPC not required'")
            if not rec.assessed:
                self._report("warning", trail, ("2991Q",), "assessment.start",
                             f"{closing} after a section 47 enquiry with no assessment on the "
                             "episode", key="s47")
        for plan, what, item in ((rec.cp, "child protection plan", "cp_plan.end"),
                                 (rec.cin, "child in need plan", "cin_plan.end")):
            if plan is not None:
                self._report(_severity(when, plan.done), trail, (), item,
                             f"{closing} while a {what} may still be open ({item} is not "
                             "recorded)")
        self._category(rec, trail)
        if not rec.decided and rec.nfa is None and not rec.need:
            self._report(_severity(when, None), trail, ("8610",), "episode.primary_need",
                         f"{closing} without a primary need or a decision of no further action")
        codes = self._reasons(step)
        early = sorted(set(codes) & set(_CLOSED_AFTER_ASSESSMENT))
        if early and not rec.assessed:
            self._report("warning", trail, ("8825Q",), "closure.reason",
                         f"form '{step.form}' offers {'/'.join(early)} (closed after "
                         "assessment) on a path with no assessment", key=step.form)
        if early and rec.worked:
            self._report("warning", trail, ("2990",), "closure.reason",
                         f"form '{step.form}' offers {'/'.join(early)} (closed after "
                         "assessment) on a path with a section 47 enquiry or a plan",
                         key=step.form)
        for other in rec.fills:
            if concurrent_branches(other, step.branch):
                self._report("error", trail, ("8565",), "closure.date",
                             f"a task in parallel with the closure at '{step.title}' may record "
                             "something after it")
        return rec._replace(closed=(here, when))

    def _category(self, rec: _Rec, trail: Trail) -> None:
        if rec.cp is not None and rec.cp.extra != "sure":
            self._report(_severity("sure", rec.cp.extra), trail, ("8905",),
                         "cp_plan.initial_category", "a child protection plan may have no "
                         "initial category of abuse", key="plan")

    def _reasons(self, step: Step) -> tuple[str, ...]:
        """The closure reasons the step's form can record."""
        known = step.outcome.items.get("closure.reason")
        if isinstance(known, str):
            return (known,)
        form = self.pack.forms.get(step.form or "")
        for f in form.fields if form is not None else ():
            if f.record == "closure.reason":
                return tuple(o.value for o in f.options)
        return ()

    def finish(self, rec: _Rec, trail: Trail, end: EndKind) -> None:
        if rec.closed is None:
            self._category(rec, trail)

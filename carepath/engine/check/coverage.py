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

Items a form fills only if an optional question is answered count as possibly missing (an
error where the item is required); items behind a ``show_if`` that cannot be worked out are
errors too, unless the pack accepts them (``accept_undecided`` in pack.yaml: then warnings).
Items the engine refuses to record (factors before authorisation, a second open plan) would
leave the case stuck at that task: those are errors too, also when the steps that must come in
order are in different branches of one parallel block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from carepath.core.looked_after_codes import NO_PROVIDER_PLACEMENTS
from carepath.engine.check.paths import Branch, EndKind, Step, Trail, concurrent_branches
from carepath.engine.check.report import Findings, Severity
from carepath.engine.check.symbolic import UNKNOWN
from carepath.engine.pack import Pack

Level = Literal["sure", "optional", "unsure"]
_Level = Callable[[str], "Level | None"]  # how surely the step being checked fills an item
Ref = Branch  # where something was recorded: the parallel branch of its step
_Severity = Literal["error", "warning", "undecided"]
_ORDER = {"sure": 3, "optional": 2, "unsure": 1, None: 0}
_ACTIVITY = ("assessment.", "s47.", "cp_plan.", "cin_plan.")
_CLOSED_AFTER_ASSESSMENT = ("RC8", "RC9")
_CARE = frozenset({"care", "legal_status", "placement", "missing", "lac_review"})


class _Obj(NamedTuple):
    at: Ref
    done: Level | None = None  # assessment: authorised; s47: concluded; plans: ended
    extra: Level | None = None  # assessment: factors; CP plan: initial category
    done_at: Ref = ()  # where it was authorised / concluded / ended


class _Rec(NamedTuple):
    decided: bool = False
    nfa: Ref | None = None
    need: bool = False
    activity: Ref | None = None
    assessment: _Obj | None = None
    assessed: bool = False
    s47: _Obj | None = None
    icpc: tuple[Ref, Level] | None = None
    cp: _Obj | None = None
    cin: _Obj | None = None
    worked: bool = False  # an enquiry or a plan is on the episode (rule 2990)
    closed: tuple[Ref, Level] | None = None  # where the episode closed, and how surely
    care: Level | None = None  # how surely the child is looked after (None: not)
    fills: tuple[Ref, ...] = ()  # steps in parallel branches that recorded something
    branched: bool = False  # some Ref above names a parallel branch


def _plain(ref: Ref | None) -> Ref | None:
    return None if ref is None else ()


def _settle(rec: _Rec) -> _Rec:
    """After a parallel block has joined, every step of it came before what follows: forget the
    branches (so paths that differ only there share what follows)."""
    def obj(o: _Obj | None) -> _Obj | None:
        return None if o is None else o._replace(at=(), done_at=())

    closed = None if rec.closed is None else ((), rec.closed[1])
    return rec._replace(
        nfa=_plain(rec.nfa), activity=_plain(rec.activity), assessment=obj(rec.assessment),
        s47=obj(rec.s47), icpc=None if rec.icpc is None else ((), rec.icpc[1]),
        cp=obj(rec.cp), cin=obj(rec.cin), closed=closed, fills=(), branched=False)


def _best(a: Level | None, b: Level | None) -> Level | None:
    return a if _ORDER[a] >= _ORDER[b] else b


def _severity(trigger: Level | None, have: Level | None) -> _Severity | None:
    """How bad it is that a step doing something (``trigger``: how surely it does it) finds an
    item it needs only ``have`` (None: nothing to report). "undecided": it hangs on a
    ``show_if`` the checker cannot work out, an error unless the pack accepts it."""
    if trigger is None or have == "sure":
        return None
    if trigger == "sure" and have != "unsure":
        return "error"
    return "undecided" if "unsure" in (trigger, have) else "warning"


class RecordContract:
    """An observer (:class:`~carepath.engine.check.paths.Observer`) checking the record
    contract; its findings go to ``findings``."""

    def __init__(self, pack: Pack, findings: Findings) -> None:
        self.pack = pack
        self.findings = findings
        self.maps_nfa = any(f.record == "referral.nfa" for form in pack.forms.values()
                            for f in form.fields)
        self._seen: dict[tuple[Any, ...], _Rec] = {}

    def begin(self) -> _Rec:
        return _Rec()

    # -- reporting ------------------------------------------------------------------------------

    def _field(self, step: Step, item: str) -> str | None:
        form = self.pack.forms.get(step.form or "")
        for f in form.fields if form is not None else ():
            if f.record == item:
                return f.name
        return None

    def _why(self, step: Step, item: str, have: Level | None) -> str:
        name = self._field(step, item)
        if have == "optional" and name:
            return f" ('{name}' is optional on form '{step.form}' and may be left blank)"
        if have == "unsure" and name:
            return f" ('{name}' on form '{step.form}' may not be shown: its show_if cannot be " \
                   "worked out here)"
        return ""

    def accepted(self, step: Step, item: str | None) -> bool:
        """Whether the pack accepts that ``item`` hangs on a ``show_if`` it cannot decide
        (``accept_undecided`` in pack.yaml names the item or a field of the step's form)."""
        accept = self.pack.accept_undecided
        if item in accept:
            return True
        form = self.pack.forms.get(step.form or "")
        return form is not None and any(
            f"{form.id}.{f.name}" in accept for f in form.fields if f.show_if is not None)

    def _report(self, severity: _Severity | None, trail: Trail, rules: tuple[str, ...],
                item: str | None, message: str, key: Any = None) -> None:
        if severity is None:
            return
        found: Severity
        if severity == "undecided":
            if self.accepted(trail.step, item):
                found = "warning"
                message += " (accepted in pack.yaml: accept_undecided)"
            else:
                found = "error"
                message += (" — a condition decides it that pack check cannot work out: "
                            "make it decidable, or accept it with accept_undecided in pack.yaml")
        else:
            found = severity
        self.findings.at(found, "record", message, trail, rules=rules, item=item,
                         key=None if key is None else ("record", rules, item, key))

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

"""Deliberately broken packs are each caught, with the right rule, record item and path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from carepath.adapters.packs import load_pack_dir
from carepath.engine.check import check_pack, render_text
from carepath.engine.check.report import Finding, Report

from .broken import VARIANTS, Variant, apply, copy_pack, edit


def matching(report: Report, rule: str, item: str | None) -> list[Finding]:
    return [f for f in report.errors
            if (rule in f.rules or f.check == rule) and f.item == item]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_broken_variant_is_caught_on_its_path(tmp_path: Path, variant: Variant) -> None:
    report = check_pack(load_pack_dir(apply(tmp_path, variant)))
    assert not report.ok
    found = matching(report, variant.rule, variant.item)
    assert found, render_text(report)
    shortest = min(found, key=lambda f: len(f.path))
    assert shortest.path == variant.path, render_text(report)
    assert shortest.severity == "error"


def test_at_least_twelve_variants_on_both_packs() -> None:
    assert len(VARIANTS) >= 12
    assert {v.pack for v in VARIANTS} == {"wt2023", "ics2010"}


def test_finding_names_rule_item_place_and_every_step(tmp_path: Path) -> None:
    variant = next(v for v in VARIANTS if v.name == "section 47 can end without an ICPC outcome")
    report = check_pack(load_pack_dir(apply(tmp_path, variant)))
    finding = min(matching(report, "8868", "s47.icpc_date"), key=lambda f: len(f.path))
    assert finding.check == "record"
    assert finding.file == "processes/section47.yaml" and finding.line
    assert finding.process == "section47" and finding.node == "close_after_enquiry"
    assert finding.route == (
        "[Referral and assessment]",
        "Decide what happens next with the referral (nfa = no, next_step = "
        "'strategy_discussion')",
        "After the referral decision: Strategy discussion",
        "[Strategy discussion and section 47 enquiry]",
        "Record the strategy discussion (with_assessment = 'enquiry_only')",
        "Assessment alongside the enquiry?: Enquiry only",
        "Record the outcome of the section 47 enquiry (icpc_not_required = yes)",
        "Child protection plan made?: No plan",
        "Decide what happens after the enquiry (enquiry_next = 'close')",
        "What happens next: Close the case",
        "Close the case",
    )
    text = render_text(report)
    assert "DfE rule 8868" in text and "s47.icpc_date" in text
    assert "Record the strategy discussion (with_assessment = 'enquiry_only') → " in text


def test_optional_item_is_reported_as_possibly_left_blank(tmp_path: Path) -> None:
    variant = next(v for v in VARIANTS if v.pack == "ics2010")
    report = check_pack(load_pack_dir(apply(tmp_path, variant)))
    finding = min(matching(report, "4001", "cin_plan.end"), key=lambda f: len(f.path))
    assert "'cin_plan_end' is optional on form 'section47_outcome'" in finding.message


def test_unused_form_and_unreachable_task_are_warnings(tmp_path: Path) -> None:
    root = copy_pack(tmp_path)
    text = (root / "forms" / "core_group.yaml").read_text()
    (root / "forms" / "spare.yaml").write_text(text.replace("id: core_group", "id: spare"))
    edit(root, "processes/referral.yaml", "      - when: nfa\n", """      - when: nfa and not nfa
        title: Never
        steps:
          - task: never_done
            title: A task no path reaches
            form: core_group
            role: social_worker
          - end: never_ends
            title: Never
      - when: nfa
""")
    report = check_pack(load_pack_dir(root))
    assert report.ok
    kinds = {(f.check, f.message) for f in report.warnings}
    assert ("unused-form", "form 'spare' is not used by any task") in kinds
    assert ("unreachable", "task 'A task no path reaches' is on no path from the start of the "
            "pack") in kinds


def test_parallel_branches_may_run_in_any_order(tmp_path: Path) -> None:
    # The ICPC date recorded by the assessment branch, the plan started by the enquiry branch:
    # the plan may start before the conference is recorded.
    root = copy_pack(tmp_path)
    outcome = root / "forms" / "section47_outcome.yaml"
    outcome.write_text(outcome.read_text().replace("    record: s47.icpc_date\n", ""))
    edit(root, "forms/authorise_assessment_alongside_enquiry.yaml",
         "    record: assessment.authorised\n    example: 2025-06-10\n",
         "    record: assessment.authorised\n    example: 2025-06-10\n\n"
         "  - name: conference\n    type: date\n"
         "    label: Date of the conference\n    required: true\n    record: s47.icpc_date\n"
         "    example: 2025-06-10\n")
    report = check_pack(load_pack_dir(root))
    found = [f for f in matching(report, "2885", "s47.icpc_date")
             if "Complete the child and family assessment" in f.path]
    assert found, render_text(report)


def test_timer_reading_a_name_no_form_sets(tmp_path: Path) -> None:
    root = tmp_path / "timer_pack"
    shutil.copytree(Path(__file__).parents[2] / "packs" / "timer_pack", root)
    edit(root, "processes/referral.yaml", '    duration: "P7D"\n',
         '    until: "working_days_after(visit_date, 5)"\n')
    report = check_pack(load_pack_dir(root))
    found = [f for f in report.errors if f.check == "undefined-name"]
    assert [f.message for f in found] == [
        "'visit_date' may be undefined at timer 'Wait a week': no form completed on this path "
        "(in this run of the process) sets it"]
    assert found[0].path == ("Decide what happens next",)

"""pack check cannot be fooled: value rules, dead ends, undecided conditions, parallel order,
and limits are each an error (exit 1) with the rule and the path."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from carepath.adapters.packs import load_pack_dir
from carepath.cli import main
from carepath.engine.check import Limits, check_pack, render_text
from carepath.engine.check.report import Report

from .broken import copy_pack, edit

FACTORS = ("  - name: factors\n    type: multichoice\n    codelist: assessment_factors\n"
           "    label: Factors identified at the end of the assessment\n"
           "    hint: Select all that apply. Select 'No factors identified' only on its own.\n"
           "    required: true\n    record: assessment.factors\n    example: [\"3B\", \"4B\"]\n")
# the same field on the team manager's sign-off form, asked when the manager authorises
SIGNED_FACTORS = FACTORS.replace("    codelist:", "    show_if: authorisation == 'authorise'\n"
                                 "    codelist:")
SIGN_OFF = "forms/authorise_assessment.yaml"
JOINT_SIGN_OFF = "forms/authorise_assessment_alongside_enquiry.yaml"


def errors(report: Report, rule: str) -> list[str]:
    return [f.message for f in report.errors if rule in f.rules or f.check == rule]


def run_check(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["pack", "check", str(root), *args])
    return result.exit_code, result.output


def test_plan_start_not_tied_to_the_conference_is_an_error(tmp_path: Path) -> None:
    # the built-in pack as it was: the plan could start days after the conference (rule 2885)
    root = copy_pack(tmp_path)
    edit(root, "forms/section47_outcome.yaml", "    same_as: icpc_date\n",
         "    not_before: icpc_date\n")
    report = check_pack(load_pack_dir(root))
    found = [f for f in report.errors if "2885" in f.rules and f.item == "cp_plan.start"]
    assert found, render_text(report)
    assert "same_as: icpc_date" in found[0].message
    assert found[0].path[-1] == "Record the outcome of the section 47 enquiry"
    code, output = run_check(root)
    assert code == 1 and "DfE rule 2885" in output and "path: " in output


def test_date_order_on_one_form_is_an_error(tmp_path: Path) -> None:
    root = copy_pack(tmp_path)
    edit(root, "forms/section47_outcome.yaml", "    same_as: icpc_date\n", "")
    edit(root, "forms/section47_outcome.yaml",
         "  - name: initial_category\n",
         "  - name: plan_end\n    type: date\n    label: Date the plan ended\n"
         "    show_if: conference_outcome == 'plan'\n    required: true\n"
         "    same_as: plan_start\n    record: cp_plan.end\n    example: 2025-06-10\n\n"
         "  - name: initial_category\n")
    report = check_pack(load_pack_dir(root))
    assert any("2885" in f.rules for f in report.errors), render_text(report)
    assert any("never accepts" in m for m in errors(report, "8840")), render_text(report)


def test_factor_21_with_others_in_an_example_is_an_error(tmp_path: Path) -> None:
    root = copy_pack(tmp_path)
    edit(root, SIGN_OFF, '    example: ["3B", "4B"]\n', '    example: ["21", "3B"]\n')
    report = check_pack(load_pack_dir(root))
    assert errors(report, "8869"), render_text(report)


def test_a_path_that_leaves_the_episode_open_with_nothing_to_do_is_an_error(
        tmp_path: Path) -> None:
    root = copy_pack(tmp_path)
    edit(root, "processes/referral.yaml",
         "- end: referral_to_section47\n            title: Strategy discussion to be held\n"
         "            start: section47\n",
         "- end: referral_to_section47\n            title: Strategy discussion to be held\n")
    # with the actions, a strategy discussion or closure can still be started: no dead end
    assert not [f for f in check_pack(load_pack_dir(root)).errors if f.check == "dead-end"]
    pack_yaml = root / "pack.yaml"
    text = pack_yaml.read_text()
    s47 = '"episode.open and episode.primary_need is not None and not s47.open and not ' \
        'cp_plan.open"'
    close = ("      episode.open and episode.primary_need is not None and not s47.open\n"
             "      and not assessment.open\n")
    assessment = ("      episode.open and episode.primary_need is not None and not "
                  "assessment.open\n      and not cp_plan.open\n")
    looked_after = '"episode.open and episode.primary_need is not None and not care.open"'
    assert s47 in text and close in text and assessment in text and looked_after in text
    # (a change of worker, always available, cannot continue the case; the care actions other
    # than becoming looked after need a looked-after child)
    pack_yaml.write_text(text.replace(s47, '"cin_plan.open"').replace(close, "      cp_plan.open\n")
                         .replace(assessment, "      cp_plan.open\n")
                         .replace(looked_after, '"cp_plan.open"'))
    report = check_pack(load_pack_dir(root))
    found = [f for f in report.errors if f.check == "dead-end"]
    assert found, render_text(report)
    assert found[0].route[-1] == "After the referral decision: Strategy discussion"
    assert found[0].file == "processes/referral.yaml"
    code, output = run_check(root)
    assert code == 1 and "episode still open" in output


def test_required_item_behind_an_undecidable_show_if_is_an_error_unless_accepted(
        tmp_path: Path) -> None:
    root = copy_pack(tmp_path)
    edit(root, SIGN_OFF, "  - name: authorised\n    type: date\n"
         "    show_if: authorisation == 'authorise'\n",
         "  - name: score\n    type: number\n    label: Score\n    required: true\n"
         "    example: 3\n\n  - name: authorised\n    type: date\n    show_if: score > 2\n")
    report = check_pack(load_pack_dir(root))
    found = [f for f in report.errors if f.item == "assessment.authorised"]
    assert found and "accept_undecided" in found[0].message, render_text(report)
    assert run_check(root)[0] == 1
    pack_yaml = root / "pack.yaml"
    pack_yaml.write_text(pack_yaml.read_text() + "accept_undecided: [assessment.authorised]\n")
    report = check_pack(load_pack_dir(root))
    assert not [f for f in report.errors if f.item == "assessment.authorised"], \
        render_text(report)
    assert any("accepted in pack.yaml" in f.message for f in report.warnings)


def test_factors_and_authorisation_in_parallel_branches_is_an_error(tmp_path: Path) -> None:
    # factors in the enquiry branch, authorisation in the assessment branch
    root = copy_pack(tmp_path)
    edit(root, JOINT_SIGN_OFF, SIGNED_FACTORS, "")
    edit(root, "forms/section47_outcome.yaml", "  - name: icpc_not_required\n",
         FACTORS + "\n  - name: icpc_not_required\n")
    report = check_pack(load_pack_dir(root))
    assert [m for m in errors(report, "8614") if "parallel branches" in m], render_text(report)
    # and the other way round: authorisation in the enquiry branch, factors in the assessment
    root = copy_pack(tmp_path / "other")
    auth = ("  - name: authorised\n    type: date\n    label: Date the assessment was authorised\n"
            "    required: true\n    record: assessment.authorised\n    example: 2025-06-10\n")
    edit(root, JOINT_SIGN_OFF, "    record: assessment.authorised\n", "")
    edit(root, "forms/section47_outcome.yaml", "  - name: icpc_not_required\n",
         auth + "\n  - name: icpc_not_required\n")
    report = check_pack(load_pack_dir(root))
    assert errors(report, "8614"), render_text(report)


def test_reaching_a_limit_is_not_a_pass(tmp_path: Path, monkeypatch: object) -> None:
    report = check_pack(load_pack_dir(copy_pack(tmp_path)), Limits(max_states=50))
    assert not report.ok and not report.errors
    assert report.incomplete == ["could not check everything: the walk reached its limit of 50 "
                                 "states — raise it with --max-states N (or "
                                 "CAREPATH_CHECK_MAX_STATES)"]
    report = check_pack(load_pack_dir(copy_pack(tmp_path / "b")), Limits(max_outcomes=2))
    assert not report.ok and "limit of 2 outcomes of one form" in report.incomplete[0]
    code, output = run_check(copy_pack(tmp_path / "c"), "--max-states", "50")
    assert code == 1 and "could not check everything" in output and "fails" in output
    result = CliRunner().invoke(main, ["pack", "check", "wt2023"],
                                env={"CAREPATH_CHECK_MAX_OUTCOMES": "2"})
    assert result.exit_code == 1 and "--max-outcomes" in result.output
    assert run_check(copy_pack(tmp_path / "d"))[0] == 0

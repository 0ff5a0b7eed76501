"""pack check walks the processes the pack's actions start: wherever an action may be available,
taking it is a path too, and what that path breaks is reported with the action in its path."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from carepath.adapters.packs import load_pack_dir
from carepath.cli import main
from carepath.engine.check import Limits, check_pack, render_text

from .broken import ASSESS, DECIDE, START, copy_pack, edit

ACTIONS_START = "actions:\n"


def only_actions(root: Path, actions: str) -> None:
    """Replace the pack's actions with ``actions`` (YAML under ``actions:``)."""
    manifest = root / "pack.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text[:text.index(ACTIONS_START)] + ACTIONS_START + actions,
                        encoding="utf-8")


def test_an_action_process_that_misses_a_statutory_item_is_an_error(tmp_path: Path) -> None:
    # the close-case action offered while the assessment is open: closing then leaves it
    # unauthorised
    root = copy_pack(tmp_path)
    edit(root, "pack.yaml", "not s47.open\n      and not assessment.open\n", "not s47.open\n")
    report = check_pack(load_pack_dir(root))
    found = [f for f in report.errors if "8867" in f.rules and f.item == "assessment.authorised"]
    assert found, render_text(report)
    shortest = min(found, key=lambda f: len(f.path))
    assert shortest.path == (DECIDE, START, f"action close_case at '{ASSESS}'", "Close the case")
    assert shortest.file == "processes/close_case.yaml"
    assert "action close_case at 'Complete the child and family assessment'" in shortest.route
    result = CliRunner().invoke(main, ["pack", "check", str(root)])
    assert result.exit_code == 1 and "action close_case at" in result.output


def test_an_action_started_assessment_without_factors_is_an_error(tmp_path: Path) -> None:
    # the re-assessment an action starts has its own sign-off form, which forgets the factors
    root = copy_pack(tmp_path)
    text = (root / "forms/authorise_assessment.yaml").read_text(encoding="utf-8")
    (root / "forms/reauthorise.yaml").write_text(
        text.replace("id: authorise_assessment\n", "id: reauthorise\n")
        .replace("    record: assessment.factors\n", ""), encoding="utf-8")
    edit(root, "processes/assessment.yaml", "    form: authorise_assessment\n",
         "    form: reauthorise\n")
    report = check_pack(load_pack_dir(root))
    found = [f for f in report.errors if f.item == "assessment.factors"]
    assert found, render_text(report)
    assert all(any(step.startswith("action start_assessment") for step in f.path)
               for f in found)
    assert {f.file for f in found} <= {"processes/assessment.yaml", "processes/cin_review.yaml",
                                        "processes/close_case.yaml", "processes/section47.yaml",
                                        "processes/cp_review.yaml"}
    # the same pack with no action taken passes: only the action's process is broken
    assert check_pack(load_pack_dir(root), Limits(max_actions=0)).ok


def test_an_action_process_that_leaves_the_case_stuck_is_a_dead_end(tmp_path: Path) -> None:
    root = copy_pack(tmp_path)
    # a strategy discussion decided at the referral that starts nothing: the case waits for an
    # action; the only one starts an assessment that nothing ever finishes
    edit(root, "processes/referral.yaml",
         "- end: referral_to_section47\n            title: Strategy discussion to be held\n"
         "            start: section47\n",
         "- end: referral_to_section47\n            title: Strategy discussion to be held\n")
    (root / "processes/early_help.yaml").write_text(
        "id: early_help\ntitle: Early help assessment\nsteps:\n"
        "  - task: start_early_help\n    title: Start the early help assessment\n"
        "    form: assessment_start\n    role: social_worker\n"
        "  - end: early_help_started\n    title: Early help assessment started\n",
        encoding="utf-8")
    only_actions(root, "  start_early_help:\n    title: Start an early help assessment\n"
                       "    available: \"episode.open and not assessment.open\"\n"
                       "    role: social_worker\n    start: early_help\n")
    report = check_pack(load_pack_dir(root))
    found = [f for f in report.errors if f.check == "dead-end"
             and f.file == "processes/early_help.yaml"]
    assert found, render_text(report)
    assert found[0].path == (DECIDE, "action start_early_help after 'Strategy discussion to be "
                                     "held'", "Start the early help assessment")
    assert "episode still open" in found[0].message


def test_a_change_of_worker_is_not_explored_and_continues_nothing(tmp_path: Path) -> None:
    root = copy_pack(tmp_path)
    edit(root, "processes/referral.yaml",
         "- end: referral_to_section47\n            title: Strategy discussion to be held\n"
         "            start: section47\n",
         "- end: referral_to_section47\n            title: Strategy discussion to be held\n")
    only_actions(root, "  change_worker:\n    title: Change the allocated worker\n"
                       "    available: \"episode.open\"\n    role: team_manager\n"
                       "    change: worker\n")
    report = check_pack(load_pack_dir(root))
    assert [f for f in report.errors if f.check == "dead-end"], render_text(report)


def test_a_limit_reached_while_taking_actions_is_not_a_pass(tmp_path: Path) -> None:
    report = check_pack(load_pack_dir(copy_pack(tmp_path)), Limits(max_states=20_000))
    assert not report.ok
    assert report.incomplete and "could not check everything" in report.incomplete[0]

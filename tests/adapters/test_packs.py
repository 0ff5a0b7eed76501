"""Packs load from directories and from installed distributions; a broken pack is refused whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from carepath.adapters.packs import PackRegistry, load_pack_dir
from carepath.engine.pack import PackErrors
from carepath.processes import ics2010, wt2023

TIMER_PACK = Path(__file__).parents[1] / "packs" / "timer_pack"


def test_builtin_packs_load_through_the_entry_point_group() -> None:
    registry = PackRegistry()
    assert {"ics2010", "wt2023"} <= set(registry.names())
    assert registry.origin("wt2023") == "carepath"
    pack = registry.get("wt2023")
    assert pack.version and pack.start in pack.bpmn


def test_vendor_distribution_exposing_the_entry_point(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # A real installed distribution on sys.path: a package plus its dist-info metadata.
    package = tmp_path / "vendorpacks"
    shutil.copytree(TIMER_PACK, package / "timer_pack")
    (package / "__init__.py").write_text(
        "from pathlib import Path\nTIMER = Path(__file__).parent / 'timer_pack'\n")
    info = tmp_path / "vendorpacks-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vendorpacks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[carepath.packs]\ntimer-test = vendorpacks:TIMER\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = PackRegistry()
    assert "timer-test" in registry.names()
    assert registry.origin("timer-test") == "vendorpacks"
    assert registry.get("timer-test").title == "Timer test pack"


def broken_copy(tmp_path: Path, source: Path = wt2023) -> Path:
    target = tmp_path / "pack"
    shutil.copytree(source, target)
    return target


def refusal(path: Path) -> str:
    with pytest.raises(PackErrors) as caught:
        load_pack_dir(path)
    return str(caught.value)


def test_unknown_field_type_names_file_and_line(tmp_path: Path) -> None:
    pack = broken_copy(tmp_path)
    form = pack / "forms" / "referral_decision.yaml"
    lines = form.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if "type: yesno" in line)
    lines[index] = lines[index].replace("yesno", "yesnoo")
    form.write_text("\n".join(lines) + "\n")
    message = refusal(pack)
    assert f"forms/referral_decision.yaml:{index + 1}:" in message
    assert "yesnoo" in message


def test_task_with_missing_form_and_bad_yaml_are_all_reported(tmp_path: Path) -> None:
    pack = broken_copy(tmp_path, ics2010)
    (pack / "forms" / "close_case.yaml").unlink()
    (pack / "codelists").mkdir(exist_ok=True)
    (pack / "codelists" / "broken.yaml").write_text("id: x\ncodes: [\n")
    message = refusal(pack)
    assert "close_case" in message
    assert "codelists/broken.yaml:" in message
    assert "problems" in message


def test_unsafe_condition_is_refused_at_load(tmp_path: Path) -> None:
    pack = broken_copy(tmp_path)
    process = pack / "processes" / "referral.yaml"
    text = process.read_text()
    assert "when:" in text
    head, tail = text.split("when:", 1)
    rest = tail.split("\n", 1)[1]
    process.write_text(head + "when: \"().__class__.__base__.__subclasses__()\"\n" + rest)
    message = refusal(pack)
    assert "processes/referral.yaml:" in message
    assert "__subclasses__" in message


def test_script_task_in_bpmn_is_refused(tmp_path: Path) -> None:
    pack = broken_copy(tmp_path)
    bpmn = pack / "processes" / "extra.bpmn"
    bpmn.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="extra" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="run"/>
    <bpmn:scriptTask id="run"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="run" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>
""")
    message = refusal(pack)
    assert "processes/extra.bpmn:6" in message
    assert "script" in message.lower()


def test_engine_range_is_checked(tmp_path: Path) -> None:
    pack = broken_copy(tmp_path)
    manifest = pack / "pack.yaml"
    manifest.write_text(manifest.read_text().replace('engine: ">=0.1,<1"', 'engine: ">=9"'))
    assert "needs carepath >=9" in refusal(pack)

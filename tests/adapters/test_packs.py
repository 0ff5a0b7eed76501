"""Packs load from directories and from installed distributions; a broken pack is refused whole,
without stopping the others; a second pack with a name and version already known is refused."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from carepath.adapters.packs import PACK_PATH_ENV, PackRegistry, load_pack_dir
from carepath.core.errors import CarepathError, NotFoundError
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


# -- the registry: broken packs, clashes, paths that are not packs ------------------------------

def _set_version(directory: Path, version: str) -> Path:
    manifest = directory / "pack.yaml"
    text = manifest.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if line.startswith("version:"))
    manifest.write_text(text.replace(old, f"version: {version}", 1), encoding="utf-8")
    return directory


def _broken_pack(root: Path) -> Path:
    """A copy of the timer test pack, renamed, whose form has a field of an unknown type."""
    pack = root / "broken"
    shutil.copytree(TIMER_PACK, pack)
    manifest = pack / "pack.yaml"
    manifest.write_text(manifest.read_text().replace("name: timer-test", "name: broken-test"))
    form = pack / "forms" / "note.yaml"
    form.write_text(form.read_text().replace("type: text", "type: texxt", 1))
    assert "texxt" in form.read_text()
    return pack


def test_a_broken_pack_on_the_pack_path_does_not_stop_the_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "packs"
    folder.mkdir()
    shutil.copytree(TIMER_PACK, folder / "timer")
    broken_dir = _broken_pack(folder)
    monkeypatch.setenv(PACK_PATH_ENV, str(folder))
    registry = PackRegistry()
    assert {"ics2010", "wt2023", "timer-test"} <= set(registry.names())
    assert "broken-test" not in registry.names()
    [broken] = registry.broken()
    assert broken.name_or_path == "broken-test"
    assert broken.origin == str(broken_dir)
    assert "forms/note.yaml:" in broken.message and "texxt" in broken.message
    with pytest.raises(PackErrors) as caught:
        registry.get("broken-test")
    assert str(caught.value) == broken.message
    assert registry.get("timer-test").title == "Timer test pack"


def test_a_pack_path_entry_that_is_missing_or_unreadable_is_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nameless = tmp_path / "nameless"
    nameless.mkdir()
    (nameless / "pack.yaml").write_text("title: [unclosed\n")
    missing = tmp_path / "missing"
    monkeypatch.setenv(PACK_PATH_ENV, os.pathsep.join([str(missing), str(nameless)]))
    registry = PackRegistry()
    assert {"ics2010", "wt2023"} <= set(registry.names())
    found = {b.name_or_path: b for b in registry.broken()}
    assert set(found) == {str(missing), str(nameless)}
    assert found[str(missing)].origin == PACK_PATH_ENV
    assert "not a directory" in found[str(missing)].message
    assert "pack.yaml:" in found[str(nameless)].message
    with pytest.raises(PackErrors):
        registry.get(str(nameless))


def test_a_pack_with_the_name_and_version_of_a_built_in_pack_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = broken_copy(tmp_path)  # wt2023 1.0.0, edited
    (copy / "forms" / "assessment.yaml").write_text(
        (copy / "forms" / "assessment.yaml").read_text() + "\n# a council's edit\n")
    monkeypatch.setenv(PACK_PATH_ENV, str(copy))
    registry = PackRegistry()
    assert "wt2023" in registry.names()
    assert registry.origin("wt2023") == "carepath"
    assert registry.get("wt2023").source == str(wt2023.resolve())
    [broken] = registry.broken()
    assert (broken.name_or_path, broken.origin) == ("wt2023", str(copy))
    # both origins are named, and what to do
    assert "wt2023 1.0.0 is already installed from the installed distribution 'carepath'" \
        in broken.message
    assert str(wt2023.resolve()) in broken.message and str(copy) in broken.message
    assert "new version" in broken.message
    # asked for by its path, it is refused the same way; nothing changes
    with pytest.raises(PackErrors, match="already installed"):
        registry.get(str(copy))
    with pytest.raises(PackErrors, match="already installed"):
        PackRegistry([copy])
    assert registry.get("wt2023").source == str(wt2023.resolve())


def test_two_directories_with_one_name_and_version(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    shutil.copytree(TIMER_PACK, first)
    shutil.copytree(TIMER_PACK, second)
    monkeypatch.setenv(PACK_PATH_ENV, os.pathsep.join([str(first), str(second)]))
    registry = PackRegistry()
    assert registry.origin("timer-test") == str(first)
    [broken] = registry.broken()
    assert broken.origin == str(second) and str(first) in broken.message


def test_the_same_directory_twice_is_one_pack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PACK_PATH_ENV, os.pathsep.join([str(wt2023), str(wt2023)]))
    registry = PackRegistry([wt2023])
    assert registry.broken() == []
    assert registry.versions("wt2023") == ["1.0.0"]
    assert registry.get(str(wt2023)) is registry.get("wt2023")


def test_a_new_version_on_the_pack_path_is_used_for_new_cases_and_the_old_one_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    newer = _set_version(broken_copy(tmp_path), "1.1.0")
    monkeypatch.setenv(PACK_PATH_ENV, str(newer))
    registry = PackRegistry()
    assert registry.broken() == []
    assert registry.get("wt2023").version == "1.1.0"
    assert registry.origin("wt2023") == str(newer)
    assert registry.versions("wt2023") == ["1.1.0", "1.0.0"]
    assert registry.directory("wt2023") == newer.resolve()
    # cases started on the built-in version keep running on it
    assert registry.get_version("wt2023", "1.0.0").source == str(wt2023.resolve())
    assert registry.get_version("wt2023", "1.1.0").source == str(newer.resolve())
    with pytest.raises(CarepathError, match="wt2023@2.0.0, but wt2023@1.1.0 is installed"):
        registry.get_version("wt2023", "2.0.0")


def test_a_broken_new_version_is_not_replaced_by_the_old_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    newer = _set_version(broken_copy(tmp_path), "1.1.0")
    (newer / "forms" / "assessment.yaml").write_text("fields: [\n")
    monkeypatch.setenv(PACK_PATH_ENV, str(newer))
    registry = PackRegistry()
    assert "wt2023" not in registry.names()  # the council's version is broken: say so
    assert [b.name_or_path for b in registry.broken()] == ["wt2023"]
    with pytest.raises(PackErrors, match="forms/assessment.yaml"):
        registry.get("wt2023")
    assert registry.get_version("wt2023", "1.0.0").version == "1.0.0"


@pytest.mark.parametrize("kind", ["missing", "file", "pack.yaml", "empty dir", "name"])
def test_a_path_or_name_that_is_not_a_pack(tmp_path: Path, kind: str) -> None:
    registry = PackRegistry()
    target = {"missing": tmp_path / "nothing-here", "file": tmp_path / "notes.txt",
              "pack.yaml": tmp_path / "pack.yaml", "empty dir": tmp_path / "empty",
              "name": Path("no-such-pack")}[kind]
    if kind in ("file", "pack.yaml"):
        target.write_text("hello\n")
    if kind == "empty dir":
        target.mkdir()
    with pytest.raises(NotFoundError) as caught:
        registry.get(str(target))
    message = str(caught.value)
    expected = {"missing": f"No pack directory at {target}",
                "file": f"{target} is a file, not a pack directory",
                "pack.yaml": f"give the directory it is in ({tmp_path})",
                "empty dir": f"{target} is not a pack: it has no pack.yaml",
                "name": "No pack called 'no-such-pack' (installed packs: "}[kind]
    assert expected in message
    with pytest.raises(NotFoundError):
        registry.get("/nonexistent")


def _vendor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, module: str,
            entry: str) -> None:
    """An installed distribution ``name`` (package and dist-info) offering ``entry``."""
    package = tmp_path / name
    package.mkdir()
    shutil.copytree(TIMER_PACK, package / "timer_pack")
    (package / "__init__.py").write_text(module)
    info = tmp_path / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[carepath.packs]\n{entry}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)


def test_a_vendor_entry_point_that_fails_is_reported(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _vendor(tmp_path, monkeypatch, "failingpacks", "raise RuntimeError('licence server down')\n",
            "vendor-pack = failingpacks:PACK")
    registry = PackRegistry()
    assert {"ics2010", "wt2023"} <= set(registry.names())
    [broken] = registry.broken()
    assert (broken.name_or_path, broken.origin) == ("vendor-pack", "failingpacks")
    assert "RuntimeError: licence server down" in broken.message
    with pytest.raises(CarepathError, match="licence server down"):
        registry.get("vendor-pack")


def test_an_entry_point_must_be_named_after_its_pack(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _vendor(tmp_path, monkeypatch, "misnamedpacks",
            "from pathlib import Path\nTIMER = Path(__file__).parent / 'timer_pack'\n",
            "timers = misnamedpacks:TIMER")
    registry = PackRegistry()
    assert "timers" not in registry.names()
    [broken] = registry.broken()
    assert "calls it 'timer-test'" in broken.message


def test_pack_list_shows_the_good_packs_when_one_is_broken(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from carepath.cli import main

    monkeypatch.setenv(PACK_PATH_ENV, str(_broken_pack(tmp_path)))
    result = CliRunner().invoke(main, ["pack", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert {"ics2010", "wt2023"} <= {p["name"] for p in json.loads(result.stdout)}
    result = CliRunner().invoke(main, ["pack", "show", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert f"No pack directory at {tmp_path / 'nowhere'}" in result.output


def test_a_pack_file_that_cannot_be_read_is_a_problem_of_that_pack(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import carepath.adapters.packs as packs

    unreadable = _broken_pack(tmp_path)
    real = packs.read_pack_files

    def read(directory: Path) -> dict[str, str]:
        if directory == unreadable.resolve():
            raise PermissionError(13, "Permission denied", str(directory / "forms" / "note.yaml"))
        return real(directory)

    monkeypatch.setattr(packs, "read_pack_files", read)
    monkeypatch.setenv(PACK_PATH_ENV, str(unreadable))
    registry = PackRegistry()
    assert {"ics2010", "wt2023"} <= set(registry.names())
    [broken] = registry.broken()
    assert "forms/note.yaml: cannot be read (Permission denied)" in broken.message

"""The YAML loader refuses what would exhaust memory or the stack, with a file and line."""

from __future__ import annotations

import pytest

from carepath.core.errors import PackError
from carepath.core.yamlsource import MAX_DEPTH, load_yaml

LAUGHS = "a: &a [lol, lol, lol]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"


@pytest.mark.parametrize(("text", "says"), [
    (LAUGHS, "f.yaml:2: anchors and aliases"),
    ("x: " + "[" * 5000 + "]" * 5000, f"nested more than {MAX_DEPTH} levels deep"),
    ("x: " + "{a: " * 3000 + "1" + "}" * 3000, "nested more than"),
    ("a\x00b", "not valid YAML: unacceptable character"),
    ("x: !!int ", "a value could not be read"),
    ("x: !!float nope", "a value could not be read"),
    ("x: !!timestamp ", "is not a real date"),
    ('title: "a\\x01b"', "f.yaml:1: text may not hold control characters"),
    ('x: "\\ud800"', "lone surrogates"),
    ('"\\x07": 1', "control characters"),
    ("x: !!timestamp soon", "is not a real date"),
])
def test_refused_clearly(text: str, says: str) -> None:
    with pytest.raises(PackError) as caught:
        load_yaml(text, "f.yaml")
    assert says in str(caught.value)


def test_anchors_without_aliases_and_moderate_nesting_still_load() -> None:
    assert load_yaml("a: &x 1\nb: 2\n", "f.yaml") == {"a": 1, "b": 2}
    deep = "x: " + "[" * (MAX_DEPTH - 2) + "1" + "]" * (MAX_DEPTH - 2)
    assert load_yaml(deep, "f.yaml")["x"] is not None

"""A seeded generator of malformed input: values for task answers, and YAML files (child,
referral, answers, stories, pack files) broken in the ways people and attackers break them."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

HUGE = 2_000_000  # characters: a "huge" text value


def deep_list(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def deep_dict(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


def nasty_value(rng: random.Random, depth: int = 0) -> Any:
    """One value of a random kind: what a JSON body, a form post or a YAML file can carry."""
    kind = rng.randrange(22)
    if kind == 0:
        return "x" * rng.choice([1000, 100_000, HUGE])
    if kind == 1:
        return rng.choice(["", " ", "\x00", "\u202e\u0301", "💥" * 500, "\ud800", "\t\n\r",
                           "<script>alert(1)</script>", "{{ 7*7 }}", "${jndi:x}", "' OR 1=1 --",
                           "../../etc/passwd", "NaN", "null", "true", "2025-02-30", "0001-01-01",
                           "9999-12-31", "-1", "1e309"])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**31, 2**63, 2**64 + 1, -(2**63) - 1, 10**100, 10**4000])
    if kind == 3:
        return rng.choice([float("nan"), float("inf"), float("-inf"), 1e308, -0.0, 0.1, 3.5])
    if kind == 4:
        return rng.choice([True, False, None])
    if kind == 5:
        return rng.choice([date(1, 1, 1), date(9999, 12, 31), date(2025, 5, 1), date(1900, 2, 28)])
    if kind == 6:
        return deep_list(rng.choice([50, 500, 5000]))
    if kind == 7:
        return deep_dict(rng.choice([50, 500, 5000]))
    if kind == 8:
        return ["x"] * rng.choice([10, 10_000, 200_000])
    if kind == 9:
        return {f"k{i}": i for i in range(rng.choice([10, 10_000]))}
    if kind == 10 and depth < 3:
        return [nasty_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    if kind == 11 and depth < 3:
        return {rng.choice(["a", "", "0", "date", "__class__", "x" * 300]): nasty_value(rng, depth + 1)
                for _ in range(rng.randrange(4))}
    if kind == 12:
        return rng.choice(["yes", "no", "Y", "on", "off", "1", "0"])
    if kind == 13:
        return rng.choice(["N1", "N9", "RC1", "RC99", "2A", "ZZZ", "NEG", "PHY", "none", "NONE"])
    if kind == 14:
        return [rng.choice(["NONE", "AUT", "XXX", 1, None, ""]) for _ in range(rng.randrange(6))]
    if kind == 15:
        return rng.choice(["2025-05-01", "2025-13-01", "01/05/2025", "2025-5-1", "tomorrow",
                           "2025-05-01T10:00:00", "+002025-05-01", "２０２５-０５-０１"])
    if kind == 16:
        return "".join(chr(rng.randrange(1, 0x2FFFF)) for _ in range(rng.randrange(1, 200)))
    if kind == 17:
        return {"day": rng.choice(["1", "31", "x", ""]), "month": rng.choice(["2", "13", ""]),
                "year": rng.choice(["2025", "0", "99999", ""])}
    if kind == 18:
        return [{"date": nasty_value(rng, 3)} for _ in range(rng.randrange(4))]
    return rng.choice(["Some ordinary words.", "plan", "end", "held", "assessment", 42])


def nasty_values(rng: random.Random, fields: list[str], good: dict[str, Any]) -> dict[str, Any]:
    """Task answers: a good answer set with some values spoiled, junk keys, or pure junk."""
    style = rng.randrange(4)
    if style == 0:  # the right answers with one to three spoiled
        values = dict(good)
        for key in rng.sample(sorted(values) or ["x"], k=min(len(values) or 1,
                                                             rng.randint(1, 3))):
            values[key] = nasty_value(rng)
        return values
    if style == 1:  # every field of the form, each a random value
        return {f: nasty_value(rng) for f in fields}
    if style == 2:  # unknown keys
        values = dict(good)
        values[rng.choice(["x", "", "__proto__", "record", "a" * 1000, "1"])] = nasty_value(rng)
        return values
    return {rng.choice(fields or ["x"]): nasty_value(rng) for _ in range(rng.randrange(1, 6))}


# --- YAML text ---------------------------------------------------------------------------------

BILLION_LAUGHS = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def bomb(rng: random.Random, good: str) -> bytes:
    """A file that is small on disk and enormous (or endless) once read."""
    kind = rng.randrange(6)
    if kind == 0:
        return BILLION_LAUGHS.encode()
    if kind == 1:  # an alias bomb hidden in a field of an otherwise good file
        key = rng.choice([line.split(":", 1)[0] for line in good.splitlines()
                          if ":" in line and not line.startswith((" ", "#", "-"))] or ["x"])
        lines = [f"{key}: *i" if line.startswith(f"{key}:") else line
                 for line in good.splitlines()]
        return (BILLION_LAUGHS.replace("a: &a", "_a: &a").replace("\nb:", "\n_b:")
                .replace("\nc:", "\n_c:").replace("\nd:", "\n_d:").replace("\ne:", "\n_e:")
                .replace("\nf:", "\n_f:").replace("\ng:", "\n_g:").replace("\nh:", "\n_h:")
                .replace("\ni:", "\n_i:") + "\n".join(lines)).encode()
    if kind == 2:
        depth = rng.choice([200, 2000, 50_000])
        return ("x: " + "[" * depth + "]" * depth + "\n").encode()
    if kind == 3:
        depth = rng.choice([200, 2000, 20_000])
        return ("x: " + "{a: " * depth + "1" + "}" * depth + "\n").encode()
    if kind == 4:
        depth = rng.choice([100, 1000])
        return "".join(" " * i + "- \n" for i in range(0, depth * 2, 2)).encode()
    return (good + "\nhuge: " + "y" * rng.choice([HUGE, 5 * HUGE]) + "\n").encode()


TOKENS = [": ", "- ", "&x ", "*x ", "!!python/object/apply:os.system ['true'] ", "!!binary AAAA",
          "\t", "? ", "| ", "> ", "'", '"', "{", "}", "[", "]", "%YAML 1.1\n", "--- ", "...\n",
          "!!float ", "!!int ", "!!timestamp ", "~", ".nan", ".inf", "0x1F", "0o17", "1_000",
          "2025-02-30", "!<tag:x> ", "!!set ", "!!omap ", "<<: ", "\x00", "\ufeff", "\x85"]


def mutate(rng: random.Random, good: str) -> bytes:
    """The good file with a random fault: a byte, a token, a line, an encoding."""
    kind = rng.randrange(11)
    data = good.encode()
    if kind == 0 and data:  # flip bytes
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if kind == 1:  # truncate
        return data[: rng.randrange(len(data) + 1)]
    if kind == 2:  # insert a YAML token somewhere
        at = rng.randrange(len(good) + 1)
        return (good[:at] + rng.choice(TOKENS) + good[at:]).encode()
    lines = good.splitlines()
    if kind == 3 and lines:  # drop, duplicate or swap lines
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        action = rng.randrange(3)
        if action == 0:
            del lines[i]
        elif action == 1:
            lines.insert(j, lines[i])
        else:
            lines[i], lines[j] = lines[j], lines[i]
        return "\n".join(lines).encode()
    if kind == 4 and lines:  # a value of the wrong type
        i = rng.randrange(len(lines))
        if ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            value = rng.choice(["[1, 2]", "{a: b}", "12", "-1", "true", "null", "2025-02-30",
                                "9999-12-31", "1e400", ".nan", "'" + "z" * 10_000 + "'",
                                "!!binary aGVsbG8=", "[[[[[[[[]]]]]]]]", "\"\\x00\""])
            lines[i] = f"{key}: {value}"
        return "\n".join(lines).encode()
    if kind == 5:  # not UTF-8
        return rng.choice([good.encode("utf-16"), good.encode("latin-1", "replace") + b"\xe9\xff",
                           b"\xff\xfe" + data, data.replace(b":", b"\xc0:", 1)])
    if kind == 6:  # binary
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 2048)))
    if kind == 7:  # not a mapping at all
        return rng.choice([b"", b"---\n", b"- a\n- b\n", b"just words\n", b"42\n", b"null\n",
                           b"[]\n", b"!!set {a, b}\n", b"? [a]\n: b\n"])
    if kind == 8:
        return bomb(rng, good)
    if kind == 9:  # every value replaced
        out = []
        for line in lines:
            if ":" in line and not line.lstrip().startswith("#"):
                key = line.split(":", 1)[0]
                out.append(f"{key}: {rng.choice(['~', '[]', '{}', '0', 'x', '-5', 'no'])}")
            else:
                out.append(line)
        return "\n".join(out).encode()
    return (good + "\n" + rng.choice(["x: 1", "x: &a [1]\ny: *a", "la_child_id: again",
                                      "? complex\n: key", "[bad", "'unclosed"]) + "\n").encode()

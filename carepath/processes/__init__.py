"""Built-in process packs (data only), exposed as ``carepath.packs`` entry points."""

from pathlib import Path

ics2010 = Path(__file__).parent / "ics2010"
wt2023 = Path(__file__).parent / "wt2023"

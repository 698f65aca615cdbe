"""The lesson map (notebooks/README.md) names every numbered notebook and only modules that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAP = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")


def test_every_numbered_notebook_is_on_the_map():
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb") if re.match(r"^\d{2}_", p.name))
    rows = re.findall(r"^\| `(\d{2}_\w+)` \|", MAP, flags=re.M)
    assert rows == notebooks


def test_every_module_on_the_map_exists():
    named = set(re.findall(r"`((?:stats|data|teach)/[\w/]+\.py)`", MAP))
    assert named, "the map names no module"
    missing = sorted(m for m in named if not (ROOT / "lmmedu" / m).is_file())
    assert not missing, f"notebooks/README.md names modules that do not exist: {missing}"

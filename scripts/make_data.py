"""Write (or check) the CSV data sets shipped in data/.

Usage, from the repository root::

    python scripts/make_data.py            # regenerate every file in data/
    python scripts/make_data.py --check    # exit 1 and name the files that differ

The recipes (simulator, arguments, seed) live in lmmedu/data/datasets.py so that this script, the
loaders and tests/test_data_current.py cannot disagree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Runs from a clone without `pip install -e .` too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lmmedu.data.datasets import RECIPES, stale_datasets, write_datasets  # noqa: E402

MAX_BYTES = 5_000_000  # keep the repository and Binder light


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare the committed files with regenerated text; write nothing")
    parser.add_argument("--out", type=Path, default=None,
                        help="data folder (default: the repository's data/)")
    args = parser.parse_args(argv)

    if args.check:
        try:
            problems = stale_datasets(args.out)
        except FileNotFoundError as exc:
            print(exc, file=sys.stderr)
            return 1
        for fname, why in problems.items():
            print(f"{fname}: out of date ({why}); run `python scripts/make_data.py`", file=sys.stderr)
        if not problems:
            print(f"all {len(RECIPES)} data files are current")
        return 1 if problems else 0

    status = 0
    for path in write_datasets(args.out):
        size = path.stat().st_size
        print(f"wrote {path} ({size / 1e6:.2f} MB)")
        if size > MAX_BYTES:
            print(f"{path.name} is larger than {MAX_BYTES / 1e6:.0f} MB; shrink its recipe", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Write (or check) the cached simulation studies shipped in data/.

Usage, from the repository root::

    python scripts/make_studies.py            # rerun every study (about 10 minutes on 2 cores)
    python scripts/make_studies.py random_slope_study
    python scripts/make_studies.py --check    # exit 1 and name the files that differ (seconds)

The recipes (study function, arguments, seed) live in lmmedu/teach/studies/cache.py, so this
script, the notebooks (load_study) and tests/test_study_cache.py cannot disagree. --check
re-simulates only the first experiment of every setting: experiment i of a study always uses
the i-th child of its seed, so those rows must match the file exactly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Runs from a clone without `pip install -e .` too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lmmedu.teach.studies.cache import STUDY_RECIPES, stale_studies, write_studies  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[[], *STUDY_RECIPES], default=[],
                        help="studies to rerun (default: all)")
    parser.add_argument("--check", action="store_true",
                        help="re-simulate the first experiments and compare with the files; write nothing")
    parser.add_argument("--out", type=Path, default=None, help="data folder (default: the repository's data/)")
    args = parser.parse_args(argv)

    if args.check:
        problems = stale_studies(args.out)
        for fname, why in problems.items():
            print(f"{fname}: out of date ({why}); run `python scripts/make_studies.py`", file=sys.stderr)
        if not problems:
            print(f"all {len(STUDY_RECIPES)} study files are current")
        return 1 if problems else 0

    for path in write_studies(args.out, names=args.names or None, progress=True):
        print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

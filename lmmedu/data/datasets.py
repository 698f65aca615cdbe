"""The data sets shipped in the repository's ``data/`` folder: recipes, writer and loaders.

Every CSV file in ``data/`` is made by one recipe below (a simulator, its arguments and a
fixed seed) and written with a fixed text format, so regenerating it must reproduce the
committed file byte for byte; ``python scripts/make_data.py --check`` and the test suite
verify this. The loaders read the files, restore categorical columns with their level order
and, by default, re-attach the truth by re-running the (cheap) recipe.

The full seed-001 design (414,345 rows) is not shipped: build it at run time with
:func:`lmmedu.data.simulate.simulate_expression`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from .simulate import simulate_expression, simulate_replicates

__all__ = [
    "RECIPES",
    "FLOAT_FORMAT",
    "data_dir",
    "stale_files",
    "simulate_dataset",
    "render_csv",
    "write_datasets",
    "stale_datasets",
    "load_dataset",
    "load_replicates",
    "load_expression_small",
]

#: Six significant digits: far below the simulated noise, and stable across platforms.
FLOAT_FORMAT = "%.6g"


@dataclass(frozen=True)
class _Recipe:
    filename: str
    simulator: Callable[..., pd.DataFrame]
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Categorical columns whose levels are fixed rather than taken in order of appearance.
    levels: dict[str, list[str]] = field(default_factory=dict)

    def call(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.simulator.__name__}({args})"


_TREATMENT_LEVELS = {"treatment": ["control", "drug"]}

#: name -> recipe. Seeds are dates near the two posted questions (2023-10-07, 2014-12-26), chosen
#: so that the first analyses a learner sees behave typically: in the within data the replicate-aware
#: model finds gene A's true drug effect and not gene C's (truly zero) one; in the between data the
#: naive lm calls gene C's null effect significant and the mixed model does not.
RECIPES: dict[str, _Recipe] = {
    "replicates_within": _Recipe(
        "replicates_within.csv", simulate_replicates,
        {"design": "within", "replicate_treatment_sd": 0.1, "seed": 20231007}, _TREATMENT_LEVELS),
    "replicates_between": _Recipe(
        "replicates_between.csv", simulate_replicates,
        {"design": "between", "replicate_treatment_sd": 0.1, "seed": 20231009}, _TREATMENT_LEVELS),
    "expression_small": _Recipe(
        "expression_small.csv", simulate_expression,
        {"n_probesets": 400, "seed": 20141226}),
}


def _recipe(name: str) -> _Recipe:
    if name not in RECIPES:
        raise ValueError(f"name must be one of {list(RECIPES)}, got {name!r}.")
    return RECIPES[name]


def data_dir(directory: str | Path | None = None) -> Path:
    """Return the data folder: ``directory`` if given, else the repository's ``data/``.

    Parameters
    ----------
    directory : str or Path, optional
        Another folder holding the CSV files.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        If the folder does not exist (for example when lmmedu is installed without its
        repository).

    Examples
    --------
    >>> data_dir().name
    'data'
    """
    path = Path(directory) if directory is not None else Path(__file__).resolve().parents[2] / "data"
    if not path.is_dir():
        raise FileNotFoundError(
            f"The data folder {path} does not exist; run from a clone of the lmmedu repository, "
            "pass directory=, or build the data with `python scripts/make_data.py`."
        )
    return path


def simulate_dataset(name: str) -> pd.DataFrame:
    """Run the recipe of a shipped data set (with its fixed seed) and return the frame.

    Examples
    --------
    >>> simulate_dataset("expression_small").shape
    (9200, 6)
    """
    r = _recipe(name)
    return r.simulator(**r.kwargs)


def render_csv(df: pd.DataFrame) -> str:
    """Return the exact CSV text lmmedu ships for ``df`` (6 significant digits, ``\\n`` lines).

    Examples
    --------
    >>> render_csv(pd.DataFrame({"x": [1 / 3]}))
    'x\\n0.333333\\n'
    """
    return df.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def write_datasets(directory: str | Path | None = None) -> list[Path]:
    """Regenerate every shipped CSV file into ``directory`` (default: the repository's data/).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out = Path(directory) if directory is not None else Path(__file__).resolve().parents[2] / "data"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, r in RECIPES.items():
        path = out / r.filename
        # newline="" keeps the "\n" terminators on every platform.
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(render_csv(simulate_dataset(name)))
        written.append(path)
    return written


def stale_files(recipes: Mapping[str, Any], why: Callable[[str, Any, Path], str],
                directory: str | Path | None = None) -> dict[str, str]:
    """File name -> reason for every recipe whose file is missing or for which ``why`` finds a difference.

    The one loop behind :func:`stale_datasets` and :func:`lmmedu.teach.studies.stale_studies`.

    Parameters
    ----------
    recipes : mapping
        Name -> recipe with a ``filename`` attribute.
    why : callable
        ``why(name, recipe, path)`` -> "" when the file at ``path`` matches its recipe, else the reason.
    directory : str or Path, optional
        Folder instead of the repository's ``data/``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> stale_files({"x": SimpleNamespace(filename="no_such_file.csv")}, lambda name, r, path: "")
    {'no_such_file.csv': 'missing'}
    """
    folder = data_dir(directory)
    problems = {}
    for name, r in recipes.items():
        path = folder / r.filename
        reason = why(name, r, path) if path.is_file() else "missing"
        if reason:
            problems[r.filename] = reason
    return problems


def _dataset_difference(name, recipe, path):
    with open(path, encoding="utf-8", newline="") as fh:
        committed = fh.read()
    fresh = render_csv(simulate_dataset(name))
    if committed == fresh:
        return ""
    old, new = committed.split("\n"), fresh.split("\n")
    line = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
    got = old[line] if line < len(old) else "<end of file>"
    want = new[line] if line < len(new) else "<end of file>"
    return f"line {line + 1} is {got!r}, regenerated {want!r}"


def stale_datasets(directory: str | Path | None = None) -> dict[str, str]:
    """Compare the committed files with freshly regenerated text.

    Returns
    -------
    dict
        File name -> reason (missing, or the first differing line) for every file that does
        not match its recipe; empty when all files are current.

    Examples
    --------
    >>> stale_datasets()
    {}
    """
    return stale_files(RECIPES, _dataset_difference, directory)


def load_dataset(name: str, with_truth: bool = True, directory: str | Path | None = None) -> pd.DataFrame:
    """Read a shipped CSV file with its categorical columns restored.

    Parameters
    ----------
    name : {"replicates_within", "replicates_between", "expression_small"}
        The data set.
    with_truth : bool, default True
        Re-run the recipe and attach its truth as ``df.attrs["truth"]``.
    directory : str or Path, optional
        Folder to read from instead of the repository's ``data/``.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> df = load_dataset("replicates_between")
    >>> list(df["treatment"].cat.categories)
    ['control', 'drug']
    """
    r = _recipe(name)
    path = data_dir(directory) / r.filename
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; recreate it with `python scripts/make_data.py`.")
    df = pd.read_csv(path)
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            # Files are written sorted by their factors, so order of appearance is level order.
            levels = r.levels.get(col, list(pd.unique(df[col])))
            df[col] = pd.Categorical(df[col], categories=levels)
    if with_truth:
        sim = simulate_dataset(name)
        if len(sim) != len(df) or list(sim.columns) != list(df.columns):
            raise ValueError(
                f"{path.name} does not match its recipe {r.call()}; regenerate it with "
                "`python scripts/make_data.py`."
            )
        df.attrs["truth"] = sim.attrs["truth"]
    return df


def load_replicates(design: str = "within", with_truth: bool = True,
                    directory: str | Path | None = None) -> pd.DataFrame:
    """Load the shipped seed-000 data set (``data/replicates_<design>.csv``).

    Parameters
    ----------
    design : {"within", "between"}, default "within"
        Both arms in every replicate, or one arm per replicate.
    with_truth, directory
        As in :func:`load_dataset`.

    Examples
    --------
    >>> df = load_replicates()
    >>> df.shape, list(df["gene"].cat.categories)
    ((22500, 4), ['A', 'B', 'C'])
    """
    if design not in ("within", "between"):
        raise ValueError(f"design must be 'within' or 'between', got {design!r}.")
    return load_dataset(f"replicates_{design}", with_truth=with_truth, directory=directory)


def load_expression_small(with_truth: bool = True, directory: str | Path | None = None) -> pd.DataFrame:
    """Load the shipped reduced seed-001 data set (400 probesets x 23 profiles).

    Examples
    --------
    >>> df = load_expression_small()
    >>> df["sample"].nunique(), df["probeset"].nunique()
    (23, 400)
    """
    return load_dataset("expression_small", with_truth=with_truth, directory=directory)

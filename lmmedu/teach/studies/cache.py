"""Cached studies: results too slow to simulate while a notebook runs, shipped in data/.

Part of :mod:`lmmedu.teach.studies`; see the contract in :mod:`lmmedu.teach`.

A study whose claim needs hundreds of mixed-model fits (each random-slope fit takes a few
tenths of a second) cannot run in a notebook that must finish in seconds. Its
:func:`~lmmedu.teach.studies.run_study` table is computed once by ``scripts/make_studies.py``
from a recipe in :data:`STUDY_RECIPES` (study function, arguments, seed) and shipped as a
small CSV in data/; :func:`load_study` reads it back. Because experiment ``i`` of a study
always uses the ``i``-th child of its seed, the first experiments of every setting can be
re-simulated cheaply: :func:`stale_studies` does that and compares them with the file, so a
change of the simulator or the models that would make the file a lie is caught in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ...data.datasets import FLOAT_FORMAT, data_dir, stale_files
from .random_slopes import random_slope_p_values
from .replicates import simulate_p_values
from .runner import INTERVAL_COLUMNS, RESULT_COLUMNS
from .gene_responses import gene_response_p_values
from .pvalues import selection_study
from .referee import referee_study
from .expression import referee_bootstrap_study
from .sd_intervals import sd_interval_study

__all__ = ["STUDY_RECIPES", "run_study_recipe", "render_study_csv", "write_studies", "load_study", "stale_studies"]


@dataclass(frozen=True)
class _StudyRecipe:
    filename: str
    study: Callable[..., pd.DataFrame]
    kwargs: dict = field(default_factory=dict)
    setting_columns: tuple = ()

    @property
    def call(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.study.__name__}({args})"


#: Name -> recipe of every cached study (the file is ``data/<filename>``).
STUDY_RECIPES = {
    "random_slope_study": _StudyRecipe(
        "random_slope_study.csv", random_slope_p_values,
        dict(n_sims=200, n_replicates=4, obs_per_replicate=200, replicate_sd=0.2, replicate_treatment_sd=0.15,
             residual_sd=0.5, seed=20231007)),
    "gene_response_study": _StudyRecipe(
        "gene_response_study.csv", gene_response_p_values,
        dict(n_sims=150, response_sd=0.15, n_replicates=4, obs_per_replicate=100, replicate_sd=0.2,
             residual_sd=0.5, seed=20231010), setting_columns=("truth",)),
    # Notebook 01 (its app-mode start-up waited seconds for these): the pseudo-replication machine's
    # first run, at its own default settings and seed, and the false-positive rate against the
    # number of measurements per replicate.
    "pseudoreplication_machine_study": _StudyRecipe(
        "pseudoreplication_machine_study.csv", simulate_p_values,
        dict(n_replicates=4, obs_per_replicate=100, replicate_sd=0.2, design="between", n_sims=60, seed=1,
             residual_sd=0.5, replicate_treatment_sd=0.1, effect=0.0)),
    "pseudoreplication_curve_study": _StudyRecipe(
        "pseudoreplication_curve_study.csv", simulate_p_values,
        dict(grid=[{"obs_per_replicate": 5}, {"obs_per_replicate": 50}, {"obs_per_replicate": 500}],
             design="between", n_replicates=4, replicate_sd=0.2, replicate_treatment_sd=0.1, n_sims=30, seed=3),
        setting_columns=("obs_per_replicate",)),
    # Notebook 07: choosing the random slope by a test, on enough experiments that the 95% intervals of
    # the test-first recipe and of "slope always" are apart (a 600-experiment pilot gave 23% and 6.5%,
    # whose intervals separate from about 100 experiments on; 1,000 leave a wide margin), and every
    # p-value of the drug (lm, chi-square, bootstrap, Satterthwaite, Kenward-Roger; random intercept
    # only and random slope) with the bootstrap as referee.
    "random_slope_selection_study": _StudyRecipe(
        "random_slope_selection_study.csv", selection_study,
        dict(n_groups=4, group_size=100, icc=0.2, slope_sd=0.15, n_sims=1000, seed=13),
        setting_columns=("n_groups", "group_size", "icc", "slope_sd")),
    "referee_study": _StudyRecipe(
        "referee_study.csv", referee_study,
        dict(n_groups=4, group_size=100, icc=0.2, slope_sd=0.15, n_sims=400, n_boot=100, seed=24, boot_seed=1)),
    # Notebook 08: the parametric bootstrap of the interaction's LRT in its full-scale data set
    # (seed 6), for both mixed models: 800 refits of 414,345 rows, minutes rather than seconds.
    "expression_referee_study": _StudyRecipe(
        "expression_referee_study.csv", referee_bootstrap_study,
        dict(n_sims=200, seed=2014, data_seed=6, n_probesets=18015)),
    # Notebook 06 (How well do a few replicates estimate an SD?): profile and bootstrap intervals of the
    # SD of the replicates' drug effects, over the widget's grid of replicates and true SDs
    # (600 experiments with 100 bootstrap refits each: about 10 minutes of CPU, on two workers).
    "sd_interval_study": _StudyRecipe(
        "sd_interval_study.csv", sd_interval_study,
        dict(n_replicates=(3, 4, 6, 12), slope_sds=(0.025, 0.05, 0.1, 0.2, 0.4), n_sims=30, n_boot=100,
             cells=100, replicate_sd=0.2, residual_sd=0.5, drug_effect=0.1, level=0.95, seed=24, n_jobs=2),
        setting_columns=("n_replicates", "slope_sd")),
}


def _recipe(name: str) -> _StudyRecipe:
    if name not in STUDY_RECIPES:
        raise ValueError(f"name must be one of {list(STUDY_RECIPES)}, got {name!r}.")
    return STUDY_RECIPES[name]


def run_study_recipe(name: str, n_sims: int | None = None, progress: bool | Callable[[int, int], Any] = False
                     ) -> pd.DataFrame:
    """Run a cached study's recipe (all its experiments, or the first ``n_sims`` of every setting).

    Examples
    --------
    >>> run_study_recipe("random_slope_study", n_sims=1)["sim"].tolist()
    [0, 0]
    """
    r = _recipe(name)
    kwargs = {**r.kwargs, "progress": progress}
    if n_sims is not None:
        kwargs["n_sims"] = n_sims
    return r.study(**kwargs)


def render_study_csv(results: pd.DataFrame) -> str:
    """The exact CSV text shipped for a study table (6 significant digits, ``\\n`` lines).

    Examples
    --------
    >>> t = pd.DataFrame({"sim": [0], "analysis": ["m"], "estimate": [1 / 3], "se": [0.1], "df": [3.0],
    ...                   "p": [0.5], "singular": [False], "error": [""]})
    >>> render_study_csv(t).splitlines()[1]
    '0,m,0.333333,0.1,3,0.5,False,'
    """
    return results.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def write_studies(directory: str | Path | None = None, names=None,
                  progress: bool | Callable[[int, int], Any] = False) -> list[Path]:
    """Run the recipes (default all) and write their CSV files; returns the paths written."""
    out = Path(directory) if directory is not None else Path(__file__).resolve().parents[3] / "data"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in (list(STUDY_RECIPES) if names is None else names):
        path = out / _recipe(name).filename
        text = render_study_csv(run_study_recipe(name, progress=progress))
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        written.append(path)
    return written


def load_study(name: str, directory: str | Path | None = None) -> pd.DataFrame:
    """A cached study table, as :func:`~lmmedu.teach.studies.run_study` returned it.

    Parameters
    ----------
    name : str
        A key of :data:`STUDY_RECIPES`.
    directory : str or Path, optional
        The data folder (default: the repository's data/).

    Returns
    -------
    pandas.DataFrame
        With ``attrs["settings"]`` (the recipe's arguments) and ``attrs["setting_columns"]``,
        ready for :func:`~lmmedu.teach.studies.rates`.

    Examples
    --------
    >>> t = load_study("random_slope_study")
    >>> int(t["sim"].max()) + 1 == STUDY_RECIPES["random_slope_study"].kwargs["n_sims"]
    True
    """
    r = _recipe(name)
    path = data_dir(directory) / r.filename
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `python scripts/make_studies.py` from the repository root.")
    table = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"error": str})
    table["error"] = table["error"].astype(object).where(table["error"].notna(), "").astype(str)
    table["singular"] = table["singular"].astype(bool)
    table = table[[*r.setting_columns, *RESULT_COLUMNS, *(c for c in INTERVAL_COLUMNS if c in table.columns)]]
    table.attrs["settings"] = dict(r.kwargs)
    table.attrs["setting_columns"] = list(r.setting_columns)
    return table


def _differences(old: pd.DataFrame, new: pd.DataFrame, setting_columns: list) -> str:
    """Why a cached table is not what its recipe gives now ('' when it is).

    Labels, estimates and SEs must agree closely; Satterthwaite df and p-values come from
    numerical derivatives and an optimiser whose last digits change with harmless engine work,
    so they only need to agree to the tolerances the R fixtures use (df 1%, p 0.001).
    """
    if len(old) != len(new):
        return f"{len(old)} rows cached, {len(new)} regenerated"
    for col in [*setting_columns, "sim", "analysis", "singular"]:
        if [str(v) for v in old[col]] != [str(v) for v in new[col]]:
            return f"column {col!r}: {old[col].tolist()} cached, {new[col].tolist()} regenerated"
    if [c for c in INTERVAL_COLUMNS if c in old.columns] != [c for c in INTERVAL_COLUMNS if c in new.columns]:
        return "the cached table and the recipe disagree on having interval columns"
    # Interval limits are roots found to about 1e-7 of the parameter's scale (profile) or quantiles of
    # refits that each stop at the optimiser's tolerance (bootstrap): they agree to 1e-3.
    checks = [("estimate", 1e-4, 1e-6), ("se", 1e-4, 1e-6), ("df", 1e-2, 1e-6), ("p", 0, 1e-3),
              *((c, 1e-3, 1e-4) for c in INTERVAL_COLUMNS if c in old.columns)]
    for col, rtol, atol in checks:
        a, b = old[col].to_numpy(float), new[col].to_numpy(float)
        if not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            return f"column {col!r}: {a.tolist()} cached, {b.tolist()} regenerated"
    return ""


def stale_studies(directory: str | Path | None = None, n_check: int = 1) -> dict[str, str]:
    """Re-simulate the first ``n_check`` experiments of every setting and compare with the files.

    Returns
    -------
    dict
        File name -> reason for every file that is missing, has the wrong number of
        experiments, or whose first experiments differ from the recipe; empty when current.
    """
    def why(name, r, path):
        committed = load_study(name, directory)
        n_sims = r.kwargs["n_sims"]
        if int(committed["sim"].max()) + 1 != n_sims or committed["sim"].nunique() != n_sims:
            return f"holds {committed['sim'].nunique()} experiments, the recipe {n_sims}"
        old = committed[committed["sim"] < n_check].reset_index(drop=True)
        new = run_study_recipe(name, n_sims=n_check).reset_index(drop=True)
        difference = _differences(old, new, list(r.setting_columns))
        return f"first experiments differ from the recipe: {difference}" if difference else ""

    return stale_files(STUDY_RECIPES, why, directory)

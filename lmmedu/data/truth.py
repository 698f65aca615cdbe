"""What generated a simulated data set, and the truths that follow from it in closed form.

- :class:`ReplicatesTruth`, :class:`ExpressionTruth` and :func:`truth`: the frozen record a
  simulator of :mod:`lmmedu.data.simulate` stores in ``df.attrs["truth"]``.
- :func:`true_icc` (and its inverse :func:`replicate_sd_for_icc`), :func:`true_design_effect`
  and :func:`design_problem`: what the settings of the replicate experiment imply before any
  data are drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .checks import real

__all__ = ["ReplicatesTruth", "ExpressionTruth", "truth", "true_icc", "replicate_sd_for_icc", "true_design_effect",
           "design_problem"]


# eq=False: the truth holds DataFrames, whose == is element-wise; a generated __eq__ would
# raise "truth value is ambiguous" whenever pandas compares attrs (for example in concat).
@dataclass(frozen=True, eq=False)
class ReplicatesTruth:
    """What generated a :func:`simulate_replicates` data set.

    The model, on the log scale, for a measurement of gene ``g`` in replicate ``r``::

        log(length) = baseline + gene_effects[g] + b0[r]
                      + drug * (treatment_effects[g] + b_treat[r]) + e

    with ``drug`` 1 for the drug arm and 0 for control.

    Attributes
    ----------
    design : str
        ``"within"`` (every replicate has both arms) or ``"between"`` (each replicate is one arm).
    genes : tuple of str
        Gene names in level order; the first is the reference level.
    n_replicates : int
        Number of replicates (levels ``"R1"`` ... ``"Rn"``).
    obs_per_replicate : tuple of int
        Measurements per gene in each replicate (split between the arms in the within design).
    baseline : float
        Mean log(length) of the reference gene under control, averaged over replicates.
    gene_effects : dict
        Gene -> difference in mean log(length) under control relative to ``baseline``.
    treatment_effects : dict
        Gene -> population drug effect on log(length) (drug minus control).
    replicate_sd : float
        SD of the replicate intercepts ``b0`` (log scale).
    replicate_treatment_sd : float
        SD of the replicate deviations ``b_treat`` of the drug effect (log scale).
    residual_sd : float
        SD of the measurement-level error ``e`` (log scale).
    cell_means : pandas.DataFrame
        One row per gene x treatment cell: ``gene``, ``treatment``, ``mean_log`` (the true
        population mean of log(length)) and ``median_length`` (``exp(mean_log)``, the
        population median, i.e. geometric mean, of length in that cell).
    replicate_effects : pandas.DataFrame
        One row per replicate: ``replicate``, ``arm`` (``"both"``, ``"control"`` or
        ``"drug"``), ``n_obs`` (rows of that replicate, all genes), and the realised ``b0``
        and ``b_treat``. ``b_treat`` of a control-only replicate is drawn but never used.
    n_obs : int
        Number of rows of the data set.
    seed : object
        The ``seed`` the data set was simulated from.
    """

    design: str
    genes: tuple[str, ...]
    n_replicates: int
    obs_per_replicate: tuple[int, ...]
    baseline: float
    gene_effects: dict[str, float]
    treatment_effects: dict[str, float]
    replicate_sd: float
    replicate_treatment_sd: float
    residual_sd: float
    cell_means: pd.DataFrame = field(repr=False)
    replicate_effects: pd.DataFrame = field(repr=False)
    n_obs: int
    seed: Any = None

    @property
    def percent_change(self) -> dict[str, float]:
        """True drug effect per gene as a percent change of the median length.

        ``100 * (exp(effect) - 1)``: an effect of 0.22 on the log scale lengthens by 24.6 %.

        Examples
        --------
        >>> from lmmedu.data.simulate import simulate_replicates
        >>> t = truth(simulate_replicates(n_replicates=2, obs_per_replicate=10))
        >>> round(t.percent_change["A"], 1)
        24.6
        """
        return {g: 100.0 * math.expm1(b) for g, b in self.treatment_effects.items()}

    @property
    def coefficients(self) -> pd.Series:
        """True coefficients of ``np.log(length) ~ treatment * gene`` (treatment coding).

        Named and ordered as patsy/statsmodels name them, e.g. ``treatment[T.drug]:gene[T.B]``.
        ``treatment[T.drug]`` is the drug effect in the reference gene only, and each
        interaction is a difference of differences: the drug effect in that gene minus the
        drug effect in the reference gene.

        Examples
        --------
        >>> from lmmedu.data.simulate import simulate_replicates
        >>> t = truth(simulate_replicates(n_replicates=2, obs_per_replicate=10))
        >>> round(float(t.coefficients["treatment[T.drug]:gene[T.B]"]), 2)
        -0.13
        """
        ref = self.genes[0]
        ge, te = self.gene_effects, self.treatment_effects
        coef = {"Intercept": self.baseline + ge[ref], "treatment[T.drug]": te[ref]}
        for g in self.genes[1:]:
            coef[f"gene[T.{g}]"] = ge[g] - ge[ref]
        for g in self.genes[1:]:
            coef[f"treatment[T.drug]:gene[T.{g}]"] = te[g] - te[ref]
        return pd.Series(coef, name="truth", dtype=float)


@dataclass(frozen=True, eq=False)
class ExpressionTruth:
    """What generated a :func:`simulate_expression` data set.

    The model for probeset ``p`` in sample (mouse and array) ``j``::

        values = b0 + b1*week + b2*[CSB] + b3*week*[CSB]
                 + u0[p] + u1[p]*week + s[j] + e

    where ``b0..b3`` are ``fixed_effects["Intercept"]``, ``["week"]``, ``["genotype"]``,
    ``["week:genotype"]``, and ``[CSB]`` is 1 for the second genotype.

    Attributes
    ----------
    n_probesets : int
        Number of probesets (levels ``"ps00001"`` ...).
    weeks : tuple of int
        Distinct ages in weeks, in increasing order.
    genotypes : tuple of str
        The two genotypes; the first is the reference level.
    n_replicates : int
        Profiles per week x genotype before dropping.
    n_dropped : int
        Number of profiles removed.
    fixed_effects : dict
        Keys ``"Intercept"``, ``"week"``, ``"genotype"``, ``"week:genotype"``.
    probeset_sd, probeset_week_sd : float
        SDs of the probeset intercepts ``u0`` and slopes ``u1`` (per unit of scaled week).
    probeset_corr : float
        Correlation of ``u0`` and ``u1``.
    sample_sd : float
        SD of the sample effect ``s`` shared by all probesets of one profile.
    residual_sd : float
        SD of ``e``.
    week_center, week_scale : float
        Mean and SD (``ddof=1``) of the distinct ``weeks``; ``week = (weeks - week_center) /
        week_scale``.
    dropped : tuple of str
        Labels of the removed profiles (absent from the data).
    sample_effects : pandas.Series
        Realised ``s`` of each kept sample, indexed by sample label.
    probeset_effects : pandas.DataFrame
        Realised ``u0`` (column ``"Intercept"``) and ``u1`` (column ``"week"``), indexed by
        probeset.
    n_obs : int
        Number of rows (``n_probesets * n_samples``).
    n_samples : int
        Number of kept profiles.
    seed : object
        The ``seed`` the data set was simulated from.
    """

    n_probesets: int
    weeks: tuple[int, ...]
    genotypes: tuple[str, str]
    n_replicates: int
    n_dropped: int
    fixed_effects: dict[str, float]
    probeset_sd: float
    probeset_week_sd: float
    probeset_corr: float
    sample_sd: float
    residual_sd: float
    week_center: float
    week_scale: float
    dropped: tuple[str, ...]
    sample_effects: pd.Series = field(repr=False)
    probeset_effects: pd.DataFrame = field(repr=False)
    n_obs: int
    n_samples: int
    seed: Any = None

    @property
    def coefficients(self) -> pd.Series:
        """True coefficients of ``values ~ week * genotype``, named and ordered as patsy does.

        Examples
        --------
        >>> from lmmedu.data.simulate import simulate_expression
        >>> t = truth(simulate_expression(n_probesets=5))
        >>> list(t.coefficients.index)
        ['Intercept', 'genotype[T.CSB]', 'week', 'week:genotype[T.CSB]']
        """
        fe, alt = self.fixed_effects, self.genotypes[1]
        return pd.Series(
            {
                "Intercept": fe["Intercept"],
                f"genotype[T.{alt}]": fe["genotype"],
                "week": fe["week"],
                f"week:genotype[T.{alt}]": fe["week:genotype"],
            },
            name="truth",
            dtype=float,
        )


def truth(df: pd.DataFrame) -> ReplicatesTruth | ExpressionTruth:
    """Return the truth stored by a simulator in ``df.attrs["truth"]``.

    Parameters
    ----------
    df : pandas.DataFrame
        A frame returned by :func:`simulate_replicates` or :func:`simulate_expression`.

    Returns
    -------
    ReplicatesTruth or ExpressionTruth

    Examples
    --------
    >>> from lmmedu.data.simulate import simulate_replicates
    >>> df = simulate_replicates(n_replicates=2, obs_per_replicate=10)
    >>> truth(df).design
    'within'
    """
    attrs = getattr(df, "attrs", None)
    if not isinstance(attrs, dict) or "truth" not in attrs:
        raise ValueError(
            "df has no simulation truth in df.attrs['truth']; pass a frame returned by "
            "simulate_replicates() or simulate_expression() (some pandas operations drop attrs)."
        )
    return attrs["truth"]


# Closed-form truths of the replicate experiment

def design_problem(n_replicates: int, design: str) -> str:
    """Explain why a design cannot support an honest test of the drug effect, or return "".

    Parameters
    ----------
    n_replicates : int
        Number of replicates.
    design : {"within", "between"}
        ``"between"`` alternates replicates between the arms (R1 control, R2 drug, ...).

    Returns
    -------
    str
        One sentence when the between-replicate comparison has no degrees of freedom left for
        the replicate-to-replicate variation, otherwise the empty string.

    Examples
    --------
    >>> design_problem(2, "between")[:29]
    'With 2 replicates, each arm h'
    >>> design_problem(4, "between")
    ''
    """
    if design == "between" and n_replicates < 3:
        return (
            f"With {n_replicates} replicates, each arm has a single replicate: nothing is left to "
            "estimate how much replicates differ, so no honest test of the drug exists (the naive lm "
            "still reports a p-value, which is the problem)."
        )
    return ""


def true_icc(replicate_sd: float, residual_sd: float = 0.5) -> float:
    """Intra-class correlation of the simulation: the share of variance between replicates.

    Parameters
    ----------
    replicate_sd, residual_sd : float
        SDs of the replicate intercepts and of the measurement-level error (log scale).

    Returns
    -------
    float
        ``replicate_sd**2 / (replicate_sd**2 + residual_sd**2)``.

    Examples
    --------
    >>> round(true_icc(0.2, 0.5), 3)
    0.138
    """
    between, within = float(replicate_sd) ** 2, float(residual_sd) ** 2
    if between + within == 0:
        raise ValueError("replicate_sd and residual_sd cannot both be 0; give at least one a positive value.")
    return between / (between + within)


def true_design_effect(replicate_sd: float, obs_per_replicate: int, residual_sd: float = 0.5) -> float:
    """Design effect ``1 + (m - 1) * ICC`` of a replicate-level comparison with ``m`` rows per replicate.

    It is the factor by which clustering inflates the variance of a mean (or of a comparison
    between whole replicates) relative to the same number of independent rows. It applies to
    the between design; in the within design the replicate intercepts cancel from the
    drug-minus-control difference.

    Examples
    --------
    >>> round(true_design_effect(0.2, 1000), 1)
    138.8
    """
    return 1.0 + (float(obs_per_replicate) - 1.0) * true_icc(replicate_sd, residual_sd)


def replicate_sd_for_icc(icc: float, residual_sd: float = 0.5) -> float:
    """The replicate SD that gives intra-class correlation ``icc`` (the inverse of :func:`true_icc`).

    Parameters
    ----------
    icc : float
        Share of the variance of a single measurement that lies between replicates, in [0, 1).
    residual_sd : float, default 0.5
        SD of the measurement-level error (log scale).

    Returns
    -------
    float
        ``residual_sd * sqrt(icc / (1 - icc))``.

    Examples
    --------
    >>> round(replicate_sd_for_icc(0.2), 3)
    0.25
    >>> round(true_icc(replicate_sd_for_icc(0.05)), 3)
    0.05
    """
    icc = real("icc", icc, 0.0, 1.0, high_open=True)
    residual_sd = real("residual_sd", residual_sd, 0.0, low_open=True)
    return residual_sd * math.sqrt(icc / (1.0 - icc))

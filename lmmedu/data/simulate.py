"""The two experiments of lmmedu, simulated with a known truth.

Each simulator returns a tidy :class:`pandas.DataFrame` (one row per measurement) and stores
what generated it in ``df.attrs["truth"]``, a frozen dataclass; :func:`truth` fetches it.
Fitting a model to the frame and comparing its estimates with the truth is the core exercise
of the notebooks.

- :func:`simulate_replicates` -- seed thread 000: the length of a gene modification for
  several genes, control vs drug, measured many times in a few unbalanced replicates.
- :func:`simulate_expression` -- seed thread 001: whole expression profiles (one per mouse
  and array) at several ages in two mouse strains, with a few profiles dropped.

Random numbers come from :func:`numpy.random.default_rng` seeded by ``seed``. Each source of
randomness has its own child stream and every random effect is drawn as a standard normal
and then multiplied by its SD, so with a fixed seed, moving one slider (an SD, an effect,
the number of probesets) rescales the same draws instead of producing an unrelated data set.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .checks import check_memory, count, finite, is_real, names, per_gene, rngs, sd
from .truth import ExpressionTruth, ReplicatesTruth, truth

__all__ = [
    "ReplicatesTruth",
    "ExpressionTruth",
    "simulate_replicates",
    "simulate_expression",
    "truth",
    "DEFAULT_OBS_PER_REPLICATE",
    "DEFAULT_GENE_EFFECTS",
    "DEFAULT_TREATMENT_EFFECTS",
    "DEFAULT_REPLICATE_TREATMENT_SD",
    "DEFAULT_FIXED_EFFECTS",
]

#: Measurements per gene in each of the 4 default replicates (unbalanced, as in seed 000).
DEFAULT_OBS_PER_REPLICATE = (1000, 1200, 1800, 3500)
#: Default gene effects on log(length), relative to gene A.
DEFAULT_GENE_EFFECTS = {"A": 0.0, "B": 0.13, "C": -0.07}
#: Default drug effects on log(length) per gene; gene C is truly unaffected.
DEFAULT_TREATMENT_EFFECTS = {"A": 0.22, "B": 0.09, "C": 0.0}
#: Default SD of the replicate-to-replicate variation of the drug effect (log scale): a drug
#: lengthening by 25 % on average lengthens by roughly 12 % to 38 % in single replicates.
DEFAULT_REPLICATE_TREATMENT_SD = 0.1
#: Default fixed effects of ``values ~ week * genotype`` (seed 001); the true interaction is 0.
DEFAULT_FIXED_EFFECTS = {"Intercept": 6.57, "week": -0.015, "genotype": 0.24, "week:genotype": 0.0}

_TREATMENTS = ("control", "drug")
_DESIGNS = ("within", "between")


def _categorical(codes: np.ndarray, categories: Sequence[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=list(categories))


def _code_dtype(n_levels: int) -> type:
    """Smallest integer type for category codes; int16 wraps beyond 32,767 levels."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_levels <= np.iinfo(dtype).max:
            return dtype
    return np.int64


#: exp() overflows above log(1.8e308) = 709.78 and gives 0 below -745.
_MAX_LOG = 700.0


# --------------------------------------------------------------------------------------
# Seed 000: replicates
# --------------------------------------------------------------------------------------

def _obs_counts(obs_per_replicate: Any, n_replicates: int, minimum: int) -> tuple[int, ...]:
    if obs_per_replicate is None:
        if n_replicates == len(DEFAULT_OBS_PER_REPLICATE):
            return DEFAULT_OBS_PER_REPLICATE
        # Unbalanced on purpose: a slider moving n_replicates must not produce a balanced design.
        return tuple(int(v) for v in np.linspace(1000, 5000, n_replicates).round())
    if isinstance(obs_per_replicate, numbers.Integral) and not isinstance(obs_per_replicate, bool):
        return (count("obs_per_replicate", obs_per_replicate, minimum),) * n_replicates
    if isinstance(obs_per_replicate, str) or not isinstance(obs_per_replicate, (Sequence, np.ndarray)):
        raise ValueError(
            f"obs_per_replicate must be an integer or a sequence of integers, got {obs_per_replicate!r}."
        )
    counts = tuple(obs_per_replicate)
    if len(counts) != n_replicates:
        raise ValueError(
            f"obs_per_replicate must have one count per replicate ({n_replicates}), got {len(counts)}."
        )
    for c in counts:
        if not isinstance(c, numbers.Integral) or isinstance(c, bool) or c < minimum:
            raise ValueError(
                f"obs_per_replicate must hold integers >= {minimum}, got {obs_per_replicate!r}."
            )
    return tuple(int(c) for c in counts)


def simulate_replicates(
    genes: Sequence[str] = ("A", "B", "C"),
    n_replicates: int = 4,
    obs_per_replicate: int | Sequence[int] | None = None,
    design: str = "within",
    baseline: float = 4.3,
    gene_effects: Mapping[str, float] | None = None,
    treatment_effects: float | Mapping[str, float] | None = None,
    replicate_sd: float = 0.2,
    replicate_treatment_sd: float = DEFAULT_REPLICATE_TREATMENT_SD,
    residual_sd: float = 0.5,
    seed: Any = 0,
) -> pd.DataFrame:
    """Simulate the imaging experiment of seed 000: lengths of a gene modification.

    Several genes, control vs drug, many measurements in each of a few unbalanced
    replicates. On the log scale::

        log(length) = baseline + gene_effects[gene] + b0[replicate]
                      + drug * (treatment_effects[gene] + b_treat[replicate]) + e

    with ``b0 ~ N(0, replicate_sd**2)``, ``b_treat ~ N(0, replicate_treatment_sd**2)`` (the
    drug effect varying between replicates) and ``e ~ N(0, residual_sd**2)``.

    Parameters
    ----------
    genes : sequence of str, default ("A", "B", "C")
        Gene names; the first is the reference level.
    n_replicates : int, default 4
        Number of replicates, at least 2.
    obs_per_replicate : int or sequence of int, optional
        Measurements of EACH gene in each replicate (one count per replicate, or one int for
        all). Default: (1000, 1200, 1800, 3500) for 4 replicates (7,500 per gene, 22,500
        rows), otherwise ``numpy.linspace(1000, 5000, n_replicates)`` rounded, so the design
        stays unbalanced. The within design needs at least 2 (one per arm).
    design : {"within", "between"}, default "within"
        ``"within"``: every replicate has both arms; each replicate x gene's measurements are
        split half control, half drug (an odd one goes to drug). ``"between"``: each replicate
        is one arm, alternating: R1, R3, ... control and R2, R4, ... drug, so both arms get
        small and large replicates.
    baseline : float, default 4.3
        Mean log(length) of the reference gene under control.
    gene_effects : dict, optional
        Gene -> effect on log(length) relative to ``baseline``, one entry per gene. Default
        ``{"A": 0.0, "B": 0.13, "C": -0.07}``; other genes get 0.
    treatment_effects : float or dict, optional
        Drug effect on log(length), per gene (dict) or the same for all genes (number).
        Default ``{"A": 0.22, "B": 0.09, "C": 0.0}`` (gene C truly unaffected); other genes
        get 0.
    replicate_sd : float, default 0.2
        SD of the replicate intercepts.
    replicate_treatment_sd : float, default 0.1
        SD of the replicate-to-replicate variation of the drug effect (shared by all genes of a
        replicate). Real labs have it: no two cultures respond to a drug identically. With it,
        the drug effect is a comparison with about ``n_replicates - 1`` degrees of freedom, and
        ``(1|replicate)`` alone understates its standard error; set 0 for the idealised
        experiment in which every replicate responds identically.
    residual_sd : float, default 0.5
        SD of the measurement-level error on the log scale.
    seed : int, None or numpy.random.Generator, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    pandas.DataFrame
        Columns ``replicate`` (categorical "R1".."Rn"), ``gene`` (categorical, given order),
        ``treatment`` (categorical "control", "drug") and ``length`` (float, > 0), sorted by
        replicate, gene, treatment. ``df.attrs["truth"]`` holds a :class:`ReplicatesTruth`.

    Examples
    --------
    >>> df = simulate_replicates(seed=1)
    >>> df.shape
    (22500, 4)
    >>> df.groupby("replicate", observed=True).size().tolist()
    [3000, 3600, 5400, 10500]
    >>> truth(df).treatment_effects["C"]
    0.0
    """
    genes = names("genes", genes, 1)
    n_replicates = count("n_replicates", n_replicates, 2)
    if design not in _DESIGNS:
        raise ValueError(f"design must be 'within' or 'between', got {design!r}.")
    obs = _obs_counts(obs_per_replicate, n_replicates, 2 if design == "within" else 1)
    baseline = finite("baseline", baseline)
    ge = per_gene("gene_effects", gene_effects, genes, DEFAULT_GENE_EFFECTS, allow_scalar=False)
    te = per_gene("treatment_effects", treatment_effects, genes, DEFAULT_TREATMENT_EFFECTS,
                   allow_scalar=True)
    replicate_sd = sd("replicate_sd", replicate_sd)
    replicate_treatment_sd = sd("replicate_treatment_sd", replicate_treatment_sd)
    residual_sd = sd("residual_sd", residual_sd)
    worst = abs(baseline) + max(abs(v) for v in ge.values()) + max(abs(v) for v in te.values())
    if worst > _MAX_LOG:
        raise ValueError(
            f"baseline, gene_effects and treatment_effects are on the log scale, and a mean log(length) of "
            f"{worst:g} (in absolute value) overflows or underflows exp() (lengths beyond 1e304 or below 1e-304); give them as logs, e.g. baseline=4.3 for lengths "
            "near 74."
        )
    per_row = 40  # length and its normal draws (8 bytes each, two temporaries) plus the category codes
    check_memory("simulate_replicates", sum(obs) * len(genes), per_row,
                  "lower n_replicates or obs_per_replicate")
    rng_b0, rng_bt, rng_e = rngs(seed, 3)

    n_rep, n_gene = n_replicates, len(genes)
    obs_arr = np.asarray(obs, dtype=np.int64)
    counts = np.zeros((n_rep, n_gene, 2), dtype=np.int64)
    if design == "within":
        counts[:, :, 0] = (obs_arr // 2)[:, None]
        counts[:, :, 1] = (obs_arr - obs_arr // 2)[:, None]
        arms = ["both"] * n_rep
    else:
        drug_arm = np.arange(n_rep) % 2  # R1 control, R2 drug, R3 control, ...
        counts[np.arange(n_rep), :, drug_arm] = obs_arr[:, None]
        arms = [_TREATMENTS[a] for a in drug_arm]

    # + 0.0 turns the -0.0 of a zero SD into 0.0 for display.
    b0 = rng_b0.standard_normal(n_rep) * replicate_sd + 0.0
    b_treat = rng_bt.standard_normal(n_rep) * replicate_treatment_sd + 0.0
    ge_arr = np.array([ge[g] for g in genes])
    te_arr = np.array([te[g] for g in genes])
    drug = np.array([0.0, 1.0])
    # Mean log(length) of every replicate x gene x treatment cell, in row order.
    cell_mu = (baseline + ge_arr[None, :, None] + b0[:, None, None]
               + drug[None, None, :] * (te_arr[None, :, None] + b_treat[:, None, None]))

    flat = counts.ravel()
    n_obs = int(flat.sum())
    cell_r, cell_g, cell_t = np.indices(counts.shape).reshape(3, -1)
    mu = np.repeat(cell_mu.ravel(), flat)
    with np.errstate(over="ignore", under="ignore"):
        length = np.exp(mu + rng_e.standard_normal(n_obs) * residual_sd)
    if not (np.isfinite(length).all() and (length > 0).all()):
        raise ValueError(
            "Some simulated lengths overflow or underflow exp() (log(length) beyond about +/-700); lower "
            "baseline, the effects or the SDs, which are all on the log scale."
        )

    rep_names = [f"R{i + 1}" for i in range(n_rep)]
    df = pd.DataFrame(
        {
            "replicate": _categorical(np.repeat(cell_r, flat).astype(_code_dtype(n_rep)), rep_names),
            "gene": _categorical(np.repeat(cell_g, flat).astype(_code_dtype(n_gene)), genes),
            "treatment": _categorical(np.repeat(cell_t, flat).astype(np.int8), _TREATMENTS),
            "length": length,
        }
    )

    cell_g2, cell_t2 = np.repeat(np.arange(n_gene), 2), np.tile([0, 1], n_gene)
    mean_log = baseline + ge_arr[cell_g2] + cell_t2 * te_arr[cell_g2]
    cell_means = pd.DataFrame(
        {
            "gene": _categorical(cell_g2, genes),
            "treatment": _categorical(cell_t2, _TREATMENTS),
            "mean_log": mean_log,
            "median_length": np.exp(mean_log),
        }
    )
    replicate_effects = pd.DataFrame(
        {
            "replicate": rep_names,
            "arm": arms,
            "n_obs": counts.sum(axis=(1, 2)),
            "b0": b0,
            "b_treat": b_treat,
        }
    )
    df.attrs["truth"] = ReplicatesTruth(
        design=design,
        genes=genes,
        n_replicates=n_rep,
        obs_per_replicate=tuple(obs),
        baseline=baseline,
        gene_effects=ge,
        treatment_effects=te,
        replicate_sd=replicate_sd,
        replicate_treatment_sd=replicate_treatment_sd,
        residual_sd=residual_sd,
        cell_means=cell_means,
        replicate_effects=replicate_effects,
        n_obs=n_obs,
        seed=seed,
    )
    return df


# --------------------------------------------------------------------------------------
# Seed 001: expression profiles
# --------------------------------------------------------------------------------------

def _weeks(weeks: Any) -> tuple[int, ...]:
    if isinstance(weeks, str) or not isinstance(weeks, (Sequence, np.ndarray)):
        raise ValueError(f"weeks must be a sequence of integer ages in weeks, got {weeks!r}.")
    out = tuple(weeks)
    if len(out) < 2 or len(set(out)) != len(out):
        raise ValueError(f"weeks must hold at least 2 distinct ages, got {weeks!r}.")
    if not all(isinstance(w, numbers.Integral) and not isinstance(w, bool) and w >= 0 for w in out):
        raise ValueError(f"weeks must hold integers >= 0, got {weeks!r}.")
    return tuple(sorted(int(w) for w in out))


def _fixed_effects(values: Any) -> dict[str, float]:
    if values is None:
        return dict(DEFAULT_FIXED_EFFECTS)
    if not isinstance(values, Mapping):
        raise ValueError(f"fixed_effects must be a dict with keys {list(DEFAULT_FIXED_EFFECTS)}, got {values!r}.")
    unknown = [k for k in values if k not in DEFAULT_FIXED_EFFECTS]
    if unknown:
        raise ValueError(
            f"fixed_effects has unknown key(s) {unknown}; use only {list(DEFAULT_FIXED_EFFECTS)}."
        )
    out = dict(DEFAULT_FIXED_EFFECTS)
    out.update({k: finite(f"fixed_effects[{k!r}]", v) for k, v in values.items()})
    return out


def _drop_profiles(rng: np.random.Generator, cell: np.ndarray, n_dropped: int) -> np.ndarray:
    """Boolean mask of kept profiles after removing ``n_dropped`` at random.

    Profiles are visited in a random order and removed unless that would empty their
    week x genotype cell. The order depends only on the seed and the number of profiles, so
    dropping one more profile keeps the earlier choices (nested designs).
    """
    keep = np.ones(cell.size, dtype=bool)
    left = np.bincount(cell).astype(np.int64)
    dropped = 0
    for j in rng.permutation(cell.size):  # loop over ~30 profiles, not rows
        if dropped == n_dropped:
            break
        if left[cell[j]] > 1:
            keep[j] = False
            left[cell[j]] -= 1
            dropped += 1
    return keep


def simulate_expression(
    n_probesets: int = 18015,
    weeks: Sequence[int] = (2, 4, 8, 12, 16),
    genotypes: Sequence[str] = ("B6", "CSB"),
    n_replicates: int = 3,
    n_dropped: int = 7,
    fixed_effects: Mapping[str, float] | None = None,
    probeset_sd: float = 2.27,
    probeset_week_sd: float = 0.071,
    probeset_corr: float = -0.23,
    sample_sd: float = 0.02,
    residual_sd: float = 0.217,
    seed: Any = 0,
) -> pd.DataFrame:
    """Simulate the microarray experiment of seed 001: expression profiles over age.

    One profile (a mouse and its array, called a "sample") per replicate of each age x
    genotype, every profile measuring all probesets; ``n_dropped`` profiles are removed at
    random, never emptying an age x genotype cell, so the design is unbalanced::

        values = b0 + b1*week + b2*[CSB] + b3*week*[CSB]
                 + u0[probeset] + u1[probeset]*week + s[sample] + e

    ``(u0, u1)`` is bivariate normal (SDs ``probeset_sd``, ``probeset_week_sd``, correlation
    ``probeset_corr``); ``s ~ N(0, sample_sd**2)`` is shared by all probesets of a profile --
    the experimental unit that a model with only ``(week | probeset)`` ignores; and
    ``e ~ N(0, residual_sd**2)``. The defaults mimic the fit printed in seed 001.

    Parameters
    ----------
    n_probesets : int, default 18015
        Number of probesets, at least 2.
    weeks : sequence of int, default (2, 4, 8, 12, 16)
        Distinct ages in weeks (at least 2).
    genotypes : sequence of 2 str, default ("B6", "CSB")
        The two strains; the first is the reference level.
    n_replicates : int, default 3
        Profiles per week x genotype before dropping, at least 1.
    n_dropped : int, default 7
        Profiles removed at random; at most ``len(weeks) * 2 * (n_replicates - 1)`` so that
        every cell keeps at least one profile.
    fixed_effects : dict, optional
        Any of the keys ``"Intercept"``, ``"week"``, ``"genotype"``, ``"week:genotype"``;
        missing keys take the defaults ``{"Intercept": 6.57, "week": -0.015, "genotype": 0.24,
        "week:genotype": 0.0}`` (no true interaction). ``"week"`` is per unit of scaled week.
    probeset_sd, probeset_week_sd : float, default 2.27, 0.071
        SDs of the probeset intercepts and week slopes.
    probeset_corr : float, default -0.23
        Correlation of probeset intercepts and slopes, in [-1, 1].
    sample_sd : float, default 0.02
        SD of the per-profile effect shared by all its probesets.
    residual_sd : float, default 0.217
        SD of the residual error.
    seed : int, None or numpy.random.Generator, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    pandas.DataFrame
        Columns ``probeset`` (categorical "ps00001"...), ``sample`` (categorical, e.g.
        "B6_w02_r1"), ``genotype`` (categorical), ``weeks`` (int, age in weeks), ``week``
        (float, age scaled to mean 0 and SD 1 over the distinct ages) and ``values``
        (float). Rows are ordered by sample (genotype, age, replicate), then probeset.
        ``df.attrs["truth"]`` holds an :class:`ExpressionTruth`.

    Examples
    --------
    >>> df = simulate_expression(n_probesets=500)
    >>> df.shape, df["sample"].nunique()
    ((11500, 6), 23)
    >>> len(truth(df).dropped)
    7
    """
    n_probesets = count("n_probesets", n_probesets, 2)
    weeks = _weeks(weeks)
    genotypes = names("genotypes", genotypes, 2)
    if len(genotypes) != 2:
        raise ValueError(f"genotypes must hold exactly 2 names (reference first), got {list(genotypes)}.")
    n_replicates = count("n_replicates", n_replicates, 1)
    n_dropped = count("n_dropped", n_dropped, 0)
    max_drop = len(weeks) * 2 * (n_replicates - 1)
    if n_dropped > max_drop:
        raise ValueError(
            f"n_dropped must be at most {max_drop} so that every week x genotype cell keeps a "
            f"profile, got {n_dropped}."
        )
    fe = _fixed_effects(fixed_effects)
    probeset_sd = sd("probeset_sd", probeset_sd)
    probeset_week_sd = sd("probeset_week_sd", probeset_week_sd)
    if not is_real(probeset_corr) or not -1.0 <= probeset_corr <= 1.0:
        raise ValueError(f"probeset_corr must be a number between -1 and 1, got {probeset_corr!r}.")
    probeset_corr = float(probeset_corr)
    sample_sd = sd("sample_sd", sample_sd)
    residual_sd = sd("residual_sd", residual_sd)
    # Peak: draws for every profile, the values, their flat copy, two code columns, weeks and week.
    check_memory("simulate_expression", 2 * len(weeks) * n_replicates * n_probesets, 56,
                  "lower n_probesets (18015 is the real array) or n_replicates")
    rng_drop, rng_u, rng_s, rng_e = rngs(seed, 4)

    # All profiles before dropping, ordered genotype, week, replicate.
    n_weeks = len(weeks)
    n_total = 2 * n_weeks * n_replicates
    prof_g, prof_w, prof_r = np.indices((2, n_weeks, n_replicates)).reshape(3, -1)
    weeks_arr = np.asarray(weeks, dtype=np.int64)
    center, scale = float(weeks_arr.mean()), float(weeks_arr.std(ddof=1))
    week_scaled = (weeks_arr - center) / scale
    wd = max(2, len(str(weeks[-1])))
    labels = np.array([f"{genotypes[g]}_w{weeks[w]:0{wd}d}_r{r + 1}"
                       for g, w, r in zip(prof_g, prof_w, prof_r)])

    keep = _drop_profiles(rng_drop, prof_g * n_weeks + prof_w, n_dropped)
    z = rng_u.standard_normal((2, n_probesets))
    u0 = probeset_sd * z[0]
    u1 = probeset_week_sd * (probeset_corr * z[0] + math.sqrt(1.0 - probeset_corr**2) * z[1])
    # Drawn for every profile, then subset, so a kept profile's data do not depend on which
    # others were dropped.
    s_all = rng_s.standard_normal(n_total) * sample_sd
    e_all = rng_e.standard_normal((n_total, n_probesets))

    g_k, w_k, s_k = prof_g[keep], week_scaled[prof_w[keep]], s_all[keep]
    fixed = fe["Intercept"] + fe["week"] * w_k + fe["genotype"] * g_k + fe["week:genotype"] * w_k * g_k
    values = e_all[keep]
    values *= residual_sd
    values += (fixed + s_k)[:, None] + u0[None, :] + u1[None, :] * w_k[:, None]

    n_samples = int(keep.sum())
    n_obs = n_samples * n_probesets
    pd_width = max(5, len(str(n_probesets)))
    ps_names = [f"ps{i:0{pd_width}d}" for i in range(1, n_probesets + 1)]
    ps_codes = np.arange(n_probesets, dtype=_code_dtype(n_probesets))
    sample_codes = np.arange(n_samples, dtype=_code_dtype(n_samples))
    df = pd.DataFrame(
        {
            "probeset": _categorical(np.tile(ps_codes, n_samples), ps_names),
            "sample": _categorical(np.repeat(sample_codes, n_probesets), labels[keep]),
            "genotype": _categorical(np.repeat(g_k.astype(np.int8), n_probesets), genotypes),
            "weeks": np.repeat(weeks_arr[prof_w[keep]], n_probesets),
            "week": np.repeat(w_k, n_probesets),
            "values": values.ravel(),
        }
    )
    df.attrs["truth"] = ExpressionTruth(
        n_probesets=n_probesets,
        weeks=weeks,
        genotypes=(genotypes[0], genotypes[1]),
        n_replicates=n_replicates,
        n_dropped=n_dropped,
        fixed_effects=fe,
        probeset_sd=probeset_sd,
        probeset_week_sd=probeset_week_sd,
        probeset_corr=probeset_corr,
        sample_sd=sample_sd,
        residual_sd=residual_sd,
        week_center=center,
        week_scale=scale,
        dropped=tuple(labels[~keep].tolist()),
        sample_effects=pd.Series(s_k, index=pd.Index(labels[keep].tolist(), name="sample"), name="effect"),
        probeset_effects=pd.DataFrame({"Intercept": u0, "week": u1},
                                      index=pd.Index(ps_names, name="probeset")),
        n_obs=n_obs,
        n_samples=n_samples,
        seed=seed,
    )
    return df

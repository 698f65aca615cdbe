"""The comparison of notebook 05 (why standard errors differ).

Part of :mod:`lmmedu.teach.comparison`; see the contract in :mod:`lmmedu.teach`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Exact standard errors of a two-arm design with a random intercept per group, so the design
# effect explorer answers instantly and every number it shows can be checked against real fits.
from scipy import stats as _stats

__all__ = ["DESIGN_VARIES", "design_layout", "exact_standard_errors", "design_data", "DesignEffectView",
            "design_effect_view"]

#: How the treatment can vary relative to the groups, in the order the explorer offers them.
DESIGN_VARIES = ("within", "between", "both")
_TERMS05 = ("Intercept", "treatment[T.drug]")


def _int_at_least(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, got {value!r}.")
    return int(value)


def _icc_value(icc):
    if isinstance(icc, bool) or not isinstance(icc, (int, float, np.floating, np.integer)) or not 0 <= icc < 1:
        raise ValueError(f"icc must be a number from 0 up to (not including) 1, got {icc!r}; at 1 nothing varies "
                         "within a group.")
    return float(icc)


def design_layout(n_groups=10, group_size=50, imbalance=0.0, varies="between"):
    """Rows and treated rows per group of a two-arm (control/drug) grouped design.

    Parameters
    ----------
    n_groups : int, default 10
        Number of groups (replicates, probesets, arrays...), at least 2.
    group_size : int, default 50
        Average rows per group, at least 2.
    imbalance : float, default 0.0
        0 gives equal groups; ``a`` in [0, 1) spreads the sizes evenly from about
        ``group_size * (1 - a)`` to ``group_size * (1 + a)`` (never below 2 rows).
    varies : {"within", "between", "both"}, default "between"
        ``"within"``: every group has both arms, half of its rows each; ``"between"``: each
        group is in one arm (alternating); ``"both"``: groups treat different shares of their
        rows (0.2 to 0.8, in a fixed shuffled order), so the treatment varies within groups
        and its share varies between them.

    Returns
    -------
    pandas.DataFrame
        Index ``group`` ("G01", ...); columns ``size`` and ``treated`` (rows in the drug arm).

    Examples
    --------
    >>> design_layout(4, 10, varies="between")["treated"].tolist()
    [0, 10, 0, 10]
    >>> design_layout(2, 10, imbalance=0.5, varies="within")["size"].tolist()
    [5, 15]
    """
    k = _int_at_least("n_groups", n_groups, 2)
    m = _int_at_least("group_size", group_size, 2)
    if isinstance(imbalance, bool) or not isinstance(imbalance, (int, float, np.floating)) or not 0 <= imbalance < 1:
        raise ValueError(f"imbalance must be a number from 0 up to (not including) 1, got {imbalance!r}.")
    if varies not in DESIGN_VARIES:
        raise ValueError(f"varies must be one of {list(DESIGN_VARIES)}, got {varies!r}.")
    sizes = np.maximum(2, np.rint(m * (1.0 + imbalance * np.linspace(-1.0, 1.0, k)))).astype(int)
    if varies == "within":
        treated = sizes // 2
    elif varies == "between":
        treated = np.where(np.arange(k) % 2 == 1, sizes, 0)
    else:
        # A fixed shuffle, so the treated share is not tied to the group size.
        share = np.linspace(0.2, 0.8, k)[np.random.default_rng(5).permutation(k)]
        treated = np.clip(np.rint(share * sizes), 1, sizes - 1).astype(int)
    width = len(str(k))
    index = pd.Index([f"G{i + 1:0{width}d}" for i in range(k)], name="group")
    return pd.DataFrame({"size": sizes, "treated": treated.astype(int)}, index=index)


def exact_standard_errors(layout, icc, total_variance=1.0):
    """Exact SEs of the intercept and drug effect under lm and a random-intercept mixed model.

    The data are ``y = b0 + b1*drug + u[group] + e`` with ``var(u) = icc * total_variance``
    and ``var(e) = (1 - icc) * total_variance``.  Everything follows from the per-group counts
    of ``layout``, by generalised least squares (GLS) with the true variances:

    * ``se_lm``: the SE that ``lm(y ~ treatment)`` reports, on average (its residual variance
      has expectation ``tr((I - H) V) / (n - 2)``);
    * ``sd_lm``: how much the lm's estimate really varies from experiment to experiment
      (the sandwich ``(X'X)^-1 X'VX (X'X)^-1``);
    * ``se_lmm``: the SE of ``lmer(y ~ treatment + (1|group))`` with the variances known
      (``(X'V^-1 X)^-1``); it is also the true SD of the mixed model's estimate.
      ``lmer`` estimates the variances, so its SE scatters around this value.

    Parameters
    ----------
    layout : pandas.DataFrame
        From :func:`design_layout` (columns ``size`` and ``treated``).
    icc : float
        Intraclass correlation, in [0, 1).
    total_variance : float, default 1.0
        Variance of one row (group plus residual); SEs scale with its square root.

    Returns
    -------
    pandas.DataFrame
        Index ``term`` (``Intercept``, ``treatment[T.drug]``); columns ``se_lm``, ``sd_lm``,
        ``se_lmm``, ``se_ratio`` (``se_lmm / se_lm``), ``term_deff`` (the mixed model's
        variance over the variance the same rows would give if independent: the design
        effect of this term), ``n_eff`` (rows / ``term_deff``) and ``lm_false_positive``
        (about how often the lm's 5% test rejects a true null, from ``se_lm / sd_lm``).

    Examples
    --------
    >>> t = exact_standard_errors(design_layout(10, 50, varies="between"), icc=0.05)
    >>> round(float(t.loc["treatment[T.drug]", "term_deff"]), 2)   # 1 + (50 - 1) * 0.05
    3.45
    >>> bool(t.loc["treatment[T.drug]", "se_ratio"] > 1)
    True
    """
    if not isinstance(layout, pd.DataFrame) or not {"size", "treated"} <= set(layout.columns):
        raise ValueError("layout must be a DataFrame with columns 'size' and 'treated'; make one with "
                         "lmmedu.teach.comparison.design_layout.")
    rho = _icc_value(icc)
    if not isinstance(total_variance, (int, float, np.floating)) or not total_variance > 0:
        raise ValueError(f"total_variance must be a positive number, got {total_variance!r}.")
    size = layout["size"].to_numpy(dtype=float)
    treated = layout["treated"].to_numpy(dtype=float)
    n = float(size.sum())
    tau2, sigma2 = rho * total_variance, (1.0 - rho) * total_variance
    # Per group, X_i'1 = (m_i, t_i); X_i'X_i = [[m_i, t_i], [t_i, t_i]] for a 0/1 drug column.
    c = np.column_stack([size, treated])
    xtx = np.array([[n, treated.sum()], [treated.sum(), treated.sum()]])
    if abs(np.linalg.det(xtx)) < 1e-9 * n * n or treated.sum() in (0.0, n):
        raise ValueError("this layout has no rows in one arm, so the drug effect cannot be estimated.")
    between = c.T @ c
    xvx = sigma2 * xtx + tau2 * between
    xtx_inv = np.linalg.inv(xtx)
    sandwich = xtx_inv @ xvx @ xtx_inv
    s2 = (n * total_variance - np.trace(xtx_inv @ xvx)) / (n - 2.0)
    # V_i^-1 = (I - g_i 11') / sigma2 with g_i = tau2 / (sigma2 + m_i tau2) (Sherman-Morrison).
    g = tau2 / (sigma2 + size * tau2)
    info = (xtx - (c * g[:, None]).T @ c) / sigma2
    v_lmm = np.linalg.inv(info)
    iid = total_variance * np.diag(xtx_inv)
    se_lm = np.sqrt(s2 * np.diag(xtx_inv))
    sd_lm = np.sqrt(np.diag(sandwich))
    se_lmm = np.sqrt(np.diag(v_lmm))
    deff = np.diag(v_lmm) / iid
    false_pos = 2.0 * _stats.norm.sf(_stats.norm.isf(0.025) * se_lm / sd_lm)
    return pd.DataFrame({"se_lm": se_lm, "sd_lm": sd_lm, "se_lmm": se_lmm, "se_ratio": se_lmm / se_lm,
                         "term_deff": deff, "n_eff": n / deff, "lm_false_positive": false_pos},
                        index=pd.Index(_TERMS05, name="term"))


def design_data(layout, icc, effect=0.0, total_variance=1.0, seed=0):
    """One simulated experiment of a :func:`design_layout`, to check the exact SEs with real fits.

    Parameters
    ----------
    layout : pandas.DataFrame
        From :func:`design_layout`.
    icc : float
        Intraclass correlation, in [0, 1).
    effect : float, default 0.0
        True drug effect (the truth is no effect by default).
    total_variance : float, default 1.0
    seed : int, default 0

    Returns
    -------
    pandas.DataFrame
        Columns ``group`` (categorical), ``treatment`` (categorical: control, drug) and ``y``;
        the intercept is 0.

    Examples
    --------
    >>> d = design_data(design_layout(4, 10, varies="within"), icc=0.1)
    >>> d.groupby("treatment", observed=True).size().tolist()
    [20, 20]
    """
    rho = _icc_value(icc)
    rng = np.random.default_rng(seed)
    size = layout["size"].to_numpy(dtype=int)
    treated = layout["treated"].to_numpy(dtype=int)
    codes = np.repeat(np.arange(len(size)), size)
    drug = np.concatenate([np.r_[np.zeros(m - t, dtype=int), np.ones(t, dtype=int)] for m, t in zip(size, treated)])
    u = rng.standard_normal(len(size)) * np.sqrt(rho * total_variance)
    e = rng.standard_normal(len(codes)) * np.sqrt((1.0 - rho) * total_variance)
    return pd.DataFrame({
        "group": pd.Categorical.from_codes(codes, list(layout.index)),
        "treatment": pd.Categorical.from_codes(drug, ["control", "drug"]),
        "y": effect * drug + u[codes] + e,
    })


@dataclass(frozen=True, eq=False)
class DesignEffectView:
    """What the design effect explorer shows for one setting (see :func:`design_effect_view`).

    Attributes
    ----------
    settings : dict
        ``icc``, ``n_groups``, ``group_size``, ``imbalance``, ``varies``.
    layout : pandas.DataFrame
        :func:`design_layout`.
    table : pandas.DataFrame
        :func:`exact_standard_errors`.
    n : int
        Rows.
    kish_size : float
        Size-weighted group size ``sum(m_i^2) / n`` (equals the group size when balanced).
    deff : float
        ``1 + (kish_size - 1) * icc``, the design effect of a quantity that varies only
        between groups.
    n_eff : float
        ``n / deff``.
    text : str
        The readout, a few plain sentences.
    """

    settings: dict
    layout: pd.DataFrame
    table: pd.DataFrame
    n: int
    kish_size: float
    deff: float
    n_eff: float
    text: str


def _rows_text(x):
    """An effective number of rows: whole above 10, one decimal below (1.4 rows, not 1)."""
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}"


def design_effect_view(icc=0.05, n_groups=10, group_size=50, imbalance=0.0, varies="between"):
    """Everything the design effect explorer shows, computed exactly (no simulation).

    Parameters
    ----------
    icc, n_groups, group_size, imbalance, varies
        See :func:`design_layout` and :func:`exact_standard_errors`.

    Returns
    -------
    DesignEffectView

    Examples
    --------
    >>> v = design_effect_view(icc=0.05, n_groups=10, group_size=50)
    >>> round(v.deff, 2), round(v.n_eff)
    (3.45, 145)
    """
    layout = design_layout(n_groups, group_size, imbalance, varies)
    table = exact_standard_errors(layout, icc)
    rho = _icc_value(icc)
    size = layout["size"].to_numpy(dtype=float)
    n = int(size.sum())
    kish = float((size**2).sum() / n)
    deff = 1.0 + (kish - 1.0) * rho
    drug = table.loc["treatment[T.drug]"]
    where = {"within": "within every group", "between": "between groups only",
             "both": "within groups, in shares that differ between groups"}[varies]
    sizes = f"{int(size.min())} to {int(size.max())} rows" if size.min() != size.max() else f"{int(size[0])} rows"
    lines = [
        f"{n:,} rows in {len(size)} groups of {sizes}; ICC {rho:.2f}; the drug varies {where}.",
        f"Design effect of a between-group quantity: 1 + ({kish:.1f} - 1) x {rho:.2f} = {deff:.2f}, so the "
        f"{n:,} rows are worth about {_rows_text(n / deff)} independent rows.",
        f"The drug effect's own design effect is {drug['term_deff']:.2f} (worth about {_rows_text(drug['n_eff'])} "
        f"independent rows): mixed-model SE {drug['se_lmm']:.3f} vs lm SE {drug['se_lm']:.3f} "
        f"(x{drug['se_ratio']:.2f}).",
        f"The lm's estimate really varies with SD {drug['sd_lm']:.3f}, so its 5% test of a null drug effect "
        f"rejects about {drug['lm_false_positive']:.0%} of the time.",
    ]
    settings = {"icc": rho, "n_groups": int(n_groups), "group_size": int(group_size), "imbalance": float(imbalance),
                "varies": varies}
    return DesignEffectView(settings=settings, layout=layout, table=table, n=n, kish_size=kish, deff=deff,
                            n_eff=n / deff, text="\n".join(lines))

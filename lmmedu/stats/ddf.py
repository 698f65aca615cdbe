"""Denominator-df methods for t and F tests of fixed effects: one interface, one registry.

A mixed model's t and F tests need denominator degrees of freedom, and R offers two
ways to get them (lmerTest's ``ddf=``): Satterthwaite (:mod:`lmmedu.stats.satterthwaite`)
and Kenward-Roger (:mod:`lmmedu.stats.kenward_roger`).  A third, asymptotic
(:mod:`lmmedu.stats.asymptotic`: infinite df, z and chi-square), is what R's emmeans prints
when asked (``lmer.df = "asymptotic"``) or, by default, above 3,000 rows.  Every caller -- the coefficient
table of :func:`lmmedu.fit`, :func:`lmmedu.anova`, :func:`lmmedu.emmeans` and so contrasts --
asks the fit for its method (``fit.ddf_method()``) instead of naming one.

The interface
-------------
A df method is a class constructed as ``Method(problem, solution, reml)`` (``problem`` =
``fit.problem``, the engine's :class:`~lmmedu.stats.engine.LmmProblem`; ``solution`` = the
:class:`~lmmedu.stats.engine.Solution` at the optimum; ``reml`` = whether the fit is REML)
with

``name`` : str
    How the method is named to a reader, e.g. ``"Satterthwaite"`` or ``"Kenward-Roger"``.
``vcov()`` -> ndarray (p, p)
    The covariance of beta-hat the method uses: sigma^2 (RX'RX)^-1 for Satterthwaite and
    asymptotic, the adjusted Phi_A for Kenward-Roger.  The fit's ``vcov`` and its coefficient table's SEs
    are this matrix.
``df(L)`` -> ndarray (c,)
    Denominator df of the t test of each row of the contrast matrix L (c x p).
``ftest(L, beta)`` -> (F, num_df, den_df)
    The joint F test that L beta = 0: lmerTest's ``contestMD`` for Satterthwaite,
    pbkrtest's scaled F for Kenward-Roger, the Wald F with ``inf`` denominator df for
    asymptotic.

Optional: ``warning`` (str, a sentence when the df cannot be trusted, else ''), and
``reuses_derivatives = True`` for a method that accepts the fit's
:class:`~lmmedu.stats.derivatives.DevianceDerivatives` as the keyword ``derivatives``
instead of computing them again.

The registry
------------
:func:`resolve` maps the spellings R and users write (``"satterthwaite"``, ``"Satterthwaite"``,
``"kenward-roger"``, ``"Kenward-Roger"``, ``"KR"``, ``"asymptotic"``, ...) to a :class:`DdfMethod`;
:func:`make_method` builds the method for a fit, refusing Kenward-Roger on an ML fit
(as R does) rather than refitting silently.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from .satterthwaite import Satterthwaite

from .kenward_roger import KenwardRoger

from .asymptotic import Asymptotic

__all__ = ["DdfMethod", "METHODS", "resolve", "check", "make_method", "accepted_spellings", "r_default_ddf",
           "R_DF_LIMIT"]

#: emmeans' default ``pbkrtest.limit`` and ``lmerTest.limit``: above this many rows it skips KR and Satterthwaite.
R_DF_LIMIT = 3000


@dataclass(frozen=True)
class DdfMethod:
    """One df method in the registry.

    Attributes
    ----------
    key : str
        R's lowercase name, as emmeans prints it ("Degrees-of-freedom method: satterthwaite").
    name : str
        The method's name in headers and notes.
    reference : str
        The R function(s) it reproduces, for the summary header.
    cls : type
        The class implementing the interface.
    needs_reml : bool
        The method is defined for REML fits only.
    spellings : tuple of str
        Accepted spellings, compared without case, spaces, hyphens and underscores.
    """

    key: str
    name: str
    reference: str
    cls: object
    needs_reml: bool
    spellings: tuple

    @property
    def header(self):
        """e.g. ``'Satterthwaite df as lmerTest'``."""
        return f"{self.name} df as {self.reference}"


METHODS = (
    DdfMethod("satterthwaite", "Satterthwaite", "lmerTest", Satterthwaite, False,
              ("satterthwaite",)),
    DdfMethod("kenward-roger", "Kenward-Roger", "lmerTest/pbkrtest", KenwardRoger, True,
              ("kenwardroger", "kr")),
    DdfMethod("asymptotic", "asymptotic", 'emmeans\' lmer.df = "asymptotic" (z tests)', Asymptotic, False,
              ("asymptotic",)),
)


def _normalise(text):
    return "".join(ch for ch in str(text).lower() if ch not in " -_.")


def accepted_spellings():
    """The spellings :func:`resolve` accepts, for messages.

    Examples
    --------
    >>> accepted_spellings()
    "'satterthwaite', 'kenward-roger' or 'asymptotic' (also 'Satterthwaite', 'Kenward-Roger', 'KR')"
    """
    return "'satterthwaite', 'kenward-roger' or 'asymptotic' (also 'Satterthwaite', 'Kenward-Roger', 'KR')"


def resolve(ddf):
    """The registry entry for a spelling of a df method.

    Parameters
    ----------
    ddf : str or DdfMethod

    Returns
    -------
    DdfMethod

    Raises
    ------
    ValueError
        For an unknown method (e.g. SAS's "containment"), naming the accepted ones.

    Examples
    --------
    >>> resolve("Satterthwaite").key
    'satterthwaite'
    >>> resolve("KR").name
    'Kenward-Roger'
    >>> resolve("asymptotic").key
    'asymptotic'
    """
    if isinstance(ddf, DdfMethod):
        return ddf
    if isinstance(ddf, str):
        wanted = _normalise(ddf)
        for entry in METHODS:
            if wanted in entry.spellings:
                return entry
    raise ValueError(f"ddf must be {accepted_spellings()}, not {ddf!r}.")


def check(ddf, reml):
    """The registry entry for ``ddf``, if it can serve a fit with this ``reml``; else one sentence.

    Called before fitting, so a bad choice costs no optimisation.

    Parameters
    ----------
    ddf : str or DdfMethod
    reml : bool

    Returns
    -------
    DdfMethod

    Raises
    ------
    ValueError
        An unknown method, or Kenward-Roger on an ML fit.

    Examples
    --------
    >>> check("kenward-roger", reml=False)
    Traceback (most recent call last):
    ...
    ValueError: Kenward-Roger df need a REML fit (R refuses them for ML fits too); refit with lmmedu.fit(formula, data, reml=True), or use ddf='satterthwaite'.
    """
    entry = resolve(ddf)
    if entry.needs_reml and not reml:
        raise ValueError(f"{entry.name} df need a REML fit (R refuses them for ML fits too); refit with "
                         "lmmedu.fit(formula, data, reml=True), or use ddf='satterthwaite'.")
    return entry


def make_method(ddf, problem, solution, reml, derivatives=None):
    """Build the df method ``ddf`` for a fit.

    Parameters
    ----------
    ddf : str or DdfMethod
    problem, solution : the fit's engine problem and solution at the optimum
    reml : bool
    derivatives : lmmedu.stats.derivatives.DevianceDerivatives, optional
        Passed to methods that reuse them.

    Returns
    -------
    object following the interface in this module's docstring.

    Raises
    ------
    ValueError
        Kenward-Roger on an ML fit.

    Examples
    --------
    >>> import lmmedu
    >>> m = lmmedu.fit("log(length) ~ treatment + (1|replicate)",
    ...                lmmedu.simulate_replicates(genes=("A",), obs_per_replicate=50))
    >>> make_method("satterthwaite", m.problem, m._solution, m.reml).name
    'Satterthwaite'
    """
    entry = check(ddf, reml)
    if getattr(entry.cls, "reuses_derivatives", False) and derivatives is not None:
        return entry.cls(problem, solution, reml, derivatives=derivatives)
    return entry.cls(problem, solution, reml)


def r_default_ddf(nobs, lmer_df="kenward-roger", pbkrtest_limit=R_DF_LIMIT, lmerTest_limit=R_DF_LIMIT):
    """The df method R's emmeans uses for an lmer fit of ``nobs`` rows (its ``emm_basis.merMod``).

    emmeans asks for Kenward-Roger (``lmer.df``'s default).  Above ``pbkrtest.limit`` rows it
    falls back to Satterthwaite, and above ``lmerTest.limit`` rows to Kenward-Roger if that is
    still allowed, otherwise to asymptotic df (``df = Inf``, z tests), printing a note for each
    limit it hit ("D.f. calculations have been disabled because the number of observations
    exceeds 3000").  Both limits are 3,000 by default (``emm_options()``).

    Parameters
    ----------
    nobs : int
        Rows of the fit (``fit.nobs``; R's ``getME(fit, "N")``).
    lmer_df : str, default "kenward-roger"
        The method asked for (emmeans' ``lmer.df``).
    pbkrtest_limit, lmerTest_limit : float, default 3000

    Returns
    -------
    str
        ``"kenward-roger"``, ``"satterthwaite"`` or ``"asymptotic"``: pass it as
        ``emmeans(fit, ..., ddf=...)`` to print what R prints.

    Examples
    --------
    >>> r_default_ddf(2500)
    'kenward-roger'
    >>> r_default_ddf(7500)
    'asymptotic'
    >>> r_default_ddf(7500, lmer_df="satterthwaite", lmerTest_limit=1e5)
    'satterthwaite'
    """
    mode = resolve(lmer_df).key
    if isinstance(nobs, bool) or not isinstance(nobs, numbers.Real) or not nobs >= 0:
        raise ValueError(f"nobs must be a number of rows (e.g. fit.nobs), not {nobs!r}.")
    too_big_kr, too_big_sat = nobs > pbkrtest_limit, nobs > lmerTest_limit
    if mode == "kenward-roger" and too_big_kr:
        mode = "satterthwaite"
    if mode == "satterthwaite" and too_big_sat:
        mode = "asymptotic" if too_big_kr else "kenward-roger"
    return mode

"""Text layouts of fit summaries, as R prints them (the one place that formats a fit for reading)."""

from __future__ import annotations

import numpy as np

from .ddf import resolve

__all__ = ["Summary", "coef_lines", "mixed_summary"]


class Summary(str):
    """Text that shows itself unquoted at the prompt and in notebooks."""

    def __repr__(self):
        return str(self)

    def _repr_html_(self):
        import html

        return f"<pre>{html.escape(str(self))}</pre>"


def mixed_summary(fit):
    """lme4's ``summary(lmer(...))`` layout with lmerTest df, the header naming the fit's df method.

    Parameters
    ----------
    fit : lmmedu.stats.results.MixedFit

    Returns
    -------
    Summary
    """
    crit = "REML" if fit.reml else "maximum likelihood"
    lines = [f"Linear mixed model fit by {crit} (lmmedu; {resolve(fit.ddf).header})",
             f"Formula: {fit.formula}", ""]
    if fit.reml:
        lines.append(f"REML criterion at convergence: {fit.deviance:.1f}")
    else:
        lines.append("     AIC      BIC   logLik deviance df.resid")
        lines.append(f"{fit.aic:8.1f} {fit.bic:8.1f} {fit.loglik:8.1f} {fit.deviance:8.1f} "
                     f"{fit.nobs - len(fit.names) - fit.problem.n_theta - 1:8d}")
    res = fit.residuals() / fit.sigma
    qs = np.quantile(res, [0, 0.25, 0.5, 0.75, 1])
    lines += ["", "Scaled residuals:", "     Min       1Q   Median       3Q      Max",
              " ".join(f"{v:8.4f}" for v in qs), "", "Random effects:"]
    vc = fit.varcomp
    # Columns as wide as their longest entry, as R pads them: long names (Consumer:Product) stay aligned.
    gw = max(10, *(len(str(g)) for g in vc["group"]))
    nw = max(18, *(len(str(t)) for t in vc["term"].dropna()), len("(Intercept)"))
    lines.append(f" {'Groups':<{gw}} {'Name':<{nw}} {'Variance':>10} {'Std.Dev.':>9}  Corr")
    for group in dict.fromkeys(vc["group"]):
        sub = vc[vc["group"] == group]
        diag = sub[sub["term2"].isna()]
        first = True
        for _, row in diag.iterrows():
            name = "" if group == "Residual" else ("(Intercept)" if row["term"] == "Intercept" else row["term"])
            corrs = sub[(sub["term2"] == row["term"])]["corr"]
            corr_txt = " ".join(f"{c:5.2f}" for c in corrs)
            lines.append(f" {group if first else '':<{gw}} {name:<{nw}} {row['variance']:10.4g} {row['sd']:9.4g}  "
                         f"{corr_txt}")
            first = False
    groups = ", ".join(f"{g}, {n}" for g, n in fit.ngroups.items())
    lines += [f"Number of obs: {fit.nobs}, groups:  {groups}", ""]
    lines += coef_lines(fit.coefs, "Fixed effects:")
    if fit.singular:
        lines += ["", fit.singular_message]
    if fit.df_message:
        lines += ["", fit.df_message]
    if not fit.converged:
        lines += ["", fit.convergence_message]
    return Summary("\n".join(lines))


def coef_lines(coefs, title):
    """The coefficient table as R prints it (Estimate, Std. Error, df, t value, Pr(>|t|), stars).

    Examples
    --------
    >>> import pandas as pd
    >>> tab = pd.DataFrame({"estimate": [1.0], "se": [0.5], "df": [10.0], "t": [2.0], "p": [0.07]},
    ...                    index=["x"])
    >>> coef_lines(tab, "Coefficients:")[2].split()
    ['x', '1', '0.5', '10', '2.000', '0.07', '.']
    """
    lines = [title]
    if len(coefs) == 0:
        # e.g. y ~ 0 + (1|g): a model without fixed effects still has a summary.
        return lines + ["(none: the model has no fixed effects)"]
    width = max(12, max(len(str(i)) for i in coefs.index) + 1)
    lines.append(f"{'':<{width}} {'Estimate':>10} {'Std. Error':>10} {'df':>10} {'t value':>8} {'Pr(>|t|)':>10}")
    for name, row in coefs.iterrows():
        p = row["p"]
        ptxt = "< 2e-16" if p < 2e-16 else f"{p:.3g}"
        stars = "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "." if p < 0.1 else ""
        lines.append(f"{str(name):<{width}} {row['estimate']:10.4g} {row['se']:10.4g} {row['df']:10.4g} "
                     f"{row['t']:8.3f} {ptxt:>10} {stars}")
    lines.append("---")
    lines.append("Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1")
    return lines

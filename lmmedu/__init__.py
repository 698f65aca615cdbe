"""lmmedu: linear mixed models taught side by side with ordinary linear models.

The package has two layers, and data flow one way through them::

    DataFrame -> stats.formula -> stats.design -> stats.engine -> stats.results
              -> stats.interpret (explain, emmeans, contrasts) -> teach -> notebook

- :mod:`lmmedu.stats` is generic statistics for any data set: lme4-style
  formulas, the fitting engine, Satterthwaite df, likelihood-ratio tests,
  coefficient meanings, marginal means and contrasts.  It never names genes,
  treatments or lengths and imports no plotting, widget or progress library.
- :mod:`lmmedu.data` holds the simulators (with their known truth) and the
  recipes of the shipped data sets.
- :mod:`lmmedu.teach` is the notebook layer: lm-vs-lmm comparisons with
  reasons, report sentences, simulation studies, plots and widgets, all
  following one contract written in its docstring.

Nothing in ``stats`` or ``data`` imports ``teach``; a test checks it.

Examples
--------
>>> import lmmedu
>>> df = lmmedu.simulate_replicates(seed=1)
>>> m = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", df)
>>> list(m.coefs.columns)
['estimate', 'se', 'df', 't', 'p', 'ci_low', 'ci_high']
"""

from importlib.metadata import PackageNotFoundError, version as _version

from .data.datasets import load_expression_small, load_replicates
from .data.simulate import simulate_expression, simulate_replicates, truth
from .stats.fit import fit, fit_lm
from .stats.anova import anova
from .stats.interpret import contrasts, emmeans, explain, per_group_vs_joint, set_reference
from .teach.comparison import compare, design_effect, icc

try:
    __version__ = _version("lmmedu")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

__all__ = [
    "__version__",
    "fit",
    "fit_lm",
    "anova",
    "explain",
    "emmeans",
    "contrasts",
    "set_reference",
    "per_group_vs_joint",
    "simulate_replicates",
    "simulate_expression",
    "truth",
    "load_replicates",
    "load_expression_small",
    "compare",
    "icc",
    "design_effect",
]

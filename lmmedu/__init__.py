"""lmmedu: linear mixed models taught side by side with ordinary linear models.

The package has two layers, and data flow one way through them::

    DataFrame -> stats.formula -> stats.design -> stats.engine -> stats.results (fit, fit_lm)
              -> stats.explain, stats.emmeans, stats.multiplicity
              -> teach.comparison / prose / cells / studies / plots / widgets -> notebook

- :mod:`lmmedu.stats` is generic statistics for any data set: lme4-style formulas, the
  fitting engine, Satterthwaite (or Kenward-Roger) df, F tests of whole terms (lmerTest's
  ``anova(fit)``), likelihood-ratio tests, coefficient meanings, marginal means, contrasts and
  p-value adjustment. It never names genes, treatments or lengths,
  imports no plotting, widget or progress library and does not import :mod:`lmmedu.data`.
- :mod:`lmmedu.data` holds the simulators, their truths (:mod:`lmmedu.data.truth`), the
  argument checks they share and the recipes of the shipped data sets.
- :mod:`lmmedu.teach` is the notebook layer: lm-vs-lmm comparisons with reasons, report
  sentences, cell tables, simulation studies, plots and widgets, all following one contract
  written in its docstring.

Nothing in ``stats`` or ``data`` imports ``teach``; tests/test_architecture.py checks it.
The names below are plain re-exports: :func:`fit` (with ``ddf=`` choosing Satterthwaite or
Kenward-Roger df) and :func:`fit_lm`, :func:`anova` (one fit: the F table of its terms, as lmerTest's
``anova(fit)``; two fits: the likelihood-ratio test), :func:`explain`, :func:`emmeans`,
:func:`set_reference`, the simulators and data loaders; :func:`contrasts` is the one public name from the
teaching layer that wraps a statistics function (it adds a report sentence per ratio).
:func:`checklist` (:func:`lmmedu.teach.comparison.design_checklist`) checks a mixed model of
your own design: experimental units behind each effect, predictors varying within or between
groups, random slopes, singular fits, small df. :func:`read_table` reads a CSV file (a path
or uploaded bytes) as the command line and notebook 10 do.

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
from .stats.ftest import anova
from .stats.bootstrap import bootstrap
from .stats.confint import confint
from .stats.profile import profile
from .stats.ranova import ranova
from .stats.emmeans import emmeans
from .stats.explain import explain, set_reference
from .data.read import read_table
from .teach.comparison import compare, design_effect, icc, per_group_vs_joint
from .teach.comparison import design_checklist as checklist
from .teach.prose import contrasts  # lmmedu.stats.emmeans.contrasts plus a report sentence per ratio

try:
    __version__ = _version("lmmedu")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

__all__ = [
    "__version__",
    "fit",
    "fit_lm",
    "anova",
    "confint",
    "profile",
    "bootstrap",
    "ranova",
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
    "checklist",
    "read_table",
]

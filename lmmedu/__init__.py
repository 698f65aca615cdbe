"""lmmedu: linear mixed models taught side by side with ordinary linear models.

The package simulates replicate experiments with known truth, fits ordinary
least squares and lme4-style mixed models from one formula, and explains the
results (coefficient meanings, marginal means, contrasts, standard errors and
degrees of freedom).

Examples
--------
>>> import lmmedu
>>> df = lmmedu.simulate_replicates(seed=1)
>>> m = lmmedu.fit("log(length) ~ treatment*gene + (1|replicate)", df)
>>> list(m.coefs.columns)
['estimate', 'se', 'df', 't', 'p', 'ci_low', 'ci_high']
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version as _version

from .compare import compare, design_effect, icc
from .datasets import load_expression_small, load_replicates
from .models import fit, fit_lm
from .simulate import simulate_expression, simulate_replicates, truth

try:
    __version__ = _version("lmmedu")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

# Public names that live in modules imported on first use, so that
# ``import lmmedu`` stays quick (no plotting or widget libraries).
_LAZY = {
    "anova": "inference",
    "explain": "interpret",
    "emmeans": "interpret",
    "contrasts": "interpret",
    "set_reference": "interpret",
    "per_group_vs_joint": "interpret",
}

__all__ = [
    "__version__",
    "fit",
    "fit_lm",
    "simulate_replicates",
    "simulate_expression",
    "truth",
    "load_replicates",
    "load_expression_small",
    "compare",
    "icc",
    "design_effect",
    *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        module = import_module(f".{_LAZY[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lmmedu' has no attribute {name!r}")

"""lmmedu: linear mixed models taught side by side with ordinary linear models.

The package simulates replicate experiments with known truth, fits ordinary
least squares and lme4-style mixed models from one formula, and explains the
results (coefficient meanings, marginal means, contrasts, standard errors and
degrees of freedom).
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("lmmedu")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

__all__ = ["__version__"]

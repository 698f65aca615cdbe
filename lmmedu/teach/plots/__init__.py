"""Every figure of the notebooks, drawn with seaborn on matplotlib.

The contract (see :mod:`lmmedu.teach`): every function takes ``ax=None`` (a new figure when
None) and returns the :class:`matplotlib.axes.Axes` it drew on; a two-panel figure takes and
returns a pair. The numbers a figure shows come from plain functions that notebooks and
tests call too (:mod:`lmmedu.teach.cells`, :mod:`lmmedu.teach.studies`); nothing is hung on
a figure. Axes are labelled with units and scale, colours come from seaborn's colour-blind
palette, the simulated truth is drawn where it is known, and titles state what the figure
shows, computed from the data.

This package: :mod:`.base` (the framework: new axes and panels, fitted titles and labels, the
palette and the rows of rate figures), then the figures by lesson: :mod:`.replicates` (01),
:mod:`.rates` (every study), :mod:`.coefficients` (02-04), :mod:`.gene_responses` (04),
:mod:`.standard_errors` (05), :mod:`.pooling` and :mod:`.sd_intervals` (06), :mod:`.pvalues` (07),
:mod:`.expression` (08), :mod:`.planning` (09), :mod:`.own_data` (10). Everything public is re-exported here.
"""

from . import (base, replicates, rates, coefficients, standard_errors, pooling, sd_intervals, pvalues, expression, planning,
               own_data)
from .base import *  # noqa: F403
from .replicates import *  # noqa: F403
from .rates import *  # noqa: F403
from .coefficients import *  # noqa: F403
from .standard_errors import *  # noqa: F403
from .pooling import *  # noqa: F403
from .sd_intervals import *  # noqa: F403
from .pvalues import *  # noqa: F403
from .expression import *  # noqa: F403
from .planning import *  # noqa: F403
from .own_data import *  # noqa: F403

__all__ = [*base.__all__, *replicates.__all__, *rates.__all__, *coefficients.__all__, *standard_errors.__all__, *pooling.__all__,
           *sd_intervals.__all__, *pvalues.__all__, *expression.__all__, *planning.__all__, *own_data.__all__]

# Notebook 04's gene-response study (its own module, added after the others).
from . import gene_responses  # noqa: E402
from .gene_responses import *  # noqa: E402,F403

__all__ += gene_responses.__all__

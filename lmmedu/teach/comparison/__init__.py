"""The lm and the mixed model side by side, and why their standard errors differ.

An ordinary linear model treats every row as an independent observation.  A
mixed model with ``(1|replicate)`` knows that rows of one replicate share a
replicate effect.  What that changes depends on how each fixed-effect term
varies relative to the groups:

* a term that is constant within every group (the intercept; a treatment
  given to whole replicates; a genotype per sample) is compared *between*
  groups, so its information comes from the number of groups, not rows: the
  mixed model's SE is larger and its df are about the number of groups;
* a term that varies *within* groups (a treatment applied inside every
  replicate) is compared inside each group, where the group effect cancels:
  its SE stays about the same or shrinks, because the group differences no
  longer count as noise.

:func:`compare` fits both models from one formula and tabulates this per
term; :func:`icc` and :func:`design_effect` give the classic survey-sampling
summary of the same idea; :func:`se_table` does it for one simulated gene as the
replicate SD changes (notebook 02); :func:`per_group_vs_joint` sets separate
per-gene fits next to the joint interaction model.

This package: :mod:`.compare` (the framework: :func:`compare`, :func:`icc`,
:func:`design_effect`; :mod:`.layout` lays out its HTML table), then one module per lesson:
:mod:`.one_gene` (02), :mod:`.per_gene` (04), :mod:`.standard_errors` (05), :mod:`.pooling`
(06), :mod:`.pvalues` (07), :mod:`.own_data`, :mod:`.own_data_checklist` and :mod:`.own_data_report`
(10). Everything public is re-exported here.
"""

from . import (compare as _compare_module, one_gene, per_gene, standard_errors, pooling, pvalues, own_data,
               own_data_checklist, own_data_report)
from .compare import *  # noqa: F403
from .one_gene import *  # noqa: F403
from .per_gene import *  # noqa: F403
from .standard_errors import *  # noqa: F403
from .pooling import *  # noqa: F403
from .pvalues import *  # noqa: F403
from .own_data import *  # noqa: F403
from .own_data_checklist import *  # noqa: F403
from .own_data_report import *  # noqa: F403

__all__ = [*_compare_module.__all__, *one_gene.__all__, *per_gene.__all__, *standard_errors.__all__, *pooling.__all__,
           *pvalues.__all__, *own_data.__all__, *own_data_checklist.__all__,
           *own_data_report.__all__]

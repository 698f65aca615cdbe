"""Simulation studies: how often does each analysis find an effect that is not there?

The one experiment runner (:func:`run_study`), the one rates table (:func:`rates`) and the
one progress helper (:func:`progress_callback`) of the contract in :mod:`lmmedu.teach`, and
the studies of the notebooks built on them. Every study simulates experiments with **no true
drug effect**, so every rejection is a false positive and a correct test rejects in about
``alpha`` of them; the Wilson interval of each rate says how far chance alone can take it.

- Notebook 01, pseudo-replication (:func:`simulate_p_values`, :func:`false_positive_rates`,
  :func:`rate_curve`): one gene, three analyses of :data:`ANALYSES` -- ``"naive lm"``
  (``log(length) ~ treatment`` on every measurement, as if each were independent),
  ``"t-test on replicate means"`` (independent samples in the between design, paired in the
  within design) and ``"mixed model"`` (``log(length) ~ treatment + (1|replicate)``,
  Satterthwaite df).
- Notebook 04, random slopes (:func:`random_slope_p_values`, :func:`random_slope_rates`): the
  drug effect varies between replicates; the models of :data:`SLOPE_STUDY_MODELS` with and
  without a random slope test the drug effect of the reference gene (:func:`singular_split`
  splits the random-slope fits by singularity); :mod:`.gene_responses` asks whether the
  replicates' drug response is shared by all genes; :mod:`.cache` ships the slow ones in data/.

This package: :mod:`.runner` (the framework: runner, rates table, progress helper), then one
module per lesson: :mod:`.replicates` (01), :mod:`.random_slopes`, :mod:`.gene_responses` and
:mod:`.interactions` (04; the last is what the interaction explorer shows), :mod:`.pooling` and
:mod:`.sd_intervals` (06), :mod:`.pvalues` and :mod:`.referee` (07), :mod:`.expression` (08), :mod:`.planning`,
:mod:`.array_planning`, :mod:`.pilot` and :mod:`.planner` (09; the last is what the planner app shows), and
:mod:`.cache` (the slow studies shipped in data/). The truths of the settings
(:func:`true_icc`, :func:`true_design_effect`, :func:`design_problem`) live in
:mod:`lmmedu.data.truth` and are re-exported here. Everything public is re-exported here.
"""

from ...data.truth import design_problem, replicate_sd_for_icc, true_design_effect, true_icc
from . import (runner, replicates, random_slopes, pooling, sd_intervals, pvalues, referee, expression, planning,
               array_planning, pilot, planner, gene_responses, interactions, cache)
from .runner import *  # noqa: F403
from .replicates import *  # noqa: F403
from .random_slopes import *  # noqa: F403
from .pooling import *  # noqa: F403
from .pvalues import *  # noqa: F403
from .referee import *  # noqa: F403
from .expression import *  # noqa: F403
from .planning import *  # noqa: F403
from .array_planning import *  # noqa: F403
from .planner import *  # noqa: F403
from .gene_responses import *  # noqa: F403
from .interactions import *  # noqa: F403
from .sd_intervals import *  # noqa: F403
from .cache import *  # noqa: F403
from .pilot import *  # noqa: F403

# The truths of the replicate settings live in lmmedu.data.truth; kept here for the notebooks.
_TRUTHS = ["true_icc", "true_design_effect", "design_problem"]
__all__ = [*runner.__all__, *replicates.__all__, *random_slopes.__all__, *_TRUTHS, *pooling.__all__, *pvalues.__all__,
           *referee.__all__, *expression.__all__, *planning.__all__, *array_planning.__all__, *planner.__all__,
           *gene_responses.__all__, *interactions.__all__, *cache.__all__, *sd_intervals.__all__, *pilot.__all__]

"""Every ipywidgets app of the notebooks, built on one pattern (:class:`App`).

The contract is written in :mod:`lmmedu.teach`: controls and views are attributes,
``update(**settings)`` computes what the app shows and returns it without touching a widget,
``show(result)`` writes it, ``run()`` does both and turns errors into a message, and the app
displays itself. The work is done by tested functions of :mod:`~lmmedu.teach.studies`,
:mod:`~lmmedu.teach.comparison`, :mod:`~lmmedu.teach.cells` and :mod:`~lmmedu.teach.prose`;
figures come from :mod:`~lmmedu.teach.plots` as PNG. tests/test_architecture.py fails on a widget
module that imports :mod:`lmmedu.stats`, the simulators or a statistics library, or defines a
public function of its own (names computed elsewhere are re-exported where notebooks use them).

- :class:`EnvironmentCheck` (notebook 00): proves that widgets render and call back.
- :class:`PseudoReplicationMachine` (notebook 01): false-positive rates of three analyses
  in simulated experiments without a drug effect (Run button).
- :class:`StandardErrorExplorer` (notebook 02): lm vs mixed model SEs and df as the
  replicate SD changes.
- :class:`CodingExplorer` (notebook 03): one data set under every coding.
- :class:`InteractionExplorer` (notebook 04): true drug effects per gene -> which
  coefficients move.
- :class:`RandomSlopeMachine` (notebook 04): false positives without a random slope (Run
  button).
- :func:`rates_for_display`: a study's rates table with plain column names, for a notebook.

This package: :mod:`.app` (the framework: :class:`App` and its helpers), then the apps by
lesson: :mod:`.environment` (00), :mod:`.replicates` (01), :mod:`.one_gene` (02), :mod:`.coding`
(03), :mod:`.interactions` (04), :mod:`.standard_errors` (05), :mod:`.pooling` (06),
:mod:`.pvalues` (07), :mod:`.planning` (09), :mod:`.own_data` (10). Everything public is
re-exported here.
"""

from . import (app, environment, replicates, one_gene, coding, interactions,
               standard_errors, pooling, pvalues, planning, own_data)
from .app import *  # noqa: F403
from .environment import *  # noqa: F403
from .replicates import *  # noqa: F403
from .one_gene import *  # noqa: F403
from .coding import *  # noqa: F403
from .interactions import *  # noqa: F403
from .standard_errors import *  # noqa: F403
from .pooling import *  # noqa: F403
from .pvalues import *  # noqa: F403
from .planning import *  # noqa: F403
from .own_data import *  # noqa: F403

__all__ = [*app.__all__, *environment.__all__, *replicates.__all__, *one_gene.__all__, *coding.__all__,
           *interactions.__all__, *standard_errors.__all__, *pooling.__all__, *pvalues.__all__, *planning.__all__, *own_data.__all__]

"""The notebook layer: comparisons, prose, cell tables, studies, plots and widgets.

Everything here may name the teaching columns (``gene``, ``treatment``, ``length``,
``replicate``); everything below (:mod:`lmmedu.stats`, :mod:`lmmedu.data`) may not, and
never imports this package.  The modules, one role each:

- :mod:`~lmmedu.teach.comparison`  lm vs mixed model with reasons (the framework in
  ``compare.py``), ICC, design effect, and one module per lesson;
- :mod:`~lmmedu.teach.prose`       report sentences built from result tables;
- :mod:`~lmmedu.teach.cells`       cell tables, model-matrix rows, replicate weighting,
  interaction readings, and the plain numbers behind the figures;
- :mod:`~lmmedu.teach.studies`     the one experiment runner and the one rates table (the
  framework in ``runner.py``), and one module per lesson's studies;
- :mod:`~lmmedu.teach.plots`       every figure;
- :mod:`~lmmedu.teach.widgets`     every app.

The contract
------------
Every study, plot and widget in this package follows the four rules below.  A new notebook
adds to this pattern; it never starts a second one.

**1. Progress.**  Anything that loops over simulated experiments takes
``progress: bool | Callable[[int, int], None] = False``: ``False`` is silent, ``True`` shows
one tqdm bar, a callable is called as ``progress(done, total)`` after every experiment (the
widgets pass one that moves their progress bar).  It is resolved in exactly one place,
:func:`lmmedu.teach.studies.progress_callback`; do not import tqdm anywhere else.

**2. Studies.**  A simulation study is three things: a *simulator*
``simulate(rng, **setting) -> DataFrame`` that draws one experiment with a known truth, a dict
of named *analyses* ``analysis(data) -> dict`` (keys ``p`` and any of ``estimate``, ``se``,
``df``, ``singular``, ``error``; :func:`~lmmedu.teach.studies.coefficient_test` builds the
common one, "fit this formula, test this term"), and a number of experiments.
:func:`~lmmedu.teach.studies.run_study` runs them and returns one tidy long table, one row
per setting, experiment and analysis, with the columns

    ``<setting columns>, sim, analysis, estimate, se, df, p, singular, error``

(an analysis that raises gets ``p = NaN`` and the message in ``error``; the study goes on).
Experiment ``i`` uses the ``i``-th child of ``numpy.random.SeedSequence(seed)`` at every
setting, so settings are compared on the same random draws and a larger ``n_sims`` extends
the same sequence.  :func:`~lmmedu.teach.studies.rates` summarises any such table into the
one rates table, one row per setting and analysis, with the fixed columns

    ``<setting columns>, analysis, n_sims, rejections, rate, ci_low, ci_high, n_missing,
    median_estimate, median_se, median_df, n_singular, singular_rate``

(``n_sims`` counts experiments with a usable p-value, ``rate = rejections / n_sims`` at
``alpha``, ``ci_low``/``ci_high`` its 95% Wilson interval, ``singular_rate = n_singular /
(n_sims + n_missing)``).  Both tables keep the fixed arguments in ``attrs["settings"]`` and
the names of the setting columns in ``attrs["setting_columns"]``; ``rates`` adds
``attrs["alpha"]``.  A named study of a notebook (:func:`~lmmedu.teach.studies.false_positive_rates`,
:func:`~lmmedu.teach.studies.random_slope_rates`, ...) is a thin function that checks its
arguments, builds ``simulate`` and ``analyses`` and calls these two.

**3. Plots.**  Every figure function takes ``ax=None`` (a new figure when None) and returns
the :class:`matplotlib.axes.Axes` it drew on, like seaborn; a figure of several panels takes
and returns a sequence of Axes.  Titles state the finding and are computed from the data.
A plot computes nothing a reader or a test needs to check: those numbers come from a plain
function (in :mod:`~lmmedu.teach.cells` or :mod:`~lmmedu.teach.studies`) that the plot calls
and the notebook or the test calls too.  Nothing is hung on a figure.

**4. Widgets.**  Every app subclasses :class:`lmmedu.teach.widgets.App` and is built the
same way: the controls are attributes named in the class attribute ``controls`` (so tests
set ``app.replicate_sd.value = 0.4`` and notebooks read them; an app whose controls are made
per instance, such as one slider per gene, overrides ``control_widgets()`` instead), and the
views are attributes too (``app.table``, ``app.plot``, ``app.status``; ``app.message`` comes
from the base class).  ``__init__`` builds the widgets and ends with
``super().__init__(views=[...])``, which wires the observers and lays the views out.
:meth:`~lmmedu.teach.widgets.App.update` computes what the app shows from keyword settings
(the names of the controls) and returns it as a plain object (a DataFrame, a str, a frozen
dataclass or NamedTuple) without touching any widget; ``show(result)`` writes a result into
the views and computes nothing; :meth:`~lmmedu.teach.widgets.App.run` is update + show with
every error turned into one line in ``app.message`` (what observers and buttons call; keyword
overrides replace control values) and keeps the last result in ``app.result``.  An app with a
Run button (a study) sets ``live = False``: control changes then only call ``preview()``
(cheap text), and the button (``app.button``) calls ``run()``; if the app has an
``app.progress_bar`` (``ipywidgets.IntProgress``), ``run()`` passes ``update`` a
``progress`` callable that moves it; if it has an ``app.status`` line, the base class keeps
it current (running, done, or "Settings changed" while the controls differ from the result
shown), so ``preview`` and ``show`` never write "Settings changed" themselves.  Figures reach a widget as PNG bytes in an
``ipywidgets.Image`` (``widgets.png(ax.figure)``), so they show the same way from a button,
from code and without a kernel.  ``_ipython_display_`` displays ``app.widget``, so an app as
the last line of a cell shows itself.  Tests read ``app.result`` and the view attributes,
never ``children[0].children``.

**Where a lesson goes.**  Each package keeps its framework in a file named for it
(``studies/runner.py``, ``comparison/compare.py``, ``plots/base.py``, ``widgets/app.py``) and
each lesson's content in files named for the lesson; ``notebooks/README.md`` maps every notebook to the modules it uses.  Truths
in closed form (true ICC, design effect, design problems) belong beside the simulators in
:mod:`lmmedu.data.truth`, so that no teaching module needs another one's internals.

Examples
--------
A new **study** -- how often does a t-test on 3 vs 3 replicate means reject when there is
no effect?  (A real study would simulate with :mod:`lmmedu.data.simulate`.)

>>> import numpy as np, pandas as pd
>>> from scipy import stats
>>> from lmmedu.teach.studies import run_study, rates
>>> def simulate(rng, n=3):
...     return pd.DataFrame({"arm": ["a"] * n + ["b"] * n, "y": rng.normal(size=2 * n)})
>>> def t_test(data):
...     a, b = (data.loc[data["arm"] == k, "y"] for k in "ab")
...     return {"p": stats.ttest_ind(a, b).pvalue, "df": len(data) - 2}
>>> results = run_study(simulate, {"t-test": t_test}, n_sims=40, seed=1, grid=[{"n": 3}, {"n": 6}])
>>> list(results.columns)
['n', 'sim', 'analysis', 'estimate', 'se', 'df', 'p', 'singular', 'error']
>>> table = rates(results, alpha=0.05)
>>> table[["n", "analysis", "n_sims"]].values.tolist()
[[3, 't-test', 40], [6, 't-test', 40]]

A new **plot** -- numbers from a plain function, ``ax`` in, ``ax`` out:

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from lmmedu.teach.plots import new_axes
>>> def arm_means(data):                      # the plain function a test checks
...     return data.groupby("arm")["y"].mean()
>>> def arm_means_plot(data, ax=None):
...     ax = new_axes(ax, (4, 3))
...     means = arm_means(data)
...     ax.bar(means.index, means.to_numpy())
...     ax.set(xlabel="arm", ylabel="mean of y (units of y)", title=f"arm {means.idxmax()} is higher")
...     return ax
>>> ax = arm_means_plot(simulate(np.random.default_rng(0)))
>>> ax.get_xlabel()
'arm'

A new **widget** -- controls as attributes, a compute-only ``update``, ``show`` writes:

>>> import ipywidgets
>>> from lmmedu.teach.widgets import App
>>> class MeanApp(App):
...     controls = ("n",)
...     def __init__(self, n=3):
...         self.n = ipywidgets.IntSlider(value=n, min=2, max=20, description="n")
...         self.text = ipywidgets.HTML()
...         super().__init__(views=[self.n, self.text])
...     def update(self, n):                  # compute only: returns what is shown
...         return arm_means(simulate(np.random.default_rng(0), n=n))
...     def show(self, result):               # write only
...         self.text.value = result.to_frame().to_html()
>>> app = MeanApp()
>>> app.n.value = 10                          # an observer calls app.run()
>>> app.result.index.tolist(), "<table" in app.text.value
(['a', 'b'], True)
"""

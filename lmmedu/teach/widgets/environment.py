"""Notebook 00's app: is the environment ready?"""

from __future__ import annotations

import html
import sys
from importlib.metadata import PackageNotFoundError, version

import ipywidgets as widgets
import pandas as pd

from ..prose import units_sentence
from .app import App, control_style


__all__ = ["environment_report", "EnvironmentCheck"]


#: Packages whose versions the environment check prints.
CHECKED_PACKAGES = ("lmmedu", "numpy", "scipy", "pandas", "patsy", "statsmodels", "matplotlib", "seaborn",
                    "ipywidgets", "jupyterlab_widgets", "tqdm")


def environment_report(packages=CHECKED_PACKAGES):
    """Versions of Python and the teaching stack, as a DataFrame.

    Parameters
    ----------
    packages : sequence of str
        Distribution names to look up.

    Returns
    -------
    pandas.DataFrame
        Columns ``package`` and ``version`` ("not installed" when missing); the first row is
        Python itself.

    Examples
    --------
    >>> environment_report(["numpy"])["package"].tolist()
    ['python', 'numpy']
    """
    rows = [{"package": "python", "version": sys.version.split()[0]}]
    for name in packages:
        try:
            v = version(name)
        except PackageNotFoundError:
            v = "not installed"
        rows.append({"package": name, "version": v})
    return pd.DataFrame(rows)


class EnvironmentCheck(App):
    """A slider whose callback rewrites a sentence: if the sentence changes, widgets work.

    Attributes
    ----------
    n_replicates : ipywidgets.IntSlider
        Number of replicates (CSS class ``lmmedu-check-slider``).
    label : ipywidgets.HTML
        The sentence the callback rewrites (CSS class ``lmmedu-check-label``).
    calls : int
        How often the sentence was written.

    Examples
    --------
    >>> check = EnvironmentCheck()
    >>> check.n_replicates.value = 7
    >>> "7 independent units" in check.result
    True
    """

    title = "<b>Widget check</b>: move the slider; if the sentence below changes, widgets work."

    controls = ("n_replicates",)

    def __init__(self, value=4):
        style, width = control_style("replicates")
        self.n_replicates = widgets.IntSlider(value=value, min=2, max=12, description="replicates",
                                              continuous_update=False, style=style, layout=widgets.Layout(width=width))
        self.n_replicates.add_class("lmmedu-check-slider")
        self.label = widgets.HTML()
        self.label.add_class("lmmedu-check-label")
        self.calls = 0
        super().__init__(views=[self.n_replicates, self.label])

    def update(self, n_replicates):
        """The sentence for ``n_replicates``."""
        return units_sentence(n_replicates)

    def show(self, result):
        self.calls += 1
        self.label.value = f"<b>{html.escape(result)}</b>"

"""The one pattern of every app in :mod:`lmmedu.teach.widgets`: the :class:`App` base class and its helpers (PNG figures, error lines, control widths, tables).

The framework of the widgets (contract in :mod:`lmmedu.teach`); the apps of each lesson are in the modules named for it.
"""

from __future__ import annotations

import html
import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display



__all__ = ["App", "png", "Frames", "error_html", "control_style", "widened"]


# Background of highlighted rows in widget tables: a pale yellow that reads on light themes
# and does not rely on red/green.
_HIGHLIGHT = "#fde68a"


_WARN = "#b35806"


def png(fig, dpi=96):
    """PNG bytes of a matplotlib figure, which is then closed (for an ``ipywidgets.Image``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> png(plt.figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _where(artist):
    """What a pasted artist shows and where: its texts and position on the canvas (after a draw)."""
    if hasattr(artist, "get_texts"):  # a legend: its labels and marker sizes, anchored to its Axes
        sizes = tuple(tuple(np.asarray(h.get_sizes()).tolist()) for h in artist.legend_handles if hasattr(h, "get_sizes"))
        return tuple(t.get_text() for t in artist.get_texts()), sizes, tuple(artist.get_bbox_to_anchor().bounds)
    return artist.get_text(), artist.get_fontsize(), tuple(artist.get_transform().transform(artist.get_position()))


class Frames:
    """One figure drawn again and again as PNG bytes, the pixels of its unchanging parts pasted.

    Text is most of the cost of a draw (FreeType renders it glyph by glyph), and some of a
    figure's text never changes: ``static`` artists (a legend, an axis label) are drawn once;
    later frames draw everything else and paste their pixels back. One that shows something
    else or sits elsewhere than in any frame whose pixels were kept (or is another object:
    ``static`` may be a function that gives the current ones) is drawn on the frame instead, and
    its pixels there kept too, so a frame is always the figure as it is. The static artists must lie apart
    from everything else (outside the Axes, clear of the tick labels): drawn on their own over
    the empty background, they then give the pixels of a whole draw.

    The PNG has the pixels of ``fig.savefig(buffer, format="png")`` on an opaque figure,
    encoded cheaper: RGB (the alpha channel of an opaque figure is 255 everywhere), rows left
    unfiltered, zlib level 3. On these flat-coloured figures that gives a file smaller than
    savefig's in about a third of the time (PIL tries a filter on every row). No tight bounding box: fixed margins already fit, and a tight box
    would draw the figure twice.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from matplotlib.backends.backend_agg import FigureCanvasAgg
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(2, 2))
    >>> _ = FigureCanvasAgg(fig)
    >>> ax = fig.add_subplot()
    >>> frames = Frames(fig, [ax.set_xlabel("x (units)")])
    >>> frames.png()[:4], frames.png()[:4]  # the second pastes the label's pixels
    (b'\\x89PNG', b'\\x89PNG')
    """

    #: Places (what it shows and where) of one static artist whose pixels are kept: a label that
    #: moves with the width of the tick labels, or a legend whose marker follows the data, takes a
    #: few, and a slider moved back and forth finds them all kept.
    PLACES = 16

    def __init__(self, fig, static):
        self.fig, self._static = fig, static
        self._kept = {}  # id of a static artist -> (the artist, {its place: its pixels there})

    @property
    def static(self):
        """The static artists of this frame (``static`` is a list, or a function giving it)."""
        return list(self._static() if callable(self._static) else self._static)

    def png(self):
        canvas = self.fig.canvas
        static = self.static
        for artist in static:
            artist.set_visible(False)
        try:
            canvas.draw()
        finally:
            for artist in static:
                artist.set_visible(True)
        renderer = canvas.get_renderer()
        kept, changed = {}, []
        for artist in static:
            old = self._kept.get(id(artist))
            mine = old[1] if old is not None and old[0] is artist else {}
            kept[id(artist)] = (artist, mine)
            place = _where(artist)
            if place in mine:
                canvas.restore_region(mine[place])
            else:
                changed.append((artist, place, mine))
        for artist, place, mine in changed:  # after the pasting, which must not cover them
            self.fig.draw_artist(artist)
            if len(mine) >= self.PLACES:
                mine.pop(next(iter(mine)))
            # Two pixels around each box: antialiased edges of glyphs reach just past it.
            mine[place] = canvas.copy_from_bbox(artist.get_window_extent(renderer).padded(2))
        self._kept = kept
        return self._encode()

    def _encode(self):
        import struct
        import zlib

        def chunk(tag, data):
            return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

        rgb = np.asarray(self.fig.canvas.buffer_rgba())[..., :3]
        height, width, _ = rgb.shape
        rows = np.empty((height, 1 + 3 * width), dtype=np.uint8)
        rows[:, 0] = 0  # filter type None on every row: long runs of one colour compress well as they are
        rows[:, 1:] = rgb.reshape(height, -1)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows.tobytes(), 3)) + chunk(b"IEND", b""))


def error_html(prefix, exc):
    """One line for an app's ``message`` view: what could not be done and why (never a traceback).

    Examples
    --------
    >>> error_html("Could not fit", ValueError("no rows"))
    "<span style='color:#b35806'><b>Could not fit:</b> no rows</span>"
    """
    return f"<span style='color:{_WARN}'><b>{html.escape(prefix)}:</b> {html.escape(str(exc))}</span>"


#: Pixels per character of a control's label (JupyterLab's 13 px UI font, with room to spare) and
#: the width of a slider with its readout: together they keep every label whole and every slider
#: long enough to move in a ~950 px notebook column.
_LABEL_PX_PER_CHAR = 7.4


_SLIDER_PX = 330


def control_style(*labels, slider_px=_SLIDER_PX):
    """``style`` and ``layout`` for controls with these labels: the label column as wide as the longest.

    Returns
    -------
    (dict, str)
        The ``style`` of every control (``description_width``), and the width of a whole
        control (label + slider + readout) for its ``Layout``.

    Examples
    --------
    >>> style, width = control_style("replicates", "SD of the drug effect between replicates")
    >>> style["description_width"], width
    ('308px', '638px')
    """
    label = 12 + round(_LABEL_PX_PER_CHAR * max(len(text) for text in labels))
    return {"description_width": f"{label}px"}, f"{label + slider_px}px"


def widened(style, control_px):
    """A ``Layout`` as wide as the label column of ``style`` plus ``control_px``: a dropdown or a
    progress bar next to sliders' labels (with the label's width alone, the control itself shrinks
    to nothing).

    Examples
    --------
    >>> widened({"description_width": "200px"}, 120).width
    '320px'
    """
    label = str((style or {}).get("description_width", ""))
    return widgets.Layout(width=f"{int(label[:-2]) + control_px}px") if label.endswith("px") else widgets.Layout()


def _labelled(text, widget, width):
    """A control with its label on the left, aligned with the sliders' descriptions."""
    return widgets.HBox([widgets.HTML(f"<div style='width:{width};text-align:right;padding-right:8px'>"
                                      f"{html.escape(text)}</div>"), widget])


#: An app's tables keep every header and cell on one line: squeezed into a notebook column, a rates
#: table broke "95% CI" into "95%" over "CI" and "50.7% to 74.4%" over two lines. Less padding than
#: JupyterLab's (0.5em each side) lets the widest app table fit the 848-px output area unbroken.
_TABLE_STYLE = ("<style>.lmmedu-table th, .lmmedu-table td {white-space: nowrap; padding-left: 0.4em; "
                "padding-right: 0.4em}</style>")


def _table_html(frame, digits=4, index=False):
    # JupyterLab's class for rendered HTML gives the table its usual look.
    body = frame.to_html(index=index, border=0, float_format=lambda v: f"{v:.{digits}g}")
    return f"{_TABLE_STYLE}<div class='jp-RenderedHTMLCommon lmmedu-table'>{body}</div>"


def _hide_while_empty(image):
    # An Image without a PNG yet (an app with a Run button before its first run) would show the
    # browser's broken-image icon.
    def toggle(_change=None):
        image.layout.display = None if image.value else "none"

    image.observe(toggle, names="value")
    toggle()


class App:
    """Base of every app: controls as attributes, compute-only ``update``, ``show``, ``run``.

    A subclass creates its control and view widgets as attributes, names the controls in
    ``controls`` (their values are the keyword arguments of ``update``), and ends its
    ``__init__`` with ``super().__init__(views=[...])``, the widgets to lay out top to bottom.
    It implements ``update(**settings)`` (compute only, returns what the app shows) and
    ``show(result)`` (write only). See :mod:`lmmedu.teach` for the contract and an example.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The app, ready to display (``_ipython_display_`` shows it).
    message : ipywidgets.HTML
        Empty, or why the last run could not be computed (CSS class ``lmmedu-message``).
    header : ipywidgets.HTML, optional
        The app's ``title`` line, first in the layout (CSS class ``lmmedu-title``), if it has one.
    result : object or None
        What the last successful :meth:`run` showed.
    button : ipywidgets.Button, optional
        If a subclass has one, it calls :meth:`run` and is disabled while running (CSS class
        ``lmmedu-run``).
    progress_bar : ipywidgets.IntProgress, optional
        If a subclass has one, :meth:`run` passes ``progress=`` to ``update`` to move it.
    status : ipywidgets.HTML, optional
        If a subclass with a Run button has one (:meth:`study_views`), the base class keeps it
        current: :attr:`running` while :meth:`run` computes, then what ``show`` writes; after a
        control change, :attr:`changed` while the controls differ from the settings of the
        result shown, and that result's text again once they match it.
    """

    #: Attribute names of the controls whose ``value`` is a keyword argument of ``update``.
    controls: tuple = ()
    #: True: every control change runs the app. False (an app with a Run button): a control
    #: change calls ``preview`` and only the button (or code) calls ``run``.
    live = True
    #: First words of the message shown when ``update`` raises.
    failure = "Could not compute this setting"
    #: One line above the controls saying what the app shows and what to move (HTML allowed),
    #: so the app explains itself without the notebook's prose (app mode, a projected lecture).
    title = ""
    #: Status line while :meth:`run` computes (apps with a ``status`` view).
    running = "Running: the result appears here when it is done."
    #: What the app's button does, in its status lines ("simulate", "fit").
    action = "simulate"
    #: Status line once a control differs from the settings of the result shown; ``{button}``
    #: becomes the button's own label and ``{action}`` :attr:`action` (the instance attribute
    #: holds the finished line).
    changed = "Settings changed: press <b>{button}</b> to {action} them."

    @staticmethod
    def study_views(n_sims, button="Run", status="Press <b>Run</b> to simulate.", plot_width="760px", style=None):
        """The views every study app shows, built one way: Run button, progress bar, readout, status,
        figure and rates table (with the CSS classes the browser tests look for).

        Returns
        -------
        tuple
            ``(button, progress, readout, status, plot, table)``; the app keeps them as attributes.
        """
        run = widgets.Button(description=button, button_style="primary", icon="play")
        progress = widgets.IntProgress(value=0, min=0, max=n_sims, description="progress", style=style or {},
                                       layout=widened(style, 260))
        readout = widgets.HTML()
        readout.add_class("lmmedu-readout")
        note = widgets.HTML(status)
        note.add_class("lmmedu-status")
        plot = widgets.Image(format="png", layout=widgets.Layout(max_width=plot_width))
        table = widgets.HTML()
        table.add_class("lmmedu-rates")
        return run, progress, readout, note, plot, table

    @staticmethod
    def message_view():
        """The view of :attr:`message`; an app that wants it somewhere else than last creates it
        with this, keeps it as ``self.message`` and puts it among its views."""
        message = widgets.HTML()
        message.add_class("lmmedu-message")
        return message

    def __init__(self, views):
        if not isinstance(getattr(self, "message", None), widgets.HTML):
            self.message = self.message_view()
        self.result = None
        # Control settings of the result shown, and the status text show() wrote for it.
        self._shown_settings, self._shown_status = None, None
        for control in self.control_widgets().values():
            control.observe(self._changed, names="value")
        if isinstance(getattr(self, "button", None), widgets.Button):
            self.changed = type(self).changed.format(button=html.escape(self.button.description), action=self.action)
            self.button.on_click(lambda _button: self.run())
            self.button.add_class("lmmedu-run")  # one hook for every Run button (browser tests)
        for view in views:
            if isinstance(view, widgets.Image):
                _hide_while_empty(view)
        if self.title:
            self.header = widgets.HTML(f"<div style='font-size:1.1em;margin-bottom:4px'>{self.title}</div>")
            self.header.add_class("lmmedu-title")
            views = [self.header, *views]
        self.widget = widgets.VBox([*views] + ([] if any(v is self.message for v in views) else [self.message]))
        if self.live:
            self.run()
        else:
            self.preview()

    def control_widgets(self):
        """Name -> control widget; the names are the keyword arguments of ``update``."""
        return {name: getattr(self, name) for name in self.controls}

    def settings(self):
        """The controls' current values, as keyword arguments of ``update``."""
        return {name: control.value for name, control in self.control_widgets().items()}

    def update(self, **settings):
        """Compute what the app shows for ``settings`` and return it; touches no widget."""
        raise NotImplementedError

    def show(self, result):
        """Write ``result`` (from ``update``) into the view widgets; computes nothing."""
        raise NotImplementedError

    def preview(self):
        """Cheap feedback on a control change in an app with a Run button (default: none)."""

    def run(self, **overrides):
        """``update`` with the controls' settings (``overrides`` replace some), then ``show``.

        Returns
        -------
        object or None
            The result, or None when it could not be computed; then ``message`` says why
            (an app never raises from a control or a button).
        """
        settings = {**self.settings(), **overrides}
        bar = getattr(self, "progress_bar", None)
        if isinstance(bar, widgets.IntProgress):
            bar.value = 0
            settings["progress"] = self._tick
        button = getattr(self, "button", None)
        if isinstance(button, widgets.Button):
            button.disabled = True
        status = self._status_view()
        before = status.value if status is not None else None
        if status is not None:
            status.value = self.running
        try:
            result = self.update(**settings)
        except Exception as exc:  # show, never raise, from a callback
            self.message.value = error_html(self.failure, exc)
            if status is not None:
                status.value = before
            if self.failed(exc):  # the app cleared its views: no result is shown any more
                self.result, self._shown_settings, self._shown_status = None, None, None
            return None
        finally:
            if isinstance(button, widgets.Button):
                button.disabled = False
        return self.present(result, **overrides)

    def present(self, result, **overrides):
        """Show a result computed elsewhere (a cached study) as :meth:`run` shows its own.

        ``overrides`` are the settings it was computed for where they differ from the controls
        (as in :meth:`run`), so the status can tell when the controls no longer match it.
        """
        settings = {**self.settings(), **overrides}
        self.message.value = ""
        self.result = result
        self.show(result)
        status = self._status_view()
        if status is not None:
            self._shown_settings = {name: settings[name] for name in self.control_widgets()}
            self._shown_status = status.value
        return result

    def failed(self, exc):
        """Called when ``update`` raised (``message`` already says why); return True if the app
        cleared the views of its last result, so nothing stale stays on screen (default: keep it)."""
        return False

    def _tick(self, done, total):
        self.progress_bar.max = total
        self.progress_bar.value = done

    def _status_view(self):
        status = getattr(self, "status", None)
        return status if not self.live and isinstance(status, widgets.HTML) else None

    def _changed(self, change=None):
        if self.live:
            self.run()
            return
        self.preview()
        status = self._status_view()
        if status is not None and self._shown_status is not None:
            # Said here, once for every Run-button app, so no app can leave "Settings changed"
            # on a result that matches the controls, or the result's text on one that does not.
            status.value = self._shown_status if self.settings() == self._shown_settings else self.changed

    def _ipython_display_(self):
        display(self.widget)

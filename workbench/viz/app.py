"""The explorer's layout: widgets bound to an :class:`~workbench.viz.state.ExplorerState`.

:func:`explorer_app` builds the page that ``panel serve dashboards/explorer.py`` serves, and
the same layout inline in a notebook (``template=False``); all logic is in the state, the
plots are :class:`~workbench.viz.mapview.MapView` (the map) and
:class:`~workbench.viz.plots.RetreatView` / :class:`~workbench.viz.plots.PointView`.

Examples
--------
>>> import tempfile, pathlib
>>> from workbench.data.demo import make_demo_world
>>> root = pathlib.Path(tempfile.mkdtemp()) / "world"
>>> _ = make_demo_world(root, n_glaciers=1, years=0.1, size=64, pixel_size=80)
>>> app = explorer_app(ExplorerState.from_paths([root]), template=False)
>>> type(app).__name__
'Row'
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from html import escape

import numpy as np
import panel as pn
import param

from workbench.viz.locator import LocatorView
from workbench.viz.mapview import MapView
from workbench.viz.plots import PointView, RetreatView
from workbench.viz.state import OVERLAYS, RASTERS, ExplorerState

__all__ = ["explorer_app", "session_params"]

CSS = """
.wb-hint {color: #6e6e73; font-size: 0.9em;}
"""
SLIDER_CSS = """
.bk-slider-value {font-size: 1.2em; font-weight: 600; color: #0a84ff; white-space: nowrap;}
"""

PLAY_FPS = 6
"""Frames per second of the play button."""

COMPARE_FRAME = (440, 440)
"""Largest map frame of each map when two dates are shown side by side."""

POINT_HINT = (
    "<b>Point time series</b>: click on the map to see the image value over time at that point "
    "(mean over a small window)."
)
POINT_HINT_STATIC = (
    "<b>Point time series</b>: none here, every date shows the same image (a basemap under "
    "the dated front lines)."
)

REFERENCE = {"reference front": "reference front", "reference outline": "reference outline"}
MODEL_LINES = {"predicted front": "front", "predicted outline": "outline"}
LAYERS = ["none", *RASTERS]


def session_params() -> dict:
    """The view a URL asks for (``?dataset=&glacier=&date=&overlays=&point=x,y``); names only,
    checked later against the catalogue by :class:`ExplorerState`."""
    args = pn.state.session_args or {}

    def first(k: str) -> str | None:
        v = args.get(k)
        return v[0].decode("utf-8", "replace") if v else None

    params: dict = {}
    for k in ("dataset", "glacier", "date", "compare"):
        if first(k):
            params[k] = first(k)
    point = _parse_point(first("point"))
    if point is not None:
        params["point"] = point
    ov = first("overlays")
    if ov:
        import ast
        import json

        for parse in (json.loads, ast.literal_eval):  # JSON, or the list repr panel writes
            try:
                items = parse(ov)
            except (ValueError, TypeError, SyntaxError):
                continue
            if isinstance(items, list):
                params["overlays"] = [o for o in items if o in OVERLAYS]
                break
    return params


def _serve_css_locally() -> None:
    """Point the session's component stylesheets at this server, not at cdn.holoviz.org.

    Panel rewrites its CDN stylesheet URLs to the server's ``static/`` path when the page is
    rendered, but only for models that exist then; with several sessions opening at once some
    models are built outside that window and keep the CDN URL, which fails offline (seen in
    tests/dashboard/test_dashboard_load.py). Setting the session document's ``dist_url`` before
    any component is built makes every model use the local path from the start.
    """
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return
    from panel.io.resources import LOCAL_DIST

    rel = pn.state.rel_path
    doc._template_variables.setdefault("dist_url", f"{rel}/{LOCAL_DIST}" if rel else LOCAL_DIST)


class _TimeSlider(pn.widgets.IntSlider):
    """Panel's IntSlider without the 50 ms Panel waits before it handles a changed value (to
    gather a burst of changes): that wait was a quarter of a date step. Changes that arrive
    while one is handled are still gathered (``Syncable._server_change``)."""

    _debounce = 0


def _date_format(series) -> object:
    """The time slider's value text: ``2019-08-29 · S1A · orbit 160 (21 / 61)`` for index 20."""
    from bokeh.models import CustomJSTickFormatter

    n = len(series)
    labels = [f"{series.label(i)} ({i + 1} / {n})" for i in range(n)]
    return CustomJSTickFormatter(
        args={"labels": labels}, code="return labels[Math.round(tick)] ?? String(tick);"
    )


def _text(html: str = "", *classes: str, **params) -> pn.widgets.StaticText:
    """A block of HTML (escape what users or data supply). A Bokeh ``Div``: Panel's Markdown and
    HTML panes make every page load MathJax (1.7 MB of JavaScript, about 0.6 s of browser CPU
    per page on 2 busy cores) although nothing here is mathematics."""
    return pn.widgets.StaticText(value=html, css_classes=list(classes), stylesheets=[CSS], **params)


def _bullets(items) -> str:
    return "<ul>" + "".join(f"<li>{escape(str(x))}</li>" for x in items) + "</ul>" if items else ""


def _dispatcher(panes: list) -> Callable[[Callable[[], None]], None]:
    """``dispatch(fn)``: run ``fn``, which changes Bokeh models of the plots, where that is safe.

    Panel runs widget callbacks without Bokeh's document lock and sends the changes of its own
    models itself; a plain Bokeh model changed there raises ("we should have the lock when the
    document changes"). In the session's thread ``fn`` runs inside ``pn.io.unlocked()``, which
    collects its changes and sends them as Panel does its own; from another thread (a model run
    reports from a worker) it is scheduled as a next-tick callback, which Bokeh runs locked.
    In a notebook the changed figures of ``panes`` are pushed through Panel's comms.
    """
    from panel.io.state import set_curdoc

    doc = pn.state.curdoc
    owner = threading.get_ident()
    if doc is None or doc.session_context is None:  # a notebook, a test without a server

        def direct(fn: Callable[[], None]) -> None:
            fn()
            pn.io.push_notebook(*panes)  # nothing to do where the panes are not shown

        return direct

    def dispatch(fn: Callable[[], None]) -> None:
        if threading.get_ident() != owner:
            doc.add_next_tick_callback(fn)
            return
        with set_curdoc(doc), pn.io.unlocked():
            fn()

    return dispatch


def _parse_point(text: str | None) -> tuple[float, float] | None:
    """``"512340.0,8738120.0"`` → (x, y); None for anything else."""
    try:
        x, y = (float(v) for v in (text or "").split(","))
    except ValueError:
        return None
    return (x, y) if np.isfinite([x, y]).all() else None


class _UrlView(param.Parameterized):
    """What the URL holds besides names: the date (written late) and the clicked point."""

    date = param.String(default="")
    point = param.String(default="")


def _point_text(point: tuple[float, float] | None) -> str:
    return "" if point is None else f"{point[0]:.1f},{point[1]:.1f}"


URL_DELAY_MS = 400
"""The date reaches the URL this long after the last step (each URL update cost 25-45 ms of a
step on a busy 2-core machine)."""


def _inside(state: ExplorerState, point: tuple[float, float]) -> bool:
    try:
        state.point_series(point, window=1)
    except Exception:  # noqa: BLE001 - a crafted URL: ignored
        return False
    return True


def _sync_url(state: ExplorerState) -> None:
    """Keep dataset, glacier, date and overlays in the page's URL (a link to the view) and open
    the view a URL names; the date follows once scrubbing rests for :data:`URL_DELAY_MS`."""
    loc = pn.state.location
    if loc is None:
        return
    import json

    url = _UrlView(date=state.date, point=_point_text(state.point))
    loc.sync(
        state,
        {"dataset": "dataset", "glacier": "glacier", "overlays": "overlays", "compare": "compare"},
        on_error=lambda mapped: None,
    )
    loc.sync(url, {"date": "date", "point": "point"}, on_error=lambda mapped: None)
    doc = pn.state.curdoc
    pending: dict = {}

    def write_date() -> None:
        pending.pop("cb", None)
        url.date = state.date

    def later(event=None) -> None:
        if doc is None or doc.session_context is None:
            write_date()
            return
        if "cb" in pending:
            try:
                doc.remove_timeout_callback(pending["cb"])
            except ValueError:  # already ran
                pass
        pending["cb"] = doc.add_timeout_callback(write_date, URL_DELAY_MS)

    def from_url(event) -> None:
        if event.new and event.new != state.date:
            state.date = event.new

    def point_from_url(event) -> None:
        point = _parse_point(event.new)
        if point != state.point and (point is None or _inside(state, point)):
            state.point = point

    state.param.watch(later, "date")
    url.param.watch(from_url, "date")
    state.param.watch(lambda e: setattr(url, "point", _point_text(e.new)), "point")
    url.param.watch(point_from_url, "point")

    def write_view() -> None:  # a fresh page's link names its whole view, not only what changed
        loc.update_query(
            dataset=state.dataset,
            glacier=state.glacier,
            date=state.date,
            overlays=json.dumps(list(state.overlays)),
            point=_point_text(state.point),
            compare=state.compare,
        )

    pn.state.onload(write_view)


def explorer_app(state: ExplorerState, *, template: bool = True) -> pn.viewable.Viewable:
    """The explorer for ``state``: a Bootstrap page (``template=True``, what the server shows)
    or a plain row of the sidebar and the main column (for a notebook)."""
    _serve_css_locally()
    panes: list = []  # the Bokeh panes, filled below
    dispatch = _dispatcher(panes)
    # ------------------------------------------------------------ time bar: one slider, labelled buttons
    n = len(state.series)
    # the date, sensor and orbit are the slider's own value text: the browser updates it at once,
    # without the server, and without the page layout a changed text block costs (~80 ms a step)
    slider = _TimeSlider(
        name="Date",
        start=0,
        end=max(n - 1, 1),
        value=state.date_index,
        disabled=n < 2,
        show_value=True,
        format=_date_format(state.series),
        css_classes=["wb-slider"],
        stylesheets=[SLIDER_CSS],
        sizing_mode="stretch_width",
        min_width=300,
    )
    buttons = {
        "first": pn.widgets.Button(name="|◀ first", description="First acquisition"),
        "previous": pn.widgets.Button(
            name="◀ previous", description="Previous acquisition (← on the slider)"
        ),
        "play": pn.widgets.Button(
            name="▶ play",
            description=f"Play the time series ({PLAY_FPS} frames/s)",
            button_type="primary",
            css_classes=["wb-play"],
        ),
        "next": pn.widgets.Button(name="next ▶", description="Next acquisition (→ on the slider)"),
        "last": pn.widgets.Button(name="last ▶|", description="Last acquisition"),
    }
    for b in buttons.values():
        b.param.update(
            sizing_mode="fixed",
            width=100 if b is not buttons["play"] else 90,
            height=34,
            margin=(5, 3),
        )

    guard = {"busy": False}

    def from_slider(event) -> None:  # every value while dragging: a step takes a few tens of ms
        if not guard["busy"]:
            state.date_index = int(event.new)

    slider.param.watch(from_slider, "value")
    buttons["first"].on_click(lambda e: setattr(state, "date_index", 0))
    buttons["last"].on_click(lambda e: setattr(state, "date_index", len(state.series) - 1))
    buttons["previous"].on_click(lambda e: state.step(-1))
    buttons["next"].on_click(lambda e: state.step(1))

    playing: dict = {"cb": None}

    def stop_play() -> None:
        if playing["cb"] is not None:
            playing["cb"].stop()
            playing["cb"] = None
        buttons["play"].name = "▶ play"

    def tick() -> None:
        state.date_index = (state.date_index + 1) % len(state.series)

    def toggle_play(event=None) -> None:
        if playing["cb"] is not None:
            stop_play()
            return
        playing["cb"] = pn.state.add_periodic_callback(tick, period=int(1000 / PLAY_FPS))
        buttons["play"].name = "⏸ pause"

    buttons["play"].on_click(toggle_play)

    # ------------------------------------------------------------ display and overlays
    dataset = pn.widgets.Select.from_param(state.param.dataset, name="Dataset")
    glacier = pn.widgets.Select.from_param(state.param.glacier, name="Glacier")
    clim = pn.widgets.RangeSlider.from_param(
        state.param.clim, name=f"Contrast ({state.series.units})", step=0.5
    )
    cmap = pn.widgets.Select.from_param(state.param.cmap, name="Colour map")
    compare = pn.widgets.Select(
        name="Compare with (side by side)",
        css_classes=["wb-compare-select"],
        description="Show a second date beside the map, with both dates' fronts",
    )

    def compare_options() -> None:
        series = state.series
        options = {"— none —": ""}
        if len(series) > 1:
            for i in range(len(series)):
                options.setdefault(series.label(i), str(series.times[i].date()))
        guard["busy"] = True
        try:
            compare.options = options
            compare.value = state.compare if state.compare in options.values() else ""
        finally:
            guard["busy"] = False

    def from_compare(event) -> None:
        if not guard["busy"]:
            state.compare = event.new or ""

    compare.param.watch(from_compare, "value")
    basemap = pn.widgets.Checkbox(
        name="Basemap tiles on the locator (OpenStreetMap, online)",
        value=False,
        css_classes=["wb-basemap"],
    )
    reference = pn.widgets.CheckBoxGroup(
        options=REFERENCE, inline=False, css_classes=["wb-reference"]
    )
    model_lines = pn.widgets.CheckBoxGroup(
        options=MODEL_LINES, inline=False, css_classes=["wb-model-lines"]
    )
    layer = pn.widgets.RadioBoxGroup(
        options=LAYERS, value="none", inline=True, css_classes=["wb-layer"]
    )
    alpha = pn.widgets.FloatSlider.from_param(
        state.param.zones_alpha, name="Model layer opacity", step=0.05
    )
    layer_note = _text("", "wb-layer-note", "wb-hint")
    reference_note = _text("", "wb-reference-note", "wb-hint")

    def overlays_to_widgets() -> None:
        on = list(state.overlays)
        guard["busy"] = True
        try:
            reference.value = [o for o in REFERENCE.values() if o in on]
            model_lines.value = [o for o in MODEL_LINES.values() if o in on]
            layer.value = next((o for o in on if o in RASTERS), "none")
        finally:
            guard["busy"] = False

    def widgets_to_overlays(event=None) -> None:
        if guard["busy"]:
            return
        chosen = [*reference.value, *model_lines.value] + (
            [layer.value] if layer.value != "none" else []
        )
        state.overlays = [o for o in OVERLAYS if o in chosen]

    for w in (reference, model_lines, layer):
        w.param.watch(widgets_to_overlays, "value")

    def availability() -> None:
        """Controls of layers that cannot show anything are disabled, with the reason."""
        notes = state.layer_notes()
        reference.disabled = all(o in notes for o in REFERENCE.values())
        model_lines.disabled = all(o in notes for o in MODEL_LINES.values())
        layer.disabled = all(o in notes for o in RASTERS)
        alpha.disabled = layer.disabled

        def lines(names):  # one line per reason: several layers share one
            return "<br>".join(
                dict.fromkeys(
                    escape(why[0].upper() + why[1:]) + "."
                    for name, why in notes.items()
                    if name in names
                )
            )

        layer_note.value = lines({*MODEL_LINES.values(), *RASTERS})
        reference_note.value = lines(REFERENCE.values())
        for note in (layer_note, reference_note):
            note.visible = bool(note.value)

    # ------------------------------------------------------------ correct a front by hand
    if state.editor is None and pn.state.user and pn.state.user != "default_user":
        state.editor = pn.state.user  # the signed-in user (workbench serve --basic-auth)
    edit_btn = pn.widgets.Button(
        name="✎ Edit front",
        css_classes=["wb-edit"],
        description="Correct the front of this date by hand",
    )
    save_btn = pn.widgets.Button(
        name="Save", button_type="success", disabled=True, css_classes=["wb-save-front"]
    )
    cancel_btn = pn.widgets.Button(name="Cancel", disabled=True, css_classes=["wb-cancel-edit"])
    edit_note = _text("", "wb-edit-note", "wb-hint")

    def edit_controls(editing: bool = False) -> None:
        can = state.corrections is not None and state.series.crs is not None
        edit_btn.disabled = not can or editing
        save_btn.disabled = cancel_btn.disabled = not editing
        if state.corrections is None:
            edit_note.value = (
                "To correct fronts by hand, start the server with <code>--edits DIR</code>."
            )
        elif state.series.crs is None:
            edit_note.value = "Fronts can be corrected on georeferenced images only."
        elif not editing:
            edit_note.value = (
                f"Corrected fronts are saved in {escape(str(state.corrections.path))}."
            )

    def start_edit(event=None) -> None:
        stop_play()

        def go() -> None:
            origin = views["map"].start_edit()
            edit_note.value = (
                f"Editing the front of {escape(state.date)} (from {escape(origin)}): press the orange line "
                "to show its points and drag them; tap a point, then tap elsewhere to add one; Backspace "
                "deletes a selected point; the draw tool (toolbar) draws a new line. Then Save."
            )

        dispatch(go)
        edit_controls(editing=True)

    def stop_edit() -> None:
        if views.get("map") is not None and getattr(views["map"], "editing", False):
            dispatch(views["map"].stop_edit)
        edit_controls(editing=False)

    def save_edit(event=None) -> None:
        try:
            row = state.save_corrected_front(views["map"].edited_lines())
        except Exception as err:  # noqa: BLE001 - shown to the user
            edit_note.value = f"Not saved: {escape(str(err))}"
            return
        stop_edit()
        edit_note.value = (
            f"Saved the corrected front of {escape(state.date)} "
            f"(from {escape(str(row['edited_from'].iloc[0]))}) in "
            f"{escape(str(state.corrections.path))}."
        )

    edit_btn.on_click(start_edit)
    save_btn.on_click(save_edit)
    cancel_btn.on_click(lambda e: stop_edit())

    # ------------------------------------------------------------ model
    ckpt = pn.widgets.Select.from_param(state.param.checkpoint, name="Checkpoint")
    tta = pn.widgets.Checkbox.from_param(
        state.param.tta, name="TTA (uncertainty)", css_classes=["wb-tta"]
    )
    run = pn.widgets.Button(
        name="Run model on this glacier",
        button_type="primary",
        description="Predict zones (and fronts) on every date of this glacier",
    )
    progress = pn.indicators.Progress(value=0, max=100, visible=False, bar_color="primary")
    status = _text("", "wb-status")
    model_note = _text("", "wb-model-note", "wb-hint")

    def model_controls() -> None:
        note = state.model_note()
        usable = not note
        for w in (ckpt, tta, run):
            w.visible = usable
        run.disabled = not usable or state.busy
        model_note.value = escape(note)
        model_note.visible = bool(note)

    def on_progress(event=None) -> None:
        progress.value = int(100 * state.progress)
        progress.visible = state.busy
        status.value = escape(state.status)

    state.param.watch(on_progress, ["progress", "busy", "status"])

    def do_run(event=None) -> None:
        run.disabled = True
        progress.visible = True
        state.status = "loading model…"

        def work() -> None:
            try:
                state.run_model()
                if pn.state.notifications is not None:
                    pn.state.notifications.success(state.status, duration=3000)
            except Exception as err:  # noqa: BLE001 - shown to the user
                state.status = f"model run failed: {err}"
            finally:
                run.disabled = False
                progress.visible = False

        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            threading.Thread(target=work, daemon=True).start()  # keeps the page responsive
        else:
            work()

    run.on_click(do_run)

    # ------------------------------------------------------------ plots
    views: dict = {}
    # sizing None (given, so that pn.extension's stretch_width default does not apply): the figure's
    # frame sizes alone set its size; a stretched map was issue 15's first-load bug
    map_pane = pn.pane.Bokeh(sizing_mode=None, css_classes=["wb-map"])
    compare_pane = pn.pane.Bokeh(sizing_mode=None, css_classes=["wb-compare"])
    # shown/hidden through a Column: toggling a rendered Bokeh pane's own `visible` makes Panel 1.9 copy
    # the figure's stylesheet objects into a list of strings and fail
    point_pane = pn.pane.Bokeh(sizing_mode="stretch_width")
    point_title = _text("", "wb-point-title", margin=(0, 10))
    point_box = pn.Column(
        point_title,
        point_pane,
        visible=False,
        sizing_mode="stretch_width",
        css_classes=["wb-point"],
    )
    point_hint = _text(POINT_HINT, "wb-point-hint")
    locator_pane = pn.pane.Bokeh(sizing_mode=None)
    locator_box = pn.Column(locator_pane, css_classes=["wb-locator"])  # shown/hidden as point_box
    panes.append(locator_pane)
    window = pn.widgets.IntSlider.from_param(
        state.param.point_window, name="Point window [px]", step=2, sizing_mode="stretch_width"
    )
    side = pn.Column(
        locator_box, point_hint, point_box, window, sizing_mode="stretch_width", min_width=320
    )
    map_row = pn.Row(map_pane, side, sizing_mode="stretch_width")
    below_maps = pn.Column(sizing_mode="stretch_width", visible=False)  # the point plot, comparing
    retreat_pane = pn.pane.Bokeh(sizing_mode="stretch_width")
    retreat_box = pn.Column(retreat_pane, sizing_mode="stretch_width", css_classes=["wb-retreat"])
    panes += [map_pane, compare_pane, point_pane, retreat_pane]
    retreat_note = _text("", "wb-retreat-note", "wb-hint", visible=False)

    def build_views() -> None:
        views["key"] = (state.dataset, state.glacier)
        comparing = bool(state.compare)
        frame = COMPARE_FRAME if comparing else (620, 560)
        views["map"] = MapView(state, dispatch=dispatch, max_frame=frame)
        views["compare"] = (
            MapView(state, dispatch=dispatch, max_frame=frame, compare=True) if comparing else None
        )
        if comparing:  # pan and zoom move both maps
            views["compare"].figure.x_range = views["map"].figure.x_range
            views["compare"].figure.y_range = views["map"].figure.y_range
            compare_pane.object = views["compare"].figure
            map_row.objects = [map_pane, compare_pane]
            below_maps.objects = [side]
        else:
            map_row.objects = [map_pane, side]
            below_maps.objects = []
        below_maps.visible = comparing
        views["retreat"] = RetreatView(state)
        views["point"] = (
            PointView(state) if state.point is not None else None
        )  # else at the first click
        map_pane.object = views["map"].figure
        retreat_pane.object = views["retreat"].figure
        if views["point"] is not None:
            point_pane.object = views["point"].figure
        views["locator"] = LocatorView(state) if state.series.crs is not None else None
        if views["locator"] is not None:
            views["locator"].set_basemap(basemap.value)
            locator_pane.object = views["locator"].figure
        locator_box.visible = views["locator"] is not None
        basemap.disabled = views["locator"] is None
        show_retreat()
        show_point()

    def on_basemap(event) -> None:
        if views.get("locator") is not None:
            dispatch(lambda: views["locator"].set_basemap(event.new))

    basemap.param.watch(on_basemap, "value")

    def show_retreat() -> None:
        ok = views["retreat"].available
        retreat_box.visible = ok
        retreat_note.visible = not ok
        series = state.series
        retreat_note.value = (
            ""
            if ok
            else "<i>No retreat curve for this glacier</i>: "
            + (
                "it needs dated fronts and a retreat box on a map grid; these images are in pixel "
                "coordinates without one."
                if series.crs is None
                else "it needs a retreat box and fronts (reference fronts, or run a model)."
            )
        )

    def show_point() -> None:
        available = views["point"] is not None and views["point"].available
        point_box.visible = available
        point_title.value = (
            f"<b>{escape(state.series.units)} at the clicked point</b>: "
            f"{escape(views['point'].caption)}"
            if available
            else ""
        )
        point_hint.visible = not available
        point_hint.value = POINT_HINT_STATIC if state.static_images else POINT_HINT
        point_csv.disabled = not available

    # ------------------------------------------------------------ state → views
    def on_date(event=None) -> None:
        if getattr(views.get("map"), "editing", False):
            stop_edit()  # an edit belongs to its date: leaving it discards the edit

        def go() -> None:
            views["map"].update("image", "lines", "rasters")
            if views.get("compare") is not None:
                views["compare"].update("lines")
            views["retreat"].update_date()
            if views["point"] is not None:
                views["point"].update_date()

        dispatch(go)
        guard["busy"] = True
        try:
            slider.value = state.date_index
        finally:
            guard["busy"] = False

    def on_glacier(event=None) -> None:
        if views.get("key") == (state.dataset, state.glacier):
            return  # a dataset switch that kept the glacier name calls this twice
        stop_play()
        edit_controls(editing=False)  # the new map is not in edit mode
        m = len(state.series)
        guard["busy"] = True
        try:
            slider.param.update(
                end=max(m - 1, 1),
                disabled=m < 2,
                value=state.date_index,
                format=_date_format(state.series),
            )
        finally:
            guard["busy"] = False
        clim.name = f"Contrast ({state.series.units})"
        compare_options()
        dispatch(build_views)
        availability()
        model_controls()
        overlays_to_widgets()
        notes.value = _bullets(state.series.notes)

    def on_overlays(event=None) -> None:
        overlays_to_widgets()
        dispatch(lambda: [v.update("lines", "rasters") for v in map_views()])

    def map_views() -> list[MapView]:
        return [v for v in (views.get("map"), views.get("compare")) if v is not None]

    def on_compare(event=None) -> None:
        guard["busy"] = True
        try:
            compare.value = state.compare if state.compare in compare.options.values() else ""
        finally:
            guard["busy"] = False
        if views.get("key") != (state.dataset, state.glacier):
            return  # the glacier's new views are being built
        if bool(state.compare) != (views.get("compare") is not None):
            stop_edit()
            dispatch(build_views)  # side by side (smaller maps) or back to one map
        else:
            dispatch(lambda: [v.update("image", "lines") for v in map_views()])

    def on_run(event=None) -> None:
        def go() -> None:
            for v in map_views():
                v.update("lines", "rasters")
            views["retreat"].refresh()
            show_retreat()

        dispatch(go)
        availability()
        model_controls()

    def on_point(event=None) -> None:
        def go() -> None:
            if views["point"] is None and state.point is not None:
                views["point"] = PointView(state)
                point_pane.object = views["point"].figure
            elif views["point"] is not None:
                views["point"].refresh()
            views["map"].update("point")
            show_point()

        dispatch(go)

    state.param.watch(on_date, "date_index")
    state.param.watch(on_glacier, ["dataset", "glacier"])
    state.param.watch(on_overlays, "overlays")
    state.param.watch(on_run, ["run_count", "tta"])  # TTA ticked: that run's layers and band
    state.param.watch(on_point, ["point", "point_window"])
    state.param.watch(on_compare, "compare")

    def on_corrections(event=None) -> None:
        def go() -> None:
            for v in map_views():
                v.update("lines")
            views["retreat"].refresh()
            show_retreat()

        dispatch(go)

    state.param.watch(on_corrections, "corrections_count")
    state.param.watch(
        lambda e: dispatch(lambda: [v.update("colors") for v in map_views()]), ["clim", "cmap"]
    )
    state.param.watch(lambda e: dispatch(lambda: views["map"].update("alpha")), "zones_alpha")
    state.param.watch(lambda e: model_controls(), ["busy", "checkpoint"])

    # ------------------------------------------------------------ exports
    def dl(what, fmt):
        def cb():
            try:
                return state.export_vectors(what, fmt)
            except Exception as err:  # noqa: BLE001
                if pn.state.notifications is not None:
                    pn.state.notifications.error(str(err), duration=5000)
                raise

        return pn.widgets.FileDownload(
            callback=cb,
            filename=f"{what}.{fmt}",
            label=f"{what} .{fmt}",
            button_type="light",
            css_classes=[f"wb-dl-{what}-{fmt}"],
        )

    point_csv = pn.widgets.FileDownload(
        callback=state.export_point_csv,
        filename="point.csv",
        label="point .csv",
        button_type="light",
        css_classes=["wb-dl-point-csv"],
        disabled=True,
        description="σ0 over time at the clicked point (CSV)",
    )

    def png():  # named when clicked: renaming it on every date step cost a message per step
        png_dl.filename = f"{state.glacier}_{state.date}.png"
        return state.export_png()

    png_dl = pn.widgets.FileDownload(
        callback=png, filename="view.png", label="view .png", button_type="light"
    )
    retreat_dl = pn.widgets.FileDownload(
        callback=state.export_retreat_csv,
        filename="retreat.csv",
        label="retreat .csv",
        button_type="light",
    )
    downloads = [
        dl("fronts", "geojson"),
        dl("fronts", "gpkg"),
        dl("outlines", "geojson"),
        dl("outlines", "gpkg"),
        retreat_dl,
        png_dl,
        point_csv,
    ]
    if state.corrections is not None:
        downloads.append(
            pn.widgets.FileDownload(
                callback=state.export_corrections,
                filename="corrected_fronts.gpkg",
                label="corrected fronts .gpkg",
                button_type="light",
                css_classes=["wb-dl-corrected"],
            )
        )

    def rename(event=None):
        for d in downloads:
            if d is not png_dl and d.filename != "corrected_fronts.gpkg":
                stem, ext = (
                    d.filename.rsplit(".", 1)[0].split("_")[-1],
                    d.filename.rsplit(".", 1)[1],
                )
                d.filename = f"{state.glacier}_{stem}.{ext}"

    state.param.watch(rename, "glacier")
    rename()

    # ------------------------------------------------------------ URL
    _sync_url(state)

    notes = _text(_bullets(state.series.notes), "wb-notes")
    compare_options()
    build_views()
    availability()
    model_controls()
    edit_controls()
    overlays_to_widgets()
    sidebar = [
        _text("<h3>Data</h3>"),
        dataset,
        glacier,
        _text("<h3>Display</h3>"),
        clim,
        cmap,
        compare,
        basemap,
        _text("<h3>Reference</h3>"),
        reference,
        reference_note,
        _text("<h3>Model results</h3>"),
        model_lines,
        _text("Model layer", margin=(0, 10)),
        layer,
        alpha,
        layer_note,
        _text("<h3>Correct the front</h3>"),
        pn.Row(edit_btn, save_btn, cancel_btn),
        edit_note,
        _text("<h3>Model</h3>"),
        ckpt,
        tta,
        run,
        progress,
        status,
        model_note,
        _text("<h3>Export</h3>"),
        pn.FlexBox(*downloads),
        notes,
    ]
    timebar = pn.Row(*buttons.values(), slider, sizing_mode="stretch_width")
    main = [
        pn.Column(
            timebar,
            map_row,
            below_maps,
            retreat_box,
            retreat_note,
            sizing_mode="stretch_width",
        )
    ]
    if not template:
        return pn.Row(
            pn.Column(*sidebar, width=330, sizing_mode="fixed"),
            pn.Column(*main, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
    # Bootstrap: every resource is served by panel itself (the Fast templates load a web font). One
    # root per area: the template adds each item as a document root, and every root added walks all
    # models again (a list of 25 sidebar items took seconds per session on 2 busy cores)
    page = pn.template.BootstrapTemplate(
        title="Glacier Workbench — explorer",
        sidebar=[pn.Column(*sidebar, sizing_mode="stretch_width")],
        main=main,
        header_background="#0a5bd3",
        sidebar_width=340,
        busy_indicator=None,
    )  # it toggled twice per date step
    if "js_area" in page._render_items:
        # the template's only other HTML pane, an empty placeholder, would still pull in MathJax
        page._js_area = pn.Spacer(margin=0, width=0, height=0)
        page._render_items["js_area"] = (page._js_area, [])
    page.state = state  # for tests
    return page

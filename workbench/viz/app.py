"""The explorer's layout: widgets bound to an :class:`~workbench.viz.state.ExplorerState`.

:func:`explorer_app` builds the page that ``panel serve dashboards/explorer.py`` serves, and
the same layout inline in a notebook (``template=False``); all logic is in the state.

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

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn

from workbench.viz.state import OVERLAYS, ExplorerState
from workbench.viz.views import frame_image, frame_overlay, retreat_plot

__all__ = ["explorer_app", "session_params"]

CSS = """
.wb-date {font-size: 1.25em; font-weight: 600; color: #0a84ff;}
"""


def session_params() -> dict:
    """The view a URL asks for (``?dataset=&glacier=&date=&overlays=``); names only, checked
    later against the catalogue by :class:`ExplorerState`."""
    args = pn.state.session_args or {}

    def first(k: str) -> str | None:
        v = args.get(k)
        return v[0].decode("utf-8", "replace") if v else None

    params: dict = {}
    for k in ("dataset", "glacier", "date"):
        if first(k):
            params[k] = first(k)
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


def explorer_app(state: ExplorerState, *, template: bool = True) -> pn.viewable.Viewable:
    """The explorer for ``state``: a Bootstrap page (``template=True``, what the server shows)
    or a plain row of the sidebar and the main column (for a notebook)."""
    try:
        hv.opts.Image  # noqa: B018 - the options exist once a plotting extension is loaded
    except AttributeError:  # a script or notebook that has not called hv.extension
        hv.extension("bokeh", logo=False)
    _serve_css_locally()
    checkpoints = state.checkpoints
    # ------------------------------------------------------------ widgets
    dataset = pn.widgets.Select.from_param(state.param.dataset, name="Dataset")
    glacier = pn.widgets.Select.from_param(state.param.glacier, name="Glacier")
    n = len(state.series)
    slider = pn.widgets.IntSlider(name="Acquisition", start=0, end=max(n - 1, 1), value=state.date_index,
                                  disabled=n < 2, css_classes=["wb-slider"])
    player = pn.widgets.Player(start=0, end=max(n - 1, 1), value=state.date_index, interval=500,
                               loop_policy="loop", show_loop_controls=False, width=330,
                               sizing_mode="fixed", visible_buttons=["previous", "pause", "play", "next"])
    date_label = pn.pane.HTML(f"<span class='wb-date'>{state.label}</span>", css_classes=["wb-date-label"],
                              stylesheets=[CSS])
    clim = pn.widgets.RangeSlider.from_param(state.param.clim, name=f"Contrast ({state.series.units})", step=0.5)
    cmap = pn.widgets.Select.from_param(state.param.cmap, name="Colour map")
    overlays = pn.widgets.CheckBoxGroup.from_param(state.param.overlays, inline=False)
    alpha = pn.widgets.FloatSlider.from_param(state.param.zones_alpha, name="Zones opacity", step=0.05)
    ckpt = pn.widgets.Select.from_param(state.param.checkpoint, name="Checkpoint")
    tta = pn.widgets.Checkbox.from_param(state.param.tta, name="TTA (uncertainty)")
    run = pn.widgets.Button(name="Run model on this glacier", button_type="primary", disabled=not checkpoints)
    progress = pn.indicators.Progress(value=0, max=100, visible=False, bar_color="primary")
    status = pn.pane.Markdown("", css_classes=["wb-status"])

    guard = {"busy": False}

    def from_slider(event):  # throttled: fires when the drag ends
        if not guard["busy"]:
            state.date_index = int(event.new)

    def from_player(event):
        if not guard["busy"]:
            state.date_index = int(event.new)

    slider.param.watch(from_slider, "value_throttled")
    player.param.watch(from_player, "value")

    def on_index(event=None):
        guard["busy"] = True
        try:
            slider.value = state.date_index
            player.value = state.date_index
            date_label.object = f"<span class='wb-date'>{state.label}</span>"
        finally:
            guard["busy"] = False

    def on_glacier(event=None):
        m = len(state.series)
        guard["busy"] = True
        try:
            slider.param.update(end=max(m - 1, 1), disabled=m < 2)
            player.param.update(end=max(m - 1, 1))
        finally:
            guard["busy"] = False
        clim.name = f"Contrast ({state.series.units})"
        on_index()

    state.param.watch(on_index, "date_index")
    state.param.watch(on_glacier, "glacier")

    def on_progress(event=None):
        progress.value = int(100 * state.progress)
        progress.visible = state.busy
        status.object = state.status

    state.param.watch(on_progress, ["progress", "busy", "status"])

    def do_run(event=None):
        run.disabled = True
        progress.visible = True
        state.status = "loading model…"

        def work():
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

    # ------------------------------------------------------------ map
    def make_map(dataset_name, glacier_name):
        series = state.series

        def image(date_index, clim, cmap):  # decimated to ≤ 800 px a side (benchmarks/dashboard.py)
            return frame_image(series, date_index, clim, cmap)

        img = hv.DynamicMap(image, streams=[hv.streams.Params(state, ["date_index", "clim", "cmap"])])

        def overlays_fn(date_index, overlays, zones_alpha, run_count):
            ov = frame_overlay(state)
            return hv.Overlay(list(ov)[1:]) if len(ov) > 1 else hv.Overlay([hv.Path([])])

        ovl = hv.DynamicMap(overlays_fn, streams=[hv.streams.Params(
            state, ["date_index", "overlays", "zones_alpha", "run_count"])])
        return (img * ovl).opts(
            hv.opts.Image(data_aspect=1 if series.crs is not None else None),
            hv.opts.Overlay(responsive=True, height=540,
                            xlabel="x [m]" if series.crs is not None else "x [px]",
                            ylabel="y [m]" if series.crs is not None else "y [px]",
                            legend_position="bottom_left", active_tools=["wheel_zoom"],
                            xformatter="%.0f", yformatter="%.0f",
                            title=f"{glacier_name}"))

    map_pane = pn.panel(pn.bind(make_map, state.param.dataset, state.param.glacier))

    # ------------------------------------------------------------ retreat curve
    def make_retreat(glacier_name, run_count):
        df = state.retreat()
        rest = hv.DynamicMap(lambda date_index: retreat_plot(df, state.series.times[date_index]),
                             streams=[hv.streams.Params(state, ["date_index"])])
        # the Tap source must be a single element: a Tap on an Overlay-returning DynamicMap
        # never fires (HoloViews 1.23), so a faint curve of every date carries the stream
        dates = pd.DataFrame({"date": state.series.times,
                              "position": np.interp(state.series.times.asi8, df["date"].sort_values().astype("int64"),
                                                    df.sort_values("date")["position_m"].astype(float))
                              if len(df) else np.zeros(len(state.series))})
        target = hv.DynamicMap(lambda: hv.Curve(dates, "date", ("position", "terminus position [m]"))
                               .opts(line_alpha=0.0, responsive=True, height=260))
        plot = (target * rest).opts(hv.opts.Overlay(responsive=True, height=260, show_legend=True,
                                                    legend_position="top_left", xlabel="date",
                                                    title="Terminus position (box method) — click to jump"))
        tap_source = target
        tap = hv.streams.Tap(source=tap_source, x=None, y=None)

        def on_tap(x=None, y=None):
            if x is None:
                return
            try:
                if isinstance(x, (int, float, np.number)):  # bokeh datetime axis: ms since epoch
                    t = pd.Timestamp(float(x), unit="ms")
                else:
                    t = pd.Timestamp(x)
            except (ValueError, TypeError):
                return
            state.select_date(t)

        tap.add_subscriber(on_tap)
        return plot

    retreat_pane = pn.panel(pn.bind(make_retreat, state.param.glacier, state.param.run_count), height=280)

    # ------------------------------------------------------------ exports
    def dl(what, fmt):
        def cb():
            try:
                return state.export_vectors(what, fmt)
            except Exception as err:  # noqa: BLE001
                if pn.state.notifications is not None:
                    pn.state.notifications.error(str(err), duration=5000)
                raise
        return pn.widgets.FileDownload(callback=cb, filename=f"{what}.{fmt}", label=f"{what} .{fmt}",
                                       button_type="light", css_classes=[f"wb-dl-{what}-{fmt}"])

    downloads = [dl("fronts", "geojson"), dl("fronts", "gpkg"), dl("outlines", "geojson"), dl("outlines", "gpkg"),
                 pn.widgets.FileDownload(callback=state.export_retreat_csv, filename="retreat.csv",
                                         label="retreat .csv", button_type="light"),
                 pn.widgets.FileDownload(callback=state.export_png, filename="view.png",
                                         label="view .png", button_type="light")]

    def rename(event=None):
        for d in downloads:
            stem, ext = d.filename.rsplit(".", 1)[0].split("_")[-1], d.filename.rsplit(".", 1)[1]
            d.filename = f"{state.glacier}_{stem}.{ext}" if stem in ("fronts", "outlines", "retreat") \
                else f"{state.glacier}_{state.date}.{ext}"

    state.param.watch(rename, ["glacier", "date"])
    rename()

    # ------------------------------------------------------------ URL
    if pn.state.location is not None:
        pn.state.location.sync(state, {"dataset": "dataset", "glacier": "glacier", "date": "date",
                                       "overlays": "overlays"}, on_error=lambda mapped: None)

        def write_view() -> None:  # a fresh page's link names its whole view, not only what changed
            import json
            pn.state.location.update_query(dataset=state.dataset, glacier=state.glacier, date=state.date,
                                           overlays=json.dumps(list(state.overlays)))

        pn.state.onload(write_view)

    notes = pn.pane.Markdown(
        "\n".join(f"- {x}" for x in state.series.notes) or "", css_classes=["wb-notes"])
    state.param.watch(lambda e: setattr(notes, "object", "\n".join(f"- {x}" for x in state.series.notes)),
                      "glacier")
    sidebar = [
        pn.pane.Markdown("### Data"), dataset, glacier,
        pn.pane.Markdown("### Display"), clim, cmap,
        pn.pane.Markdown("### Overlays"), overlays, alpha,
        pn.pane.Markdown("### Model"), ckpt, tta, run, progress, status,
        pn.pane.Markdown("### Export"), pn.FlexBox(*downloads), notes,
    ]
    timebar = pn.Row(player, pn.Column(slider, date_label), sizing_mode="stretch_width")
    main = [pn.Column(timebar, map_pane, retreat_pane, sizing_mode="stretch_width")]
    if not template:
        return pn.Row(pn.Column(*sidebar, width=330, sizing_mode="fixed"),
                      pn.Column(*main, sizing_mode="stretch_width"), sizing_mode="stretch_width")
    # Bootstrap: every resource is served by panel itself (the Fast templates load a web font)
    page = pn.template.BootstrapTemplate(title="Glacier Workbench — explorer", sidebar=sidebar, main=main,
                                         header_background="#0a5bd3", sidebar_width=340)
    page.state = state  # for tests
    return page



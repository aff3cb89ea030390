"""The explorer's map: one Bokeh figure per glacier, updated in place when the view changes.

:class:`MapView` draws the image of the current date (σ0 in dB with a colour bar), the model
layer (zones, confidence or uncertainty), the front and outline lines, the clicked point and
a legend, on a frame whose width/height ratio is the data's (square pixels). Everything
about the figure's size is known when it is built, so the browser draws it right the first
time; a date step then only replaces the image array and the line coordinates of the
existing glyphs (no plot is rebuilt), which keeps a step fast at any scene size (images are
decimated to at most ``max_pixels`` a side by an integer stride).

Hover shows the map coordinates in metres, longitude/latitude (:class:`LonLatFit`) and the
value; a click on the map sets :attr:`ExplorerState.point` (the point time series).

Examples
--------
>>> import tempfile, pathlib
>>> from workbench.data.demo import make_demo_world
>>> from workbench.viz.state import ExplorerState
>>> root = pathlib.Path(tempfile.mkdtemp()) / "world"
>>> _ = make_demo_world(root, n_glaciers=1, years=0.1, size=64, pixel_size=80)
>>> view = MapView(ExplorerState.from_paths([root]))
>>> fig = view.figure
>>> (fig.frame_width, fig.frame_height)  # 64 × 64 pixels of 80 m: a square frame
(560, 560)
>>> view.state.date_index = 2
>>> view.update("image")
>>> view.image_source.data["image"][0].shape
(64, 64)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from workbench.viz.state import LINES, RASTERS, ExplorerState

__all__ = ["MapView", "palette", "LINE_STYLE", "ZONE_COLORS"]

ZONE_COLORS = {1: "#8c6d46", 2: "#d9f0ff", 3: "#1f4e9c"}
"""Rock, glacier, ocean (NA is transparent)."""

LINE_STYLE = {  # overlay name -> (legend label, colour, width, dash)
    "reference outline": ("reference outline", "#64d2ff", 1.5, "dashed"),
    "outline": ("predicted outline", "#30d158", 2.0, "solid"),
    "reference front": ("reference front", "#ffd60a", 3.0, "solid"),
    "front": ("predicted front", "#ff2d55", 3.0, "solid"),
}
OTHER_FRONT = ("#bf5af2", 2.5, "dashed")
"""Colour, width and dash of the other date's front when two dates are compared."""
POINT_COLOR = "#0a84ff"
CORRECTED_COLOR = "#34c759"
EDIT_COLOR = "#ff9f0a"


def palette(name: str) -> list[str]:
    """256 colours of a perceptually uniform map (colorcet ``gray``/``kbc``/``fire``, matplotlib
    ``viridis``)."""
    import colorcet as cc

    if name in ("gray", "grey"):
        return list(cc.gray)
    if name in ("kbc", "fire"):
        return list(getattr(cc, name))
    from bokeh.palettes import Viridis256

    return list(Viridis256)


def _parts(geoms: Iterable[Any]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """x and y arrays of every line or ring of ``geoms`` (for a MultiLine glyph)."""
    from workbench.viz.views import _parts as parts

    xs, ys = [], []
    for g in geoms:
        for p in parts(g):
            xs.append(np.ascontiguousarray(p[:, 0]))
            ys.append(np.ascontiguousarray(p[:, 1]))
    return xs, ys


_REF_LINES: dict[tuple[int, str], tuple[Any, dict]] = {}


def _reference_lines(
    series: Any, which: str
) -> dict[Any, tuple[list[np.ndarray], list[np.ndarray]]]:
    """Line coordinates of the series' reference fronts/outlines per day, built once per series
    and shared by every session (a date step is then a dictionary look-up)."""
    key = (id(series), which)
    hit = _REF_LINES.get(key)
    if hit is not None and hit[0] is series:
        return hit[1]
    import pandas as pd

    gdf = series.ref_fronts if which == "fronts" else series.ref_outlines
    by_day: dict[Any, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    if gdf is not None and len(gdf):
        days = pd.to_datetime(gdf["date"]).dt.normalize()
        for day, rows in gdf.groupby(days.values):
            by_day[pd.Timestamp(day)] = _parts(rows.geometry)
    _REF_LINES[key] = (series, by_day)
    return by_day


def _pixel_grid(coords: np.ndarray) -> tuple[float, float]:
    """(outer edge at the first coordinate, signed pixel step) of evenly spaced centres."""
    step = float(coords[1] - coords[0]) if len(coords) > 1 else 1.0
    return float(coords[0]) - step / 2, step


class MapView:
    """The map of ``state``'s current glacier; :meth:`update` redraws parts of it.

    ``max_frame`` is the largest data frame (width, height) in screen pixels: the frame gets
    the data's aspect ratio inside it. ``dispatch(fn)`` runs ``fn`` where Bokeh models may be
    changed (the session's thread; a model run finishes in another one). With ``compare`` the
    view shows :attr:`ExplorerState.compare` (the second date of a side-by-side comparison)
    instead of the current date; whenever a second date is chosen, each view also draws the
    other date's front (dashed, :data:`OTHER_FRONT`).
    """

    def __init__(
        self,
        state: ExplorerState,
        *,
        max_frame: tuple[int, int] = (620, 560),
        max_pixels: int = 800,
        dispatch: Callable[[Callable[[], None]], None] | None = None,
        compare: bool = False,
    ) -> None:
        self.state = state
        self.compare = compare
        self.max_frame = max_frame
        self.max_pixels = max_pixels
        self.dispatch = dispatch or (lambda fn: fn())
        self._line_cache: dict[tuple, tuple[Any, tuple[list, list]]] = {}
        self._sent_lines: dict[str, list] = {}
        self.figure = self._build()

    # ------------------------------------------------------------------ geometry
    def index(self) -> int:
        """The date this view shows (the current date, or the compared one)."""
        i = self.state.compare_index if self.compare else None
        return self.state.date_index if i is None else i

    def other_index(self) -> int | None:
        """The date whose front is drawn dashed for comparison (None: no comparison)."""
        if self.compare:
            return self.state.date_index
        return self.state.compare_index

    @property
    def georeferenced(self) -> bool:
        return self.state.series.crs is not None

    def extent(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the image's pixel edges."""
        img = self.state.series.images
        x0, dx = _pixel_grid(img["x"].values)
        y0, dy = _pixel_grid(img["y"].values)
        x1 = x0 + dx * img.sizes["x"]
        y1 = y0 + dy * img.sizes["y"]
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)

    def frame_size(self) -> tuple[int, int]:
        """Frame width and height in screen pixels with the data's aspect ratio."""
        x0, y0, x1, y1 = self.extent()
        w, h = x1 - x0, y1 - y0
        scale = min(self.max_frame[0] / w, self.max_frame[1] / h)
        return max(int(round(w * scale)), 50), max(int(round(h * scale)), 50)

    def _stride(self) -> int:
        img = self.state.series.images
        return max(1, int(np.ceil(max(img.sizes["y"], img.sizes["x"]) / self.max_pixels)))

    def _screen_array(self, values: np.ndarray) -> np.ndarray:
        """``values`` (y, x) decimated and flipped so that row 0 is the bottom (Bokeh's order)."""
        stride = self._stride()
        arr = np.asarray(values)[::stride, ::stride]
        ys = self.state.series.images["y"].values
        if len(ys) > 1 and ys[0] > ys[-1]:
            arr = arr[::-1]
        return np.ascontiguousarray(arr, dtype=np.float32)

    # ------------------------------------------------------------------ building
    def _build(self) -> Any:
        from bokeh.events import Tap
        from bokeh.models import (
            BasicTickFormatter,
            BoxZoomTool,
            ColorBar,
            ColumnDataSource,
            CustomJSHover,
            CustomJSTickFormatter,
            HoverTool,
            Legend,
            LegendItem,
            LinearColorMapper,
            PanTool,
            Range1d,
            ResetTool,
            SaveTool,
            WheelZoomTool,
        )
        from bokeh.plotting import figure

        state, series = self.state, self.state.series
        x0, y0, x1, y1 = self.extent()
        fw, fh = self.frame_size()
        geo = self.georeferenced
        crs_name = ""
        if geo:
            from pyproj import CRS

            crs = CRS.from_user_input(series.crs)
            crs_name = f" ({crs.to_string()})"
        wheel = WheelZoomTool()
        # width/height None: the frame sizes alone decide (a default 600 px box squeezes the frame)
        fig = figure(
            frame_width=fw,
            frame_height=fh,
            width=None,
            height=None,
            sizing_mode=None,
            width_policy="min",
            height_policy="min",
            x_range=Range1d(x0, x1, bounds=(x0, x1)),
            y_range=Range1d(y0, y1, bounds=(y0, y1)),
            tools=[PanTool(), wheel, BoxZoomTool(match_aspect=True), ResetTool(), SaveTool()],
            active_scroll=wheel,
            toolbar_location="above",
            title=f"{series.glacier} · {state.compare}" if self.compare else series.glacier,
            x_axis_label=f"x [m]{crs_name}" if geo else "column [px]",
            y_axis_label="y [m]" if geo else "row [px]",
            name="wb-compare" if self.compare else "wb-map",
            background_fill_color="#1c1c1e",
            min_border_right=10,
        )
        fig.title.text_font_size = "13px"
        for axis in (fig.xaxis[0], fig.yaxis[0]):
            axis.formatter = BasicTickFormatter(use_scientific=False)
            axis.ticker.desired_num_ticks = 5
        if not geo:  # pixel coordinates: rows count downwards from the top (y = -row)
            fig.yaxis[0].formatter = CustomJSTickFormatter(code="return Math.abs(tick).toFixed(0);")
        fig.grid.visible = False
        self.mapper = LinearColorMapper(
            palette=palette(state.cmap), low=state.clim[0], high=state.clim[1], nan_color="#1c1c1e"
        )
        self.image_source = ColumnDataSource(
            {
                "image": [self._screen_array(series.image(self.index()).values)],
                "x": [x0],
                "y": [y0],
                "dw": [x1 - x0],
                "dh": [y1 - y0],
            }
        )
        self.image_renderer = fig.image(
            image="image",
            x="x",
            y="y",
            dw="dw",
            dh="dh",
            source=self.image_source,
            color_mapper=self.mapper,
            name="image",
        )
        fig.add_layout(
            ColorBar(
                color_mapper=self.mapper,
                title=series.units,
                width=14,
                name="wb-colorbar",
                title_text_font_size="11px",
                major_label_text_font_size="11px",
            ),
            "right",
        )

        # model layers (zones, confidence, uncertainty): built when first shown (_raster)
        self.raster_sources: dict[str, Any] = {}
        self.raster_renderers: dict[str, Any] = {}
        self.raster_bars: dict[str, Any] = {}

        # lines, then the point marker, above every raster
        self.line_sources, self.line_renderers = {}, {}
        for name in LINES:
            label, color, width, dash = LINE_STYLE[name]
            src = ColumnDataSource({"xs": [], "ys": []})
            r = fig.multi_line(
                xs="xs",
                ys="ys",
                source=src,
                line_color=color,
                line_width=width,
                line_dash=dash,
                name=name,
            )
            self.line_sources[name], self.line_renderers[name] = src, r
        # a front corrected by hand (with "front" on) and, in edit mode, the line being edited
        self.corrected_source = ColumnDataSource({"xs": [], "ys": []})
        self.corrected_renderer = fig.multi_line(
            xs="xs",
            ys="ys",
            source=self.corrected_source,
            line_color=CORRECTED_COLOR,
            line_width=3,
            name="corrected front",
        )
        color, width, dash = OTHER_FRONT
        self.other_source = ColumnDataSource({"xs": [], "ys": []})
        self.other_renderer = fig.multi_line(
            xs="xs",
            ys="ys",
            source=self.other_source,
            line_color=color,
            line_width=width,
            line_dash=dash,
            name="other front",
        )
        self.edit_tools: list[Any] = []
        if state.corrections is not None and geo and not self.compare:
            self._add_edit_tools(fig)
        self.point_source = ColumnDataSource({"x": [], "y": [], "w": [], "h": []})
        self.point_renderer = fig.rect(
            x="x",
            y="y",
            width="w",
            height="h",
            source=self.point_source,
            fill_alpha=0.0,
            line_color=POINT_COLOR,
            line_width=2.5,
            name="point",
        )
        fig.scatter(
            x="x", y="y", source=self.point_source, marker="cross", size=10, color=POINT_COLOR
        )

        # legend below the map: what each colour is (only the layers shown)
        self.legend_items: dict[str, Any] = {}
        for name in LINES:
            self.legend_items[name] = LegendItem(
                label=LINE_STYLE[name][0], renderers=[self.line_renderers[name]]
            )
        self.legend_items["corrected front"] = LegendItem(
            label="corrected front (by hand)", renderers=[self.corrected_renderer]
        )
        self.legend_items["other front"] = LegendItem(
            label="front of the other date", renderers=[self.other_renderer], visible=False
        )
        if self.edit_tools:
            self.legend_items["editing"] = LegendItem(
                label="front being edited", renderers=[self.edit_renderer], visible=False
            )
        self.legend_items["point"] = LegendItem(
            label="clicked point (time series)", renderers=[self.point_renderer]
        )
        self.legend = Legend(
            items=list(self.legend_items.values()),
            orientation="horizontal",
            ncols=4 if fw >= 520 else 2,  # two maps side by side: narrower frames
            click_policy="none",
            label_text_font_size="12px",
            spacing=12,
            padding=4,
            border_line_alpha=0,
            name="wb-legend",
        )
        fig.add_layout(self.legend, "below")

        # hover: map coordinates, longitude/latitude and the value
        tooltips: list[tuple[str, str]] = []
        formatters: dict[str, Any] = {}
        if geo:
            formatters["$x"] = CustomJSHover(
                code="return `${Math.round(special_vars.x)} m, ${Math.round(special_vars.y)} m`;"
            )
            tooltips.append(("x, y", "$x{custom}"))
            try:
                from workbench.viz.lonlat import LonLatFit

                fit = LonLatFit(series.crs, (x0, y0, x1, y1))
                formatters["$y"] = CustomJSHover(
                    code=(
                        "const x = special_vars.x, y = special_vars.y;\n"
                        + fit.js()
                        + "return `${Math.abs(lat).toFixed(5)}° ${lat >= 0 ? 'N' : 'S'}, "
                        "${Math.abs(lon).toFixed(5)}° ${lon >= 0 ? 'E' : 'W'}`;"
                    )
                )
                tooltips.append(("lat, lon", "$y{custom}"))
                self.lonlat = fit
            except Exception:  # noqa: BLE001 - a CRS without a usable fit: metres only
                self.lonlat = None
        else:
            self.lonlat = None
            formatters["$x"] = CustomJSHover(
                code="return `${Math.floor(special_vars.x)}, ${Math.floor(-special_vars.y)}`;"
            )
            tooltips.append(("column, row", "$x{custom}"))
        tooltips.append((series.units, "@image{0.0}"))
        fig.add_tools(
            HoverTool(
                renderers=[self.image_renderer],
                tooltips=tooltips,
                formatters=formatters,
                name="wb-hover",
            )
        )
        fig.on_event(Tap, self._on_tap)
        self.update("lines", "rasters", "point")
        return fig

    # ------------------------------------------------------------------ editing a front
    def _add_edit_tools(self, fig: Any) -> None:
        """An editable line (PolyEditTool: press the line to show its points, drag them; tap a
        point then tap elsewhere to add one; Backspace deletes a selected point) and PolyDrawTool
        (double-tap to start a new line, double-tap to end it)."""
        from bokeh.models import ColumnDataSource, PolyDrawTool, PolyEditTool

        self.edit_source = ColumnDataSource({"xs": [], "ys": []})
        self.edit_renderer = fig.multi_line(
            xs="xs",
            ys="ys",
            source=self.edit_source,
            line_color=EDIT_COLOR,
            line_width=3,
            line_dash="dashed",
            name="editing",
        )
        self.vertex_source = ColumnDataSource({"x": [], "y": []})
        vertices = fig.scatter(
            x="x",
            y="y",
            source=self.vertex_source,
            size=9,
            color=EDIT_COLOR,
            line_color="black",
            name="vertices",
        )
        edit = PolyEditTool(
            renderers=[self.edit_renderer],
            vertex_renderer=vertices,
            name="wb-edit",
            description="Edit the front: press it to show its points, drag them",
        )
        draw = PolyDrawTool(
            renderers=[self.edit_renderer],
            name="wb-draw",
            num_objects=0,
            description="Draw a new front line: double-click to start and to end",
        )
        fig.add_tools(edit, draw)
        self.edit_tools = [edit, draw]
        self.editing = False

    def start_edit(self) -> str:
        """Copy the front to edit into the editable line and activate the edit tool; returns
        where it came from (:meth:`ExplorerState.front_to_edit`)."""
        gdf, origin = self.state.front_to_edit()
        # traced fronts have a point per pixel: thinned to what differs by more than half a pixel
        img = self.state.series.images
        half_px = (
            0.5 * abs(float(img["x"].values[1] - img["x"].values[0])) if img.sizes["x"] > 1 else 0.0
        )
        xs, ys = _parts(gdf.geometry.simplify(half_px)) if gdf is not None else ([], [])
        self.edit_source.data = {
            "xs": [list(map(float, x)) for x in xs],
            "ys": [list(map(float, y)) for y in ys],
        }
        self.vertex_source.data = {"x": [], "y": []}
        self.figure.toolbar.active_drag = self.edit_tools[0]
        self.figure.toolbar.active_tap = self.edit_tools[0]
        self.legend_items["editing"].visible = True
        self.editing = True
        return origin

    def edited_lines(self) -> list[np.ndarray]:
        """The edited line(s) as arrays of (x, y) rows (what the browser sent back)."""
        data = self.edit_source.data
        return [
            np.column_stack([np.asarray(x, float), np.asarray(y, float)])
            for x, y in zip(data["xs"], data["ys"], strict=False)
        ]

    def stop_edit(self) -> None:
        self.edit_source.data = {"xs": [], "ys": []}
        self.vertex_source.data = {"x": [], "y": []}
        self.figure.toolbar.active_drag = next(
            t for t in self.figure.tools if type(t).__name__ == "PanTool"
        )
        self.figure.toolbar.active_tap = "auto"
        self.legend_items["editing"].visible = False
        self.editing = False

    # ------------------------------------------------------------------ updates
    def _on_tap(self, event: Any) -> None:
        if event.x is None or event.y is None or getattr(self, "editing", False):
            return
        x0, y0, x1, y1 = self.extent()
        if x0 <= event.x <= x1 and y0 <= event.y <= y1 and not self.state.static_images:
            self.state.point = (float(event.x), float(event.y))

    def update(self, *parts: str) -> None:
        """Redraw ``parts`` of the map: ``image`` (date), ``colors`` (contrast, colour map),
        ``lines``, ``rasters``, ``alpha``, ``point``."""
        state, series = self.state, self.state.series
        if "image" in parts:
            self.image_source.data.update(
                image=[self._screen_array(series.image(self.index()).values)]
            )
            if self.compare:
                self.figure.title.text = f"{series.glacier} · {series.times[self.index()].date()}"
        if "colors" in parts:
            self.mapper.update(
                low=float(state.clim[0]), high=float(state.clim[1]), palette=palette(state.cmap)
            )
        if "alpha" in parts:
            for r in self.raster_renderers.values():
                r.glyph.global_alpha = float(state.zones_alpha)
        if "lines" in parts:
            self._update_lines()
        if "rasters" in parts:
            self._update_rasters()
        if "point" in parts:
            self._update_point()

    def _lines_of(self, name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """x and y arrays of the lines ``name`` of the current date (each date converted once)."""
        state = self.state
        if name.startswith("reference"):  # the lines of the date's day, as SceneSeries.ref_at
            by_day = _reference_lines(
                state.series, "fronts" if name == "reference front" else "outlines"
            )
            return by_day.get(state.series.times[self.index()].normalize(), ([], []))
        if name == "front":
            gdf = state.predicted_front(self.index())
        else:  # the outline of the year around the current date (not drawn on a compared date)
            gdf = None if self.compare else state.predicted_outline()
        if gdf is None:
            return [], []
        key = (name, id(gdf))
        hit = self._line_cache.get(key)
        if hit is None or hit[0] is not gdf:  # cached per model result's (cached) frame
            hit = self._line_cache[key] = (gdf, _parts(gdf.geometry))
        return hit[1]

    def _update_lines(self) -> None:
        on = set(self.state.overlays)
        for name in LINES:
            shown = name in on
            self.line_renderers[name].visible = shown
            xs, ys = self._lines_of(name) if shown else ([], [])
            sent = self._sent_lines.get(name)
            if xs is not sent and (xs or sent):  # no message for lines that stay the same or empty
                self.line_sources[name].data = {"xs": xs, "ys": ys}
                self._sent_lines[name] = xs
            self.legend_items[name].visible = shown and bool(xs)
        corrected = self.state.corrected_front(self.index()) if "front" in on else None
        cx, cy = _parts(corrected.geometry) if corrected is not None else ([], [])
        if cx or self.corrected_source.data["xs"]:
            self.corrected_source.data = {"xs": cx, "ys": cy}
        self.legend_items["corrected front"].visible = bool(cx)
        other = self.other_index()
        gdf, source = self.state.front_of(other) if other is not None else (None, "none")
        ox, oy = _parts(gdf.geometry) if gdf is not None else ([], [])
        if ox or self.other_source.data["xs"]:
            self.other_source.data = {"xs": ox, "ys": oy}
        item = self.legend_items["other front"]
        item.visible = bool(ox)
        if ox:
            from bokeh.core.properties import value

            item.label = value(
                f"{source} front of {self.state.series.times[other].date()} (other date)"
            )

    def _raster(self, name: str) -> Any:
        """The image renderer of model layer ``name``, made the first time it is shown (most
        pages never show one: fewer models make a faster first page), drawn right above the image
        and below every line; confidence and uncertainty get a colour bar, zones legend entries."""
        if name in self.raster_renderers:
            return self.raster_renderers[name]
        from bokeh.models import (
            ColorBar,
            ColumnDataSource,
            GlyphRenderer,
            Image,
            LegendItem,
            LinearColorMapper,
        )

        fig, clear = self.figure, "rgba(0, 0, 0, 0)"
        if name == "zones":
            mapper = LinearColorMapper(
                palette=[ZONE_COLORS[1], ZONE_COLORS[2], ZONE_COLORS[3]],
                low=0.5,
                high=3.5,
                nan_color=clear,
            )
        else:
            mapper = LinearColorMapper(
                palette=palette("kbc" if name == "confidence" else "fire"),
                low=0.0,
                high=1.0,
                nan_color=clear,
            )
        src = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []})
        r = GlyphRenderer(
            data_source=src,
            name=name,
            visible=False,
            glyph=Image(
                image="image",
                x="x",
                y="y",
                dw="dw",
                dh="dh",
                color_mapper=mapper,
                global_alpha=float(self.state.zones_alpha),
            ),
        )
        fig.renderers = [
            fig.renderers[0],
            r,
            *fig.renderers[1:],
        ]  # above the image, below the lines
        self.raster_sources[name], self.raster_renderers[name] = src, r
        if name == "zones":
            items = []
            for k, zone in ((1, "rock"), (2, "glacier"), (3, "ocean")):
                # one point at NaN: nothing on the map, but a square in the legend (which needs data)
                swatch = fig.scatter(
                    x=[np.nan], y=[np.nan], marker="square", size=12, color=ZONE_COLORS[k]
                )
                self.legend_items[f"zone {zone}"] = LegendItem(
                    label=f"zone: {zone}", renderers=[swatch]
                )
                items.append(self.legend_items[f"zone {zone}"])
            self.legend.items = [*self.legend.items, *items]
        else:
            bar = ColorBar(
                color_mapper=mapper,
                title=name,
                width=10,
                visible=False,
                title_text_font_size="11px",
                major_label_text_font_size="11px",
            )
            fig.add_layout(bar, "right")
            self.raster_bars[name] = bar
        return r

    def _update_rasters(self) -> None:
        state = self.state
        on = [n for n in RASTERS if n in state.overlays]
        for name in RASTERS:
            shown = name in on
            values = state.prediction(name) if shown and not self.compare else None
            if values is None:
                if name in self.raster_renderers:
                    self.raster_renderers[name].visible = False
                    if name in self.raster_bars:
                        self.raster_bars[name].visible = False
                    if self.raster_sources[name].data["image"]:
                        self.raster_sources[name].data = {
                            "image": [],
                            "x": [],
                            "y": [],
                            "dw": [],
                            "dh": [],
                        }
                continue
            self._raster(name).visible = True
            if name in self.raster_bars:
                self.raster_bars[name].visible = True
            arr = np.asarray(values.transpose("y", "x").values, dtype=np.float32)
            if name == "zones":
                arr = np.where(arr > 0, arr, np.nan).astype(np.float32)
            if arr.shape == tuple(state.series.images.shape[1:]):
                x0, y0, x1, y1 = self.extent()
                arr = self._screen_array(arr)
            else:  # a prediction on its own grid
                xs, ys = values["x"].values, values["y"].values
                ex, dx = _pixel_grid(xs)
                ey, dy = _pixel_grid(ys)
                x0, x1 = sorted((ex, ex + dx * len(xs)))
                y0, y1 = sorted((ey, ey + dy * len(ys)))
                arr = np.ascontiguousarray(arr[::-1] if dy < 0 else arr)
            self.raster_sources[name].data = {
                "image": [arr],
                "x": [x0],
                "y": [y0],
                "dw": [x1 - x0],
                "dh": [y1 - y0],
            }
        if "zones" in self.raster_renderers:
            for zone in ("rock", "glacier", "ocean"):
                self.legend_items[f"zone {zone}"].visible = self.raster_renderers["zones"].visible

    def _update_point(self) -> None:
        state = self.state
        if state.point is None:
            self.point_source.data = {"x": [], "y": [], "w": [], "h": []}
            self.legend_items["point"].visible = False
            return
        img = state.series.images
        xs, ys = img["x"].values, img["y"].values
        col, row = (
            int(np.abs(xs - state.point[0]).argmin()),
            int(np.abs(ys - state.point[1]).argmin()),
        )
        dx = abs(float(xs[1] - xs[0])) if len(xs) > 1 else 1.0
        dy = abs(float(ys[1] - ys[0])) if len(ys) > 1 else 1.0
        w = state.point_window
        self.point_source.data = {
            "x": [float(xs[col])],
            "y": [float(ys[row])],
            "w": [w * dx],
            "h": [w * dy],
        }
        self.legend_items["point"].visible = True

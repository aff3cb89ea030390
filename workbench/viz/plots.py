"""The explorer's time plots: the retreat curve and the clicked point's time series (Bokeh).

Both are built once per glacier and mark the current date with a vertical line that a date
step only moves; :meth:`RetreatView.refresh` / :meth:`PointView.refresh` reload their data
(after a model run, a new point). A click on the retreat curve jumps to the nearest date.

Examples
--------
>>> import tempfile, pathlib
>>> from workbench.data.demo import make_demo_world
>>> from workbench.viz.state import ExplorerState
>>> root = pathlib.Path(tempfile.mkdtemp()) / "world"
>>> _ = make_demo_world(root, n_glaciers=1, years=0.2, size=64, pixel_size=80)
>>> state = ExplorerState.from_paths([root])
>>> retreat = RetreatView(state)
>>> retreat.available, len(retreat.sources["reference"].data["date"]) == len(state.series)
(True, True)
>>> point = PointView(state)
>>> point.available
False
>>> state.point = (float(state.series.images.x[30]), float(state.series.images.y[30]))
>>> point.refresh()
>>> point.available, len(point.source.data["value"]) == len(state.series)
(True, True)
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from workbench.viz.state import ExplorerState

__all__ = ["RetreatView", "PointView", "DATE_COLOR", "explain_flags"]

DATE_COLOR = "#0a84ff"
SOURCE_COLORS = {"reference": "#b08800", "predicted": "#ff2d55"}


def explain_flags(flags: str) -> str:
    """What the retreat flags of a date (``;``-separated codes) mean, from
    :data:`workbench.geo.retreat.FLAGS`.

    >>> explain_flags("extended")[:40]
    'box: the line did not cross the box from'
    >>> explain_flags("multipart:6").startswith("box: the line splits the box into 6 pieces")
    True
    """
    from workbench.geo.retreat import FLAGS

    out = []
    for code in filter(None, str(flags).split(";")):
        name, _, n = code.partition(":")
        text = FLAGS.get(f"{name}:N" if n else name, code)
        out.append(re.sub(r"\bN\b( > \d+)?", n, text) if n else text)
    return "; ".join(out)


def _ms(t: Any) -> float:
    """Milliseconds since 1970 (Bokeh's datetime axis unit)."""
    return pd.Timestamp(t).value / 1e6


def _time_range(times: pd.DatetimeIndex) -> Any:
    from bokeh.models import Range1d

    t0, t1 = _ms(times.min()), _ms(times.max())
    pad = max((t1 - t0) * 0.03, 86_400_000.0)
    return Range1d(t0 - pad, t1 + pad)


def _fit_range(rng: Any, values: np.ndarray) -> None:
    """Set an explicit range around the finite ``values`` (a data range with no data makes
    Bokeh warn in the browser console)."""
    finite = values[np.isfinite(values)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        pad = max((hi - lo) * 0.08, 0.1)
        rng.update(start=lo - pad, end=hi + pad)


class RetreatView:
    """Terminus position over time (box method): reference and predicted, flagged dates marked,
    the current date as a vertical line; a click jumps to the nearest date."""

    def __init__(self, state: ExplorerState, *, height: int = 260) -> None:
        from bokeh.events import Tap
        from bokeh.models import ColumnDataSource, HoverTool, Range1d, Span
        from bokeh.plotting import figure

        self.state = state
        fig = figure(
            x_axis_type="datetime",
            height=height,
            sizing_mode="stretch_width",
            x_range=_time_range(state.series.times),
            y_range=Range1d(0, 1),
            tools="xpan,xwheel_zoom,box_zoom,reset,save",
            title="Terminus position (box method) — click to jump to a date",
            name="wb-retreat",
            x_axis_label="date",
            y_axis_label="terminus position [m]",
        )
        fig.title.text_font_size = "13px"
        self.sources: dict[str, Any] = {}
        hover_renderers = []
        self.band = ColumnDataSource(
            {"date": np.array([], "datetime64[ns]"), "low": [], "high": []}
        )
        fig.varea(
            "date",
            "low",
            "high",
            source=self.band,
            fill_color=SOURCE_COLORS["predicted"],
            fill_alpha=0.22,
            legend_label="predicted: TTA/ensemble spread",
            name="band",
        )
        for source in ("reference", "predicted"):
            src = ColumnDataSource(
                {"date": [], "position": [], "change": [], "flags": [], "why": []}
            )
            fig.line(
                "date",
                "position",
                source=src,
                color=SOURCE_COLORS[source],
                line_width=2,
                legend_label=source,
            )
            hover_renderers.append(
                fig.scatter(
                    "date",
                    "position",
                    source=src,
                    color=SOURCE_COLORS[source],
                    size=6,
                    legend_label=source,
                )
            )
            self.sources[source] = src
        self.flagged = ColumnDataSource(
            {"date": [], "position": [], "change": [], "flags": [], "why": []}
        )
        hover_renderers.append(
            fig.scatter(
                "date",
                "position",
                source=self.flagged,
                marker="x",
                size=12,
                line_width=2.5,
                color="#ff9f0a",
                legend_label="flagged (see hover)",
                name="flagged",
            )
        )
        self.corrected = ColumnDataSource(
            {"date": [], "position": [], "change": [], "flags": [], "why": []}
        )
        hover_renderers.append(
            fig.scatter(
                "date",
                "position",
                source=self.corrected,
                marker="diamond",
                size=13,
                color="#34c759",
                line_color="black",
                legend_label="corrected by hand",
            )
        )
        self.legend_items = {item.label.value: item for item in fig.legend[0].items}
        fig.add_tools(
            HoverTool(
                renderers=hover_renderers,
                tooltips=[
                    ("date", "@date{%F}"),
                    ("position", "@position{0} m"),
                    ("change", "@change{0} m"),
                    ("flags", "@flags"),
                    ("why", "@why"),
                ],
                formatters={"@date": "datetime"},
            )
        )
        fig.legend.location = "top_left"
        fig.legend.click_policy = "hide"
        fig.legend.label_text_font_size = "11px"
        self.span = Span(
            location=_ms(state.series.times[state.date_index]),
            dimension="height",
            line_color=DATE_COLOR,
            line_width=2,
        )
        fig.add_layout(self.span)
        fig.on_event(Tap, self._on_tap)
        self.figure = fig
        self.available = False
        self.refresh()

    def _on_tap(self, event: Any) -> None:
        if event.x is not None:
            self.state.select_date(pd.Timestamp(float(event.x), unit="ms"))

    def refresh(self) -> None:
        """Reload the retreat table (a model run adds the predicted curve)."""
        df = self.state.retreat()
        self.available = len(df) > 0
        flagged, corrected = [], []
        for source, src in self.sources.items():
            sub = df[df["source"] == source].sort_values("date") if len(df) else df
            flags = (
                sub["flags"].fillna("").astype(str)
                if "flags" in sub
                else pd.Series([""] * len(sub))
            )
            data = {
                "date": pd.to_datetime(sub["date"]).to_numpy()
                if len(sub)
                else np.array([], "datetime64[ns]"),
                "position": sub["position_m"].to_numpy(float) if len(sub) else np.array([]),
                "change": sub["change_m"].to_numpy(float)
                if len(sub) and "change_m" in sub
                else np.full(len(sub), np.nan),
                "flags": flags.to_numpy(str) if len(sub) else np.array([], str),
            }
            data["why"] = np.array([explain_flags(f) for f in data["flags"]], dtype=object)
            src.data = data
            if source == "predicted":
                low = sub["low_m"].to_numpy(float) if "low_m" in sub else np.array([])
                high = sub["high_m"].to_numpy(float) if "high_m" in sub else np.array([])
                ok = np.isfinite(low) & np.isfinite(high)
                self.band.data = {"date": data["date"][ok], "low": low[ok], "high": high[ok]}
            mask = np.array([bool(f) for f in data["flags"]], bool)
            if mask.any():
                flagged.append({k: v[mask] for k, v in data.items()})
            hand = (
                sub["corrected"].to_numpy(bool)
                if "corrected" in sub and len(sub)
                else np.zeros(len(sub), bool)
            )
            if hand.any():
                corrected.append({k: v[hand] for k, v in data.items()})
        empty = {
            "date": np.array([], "datetime64[ns]"),
            "position": [],
            "change": [],
            "flags": [],
            "why": [],
        }
        self.flagged.data = (
            {k: np.concatenate([f[k] for f in flagged]) for k in flagged[0]} if flagged else empty
        )
        self.corrected.data = (
            {k: np.concatenate([f[k] for f in corrected]) for k in corrected[0]}
            if corrected
            else dict(empty)
        )
        _fit_range(
            self.figure.y_range,
            np.concatenate(
                [df[c].to_numpy(float) for c in ("position_m", "low_m", "high_m") if c in df]
            )
            if len(df)
            else np.array([]),
        )
        for label, item in self.legend_items.items():  # only what the plot holds
            src = (
                self.flagged
                if label.startswith("flagged")
                else self.corrected
                if label.startswith("corrected")
                else self.band
                if label.startswith("predicted:")
                else self.sources[label]
            )
            item.visible = len(src.data["date"]) > 0

    def update_date(self) -> None:
        self.span.location = _ms(self.state.series.times[self.state.date_index])


class PointView:
    """σ0 (or the image value) over time at the clicked point, mean over a small window, with
    the current date marked."""

    def __init__(self, state: ExplorerState, *, height: int = 300) -> None:
        from bokeh.models import ColumnDataSource, HoverTool, Range1d, Span
        from bokeh.plotting import figure

        self.state = state
        units = state.series.units
        fig = figure(
            x_axis_type="datetime",
            height=height,
            sizing_mode="stretch_width",
            min_width=300,
            x_range=_time_range(state.series.times),
            y_range=Range1d(0, 1),
            tools="xpan,ywheel_zoom,box_zoom,reset,save",
            name="wb-point",
            x_axis_label="date",
            y_axis_label=units,
        )
        self.source = ColumnDataSource(
            {"date": np.array([], "datetime64[ns]"), "value": [], "n": []}
        )
        fig.line("date", "value", source=self.source, color="#0a84ff", line_width=1.5)
        dots = fig.scatter("date", "value", source=self.source, color="#0a84ff", size=5)
        fig.add_tools(
            HoverTool(
                renderers=[dots],
                tooltips=[("date", "@date{%F}"), (units, "@value{0.00}"), ("pixels", "@n")],
                formatters={"@date": "datetime"},
            )
        )
        self.span = Span(
            location=_ms(state.series.times[state.date_index]),
            dimension="height",
            line_color=DATE_COLOR,
            line_width=2,
        )
        fig.add_layout(self.span)
        self.figure = fig
        self.available = False
        self.caption = ""
        """Where the point is and what is averaged (shown above the plot)."""
        self.refresh()

    def refresh(self) -> None:
        """Reload the time series of :attr:`ExplorerState.point` (empty without a point)."""
        state = self.state
        if state.point is None:
            self.available = False
            self.source.data = {"date": np.array([], "datetime64[ns]"), "value": [], "n": []}
            self.caption = ""
            return
        df = state.point_series()
        a = df.attrs
        values = df.iloc[:, 1].to_numpy(float)
        self.source.data = {
            "date": df["date"].to_numpy(),
            "value": values,
            "n": df["n_pixels"].to_numpy(),
        }
        _fit_range(self.figure.y_range, values)
        where = (
            f"x {a['x']:.0f} m, y {a['y']:.0f} m ({abs(a['lat']):.4f}° {'N' if a['lat'] >= 0 else 'S'}, "
            f"{abs(a['lon']):.4f}° {'E' if a['lon'] >= 0 else 'W'})"
            if "lat" in a
            else f"column {a['col']}, row {a['row']}"
        )
        size = f"{a['window_px']}×{a['window_px']} px" + (
            f" ({a['window_m']:.0f} m)" if "window_m" in a else ""
        )
        self.caption = f"{where}, mean over {size}"
        self.available = True

    def update_date(self) -> None:
        self.span.location = _ms(self.state.series.times[self.state.date_index])
